"""``orch``: the command line. Parse, call one service function, print. Nothing else.

Agents call this hundreds of times a day, so it uses argparse (no third-party import) and
imports heavy things (YAML, the MCP SDK) only inside the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

from .. import __version__
from ..domain.errors import InvalidInput, OrchError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import at start-up; the annotations need it only here
    from typing import NoReturn

    from ..service import Service

ENV_AGENT = "ORCH_AGENT"
ENV_CLOCK = "ORCH_CLOCK"  # tests only: a fixed ISO time instead of the system clock

Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------- plumbing


def _clock() -> Callable[[], datetime]:
    from ..domain.model import parse_time
    from ..service import system_clock

    fixed = os.environ.get(ENV_CLOCK, "").strip()
    if not fixed:
        return system_clock
    moment = parse_time(fixed)
    if moment is None:
        raise InvalidInput(f"{ENV_CLOCK}={fixed!r} is not an ISO time", f"unset {ENV_CLOCK}")
    return lambda: moment


def open_service(start: str | None = None) -> Service:
    """The service of the board this directory belongs to (see ``board.locate``)."""
    from .. import config
    from ..board.files import FileStore
    from ..board.locate import find_board
    from ..service import Service

    board = find_board(start)
    return Service(FileStore(board), config.load(board), _clock(), root=os.path.dirname(board))


def _agent(args: argparse.Namespace) -> str | None:
    return getattr(args, "agent", None) or os.environ.get(ENV_AGENT) or None


def emit(args: argparse.Namespace, data: object, text: str) -> None:
    if args.json:
        import json

        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif text:
        sys.stdout.write(text.rstrip("\n") + "\n")


def _task_line(t: object) -> str:
    from ..domain.model import Task

    assert isinstance(t, Task)
    return f"{t.id} [{t.status.value}] {t.priority.value} {t.title}"


# ---------------------------------------------------------------------- commands


def cmd_init(args: argparse.Namespace) -> int:
    from ..project import init

    tests = tuple(args.test_command) if args.test_command else None
    result = init(os.getcwd(), test_command=tests, detect=not args.no_detect)
    extra: dict[str, object] = {}
    lines = [f"board: {result.board}"]
    lines += [f"  created {c}" for c in result.created]
    lines += [f"  kept    {k} (already there)" for k in result.kept]
    if args.clients:
        from ..clients import setup_clients

        written = setup_clients(result.root, [c.strip() for c in args.clients.split(",")])
        extra["clients"] = written
        lines += [f"  client  {w}" for w in written]
    if not result.created and not args.clients:
        lines.append("  nothing to do: the board was already set up")
    lines.append('next: orch create "Your first task" --priority P1')
    emit(
        args,
        {
            "board": str(result.board),
            "root": str(result.root),
            "created": result.created,
            "kept": result.kept,
            "test_command": list(result.test_command),
            **extra,
        },
        "\n".join(lines),
    )
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    task = open_service().create(
        args.title,
        priority=args.priority,
        depends=args.depends or (),
        agent=_agent(args),
        goal=args.goal or "",
    )
    emit(args, {"id": task.id, "status": task.status.value, "title": task.title}, task.id)
    return 0


def cmd_prep(args: argparse.Namespace) -> int:
    task = open_service().prep(
        args.id,
        agent=_agent(args),
        goal=args.goal,
        acceptance=args.ac or (),
        ready_def=args.dor or (),
        done_def=args.dod or (),
        files=[f for group in args.files or () for f in group],
        notes=args.notes,
        depends=args.depends,
        priority=args.priority,
    )
    from .present import task_dict

    emit(
        args,
        task_dict(task),
        f"{_task_line(task)}\nnext: an implementer claims it (orch next --agent cursor)",
    )
    return 0


def cmd_next(args: argparse.Namespace) -> int:
    from .present import decision_dict

    service = open_service()
    if args.wait:
        result = service.wait_next(_agent(args), timeout=args.timeout)
    else:
        result = service.next_action(_agent(args))
    d = result.decision
    lines = [f"{d.action}: {d.reason}", f"  run: {d.command}"]
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
    emit(args, decision_dict(d, task), "\n".join(lines))
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    from .present import task_dict

    result = open_service().claim(args.id, agent=_agent(args))
    t = result.task
    text = f"claimed {t.id}: {t.title}" if result.changed else f"you already hold {t.id}"
    text += f'\n  when done: orch review {t.id} --note "what you did"'
    emit(args, {**task_dict(t), "changed": result.changed}, text)
    return 0


def _moved(args: argparse.Namespace, task: object, then: str) -> int:
    from .present import task_dict

    emit(args, task_dict(task), f"{_task_line(task)}\n  next: {then}")  # type: ignore[arg-type]
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    task = open_service().submit(args.id, agent=_agent(args), note=args.note or "")
    return _moved(args, task, "the reviewer approves it or sends feedback")


def cmd_feedback(args: argparse.Namespace) -> int:
    if args.id == "list":
        return _feedback_list(args)
    if not args.text:
        raise InvalidInput("no feedback text", f'give it: orch feedback {args.id} --text "..."')
    task = open_service().request_changes(args.id, agent=_agent(args), text=args.text)
    return _moved(args, task, f"back to {task.implementer or 'the implementer'} with feedback")


def _feedback_list(args: argparse.Namespace) -> int:
    from .present import note_dict

    service = open_service()
    wanted = (
        [args.text_id]
        if args.text_id
        else [s.id for s in service.status().tasks if s.open_feedback]
    )
    items: list[dict[str, object]] = []
    lines: list[str] = []
    for tid in wanted:
        task = service.show(tid)
        for note in task.open_feedback:
            items.append({"task": task.id, **note_dict(note)})
            lines.append(
                f"{task.id} {note.key} from {note.author} ({note.source or 'review'}) "
                f"{note.at}: {note.body.splitlines()[0] if note.body else ''}"
            )
    emit(args, {"feedback": items}, "\n".join(lines) or "no open feedback")
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    task = open_service().complete(args.id, agent=_agent(args), note=args.note or "")
    return _moved(args, task, "done; nothing left to do on it")


def cmd_fail(args: argparse.Namespace) -> int:
    task = open_service().fail(args.id, agent=_agent(args), reason=args.reason)
    return _moved(args, task, f"a person decides: orch resolve {task.id} --to ready")


def cmd_error(args: argparse.Namespace) -> int:
    task = open_service().add_error(args.id, agent=_agent(args), text=args.text)
    return _moved(args, task, "the error context is kept in the task")


def cmd_escalate(args: argparse.Namespace) -> int:
    task = open_service().escalate(args.id, agent=_agent(args), reason=args.reason)
    return _moved(args, task, f"a person looks at it: orch show {task.id}, then orch resolve")


def cmd_resolve(args: argparse.Namespace) -> int:
    task = open_service().resolve(args.id, agent=_agent(args), to=args.to, note=args.note or "")
    return _moved(args, task, "back in the flow: orch next")


def cmd_status(args: argparse.Namespace) -> int:
    from .present import human_age, status_dict

    service = open_service()
    snap = service.status()
    now = service.clock()
    data = status_dict(snap, now, include_closed=args.all)
    emit(args, data, _status_text(data, human_age))
    return 0


def _status_text(data: dict[str, object], human_age: Callable[[int | None], str]) -> str:
    tasks: list[dict[str, object]] = data["tasks"]  # type: ignore[assignment]
    counts: dict[str, int] = data["counts"]  # type: ignore[assignment]
    lines: list[str] = []
    flagged = [t for t in tasks if t["escalated"]]
    if flagged:
        lines.append(f"ESCALATED: {len(flagged)} task(s) need a person (orch show ID)")
        lines += [
            f"  ! {t['id']}  {t['status']}  {t['title']}  -> .mcp/escalations/{t['id']}.md"
            for t in flagged
        ]
        lines.append("")
    current = None
    for t in tasks:
        if t["status"] != current:
            current = t["status"]
            lines.append(f"{current} ({counts.get(str(current), 0)})")
        holder = t["agent"] or (f"<{t['implementer']}" if t["open_feedback"] else "-")
        marks = (" !" if t["escalated"] else "") + (
            f" feedback:{t['open_feedback']}" if t["open_feedback"] else ""
        )
        deps = f" after:{','.join(t['depends'])}" if t["depends"] else ""  # type: ignore[arg-type]
        lines.append(
            f"  {t['id']:<10} {t['priority']}  {holder:<12} "
            f"{human_age(t['age_seconds']):>4}  {t['title']}{deps}{marks}"  # type: ignore[arg-type]
        )
    if not tasks:
        lines.append('no active tasks (create one: orch create "TITLE")')
    closed = ", ".join(f"{k}: {counts.get(k, 0)}" for k in ("done", "failed"))
    lines.append(f"{closed}  (orch status --all lists them)")
    problems: list[dict[str, object]] = data["problems"]  # type: ignore[assignment]
    if problems:
        lines.append(f"PROBLEMS ({len(problems)}): the other tasks are listed above")
        lines += [f"  {p['message']}\n    -> {p['hint']}" for p in problems]
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    from ..board.format import render
    from .present import task_dict

    task = open_service().show(args.id)
    head = ""
    if task.open_feedback:
        head = (
            "OPEN FEEDBACK (fix these first)\n"
            + "\n".join(
                f"  {n.key} from {n.author} ({n.source or 'review'}): {n.body}"
                for n in task.open_feedback
            )
            + "\n\n"
        )
    if task.escalated:
        head = "ESCALATED: " + "; ".join(n.body for n in task.open_escalations) + "\n\n" + head
    emit(args, task_dict(task), head + render(task))
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from .present import event_dict

    events = open_service().log(args.id, limit=args.limit)
    lines = [
        f"{e.at}  {e.agent:<10} {e.op:<9} {e.task:<10} "
        f"{(e.from_status or '-') + ' -> ' + (e.to_status or '-'):<26} {e.outcome}"
        + (f"  {e.note}" if e.note else "")
        for e in events
    ]
    emit(args, {"events": [event_dict(e) for e in events]}, "\n".join(lines) or "no events yet")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run

    return run(keep=args.keep)


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..board import doctor
    from ..board.files import FileStore

    service = open_service()
    assert isinstance(service.store, FileStore)
    report = doctor.check(service.store, fix=args.fix, now=service.now())
    lines = [f"checked {report.tasks} task(s)"]
    for f in report.findings:
        state = "fixed" if f.fixed else ("left " if args.fix else "found")
        lines.append(f"  [{state}] {f.kind}: {f.message}")
        if not f.fixed and f.hint:
            lines.append(f"          -> {f.hint}")
    if not report.findings:
        lines.append("  the board is healthy")
    emit(
        args,
        {
            "ok": report.ok,
            "tasks": report.tasks,
            "findings": [f.to_dict() for f in report.findings],
        },
        "\n".join(lines),
    )
    return 0 if report.ok else 1


# ---------------------------------------------------------------------- the parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help text at a fixed width: argparse otherwise imports shutil (and bz2, lzma, ...) to ask
    the terminal its size every time a parser is built, even when no help is printed."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        columns = os.environ.get("COLUMNS", "")
        width = width or (int(columns) - 2 if columns.isdigit() else 98)
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line (JSON with --json), exit 2."""

    def error(self, message: str) -> NoReturn:
        fail(InvalidInput(message, f"see '{self.prog} --help'"), "--json" in sys.argv)


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document (errors: JSON on stderr)",
    )


def _agent_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agent", metavar="NAME", help=f"who is acting (default: ${ENV_AGENT})")


COMMANDS: dict[str, tuple[str, str]] = {}  # name -> (summary, example), for docs and tests
_ONLY: list[str] = []  # when set, the one command being run: only its parser is built


class _Unbuilt:
    """Stands in for the parser of a command that is not being run (building all ~20 argparse
    parsers costs ~10 ms on every call)."""

    def add_argument(self, *args: object, **kwargs: object) -> None:
        pass

    def set_defaults(self, **kwargs: object) -> None:
        pass


def _command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    handler: Handler,
    summary: str,
    example: str,
) -> argparse.ArgumentParser:
    COMMANDS[name] = (summary, example)
    if _ONLY and _ONLY[0] != name:
        return _Unbuilt()  # type: ignore[return-value]
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="example:\n  " + example,
        formatter_class=_Formatter,
    )
    _json_flag(p)
    p.set_defaults(handler=handler)
    return p


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) the top level plus the one command being run."""
    _ONLY[:] = [only] if only else []
    parser = _Parser(
        prog="orch",
        description="A task board through which AI coding agents hand work to each other.\n"
        "The planner creates and preps tasks, the implementer claims and submits them, the\n"
        "reviewer approves or sends feedback; each agent asks 'orch next' what to do.",
        epilog="the handoff chain:\n"
        '  orch create "Add login rate limit" --priority P1      # planner: a stub\n'
        '  orch prep T-7k3m9q --goal "..." --ac "..." --dod "..." # planner: pending -> ready\n'
        "  orch next --agent cursor                              # implementer: what now?\n"
        "  orch claim T-7k3m9q --agent cursor                    # ready -> in-progress\n"
        '  orch review T-7k3m9q --agent cursor --note "done"     # -> review\n'
        '  orch feedback T-7k3m9q --agent codex --text "..."     # reviewer: -> ready\n'
        "  orch complete T-7k3m9q --agent codex                  # reviewer: -> done\n"
        "every command takes --json; the agent may come from $ORCH_AGENT.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"orch {__version__}")
    parser.add_argument(
        "--json",
        action="store_true",
        default=False,
        help="print one JSON document (errors: JSON on stderr)",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    p = _command(
        sub,
        "init",
        cmd_init,
        "create .mcp/ (tasks/<status>/, config.yaml, log/); idempotent",
        "orch init --test-command 'pytest -q'",
    )
    p.add_argument(
        "--test-command",
        action="append",
        metavar="CMD",
        help="quality-gate command for the git hooks (repeatable; default: detected)",
    )
    p.add_argument("--no-detect", action="store_true", help="do not detect a test command")
    p.add_argument(
        "--clients",
        metavar="LIST",
        help="write MCP configs for these clients: cursor,claude,codex,vscode",
    )

    p = _command(
        sub,
        "create",
        cmd_create,
        "create a task stub in pending/; prints its ID",
        'orch create "Add login rate limit" --priority P1 --depends T-2m9x4k',
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
    _agent_flag(p)

    p = _command(
        sub,
        "prep",
        cmd_prep,
        "flesh a task out (planner): pending -> ready",
        'orch prep T-7k3m9q --goal "Limit login attempts" --ac "5 tries per minute" '
        '--dor "API agreed" --dod "tests pass" --files src/auth.py --notes "use redis"',
    )
    p.add_argument("id")
    p.add_argument("--goal", help="what must be done and why")
    p.add_argument(
        "--ac",
        action="append",
        metavar="TEXT",
        help="an acceptance criterion (repeatable; replaces the list)",
    )
    p.add_argument("--dor", action="append", metavar="TEXT", help="a Definition of Ready item")
    p.add_argument("--dod", action="append", metavar="TEXT", help="a Definition of Done item")
    p.add_argument(
        "--files",
        action="append",
        nargs="+",
        metavar="PATH",
        help="files the task will touch (repo-relative)",
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
    _agent_flag(p)

    p = _command(
        sub,
        "next",
        cmd_next,
        "what this agent should do now, why, and the command",
        "orch next --agent cursor --wait --timeout 600",
    )
    _agent_flag(p)
    p.add_argument("--wait", action="store_true", help="block until there is something to do")
    p.add_argument("--timeout", type=float, metavar="S", help="with --wait: give up after S s")

    for name, handler, summary, example in (
        (
            "claim",
            cmd_claim,
            "take a ready task (exclusive): ready -> in-progress",
            "orch claim T-7k3m9q --agent cursor",
        ),
        (
            "review",
            cmd_review,
            "submit your task for review: in-progress -> review",
            'orch review T-7k3m9q --agent cursor --note "rate limiter added, tests green"',
        ),
        (
            "complete",
            cmd_complete,
            "approve a reviewed task: review -> done",
            "orch complete T-7k3m9q --agent codex",
        ),
    ):
        p = _command(sub, name, handler, summary, example)
        p.add_argument("id")
        _agent_flag(p)
        if name != "claim":
            p.add_argument("--note", help="a note for the history")

    p = _command(
        sub,
        "feedback",
        cmd_feedback,
        "request changes: review -> ready, feedback "
        "appended; or 'feedback list [ID]' lists open feedback",
        'orch feedback T-7k3m9q --agent codex --text "handle the lockout case"',
    )
    p.add_argument("id", help="the task, or 'list'")
    p.add_argument("text_id", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--text", help="what must change")
    _agent_flag(p)

    for name, handler, summary, example, flag in (
        (
            "fail",
            cmd_fail,
            "give a task up: -> failed, with the reason",
            'orch fail T-7k3m9q --agent cursor --reason "upstream API removed"',
            "--reason",
        ),
        (
            "escalate",
            cmd_escalate,
            "flag a task for a person (it leaves every queue)",
            'orch escalate T-7k3m9q --reason "spec contradicts itself"',
            "--reason",
        ),
        (
            "error",
            cmd_error,
            "add error context to a task (a failing command, a trace)",
            'orch error T-7k3m9q --text "pytest: test_login failed: ..."',
            "--text",
        ),
    ):
        p = _command(sub, name, handler, summary, example)
        p.add_argument("id")
        p.add_argument(flag, required=True, dest=flag[2:])
        _agent_flag(p)

    p = _command(
        sub,
        "resolve",
        cmd_resolve,
        "return an escalated task to the flow",
        'orch resolve T-7k3m9q --to ready --note "clarified: use option B"',
    )
    p.add_argument("id")
    p.add_argument("--to", metavar="STATUS", help="also move it (pending, ready, ... failed)")
    p.add_argument("--note")
    _agent_flag(p)

    p = _command(
        sub,
        "status",
        cmd_status,
        "every active task by state: holder, priority, age",
        "orch status --json",
    )
    p.add_argument("--all", action="store_true", help="list done and failed tasks too")

    p = _command(
        sub,
        "show",
        cmd_show,
        "the whole task, all its context, open feedback first",
        "orch show T-7k3m9q",
    )
    p.add_argument("id")

    p = _command(
        sub,
        "log",
        cmd_log,
        "the handoff history (the operation log) for debugging",
        "orch log T-7k3m9q --limit 20",
    )
    p.add_argument("id", nargs="?")
    p.add_argument("--limit", type=int, default=100, help="newest N events (default 100)")

    p = _command(
        sub,
        "doctor",
        cmd_doctor,
        "check the board: duplicates, conflicts, bad files, dependencies",
        "orch doctor --fix",
    )
    p.add_argument("--fix", action="store_true", help="repair what is safe to repair")

    p = _command(
        sub,
        "demo",
        cmd_demo,
        "play the whole handoff chain on a throwaway repo",
        "orch demo --keep",
    )
    p.add_argument("--keep", action="store_true", help="keep the throwaway repo to look at")

    for hook in EXTRA_COMMANDS:
        hook(sub)
    return parser


# Later interfaces (hooks, mcp, token) register their commands here without touching the above.
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def fail(error: OrchError, as_json: bool) -> NoReturn:
    if as_json:
        import json

        sys.stderr.write(json.dumps(error.to_dict(), ensure_ascii=False) + "\n")
    else:
        hint = f" ({error.hint})" if error.hint else ""
        sys.stderr.write(f"orch: {error.message}{hint}\n")
    raise SystemExit(error.exit_code)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    _load_extras()
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first)
    if first not in COMMANDS:  # not a command name: the full parser says what is wrong
        parser = build_parser()
    as_json = "--json" in args_list
    try:
        args = parser.parse_args(args_list)
        if not hasattr(args, "handler"):
            parser.print_help()
            return 2
        args.json = bool(getattr(args, "json", False))
        return int(args.handler(args))
    except OrchError as exc:
        fail(exc, as_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        from ..board.fsutil import storage_error

        fail(storage_error(exc, "complete the command"), as_json)


def command_names() -> dict[str, tuple[str, str]]:
    """Every command with its summary and example (for the docs tests and help)."""
    _load_extras()
    build_parser()
    return dict(COMMANDS)


def _load_extras() -> None:
    """Register the commands of optional interfaces (cheap: they import lazily)."""
    import importlib

    for module in ("hooks_cli", "mcp_cli"):
        try:
            importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise


def run() -> None:
    """The ``orch`` console script: ``main`` for a short-lived process.

    The cyclic GC is off (a command allocates a few thousand objects and exits) and the
    interpreter's teardown is skipped once output is flushed and every file is closed: together
    ~5 ms of a ~40 ms command that agents run hundreds of times a day.
    """
    import gc

    gc.disable()
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
