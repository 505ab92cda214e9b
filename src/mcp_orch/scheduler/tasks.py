"""``TaskInput``: the spec's Post-MVP Task as ``POST /api/orchestrator/tasks`` receives it.

Checked before anything is written: an unknown field, a wrong type or a value out of range is
an ``InvalidInput`` that names the field and what to give, so a bad request changes nothing.
Fields the service sets itself (``created_at``, ``assigned_at``, ``completed_at``) are
accepted, so a client may send back a Task it read, and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..domain.errors import InvalidInput
from ..domain.model import Priority
from ..domain.record import Record

# The spec's Task schema, plus what a task needs (capabilities), its title and its files.
FIELDS = frozenset(
    {
        "id",
        "title",
        "description",
        "goal",
        "type",
        "priority",
        "status",
        "assigned_agent",
        "dependencies",
        "capabilities",
        "files",
        "acceptance_criteria",
        "created_at",
        "assigned_at",
        "completed_at",
        "metadata",
    }
)
METADATA = frozenset({"goal", "acceptance_criteria", "estimated_duration", "risk_level"})
IGNORED = frozenset({"created_at", "assigned_at", "completed_at"})  # the service's own stamps
# What a new or updated task may say about its status: the orchestrator moves it from there.
STATUSES = frozenset({"pending", "ready"})
RISKS = frozenset({"critical", "standard", "experimental"})


class TaskInput(Record):
    """A task to create (no ``id``, or one not on the board) or to update (an existing ``id``)."""

    title: str = ""
    id: str = ""
    goal: str = ""
    priority: Priority | None = None
    dependencies: tuple[str, ...] | None = None
    capabilities: tuple[str, ...] | None = None
    files: tuple[str, ...] | None = None
    acceptance: tuple[str, ...] | None = None
    status: str = ""  # "" | pending | ready
    assigned_agent: str = ""  # a person's choice of agent ("" = the assigner chooses)
    estimated_minutes: float | None = None
    risk: str = ""

    @classmethod
    def from_json(cls, data: object) -> TaskInput:
        """Validate a decoded JSON object (the request's ``task``)."""
        fields = _mapping(data, "task")
        _no_unknown(fields, FIELDS, "task")
        meta = _mapping(fields.get("metadata") or {}, "task.metadata")
        _no_unknown(meta, METADATA, "task.metadata")
        return cls(
            title=_text(fields, "title"),
            id=_text(fields, "id"),
            goal=_goal(fields, meta),
            priority=_priority(fields),
            dependencies=_names(fields, "dependencies"),
            capabilities=_names(fields, "capabilities"),
            files=_names(fields, "files"),
            acceptance=_names(fields, "acceptance_criteria")
            if "acceptance_criteria" in fields
            else _names(meta, "acceptance_criteria", "task.metadata."),
            status=_status(fields),
            assigned_agent=_text(fields, "assigned_agent"),
            estimated_minutes=_minutes(meta),
            risk=_risk(meta),
        )


def priority_of(value: object, where: str) -> Priority:
    """``"P0"``..``"P2"`` or 0..2 (the spec's ``type`` and ``priority``) as a ``Priority``."""
    if isinstance(value, bool):
        value = None  # true is not 1 here
    if isinstance(value, int) and 0 <= value <= 2:
        return Priority(f"P{value}")
    if isinstance(value, str) and value.strip().upper() in ("P0", "P1", "P2"):
        return Priority(value.strip().upper())
    raise InvalidInput(
        f"{where} must be P0, P1 or P2 (or 0, 1, 2), not {value!r}", "P0 is the most urgent"
    )


def _mapping(data: object, where: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"{where} must be a JSON object, not {type(data).__name__}",
            'send e.g. {"task": {"title": "Add login rate limit", "priority": "P1"}}',
        )
    return data


def _no_unknown(data: Mapping[str, object], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise InvalidInput(
            f"unknown field(s) in {where}: {', '.join(unknown)}",
            f"{where} takes: {', '.join(sorted(known))}",
        )


def _text(data: Mapping[str, object], key: str, where: str = "task.") -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where}{key} must be a string, not {type(value).__name__}", "")
    return value


def _goal(fields: Mapping[str, object], meta: Mapping[str, object]) -> str:
    """``goal``, ``description`` and ``metadata.goal`` name one thing; they must agree."""
    given = {
        name: text
        for name, text in (
            ("goal", _text(fields, "goal")),
            ("description", _text(fields, "description")),
            ("metadata.goal", _text(meta, "goal", "task.metadata.")),
        )
        if text.strip()
    }
    if len(set(given.values())) > 1:
        raise InvalidInput(
            f"task.{' and task.'.join(given)} disagree",
            "they name the same thing (what must be done): give one of them",
        )
    return next(iter(given.values()), "")


def _priority(fields: Mapping[str, object]) -> Priority | None:
    chosen = [
        priority_of(fields[k], f"task.{k}")
        for k in ("type", "priority")
        if fields.get(k) is not None
    ]
    if len(set(chosen)) > 1:
        raise InvalidInput(
            "task.type and task.priority disagree", "give one of them (P0 is the most urgent)"
        )
    return chosen[0] if chosen else None


def _names(data: Mapping[str, object], key: str, where: str = "task.") -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            f"{where}{key} must be a list of strings", f'for example: "{key}": ["one", "two"]'
        )
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def _status(fields: Mapping[str, object]) -> str:
    status = _text(fields, "status").strip().lower()
    if status and status not in STATUSES:
        raise InvalidInput(
            f"task.status {status!r} cannot be set here",
            "a task starts pending (a stub) or ready (leave it out: ready when it has a goal); "
            "the steps move it on: POST /api/orchestrator/tasks/{id}/{step}",
        )
    return status


def _minutes(meta: Mapping[str, object]) -> float | None:
    value = meta.get("estimated_duration")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 10**6:
        raise InvalidInput(
            "task.metadata.estimated_duration must be a positive number of minutes", ""
        )
    return float(value)


def _risk(meta: Mapping[str, object]) -> str:
    risk = _text(meta, "risk_level", "task.metadata.")
    if risk and risk not in RISKS:
        raise InvalidInput(
            f"task.metadata.risk_level {risk!r} is unknown", "use " + ", ".join(sorted(RISKS))
        )
    return risk
