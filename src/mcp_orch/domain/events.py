"""Events: one record per operation, for ``orch log`` and the service's events table.

``event_for`` is the one place an ``Event`` is made: a move (or a refusal) yields its event,
whatever interface or store records it. An event maps onto the spec's events table: ``op`` is
its ``type``, ``agent`` its ``actor``, ``holder`` its ``agent`` (who holds the task after),
``at`` its ``occurred_at``, and the rest its ``payload_json``.
"""

from __future__ import annotations

from .model import Task
from .record import Record

NOTE_LIMIT = 500  # a note longer than this is cut: the full text is in the task file


class Event(Record):
    at: str
    agent: str  # who acted
    op: str
    task: str = ""
    from_status: str = ""
    to_status: str = ""
    outcome: str = "ok"  # ok | refused | error
    note: str = ""
    holder: str = ""  # who holds the task after the move, when that is not the actor
    id: str = ""  # its row in a SQL store's events table ("" on the file board's log)

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self._asdict().items() if v != ""}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Event:
        names = cls._fields
        return cls(**{k: str(v) for k, v in data.items() if k in names})


def event_for(
    before: Task | None,
    after: Task | None,
    *,
    actor: str,
    op: str,
    at: str,
    note: str = "",
    outcome: str = "ok",
    task_id: str = "",
) -> Event:
    """The event of ``op`` by ``actor`` that took ``before`` to ``after`` (None: no task before,
    as for a creation, or none after, as for a refused step, which names ``task_id``)."""
    task = after or before
    holder = after.agent if after is not None and after.agent != actor else ""
    return Event(
        at=at,
        agent=actor,
        op=op,
        task=task.id if task is not None else task_id,
        from_status=before.status.value if before is not None else "",
        to_status=after.status.value if after is not None else "",
        outcome=outcome,
        note=" ".join(note.split())[:NOTE_LIMIT],
        holder=holder,
    )
