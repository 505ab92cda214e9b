"""The JSON the HTTP API answers with: the spec's Post-MVP Task, Agent Status and Event shapes,
built from the board's records. Keys are only ever added.

The board's six folders map onto the spec's task statuses (README, "orch serve"):

| board folder  | spec ``status``                                                       |
| ------------- | --------------------------------------------------------------------- |
| pending       | ``pending`` (a stub the planner still defines)                        |
| ready         | ``pending`` (queued); ``assigned`` with a holder; ``blocked`` while a |
|               | dependency is not done                                                 |
| in-progress   | ``in_progress``                                                       |
| review        | ``in_progress`` (``board_status`` says ``review``)                    |
| done          | ``completed``                                                         |
| failed        | ``failed``                                                            |

An escalated task is ``blocked`` whatever its folder (it waits for a person). ``board_status``
always carries the folder itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.events import Event
from ..domain.model import Task
from ..domain.policy import Summary, summarize
from .http_io import jsonable
from .present import task_dict

SPEC_STATUS = {
    "pending": "pending",
    "ready": "pending",
    "in-progress": "in_progress",
    "review": "in_progress",
    "done": "completed",
    "failed": "failed",
}


def spec_status(board: str, *, holder: str, escalated: bool, blocked: bool) -> str:
    if escalated and board not in ("done", "failed"):
        return "blocked"
    if board == "ready":
        return "assigned" if holder else "blocked" if blocked else "pending"
    return SPEC_STATUS.get(board, board)


def summary_shape(s: Summary, done: Callable[[str], bool]) -> dict[str, Any]:
    """One task of a listing (what the board's index knows without reading the file)."""
    return {
        "id": s.id,
        "title": s.title,
        "type": s.priority.value,
        "priority": s.priority.rank,
        "status": spec_status(
            s.status.value,
            holder=s.agent,
            escalated=s.escalated,
            blocked=not all(done(d) for d in s.depends),
        ),
        "board_status": s.status.value,
        "assigned_agent": s.agent or None,
        "implementer": s.implementer or None,
        "dependencies": list(s.depends),
        "created_at": s.created,
        "updated_at": s.updated,
        "open_feedback": s.open_feedback,
        "escalated": s.escalated,
    }


def task_shape(t: Task, done: Callable[[str], bool]) -> dict[str, Any]:
    """The spec's Task, plus ``board``: the whole task as ``orch show --json`` gives it
    (criteria, feedback, history)."""
    moments = {h.op: h.at for h in t.history}
    finished = [h.at for h in t.history if h.to_status == "done"]
    return {
        **summary_shape(summarize(t), done),
        "capabilities": list(t.capabilities),
        "files": list(t.files),
        "assigned_at": moments.get("assign") or moments.get("claim"),
        "completed_at": finished[-1] if finished else None,
        "metadata": {
            "goal": t.goal,
            "acceptance_criteria": [c.text for c in t.acceptance],
            "estimated_duration": _minutes(t.estimate),
            "risk_level": t.risk or "standard",
        },
        "board": task_dict(t),
    }


def _minutes(estimate: str) -> float | None:
    """A task's estimate (a duration string) as the spec's minutes; None when not said."""
    from ..domain.durations import parse_duration
    from ..domain.errors import InvalidInput

    if not estimate:
        return None
    try:
        minutes = parse_duration(estimate) / 60
    except InvalidInput:  # a hand-edited file's odd value: not an estimate
        return None
    return int(minutes) if minutes == int(minutes) else round(minutes, 2)


def event_shape(e: Event) -> dict[str, Any]:
    """The spec's Event (``type`` is the step, ``actor`` who took it), with the board's
    fields in ``payload_json``."""
    agent = e.holder or e.agent  # who has the task after it: the assignee
    payload = {
        "task_id": e.task,
        "agent_name": agent,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "outcome": e.outcome,
        "note": e.note,
    }
    return {
        "id": int(e.id) if e.id else None,
        "type": e.op,
        "practice_id": "system",
        "actor": e.agent,
        "task_id": e.task or None,
        "agent": agent or None,
        "payload_json": payload,
        "occurred_at": e.at,
    }


def agent_shape(status: object) -> dict[str, Any]:
    """An Agent Status record of the orchestrator as the spec's JSON (``name``, ``status``,
    ``current_tasks``, ``capabilities``, ``last_heartbeat``, ``performance_metrics``...)."""
    shown = jsonable(status)
    if not isinstance(shown, dict):
        raise TypeError(f"an agent status is a record, not {type(status).__name__}")
    shown.setdefault("last_heartbeat", None)
    if shown.get("last_heartbeat") == "":
        shown["last_heartbeat"] = None
    return shown
