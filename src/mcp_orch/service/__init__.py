"""The operations every interface shares: CLI, MCP, git hooks and (later) HTTP call only these.

``Service`` is one object per board, assembled from three parts:

- ``clock``: time (now, monotonic, sleep), the system's, pinned or driven by a test;
- ``base``: the store, the clock, one mutation as one store transaction (re-read, check
  against the domain's transition table, write, log), reading and what to do next;
- ``handoff``: the handoff chain (create, prep, claim, submit, feedback, complete, fail, error
  context, escalate, resolve);
- ``gates``: what the git hooks report (a failed quality gate, a commit that passed it);
- ``checks``: ticking checklist items (acceptance criteria, DoR, DoD);
- ``live``: what a connected MCP client asks while it works (task-ID completion, the news).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.model import Task
from .base import NextAction
from .clock import Clock, FixedClock, ManualClock
from .gates import CommitOwner, GateOps
from .handoff import ClaimResult, HandoffOps
from .live import Completion, News


class Service(HandoffOps, GateOps, Completion, News):
    """The board's operations. One instance per board; cheap to create."""

    def check(
        self,
        task_id: str,
        *,
        agent: str | None = None,
        ac: Sequence[str] = (),
        dor: Sequence[str] = (),
        dod: Sequence[str] = (),
        done: bool = True,
    ) -> Task:
        """Tick (``done=False``: untick) checklist items; see ``checks.check``."""
        from .checks import check  # deferred: not on the path of every command

        return check(self, task_id, agent=agent, ac=ac, dor=dor, dod=dod, done=done)


__all__ = [
    "ClaimResult",
    "Clock",
    "CommitOwner",
    "FixedClock",
    "ManualClock",
    "NextAction",
    "Service",
]
