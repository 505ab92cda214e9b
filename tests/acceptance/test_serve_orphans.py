"""``orch serve`` started on a board whose tasks are already in progress (claimed with the
CLI on the files) leases each to its holder, so the registry shows it as that agent's work
and a holder that stays silent loses it like any other (tests/integration/test_orphans.py
crosses the time on a ManualClock)."""

from __future__ import annotations

import time

import pytest

from tests.acceptance.serve_support import serving
from tests.conftest import Orch

pytestmark = pytest.mark.mcp


def test_work_in_progress_on_the_board_is_leased_to_its_holder_at_start(orch: Orch) -> None:
    tid = orch.ready("claimed before the service ran")
    orch("claim", tid, "--agent", "cursor")
    with serving(orch, agents=("cursor",)) as served:
        deadline = time.monotonic() + 30  # the leases are granted in the background
        while "leased to their holders" not in served.log.read_text():
            assert time.monotonic() < deadline, served.log.read_text()
            time.sleep(0.05)
        beat = served.ok("cursor", "POST", "agents/cursor/heartbeat", json={})
        assert beat["renewed"] == [tid]  # its lease, renewed by its first sign of life
        cursor = served.ok("admin", "GET", "agents/cursor")
        assert cursor["current_tasks"] == [tid]
