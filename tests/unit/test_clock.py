"""The service's clock: the system's, one pinned by ORCH_CLOCK, one a test drives."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from mcp_orch.service import Clock, FixedClock, ManualClock

pytestmark = pytest.mark.mcp

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_a_manual_clock_moves_only_when_told_and_sleeping_moves_it() -> None:
    clock = ManualClock(START)
    assert (clock.now(), clock.monotonic()) == (START, 0.0)
    clock.sleep(1.5)  # returns at once
    clock.advance(0.5)
    assert (clock.now(), clock.monotonic()) == (START + timedelta(seconds=2), 2.0)
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="time cannot go back"):
            clock.advance(bad)
    assert clock.monotonic() == 2.0


def test_a_fixed_clock_pins_now_but_not_the_time_waits_measure() -> None:
    clock = FixedClock(START)
    first = clock.monotonic()
    clock.sleep(0.01)
    assert clock.now() == START
    assert clock.monotonic() > first  # a wait on it still ends


def test_the_system_clock_is_aware_and_monotonic() -> None:
    clock = Clock()
    now = clock.now()
    assert now.tzinfo is UTC and abs(datetime.now(UTC) - now) < timedelta(seconds=5)
    first = clock.monotonic()
    assert clock.monotonic() >= first
