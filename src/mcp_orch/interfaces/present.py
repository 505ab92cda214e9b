"""The stable JSON shapes of tasks, summaries and decisions, shared by the CLI and MCP.

These shapes are a public interface (agents parse them): add keys, never rename or remove.
Their types are in ``shapes`` (the README's ``--json`` section documents them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..domain.events import Event
from ..domain.model import CheckItem, Note, Priority, Task, parse_time
from ..domain.policy import Decision, Summary
from ..store import Problem, Snapshot

TYPE_CHECKING = False
if TYPE_CHECKING:  # the shapes are types only: the CLI does not import typing at run time
    from ..domain.ops import Op
    from .shapes import (
        CheckJSON,
        DecisionJSON,
        EventJSON,
        NoteJSON,
        OpJSON,
        ProblemJSON,
        StatusJSON,
        SummaryJSON,
        TaskJSON,
    )


def age_seconds(stamp: str, now: datetime) -> int | None:
    moment = parse_time(stamp) if stamp else None
    return None if moment is None else max(0, int((now - moment).total_seconds()))


def human_age(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _checks(items: tuple[CheckItem, ...]) -> list[CheckJSON]:
    return [{"text": i.text, "done": i.done} for i in items]


def note_dict(n: Note) -> NoteJSON:
    return {
        "key": n.key,
        "at": n.at,
        "author": n.author,
        "body": n.body,
        "source": n.source,
        "open": n.open,
        "resolved_at": n.resolved_at,
        "ref": n.ref,
    }


def summary_dict(s: Summary, now: datetime) -> SummaryJSON:
    return {
        "id": s.id,
        "title": s.title,
        "status": s.status.value,
        "priority": s.priority.value,
        "agent": s.agent or None,
        "implementer": s.implementer or None,
        "depends": list(s.depends),
        "capabilities": list(s.capabilities),
        "created": s.created,
        "updated": s.updated,
        "age_seconds": age_seconds(s.created, now),
        "open_feedback": s.open_feedback,
        "escalated": s.escalated,
    }


def task_dict(t: Task) -> TaskJSON:
    return {
        "id": t.id,
        "title": t.title,
        "status": t.status.value,
        "priority": t.priority.value,
        "agent": t.agent or None,
        "implementer": t.implementer or None,
        "depends": list(t.depends),
        "capabilities": list(t.capabilities),
        "created": t.created,
        "updated": t.updated,
        "goal": t.goal,
        "acceptance_criteria": _checks(t.acceptance),
        "definition_of_ready": _checks(t.ready_def),
        "definition_of_done": _checks(t.done_def),
        "files": list(t.files),
        "notes": t.notes,
        "open_feedback": [note_dict(n) for n in t.open_feedback],
        "feedback": [note_dict(n) for n in t.feedback],
        "errors": [note_dict(n) for n in t.errors],
        "escalations": [note_dict(n) for n in t.escalations],
        "escalated": t.escalated,
        "git": {"branch": t.git.branch, "commit": t.git.commit, "pr": t.git.pr},
        "history": [
            {
                "at": h.at,
                "agent": h.agent,
                "op": h.op,
                "from": h.from_status or None,
                "to": h.to_status,
                "note": h.note,
            }
            for h in t.history
        ],
        # Sections written by hand ("## Design"), a known one written twice too: agents read
        # this JSON, not the file, so their text must be here.
        "more_sections": [
            {"heading": heading, "text": body, "after": after or None}
            for after, heading, body in t.extra
            if heading
        ],
    }


def op_dict(o: Op) -> OpJSON:
    """An operation as data: what to run next, for programs that do not parse a command."""
    return {
        "name": o.name,
        "task_id": o.task_id or None,
        "agent": o.agent or None,
        "args": dict(o.args),
        "needs": list(o.needs),
    }


def problem_dict(p: Problem) -> ProblemJSON:
    return {
        "kind": p.kind,
        "message": p.message,
        "hint": p.hint,
        "path": p.path,
        "line": p.line,
        "task": p.task,
    }


MAX_PROBLEMS = 10  # in an answer about one agent's next step; 'orch status' lists them all


def decision_dict(
    d: Decision, task: Task | None, problems: Sequence[Problem] = (), command: str = ""
) -> DecisionJSON:
    """A ``next`` answer. ``command`` is the operations as the interface words them (a command
    line, a tool call); ``op`` is the one to run as data, ``ops`` it and its alternatives."""
    return {
        "action": d.action,
        "task": task_dict(task) if task else None,
        "reason": d.reason,
        "command": command,
        "op": op_dict(d.ops[0]) if d.ops else None,
        "ops": [op_dict(o) for o in d.ops],
        "problems": [problem_dict(p) for p in problems[:MAX_PROBLEMS]],
        "problems_total": len(problems),
    }


def event_dict(e: Event) -> EventJSON:
    """Every field, empty ones as "" (the log file itself leaves them out)."""
    return {
        "at": e.at,
        "agent": e.agent,
        "op": e.op,
        "task": e.task,
        "from_status": e.from_status,
        "to_status": e.to_status,
        "outcome": e.outcome,
        "note": e.note,
    }


def status_dict(
    snap: Snapshot,
    now: datetime,
    *,
    include_closed: bool,
    offset: int = 0,
    limit: int | None = None,
    statuses: Sequence[str] = (),
    agent: str | None = None,
) -> StatusJSON:
    """The board by state: active tasks (all with ``include_closed``), counts and problems.

    ``statuses`` lists only tasks in those states (done and failed too, when named), ``agent``
    only the tasks it holds or implemented; the counts are always the whole board's.
    """
    # A status is a str enum: it hashes and compares as its value, so it keys these dicts
    # as it is (``.value`` is a Python-level property: five calls per task add up).
    counts: dict[str, int] = {}
    for s in snap.tasks:
        counts[s.status] = counts.get(s.status, 0) + 1
    wanted = set(statuses) or (set(_ORDER) if include_closed else set(_ACTIVE))
    listed = sorted(
        (
            s
            for s in snap.tasks
            if s.status in wanted and (not agent or agent in (s.agent, s.implementer))
        ),
        # the sort key spelt out: a method call per task costs ~0.3 ms on 1,000 tasks
        key=lambda s: (_ORDER[s.status], not s.escalated, _RANK[s.priority], s.created, s.id),
    )
    page = listed[offset : offset + limit if limit is not None else None]
    return {
        "tasks": [summary_dict(s, now) for s in page],
        "total": len(listed),
        "offset": offset,
        "counts": {str(k): v for k, v in counts.items()},  # plain str keys, as documented
        "escalated": [s.id for s in snap.tasks if s.escalated],
        "problems": [problem_dict(p) for p in snap.problems],
    }


_RANK = {p: p.rank for p in Priority}
_ORDER = {"pending": 0, "ready": 1, "in-progress": 2, "review": 3, "done": 4, "failed": 5}
_ACTIVE = ("pending", "ready", "in-progress", "review")
