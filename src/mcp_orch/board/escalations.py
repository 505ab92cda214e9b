"""Escalations in one place (AC3.4): ``.mcp/escalations/<ID>.md`` holds what a person needs to
decide about an escalated task (why, the last error, open feedback, the history, the task file),
a mirror the file board keeps of what the task holds: written whenever an escalated task is
saved, removed when a task without an open escalation is (``FileTx.commit``).
"""

from __future__ import annotations

import os

from ..domain.model import Task
from .format import render
from .fsutil import atomic_write


def path(board: str, task_id: str) -> str:
    """Where a person finds the escalation of ``task_id`` on the board folder ``board``."""
    return os.path.join(board, "escalations", f"{task_id}.md")


def sync(board: str, task: Task) -> None:
    """Write the file while the task is escalated; remove it once it is not."""
    where = path(board, task.id)
    if task.escalated:
        os.makedirs(os.path.dirname(where), exist_ok=True)
        atomic_write(where, text(task))
        return
    try:
        os.unlink(where)
    except FileNotFoundError:
        pass


def text(task: Task) -> str:
    reasons = "\n".join(f"- {n.at} {n.author}: {n.body}" for n in task.open_escalations)
    last = task.errors[-1] if task.errors else None
    error = (
        f"{last.key} {last.at} ({last.source or 'manual'})"
        + (f"\nDetails: {last.ref}" if last.ref else "")
        + f"\n\n{last.body}"
        if last
        else "(none recorded)"
    )
    feedback = "\n".join(
        f"- {n.key} ({n.source or 'review'}): {n.body}" for n in task.open_feedback
    )
    history = "\n".join(
        f"- {h.at} {h.agent} {h.op} {h.from_status or '-'} -> {h.to_status}"
        + (f": {h.note}" if h.note else "")
        for h in task.history
    )
    return (
        f"# Escalated: {task.id} - {task.title}\n\n"
        f"Status: {task.status.value}; implementer: {task.implementer or 'none'}\n"
        f"Decide, then return it to the flow: orch resolve {task.id} [--to STATUS] --note ...\n\n"
        f"## Why\n{reasons}\n\n## Last error context\n{error}\n\n"
        f"## Open feedback\n{feedback or '(none)'}\n\n## History\n{history}\n\n"
        f"## The task file as it is\n\n{render(task)}"
    )
