"""The words the MCP server says: its instructions, one prompt per role, and the Markdown of
its resources. Kept apart from the wiring in ``mcp_server`` so they can be read (and edited)
as text; no SDK import here.
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain.model import Task

INSTRUCTIONS = (
    "orch is this project's task board: agents hand work to each other through it, no "
    "copy-paste. Call next_task first and after every handoff; it says what to do and which "
    "tool to call. Task IDs look like T-7k3m9q."
)

_LOOP = (
    "Repeat until next_task answers wait or idle; on wait, stop and tell the user what you are "
    "waiting for. If a tool returns an error, read it: it says what happened and what to do. "
    "If you are stuck, call escalate_task with the reason instead of guessing."
)

PLANNER = f"""You are the planner on this project's orch task board.

1. Call next_task. It answers prep (a stub to define) or escalation (a task waiting for a
   person: summarise it for the user).
2. For new work, call create_task with a short title and a priority (P0 urgent, P1, P2).
3. Call prep_task to define each task so an implementer can finish it without asking:
   a goal (what and why), acceptance criteria (testable), a Definition of Ready, a
   Definition of Done (tests pass, docs updated...), the files it will touch and notes
   (approach, pitfalls). This moves it to ready; an implementer picks it up from there.
4. {_LOOP}
"""

IMPLEMENTER = f"""You are the implementer on this project's orch task board.

1. Call next_task. It answers continue (finish the task you hold), fix (a task came back
   with review feedback), or claim (the most urgent ready task).
2. Call claim_task on that task before you touch code. Read everything it returns: the goal,
   the acceptance criteria, the Definition of Done, the files, the notes and, first of all,
   any open feedback, which you must address.
3. Do the work in the repository. Run the tests. If something fails that you cannot fix,
   call report_error with the output so the context is kept on the task.
4. Call submit_task with a note saying what you did and how you tested it.
5. {_LOOP}
"""

REVIEWER = f"""You are the reviewer on this project's orch task board.

1. Call next_task. It answers review with a task waiting for you, including its criteria,
   Definition of Done, files and history.
2. Review the change in the repository against the acceptance criteria and the Definition
   of Done. Run the tests.
3. Call review_task: approve=true when every criterion is met; otherwise approve=false with
   feedback that says exactly what to change and where. It goes back to the implementer,
   who sees your feedback in next_task.
4. {_LOOP}
"""

PROMPTS: dict[str, tuple[str, str]] = {
    "planner": ("The planner's loop: create tasks and define them.", PLANNER),
    "implementer": ("The implementer's loop: claim, build, submit.", IMPLEMENTER),
    "reviewer": ("The reviewer's loop: approve or request changes.", REVIEWER),
}


def task_markdown(task: Task, render: Callable[[Task], str]) -> str:
    """The task file, with open feedback and escalations repeated on top (as ``orch show``)."""
    head = ""
    if task.escalated:
        head += "ESCALATED: " + "; ".join(n.body for n in task.open_escalations) + "\n\n"
    if task.open_feedback:
        head += "OPEN FEEDBACK (fix these first)\n"
        head += "".join(
            f"  {n.key} from {n.author} ({n.source or 'review'}): {n.body}\n"
            for n in task.open_feedback
        )
        head += "\n"
    return head + render(task)


def board_markdown(data: dict[str, object]) -> str:
    """The board summary of ``present.status_dict`` as Markdown."""
    counts: dict[str, int] = data["counts"]  # type: ignore[assignment]
    tasks: list[dict[str, object]] = data["tasks"]  # type: ignore[assignment]
    escalated: list[str] = data["escalated"]  # type: ignore[assignment]
    problems: list[dict[str, object]] = data["problems"]  # type: ignore[assignment]
    order = ("pending", "ready", "in-progress", "review", "done", "failed")
    lines = ["# Board", "", " | ".join(f"{s}: {counts.get(s, 0)}" for s in order), ""]
    if escalated:
        lines += [f"**Escalated (a person decides):** {', '.join(escalated)}", ""]
    lines += ["| ID | Status | Priority | Agent | Title |", "|---|---|---|---|---|"]
    for t in tasks:
        holder = t["agent"] or (f"<{t['implementer']}" if t["open_feedback"] else "-")
        title = str(t["title"]).replace("|", "\\|")
        lines.append(f"| {t['id']} | {t['status']} | {t['priority']} | {holder} | {title} |")
    total = int(data["total"])  # type: ignore[call-overload]
    if total > len(tasks):
        lines += ["", f"{len(tasks)} of {total} active tasks shown; page with board_status."]
    if problems:
        lines += ["", "## Problems"] + [f"- {p['message']} ({p['hint']})" for p in problems]
    return "\n".join(lines) + "\n"
