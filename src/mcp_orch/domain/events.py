"""Events: one record per operation, for ``orch log`` and (later) the events table."""

from __future__ import annotations

from .record import Record


class Event(Record):
    at: str
    agent: str
    op: str
    task: str = ""
    from_status: str = ""
    to_status: str = ""
    outcome: str = "ok"  # ok | refused | error
    note: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self._asdict().items() if v != ""}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Event:
        names = cls._fields
        return cls(**{k: str(v) for k, v in data.items() if k in names})
