"""The handoff commands: create, prep, next, claim, submit (old name: review), feedback,
complete, fail, error, escalate, check, resolve.

Each handler calls one service function and prints the result as text or ``--json``.
Registered into the ``orch`` parser like every command module (see ``cli.EXTRA_COMMANDS``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..domain.errors import InvalidInput
from . import cli

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.model import Task
    from ..service import Service
    from .shapes import ClaimJSON, CreateJSON, FeedbackItemJSON, FeedbackListJSON


# A task's three checklists, as prep (which writes them) and check (which ticks them) name them.
LIST_FLAGS = (
    ("--ac", "acceptance criteria"),
    ("--dor", "Definition of Ready items"),
    ("--dod", "Definition of Done items"),
)


def _then(step: str, task: Task, service: Service, agent: str) -> str:
    """What happens next, as commands that run as printed (the agent included)."""
    from ..domain.hints import after
    from .cli_text import hint

    return hint(after(step, task, agent, service.config.roles))


def cmd_create(args: argparse.Namespace) -> int:
    task = cli.open_service().create(
        args.title,
        priority=args.priority,
        depends=args.depends or (),
        agent=cli.acting_agent(args),
        goal=args.goal or "",
        capabilities=args.capability or (),
    )
    data: CreateJSON = {"id": task.id, "status": task.status.value, "title": task.title}
    cli.emit(args, data, task.id)
    return 0


def cmd_prep(args: argparse.Namespace) -> int:
    task_id = cli.take_id(args)
    service = cli.open_service()
    agent = cli.acting_agent(args)
    task = service.prep(
        task_id,
        agent=agent,
        goal=args.goal,
        acceptance=args.ac or (),
        ready_def=args.dor or (),
        done_def=args.dod or (),
        files=args.files or (),
        notes=args.notes,
        depends=args.depends,
        priority=args.priority,
        capabilities=args.capability,
    )
    from .present import task_dict

    then = _then("prep", task, service, agent)
    cli.emit(args, task_dict(task), f"{cli.task_line(task)}\nnext: {then}")
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    from .cli_text import decision_command
    from .present import decision_dict

    service = cli.open_service()
    if args.wait:
        result = service.wait_next(cli.acting_agent(args), timeout=args.timeout)
    else:
        result = service.next_action(cli.acting_agent(args))
    d = result.decision
    command = decision_command(d)
    lines = [f"{d.action}: {d.reason}", f"  run: {command}"]
    task = result.task
    if task is not None and task.open_feedback:
        lines.append("  open feedback (fix these first):")
        for note in task.open_feedback:
            lines.append(f"    {note.key} from {note.author} ({note.source or 'review'}):")
            lines += [f"      {ln}" for ln in note.body.split("\n")]
            if note.ref:
                lines.append(f"      details: {note.ref}")
    if task is not None:
        lines.append(f"  details: orch show {task.id}")
    if result.problems:
        lines.append(
            f"  the board has {len(result.problems)} problem(s) that can hide work, e.g. "
            f"{result.problems[0].message}; 'orch status' names them all, "
            "'orch doctor --fix' repairs what it can"
        )
    cli.emit(args, decision_dict(d, task, result.problems, command), "\n".join(lines))
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    from .present import task_dict

    service = cli.open_service()
    agent = cli.acting_agent(args)
    result = service.claim(args.id, agent=agent)
    t = result.task
    text = f"claimed {t.id}: {t.title}" if result.changed else f"you already hold {t.id}"
    text += f"\n  {_then('claim', t, service, agent)}"
    data: ClaimJSON = {**task_dict(t), "changed": result.changed}
    cli.emit(args, data, text)
    return 0


def _moved(args: argparse.Namespace, step: str, act: Callable[[Service, str], Task]) -> int:
    """Run one step as the acting agent; print the task and what happens next."""
    from .present import task_dict

    service = cli.open_service()
    agent = cli.acting_agent(args)
    task = act(service, agent)
    then = _then(step, task, service, agent)
    cli.emit(args, task_dict(task), f"{cli.task_line(task)}\n  next: {then}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    return _moved(args, "submit", lambda s, a: s.submit(args.id, agent=a, note=args.note or ""))


def cmd_feedback(args: argparse.Namespace) -> int:
    if args.id == "list":
        return _feedback_list(args)
    if not args.text:
        from ..domain.ops import op
        from .cli_text import command

        wanted = op("feedback", args.id, cli.acting_agent(args), "text")
        raise InvalidInput("no feedback text", f"give it: {command(wanted)}")
    return _moved(
        args, "feedback", lambda s, a: s.request_changes(args.id, agent=a, text=args.text)
    )


def _feedback_list(args: argparse.Namespace) -> int:
    from .present import note_dict

    service = cli.open_service()
    wanted = (
        [args.text_id]
        if args.text_id
        else [s.id for s in service.status().tasks if s.open_feedback]
    )
    items: list[FeedbackItemJSON] = []
    lines: list[str] = []
    for tid in wanted:
        task = service.show(tid)
        for note in task.open_feedback:
            items.append({"task": task.id, **note_dict(note)})
            lines.append(
                f"{task.id} {note.key} from {note.author} ({note.source or 'review'}) "
                f"{note.at}: {note.body.splitlines()[0] if note.body else ''}"
            )
    data: FeedbackListJSON = {"feedback": items}
    cli.emit(args, data, "\n".join(lines) or "no open feedback")
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    return _moved(args, "complete", lambda s, a: s.complete(args.id, agent=a, note=args.note or ""))


def text_or_file(args: argparse.Namespace, name: str, command: str) -> str:
    """``--NAME TEXT`` or ``--NAME-file PATH`` (``-``: standard input), exactly one of them.

    A file is read as UTF-8; bytes that are not (a test log with stray binary) become U+FFFD
    rather than refusing the whole text.
    """
    text, path = getattr(args, name), getattr(args, f"{name}_file")
    flag = f"--{name}"
    if (text is None) == (path is None):
        raise InvalidInput(
            f"give {flag} TEXT or {flag}-file PATH" + (", not both" if text is not None else ""),
            f"{flag}-file - reads standard input: pytest 2>&1 | orch {command} ID {flag}-file -",
        )
    if text is not None:
        return str(text)
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {flag}-file {path}: {exc.strerror or exc}",
            "give a readable file, or - to read standard input",
        ) from None
    return data.decode("utf-8", "replace")


def cmd_fail(args: argparse.Namespace) -> int:
    reason = text_or_file(args, "reason", "fail")
    return _moved(args, "fail", lambda s, a: s.fail(args.id, agent=a, reason=reason))


def cmd_error(args: argparse.Namespace) -> int:
    text = text_or_file(args, "text", "error")
    return _moved(args, "error", lambda s, a: s.add_error(args.id, agent=a, text=text))


def cmd_escalate(args: argparse.Namespace) -> int:
    reason = text_or_file(args, "reason", "escalate")
    return _moved(args, "escalate", lambda s, a: s.escalate(args.id, agent=a, reason=reason))


def cmd_resolve(args: argparse.Namespace) -> int:
    return _moved(
        args,
        "resolve",
        lambda s, a: s.resolve(args.id, agent=a, to=args.to, note=args.note or ""),
    )


def cmd_check(args: argparse.Namespace) -> int:
    from .present import task_dict

    task_id = cli.take_id(args)
    task = cli.open_service().check(
        task_id,
        agent=cli.acting_agent(args),
        ac=args.ac or (),
        dor=args.dor or (),
        dod=args.dod or (),
        done=not args.uncheck,
    )
    lines = [cli.task_line(task)]
    for label, items in (
        ("Acceptance Criteria", task.acceptance),
        ("Definition of Ready", task.ready_def),
        ("Definition of Done", task.done_def),
    ):
        if items:
            met = sum(i.done for i in items)
            lines.append(f"  {label} ({met} of {len(items)} met)")
            lines += [
                f"    {n}. [{'x' if i.done else ' '}] {i.text.split(chr(10))[0]}"
                for n, i in enumerate(items, 1)
            ]
    cli.emit(args, task_dict(task), "\n".join(lines))
    return 0


def _capability_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--capability", action="append", metavar="NAME", help=what)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add these commands to the ``orch`` parser (only the one being run is built)."""
    p = cli.add_command(
        sub,
        "create",
        cmd_create,
        "create a task stub in pending/; prints its ID",
        'orch create "Add login rate limit" --priority P1 --depends T-2m9x4k7p',
    )
    p.add_argument("title", help="a short title")
    p.add_argument("--priority", "-p", default="P1", help="P0 (most urgent), P1 (default), P2")
    p.add_argument(
        "--depends",
        "-d",
        action="append",
        metavar="ID",
        help="a task that must be done first (repeatable)",
    )
    p.add_argument("--goal", help="the goal, if already known")
    _capability_flag(p, "what an agent needs to take it, e.g. backend (repeatable)")
    cli.agent_flag(p)

    p = cli.add_command(
        sub,
        "prep",
        cmd_prep,
        "flesh a task out (planner): pending -> ready",
        'orch prep T-7k3m9q2x --goal "Limit login attempts" --ac "5 tries per minute" '
        '--dor "API agreed" --dod "tests pass" --files src/auth.py --notes "use redis"',
    )
    cli.id_arg(p, before_lists=True)
    p.add_argument("--goal", help="what must be done and why")
    for flag, what in LIST_FLAGS:
        cli.items_flag(
            p,
            flag,
            metavar="TEXT",
            help=f"{what}, one quoted TEXT each (several, or repeat the flag; replaces the list)",
        )
    cli.items_flag(
        p,
        "--files",
        metavar="PATH",
        help="files the task will touch, repo-relative (several, or repeat the flag)",
    )
    p.add_argument("--notes", help="implementation notes")
    p.add_argument(
        "--depends",
        "-d",
        action="append",
        metavar="ID",
        help="replace the dependencies (repeatable)",
    )
    p.add_argument("--priority", "-p", help="change the priority")
    _capability_flag(p, "replace what an agent needs to take it (repeatable; '' clears them)")
    cli.agent_flag(p)

    p = cli.add_command(
        sub,
        "next",
        cmd_next,
        "what this agent should do now, why, and the command",
        "orch next --agent cursor --wait --timeout 600",
    )
    cli.agent_flag(p)
    p.add_argument("--wait", action="store_true", help="block until there is something to do")
    p.add_argument(
        "--timeout", type=cli.seconds, metavar="S", help="with --wait: give up after S s"
    )

    for name, handler, summary, example in (
        (
            "claim",
            cmd_claim,
            "take a ready task (exclusive): ready -> in-progress",
            "orch claim T-7k3m9q2x --agent cursor",
        ),
        (
            "submit",
            cmd_submit,
            "submit your task for review: in-progress -> review",
            'orch submit T-7k3m9q2x --agent cursor --note "rate limiter added, tests green"',
        ),
        (  # the name before 'submit'; scripts and habits still use it
            "review",
            cmd_submit,
            "the old name of 'orch submit', kept as an alias: in-progress -> review",
            'orch review T-7k3m9q2x --agent cursor --note "rate limiter added, tests green"',
        ),
        (
            "complete",
            cmd_complete,
            "approve a reviewed task: review -> done",
            "orch complete T-7k3m9q2x --agent codex",
        ),
    ):
        p = cli.add_command(sub, name, handler, summary, example)
        cli.id_arg(p)
        cli.agent_flag(p)
        if name != "claim":
            p.add_argument("--note", help="a note for the history")

    p = cli.add_command(
        sub,
        "feedback",
        cmd_feedback,
        "request changes: review -> ready, feedback "
        "appended; or 'feedback list [ID]' lists open feedback",
        'orch feedback T-7k3m9q2x --agent codex --text "handle the lockout case"',
    )
    p.add_argument("id", help="the task, or 'list'")
    p.add_argument("text_id", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--text", help="what must change")
    cli.agent_flag(p)

    for name, handler, summary, example, flag, flag_help in (
        (
            "fail",
            cmd_fail,
            "give a task up: -> failed, with the reason",
            'orch fail T-7k3m9q2x --agent cursor --reason "upstream API removed"',
            "--reason",
            "why it is given up (kept as error context)",
        ),
        (
            "escalate",
            cmd_escalate,
            "flag a task for a person (it leaves every queue)",
            'orch escalate T-7k3m9q2x --reason "spec contradicts itself"',
            "--reason",
            "what a person must decide (also in .mcp/escalations/ID.md)",
        ),
        (
            "error",
            cmd_error,
            "add error context to a task (a failing command, a trace)",
            "orch error T-7k3m9q2x --text-file pytest.log   # - reads stdin; or --text TEXT",
            "--text",
            "the error: output, a trace, what was tried",
        ),
    ):
        p = cli.add_command(sub, name, handler, summary, example)
        cli.id_arg(p)
        p.add_argument(flag, dest=flag[2:], help=flag_help)
        p.add_argument(
            f"{flag}-file",
            metavar="PATH",
            help=f"read {flag[2:]} from a file instead ('-': standard input)",
        )
        cli.agent_flag(p)

    p = cli.add_command(
        sub,
        "check",
        cmd_check,
        "tick acceptance criteria, DoR or DoD items as met (by number, or all)",
        "orch check T-7k3m9q2x --ac 1 3 --dod all",
    )
    cli.id_arg(p, before_lists=True)
    for flag, what in LIST_FLAGS:
        cli.items_flag(
            p,
            flag,
            metavar="N",
            help=f"{what} to tick: numbers from 1 (2, 1,3, 2-4), all, or an item's exact text",
        )
    p.add_argument("--uncheck", action="store_true", help="untick them instead")
    cli.agent_flag(p)

    p = cli.add_command(
        sub,
        "resolve",
        cmd_resolve,
        "return an escalated task to the flow",
        'orch resolve T-7k3m9q2x --to ready --note "clarified: use option B"',
    )
    cli.id_arg(p)
    p.add_argument("--to", metavar="STATUS", help="also move it (pending, ready, ... failed)")
    p.add_argument("--note", help="the decision, for the history")
    cli.agent_flag(p)


cli.EXTRA_COMMANDS.append(register)
