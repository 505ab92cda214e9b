"""The one table of legal status moves, and the one function that applies them.

Every interface (CLI, MCP, hooks, HTTP) and every store goes through ``apply``: a move not in
``TRANSITIONS`` raises ``IllegalTransition`` naming where the task is and what would work.
"""

from __future__ import annotations

from .errors import IllegalTransition
from .model import HistoryEntry, Status, Task
from .ops import Op, canonical, op
from .record import Record

P, R, IP, RV, D, F = (
    Status.PENDING,
    Status.READY,
    Status.IN_PROGRESS,
    Status.REVIEW,
    Status.DONE,
    Status.FAILED,
)


class Move(Record):
    sources: frozenset[Status]
    target: Status | None  # None: the target is given by the caller (a human override)
    holds: bool  # someone becomes the holder: the actor, or the agent it assigns the task to
    summary: str


TRANSITIONS: dict[str, Move] = {
    "create": Move(frozenset(), P, False, "a new stub waits for the planner (no source)"),
    "prep": Move(frozenset({P, R}), R, False, "the planner fleshes it out: pending -> ready"),
    "claim": Move(frozenset({R}), IP, True, "an implementer takes it: ready -> in-progress"),
    # An in-progress task that nobody holds (moved there by hand) is taken over by a claim.
    "adopt": Move(frozenset({IP}), IP, True, "an implementer takes over an unheld task"),
    "submit": Move(frozenset({IP}), RV, False, "submitted for review: in-progress -> review"),
    "feedback": Move(frozenset({RV}), R, False, "changes requested: review -> ready"),
    "complete": Move(frozenset({RV}), D, False, "approved: review -> done"),
    "fail": Move(frozenset({P, R, IP, RV}), F, False, "given up on: -> failed"),
    # The quality gate failed on a commit: back to ready for the same implementer.
    "test-failed": Move(frozenset({R, IP, RV}), R, False, "tests failed: -> ready"),
    # A person (or doctor) puts the task where it belongs: resolve --to, a hand move.
    "move": Move(frozenset(Status), None, False, "moved by hand"),
}


# What to run instead, keyed by the status the task is in.
def _what_works(task: Task) -> tuple[str | Op, ...]:
    tid = task.id
    return {
        P: ("the planner preps it first: ", op("prep", tid, "", "goal")),
        R: ("an implementer claims it: ", op("claim", tid)),
        IP: ("the holder submits it: ", op("submit", tid)),
        RV: (
            "the reviewer approves it (",
            op("complete", tid),
            ") or sends feedback (",
            op("feedback", tid, "", "text"),
            ")",
        ),
        D: ("it is done; to reopen it, a person runs ", op("resolve", tid, "", to="ready")),
        F: ("it failed; to retry it, a person runs ", op("resolve", tid, "", to="ready")),
    }[task.status]


def check(task: Task, op: str) -> Move:
    """The move ``op`` would make from the task's status, or ``IllegalTransition``."""
    move = TRANSITIONS[canonical(op)]
    if move.target is not None and move.sources and task.status not in move.sources:
        allowed = ", ".join(sorted(s.value for s in move.sources))
        raise IllegalTransition(
            f"cannot {op} {task.id}: it is {task.status.value} ({op} needs {allowed})",
            _what_works(task),
        )
    return move


def apply(
    task: Task,
    op: str,
    *,
    actor: str,
    now: str,
    note: str = "",
    holder: str | None = None,
    target: Status | None = None,
) -> Task:
    """Move ``task`` by ``op``, stamp it, and append the handoff to its history.

    ``actor`` makes the move (the history names it); ``holder`` ends up holding the task on a
    move that hands it to someone (claim): the actor itself unless given, so an orchestrator
    can assign a task to cursor (``actor="orchestrator", holder="cursor"``).
    """
    op = canonical(op)  # a caller still saying "review" writes the step's name of today
    move = check(task, op)
    to = move.target if move.target is not None else target
    if to is None:
        raise ValueError(f"{op} needs a target status")
    who = (holder or actor) if move.holds else ""
    if move.holds and who != actor:
        note = f"for {who}: {note}" if note.strip() else f"for {who}"
    # A hand move into in-progress keeps whoever held it, else gives it back to its
    # implementer; anything else drops the holder.
    kept = who if move.holds else (task.agent or task.implementer if to is IP else "")
    entry = HistoryEntry(
        at=now,
        agent=actor or "-",
        op=op,
        from_status=task.status.value if move.sources else "",  # a creation comes from nowhere
        to_status=to.value,
        note=" ".join(note.split()),
    )
    return task.evolve(
        status=to,
        agent=kept if to is IP else "",
        implementer=who if move.holds else task.implementer,
        updated=now,
        history=(*task.history, entry),
    )


def record(task: Task, op: str, *, actor: str, now: str, note: str = "") -> Task:
    """Append a history entry for an operation that does not move the task (escalate, edit)."""
    entry = HistoryEntry(
        at=now,
        agent=actor or "-",
        op=op,
        from_status=task.status.value,
        to_status=task.status.value,
        note=" ".join(note.split()),
    )
    return task.evolve(updated=now, history=(*task.history, entry))
