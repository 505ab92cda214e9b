"""The service's timers on its clock: ``next --wait`` and the completions' ranking, on a real
board with real ``orch`` processes acting, and a ``ManualClock`` instead of waiting, so how
long something took is exact, not a race."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from mcp_orch import config
from mcp_orch.board.files import FileStore
from mcp_orch.service import ManualClock, NextAction, Service
from mcp_orch.service.live import RANK_TTL
from tests.conftest import Orch, task_file

pytestmark = pytest.mark.mcp

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLL = 0.05  # what ``orch next --wait`` uses: a look at the change token every POLL s,
RECHECK = 1.0  # and a full look at the board every RECHECK s


class HandsOffDuringWait(ManualClock):
    """A clock on which ``handoff`` (another process) runs during the waiter's ``at``-th sleep."""

    def __init__(self, handoff: Callable[[], object], at: int = 3) -> None:
        super().__init__(START)
        self.handoff, self.at = handoff, at
        self.sleeps = 0
        self.handed_at: float | None = None  # when the handoff happened, on this clock

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.sleeps += 1
        if self.sleeps == self.at:
            self.handoff()
            self.handed_at = self.monotonic()


def service_on(orch: Orch, clock: ManualClock) -> tuple[Service, list[NextAction]]:
    """The service of ``orch``'s board on ``clock``, and a list of every answer of
    ``next_action`` it gives (one per full look at the board)."""
    board = str(orch.cwd / ".mcp")
    service = Service(FileStore(board, clock.now), config.load(board), clock)
    looks: list[NextAction] = []
    look = service.next_action

    def counted(agent: str | None) -> NextAction:
        looks.append(look(agent))
        return looks[-1]

    service.next_action = counted  # type: ignore[method-assign]
    return service, looks


def test_next_wait_wakes_on_the_change_token_not_on_the_recheck(orch: Orch) -> None:
    tid = orch.ready("handed off while waited for")
    orch("claim", tid, "--agent", "cursor")
    clock = HandsOffDuringWait(lambda: orch("review", tid, "--agent", "cursor"))
    service, looks = service_on(orch, clock)

    result = service.wait_next("codex", timeout=30)  # the defaults, as the CLI calls it

    assert (result.decision.action, result.decision.task_id) == ("review", tid)
    assert clock.handed_at is not None
    # The first look at the token after the handoff sees it: one poll, not the re-check.
    assert clock.monotonic() - clock.handed_at <= 2 * POLL
    assert clock.sleeps == clock.at  # no sleep after the handoff was seen
    assert [a.decision.action for a in looks] == ["wait", "review"]  # no full re-check ran


def test_a_wait_re_checks_every_recheck_seconds_and_times_out_on_its_clock(orch: Orch) -> None:
    clock = ManualClock(START)
    service, looks = service_on(orch, clock)

    # times a binary float holds exactly, so the count below is exact
    result = service.wait_next("codex", timeout=5, poll=0.25, recheck=1.0)

    assert result.decision.action in ("wait", "idle")
    assert clock.monotonic() == 5.0  # the timeout, passed on the clock, not waited for
    assert clock.now() == START.replace(second=5)
    # a look at the start, one per full re-check (after 1, 2, 3 and 4 s), one at the deadline
    assert len(looks) == 1 + 4 + 1


def test_the_completions_see_an_edit_in_place_once_their_ranking_is_rank_ttl_old(
    orch: Orch,
) -> None:
    tid = orch.create("alpha")
    clock = ManualClock(START)
    service, _ = service_on(orch, clock)
    assert service.complete_task_id(None, "alpha") == ([tid], 1)
    # an edit in place moves no file, so the change token stays: the ranking is reused ...
    path = task_file(orch.cwd, tid)
    path.write_text(path.read_text().replace(f"{tid} - alpha", f"{tid} - zebra", 1))
    clock.advance(RANK_TTL - 1)
    assert service.complete_task_id(None, "zebra") == ([], 0)
    # ... until it is RANK_TTL seconds old on the service's clock
    clock.advance(1)
    assert service.complete_task_id(None, "zebra") == ([tid], 1)
