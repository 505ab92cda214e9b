"""Time, as the service sees it: one source of wall time (``now``, what records are stamped
with), monotonic time and sleep (what waits and timers measure with).

``Clock`` is the system's; ``FixedClock`` pins ``now`` (``ORCH_CLOCK``: a command's records
get a known time while its waits still wait); ``ManualClock`` moves only when told, so a test
drives a wait with a timeout, or a re-check interval, without waiting for it. Every timer of
the service takes its time from the clock it was given, never from ``time`` directly.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """The system's time. Subclasses pin or drive it; the three methods are the whole seam."""

    def now(self) -> datetime:
        """The wall time (aware, UTC): what tasks, history and the log are stamped with."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go back: what waits measure with."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (a wait between two looks at the board)."""
        time.sleep(seconds)


class FixedClock(Clock):
    """``now`` pinned to one moment; monotonic time and sleep are the system's."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


class ManualClock(Clock):
    """Time that passes only through ``advance`` and ``sleep`` (which advances at once).

    A wait on it returns as soon as its logic says so, measured in the time it would have
    taken; a test that must act while the code waits overrides ``sleep``.
    """

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.elapsed = 0.0  # seconds advanced since ``start``

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if not seconds >= 0:  # also refuses nan
            raise ValueError(f"time cannot go back or stand undefined ({seconds!r} s)")
        self.elapsed += seconds


SYSTEM = Clock()
