"""The words the MCP server says: its instructions, one prompt per role, the Markdown of its
resources and the bounded JSON of its answers. Kept apart from the wiring in ``mcp_server`` so
they can be read (and edited) as text; no SDK import here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..domain.errors import InvalidInput
from ..domain.model import Task
from ..domain.ops import Hint, Op, word
from ..domain.policy import Decision
from ..store import Snapshot
from . import present

if TYPE_CHECKING:
    from .shapes import ProblemJSON, SummaryJSON

INSTRUCTIONS = (
    "orch is this project's task board: agents hand work to each other through it, no "
    "copy-paste. Call next_task first and after every handoff; it says what to do and which "
    "tool to call. Task IDs look like T-7k3m9q2x."
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


# Each operation (``domain.ops``) as a tool call: the tool, its fixed arguments, and the
# tool's name for each of the operation's arguments. resolve and doctor have no tool: a person
# runs them from a shell, so their wording is the command line.
TOOLS: dict[str, tuple[str, str, dict[str, str]]] = {
    "next": ("next_task", "", {}),
    "create": ("create_task", "", {"title": "title", "priority": "priority"}),
    "prep": (
        "prep_task",
        "",
        {
            "goal": "goal",
            "acceptance": "acceptance_criteria",
            "ready_def": "definition_of_ready",
            "done_def": "definition_of_done",
        },
    ),
    "claim": ("claim_task", "", {}),
    "submit": ("submit_task", "", {"note": "note"}),
    "complete": ("review_task", "approve=true", {}),
    "feedback": ("review_task", "approve=false", {"text": "feedback"}),
    "show": ("get_task", "", {}),
    "status": ("board_status", "", {"all": "include_closed"}),
    "error": ("report_error", "", {"text": "text"}),
    "fail": ("report_error", "give_up=true", {"reason": "text"}),
    "escalate": ("escalate_task", "", {"reason": "reason"}),
}


def tool_name(o: Op) -> str | None:
    return TOOLS[o.name][0] if o.name in TOOLS else None


def tool_call(o: Op) -> str:
    """``call prep_task with task_id=T-7k3m9q2x, goal=...``; a person's step as its command."""
    if o.name not in TOOLS:
        from .cli_text import command

        return f"a person runs `{command(o._replace(agent=''))}`"
    if o.name == "next" and any(k == "wait" for k, _ in o.args):
        return "call next_task again after the next handoff"
    tool, fixed, params = TOOLS[o.name]
    given = [f"task_id={o.task_id}"] if o.task_id else []
    given += [fixed] if fixed else []
    given += [f"{params[k]}={v or 'true'}" for k, v in o.args if k in params]
    given += [f"{params[k]}=..." for k in o.needs if k in params]
    return f"call {tool}" + (f" with {', '.join(given)}" if given else "")


def tool_hint(parts: Hint) -> str:
    return word(parts, tool_call)


def decision_call(d: Decision) -> str:
    """A ``next_task`` answer's operations as tool calls, the alternatives after "or"."""
    joiner = "; then " if d.action == "escalation" else "; or "
    return joiner.join(tool_call(o) for o in d.ops)


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


PAGE_CHARS = 100_000  # one page of task://ID; a task file that long was grown by hand


def markdown_page(text: str, task_id: str, page: int) -> str:
    """Page ``page`` (from 1) of a task's Markdown: the whole text when it fits one page, else
    PAGE_CHARS at most, cut at a line end, with a last line that says how to read on."""
    if len(text) <= PAGE_CHARS and page == 1:
        return text
    starts = [0]
    while len(text) - starts[-1] > PAGE_CHARS:
        start = starts[-1]
        cut_at = text.rfind("\n", start, start + PAGE_CHARS) + 1
        starts.append(cut_at if cut_at > start else start + PAGE_CHARS)
    if not 1 <= page <= len(starts):
        raise InvalidInput(
            f"task://{task_id} has {len(starts)} page(s), not page {page}",
            f"read task://{task_id}?page=N with N from 1 to {len(starts)}",
        )
    start = starts[page - 1]
    end = starts[page] if page < len(starts) else len(text)
    more = (
        f"read on: task://{task_id}?page={page + 1}"
        if page < len(starts)
        else "this is the last page"
    )
    return (
        f"{text[start:end].rstrip(chr(10))}\n\n[page {page} of {len(starts)} of {task_id} "
        f"({len(text)} characters): {more}; get_task pages its lists]\n"
    )


def prompt_text(role: str, task_id: str) -> str:
    """The loop of ``role``, aimed at one task when the user named one."""
    text = PROMPTS[role][1]
    if not task_id.strip():
        return text
    tid = task_id.strip()
    return (
        f"{text}\nThe user points you at {tid}: read it first with "
        f"get_task(task_id={tid!r}), then follow the loop above for it.\n"
    )


def board_markdown(data: Mapping[str, Any]) -> str:
    """The board summary of ``status_page`` (a page of ``present.status_dict``) as Markdown."""
    counts: dict[str, int] = data["counts"]
    tasks: list[SummaryJSON] = data["tasks"]
    escalated: list[str] = data["escalated"]
    problems: list[ProblemJSON] = data["problems"]
    order = ("pending", "ready", "in-progress", "review", "done", "failed")
    lines = ["# Board", "", " | ".join(f"{s}: {counts.get(s, 0)}" for s in order), ""]
    if escalated:
        more = int(data.get("escalated_total", len(escalated))) - len(escalated)
        rest = f" and {more} more" if more > 0 else ""
        lines += [f"**Escalated (a person decides):** {', '.join(escalated)}{rest}", ""]
    lines += ["| ID | Status | Priority | Agent | Title |", "|---|---|---|---|---|"]
    for t in tasks:
        holder = t["agent"] or (f"<{t['implementer']}" if t["open_feedback"] else "-")
        title = str(t["title"]).replace("|", "\\|")
        lines.append(f"| {t['id']} | {t['status']} | {t['priority']} | {holder} | {title} |")
    total = int(data["total"])
    if total > len(tasks):
        lines += ["", f"{len(tasks)} of {total} active tasks shown; page with board_status."]
    if problems:
        lines += ["", "## Problems"] + [f"- {p['message']} ({p['hint']})" for p in problems]
    more = int(data.get("problems_total", len(problems))) - len(problems)
    if more > 0:
        lines.append(f"- and {more} more: page with board_status, or run orch status")
    return "\n".join(lines) + "\n"


# No tool answer is unbounded. A task answer carries the first items of its definition lists,
# every open feedback note (up to a limit), the last notes of each section and the last history
# entries, with texts cut at MAX_TEXT; it counts what it left out and says how to get it.
MAX_TEXT = 2_000
HEAD = {
    "acceptance_criteria": 30,
    "definition_of_ready": 30,
    "definition_of_done": 30,
    "files": 30,
    "open_feedback": 20,
    "more_sections": 10,
}
TAIL = {"feedback": 5, "errors": 5, "escalations": 5, "history": 20}
SECTION_PAGE = 20  # items of one get_task section page


def cut(text: str, where: str) -> str:
    """``text`` up to MAX_TEXT characters, saying how much is left out and where it is."""
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}... [{len(text) - MAX_TEXT} more characters: {where}]"


def cut_all(value: Any, where: str) -> Any:
    """``value`` (JSON data) with every long string in it cut."""
    if isinstance(value, str):
        return cut(value, where)
    if isinstance(value, list):
        return [cut_all(v, where) for v in value]
    if isinstance(value, dict):
        return {k: cut_all(v, where) for k, v in value.items()}
    return value


def task_answer(task: Task) -> dict[str, Any]:
    """A task as a tool answers it: bounded (HEAD, TAIL, MAX_TEXT), what is left out counted."""
    data: dict[str, Any] = {**present.task_dict(task)}  # bounded below: no longer a TaskJSON
    omitted: dict[str, int] = {}
    for key, keep in [*HEAD.items(), *TAIL.items()]:
        items = data[key]
        if len(items) > keep:
            omitted[key] = len(items) - keep
            data[key] = items[:keep] if key in HEAD else items[-keep:]
    data = cut_all(data, f"task://{task.id}")
    data["omitted"] = omitted
    if omitted:
        data["more"] = (
            f"page a list with get_task(task_id={task.id!r}, section=NAME, offset=N); "
            f"task://{task.id} is the whole file"
        )
    return data


def section_page(task: Task, section: str, offset: int) -> dict[str, Any]:
    """One page (SECTION_PAGE items, oldest first) of one list of a task."""
    whole: Mapping[str, Any] = present.task_dict(task)
    items: list[Any] = whole[section]
    page = items[offset : offset + SECTION_PAGE]
    end = offset + len(page)
    return {
        "id": task.id,
        "section": section,
        "offset": offset,
        "total": len(items),
        "items": cut_all(page, f"task://{task.id}"),
        "next_offset": end if end < len(items) else None,
    }


def status_page(
    snap: Snapshot, now: datetime, offset: int, limit: int, include_closed: bool
) -> dict[str, Any]:
    """One page of the board: its tasks, escalated IDs and problems, each paged alike."""
    data: dict[str, Any] = {
        **present.status_dict(snap, now, include_closed=include_closed, offset=offset, limit=limit)
    }
    longest = data["total"]
    for key in ("escalated", "problems"):
        items = data[key]
        data[key] = cut_all(items[offset : offset + limit], "orch status --json")
        data[f"{key}_total"] = len(items)
        longest = max(longest, len(items))
    data["next_offset"] = offset + limit if offset + limit < longest else None
    return data
