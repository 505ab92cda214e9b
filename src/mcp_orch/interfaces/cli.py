"""``orch``: the command line. Parse, call one service function, print. Nothing else.

Agents call this hundreds of times a day, so it uses argparse (no third-party import) and
imports heavy things (YAML, the MCP SDK) only inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..domain.errors import InternalError, InvalidInput, OrchError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import at start-up; the annotations need it only here
    import argparse
    from typing import NoReturn

    from ..service import Service
    from ..service.clock import Clock

ENV_AGENT = "ORCH_AGENT"
ENV_CLOCK = "ORCH_CLOCK"  # tests only: a fixed ISO time instead of the system clock

if TYPE_CHECKING:
    Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------- plumbing


def _clock() -> Clock:
    """The system's clock, or with ``ORCH_CLOCK`` one whose ``now`` is pinned (waits still
    wait: only the records' time is fixed)."""
    from ..domain.model import parse_time
    from ..service.clock import SYSTEM, FixedClock

    fixed = os.environ.get(ENV_CLOCK, "").strip()
    if not fixed:
        return SYSTEM
    moment = parse_time(fixed)
    if moment is None:
        raise InvalidInput(f"{ENV_CLOCK}={fixed!r} is not an ISO time", f"unset {ENV_CLOCK}")
    return FixedClock(moment)


def open_service(start: str | None = None) -> Service:
    """The service of the board this directory belongs to (see ``board.locate``)."""
    from ..board.locate import find_board
    from ..service.compose import build

    board = find_board(start)
    service = build(board, _clock())
    if _RUNNING and _RUNNING[0] in THROUGH_SERVICE:
        from .remote import through_service  # one stat when no service runs

        service = through_service(service, board)
    _OPENED.append(service)
    return service


_OPENED: list[Service] = []  # the services of this command, whose warnings ``emit`` prints
_RUNNING: list[str] = []  # the command being run
# The commands that write (and ``next``): while ``orch serve`` runs they go through it, its
# one writer (interfaces/remote.py); reads stay on the files, which its mirror keeps current.
THROUGH_SERVICE = frozenset(
    [
        "create",
        "prep",
        "next",
        "claim",
        "submit",
        "review",
        "feedback",
        "complete",
        "fail",
        "error",
        "escalate",
        "resolve",
        "check",
        "hook",
    ]
)


def acting_agent(args: argparse.Namespace) -> str:
    """Who acts: ``--agent``, else ``$ORCH_AGENT``, else a person (who may run any step)."""
    from ..domain.roles import PERSON

    return getattr(args, "agent", None) or os.environ.get(ENV_AGENT) or PERSON


def emit(
    args: argparse.Namespace, data: object, text: str, *, warnings: Sequence[str] = ()
) -> None:
    """Print a command's result; and, on stderr and as ``warnings`` in the JSON, what the
    command warns about, with what could not be written after it took effect (it did: exit 0,
    do not run it again)."""
    warnings = [*warnings, *(w for service in _OPENED for w in service.take_warnings())]
    if warnings and isinstance(data, dict):
        data = {**data, "warnings": warnings}
    if args.json:
        import json

        # One line for a program, as MCP sends it (what agents read: fewer tokens, and the C
        # encoder, ~4x faster than indenting a 1,000-task board); indented at a terminal.
        if sys.stdout.isatty():
            shown = json.dumps(data, indent=2, ensure_ascii=False)
        else:
            shown = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        sys.stdout.write(shown + "\n")
    elif text:
        sys.stdout.write(text.rstrip("\n") + "\n")
    if warnings:
        sys.stdout.flush()  # the result first, then what it warns about
        sys.stderr.write("".join(f"orch: warning: {w}\n" for w in warnings))


def task_line(t: object) -> str:
    from ..domain.model import Task

    assert isinstance(t, Task)
    return f"{t.id} [{t.status.value}] {t.priority.value} {t.title}"


# ---------------------------------------------------------------------- the parser
# argparse itself (~5 ms to import) is imported only when a parser is built: its subclasses
# are in ``cli_parser``. ``orch status`` with plain flags needs none (``_quick_status``).


def _json_flag(p: argparse.ArgumentParser) -> None:
    import argparse

    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document (errors: JSON on stderr)",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    value = _whole(text)
    if value is None:
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _whole(text: str) -> int | None:
    """``text`` as a whole number >= 1, or None."""
    return int(text) if text.strip().isdigit() and int(text) >= 1 else None


def seconds(text: str) -> float:
    """An argparse type: a finite, non-negative number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # also refuses nan, which compares false to everything
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def id_arg(
    p: argparse.ArgumentParser, *, optional: bool = False, before_lists: bool = False
) -> None:
    """The task ID; ``before_lists``: a command with list flags, whose handler calls
    ``take_id`` (argparse alone would let ``--ac x ID`` swallow the ID)."""
    p.add_argument(
        "id",
        metavar="ID",
        nargs="?" if optional or before_lists else None,
        help="a task's ID, e.g. T-7k3m9q2x" + (" (default: every task)" if optional else ""),
    )


def items_flag(p: argparse.ArgumentParser, *flags: str, metavar: str, help: str) -> None:
    """A flag taking one or more values (repeatable); see ``take_id``."""
    from .cli_parser import Items

    p.add_argument(*flags, action=Items, nargs="+", metavar=metavar, help=help)


def take_id(args: argparse.Namespace) -> str:
    """The task ID, also when a list flag swallowed it.

    ``orch prep --ac "a criterion" T-7k3m9q2x`` hands the ID to ``--ac`` as one more value:
    when no ID was given and the last value of a run of several looks like one, that is what
    the user meant.
    """
    if args.id:
        return str(args.id)
    from ..domain.ids import looks_like_id

    for dest, end, count in reversed(getattr(args, "item_runs", [])):
        values: list[str] = getattr(args, dest)
        if count > 1 and looks_like_id(values[end].strip()):
            args.id = values.pop(end)
            return str(args.id)
    raise InvalidInput("no task ID given", f"name the task, e.g. orch {args.command} T-7k3m9q2x")


def agent_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--agent",
        metavar="NAME",
        help=f"who is acting (default: ${ENV_AGENT}, else a person: human)",
    )


COMMANDS: dict[str, tuple[str, str]] = {}  # name -> (summary, example), for docs and tests
_ONLY: list[str] = []  # when set, the one command being run: only its parser is built


def running_only() -> str:
    """The one command whose parser is being built ("" when every parser is)."""
    return _ONLY[0] if _ONLY else ""


class _Unbuilt:
    """Stands in for the parser of a command that is not being run (building all ~20 argparse
    parsers costs ~10 ms on every call)."""

    def add_argument(self, *args: object, **kwargs: object) -> None:
        pass

    def set_defaults(self, **kwargs: object) -> None:
        pass


def add_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    handler: Handler,
    summary: str,
    example: str,
) -> argparse.ArgumentParser:
    COMMANDS[name] = (summary, example)
    if _ONLY and _ONLY[0] != name:
        return _Unbuilt()  # type: ignore[return-value]
    from .cli_parser import Formatter

    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="example:\n  " + example,
        formatter_class=Formatter,
    )
    _json_flag(p)
    p.set_defaults(handler=handler, command=name)
    return p


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) the top level plus the one command being run."""
    from .cli_parser import Formatter, Parser

    _ONLY[:] = [only] if only else []
    parser = Parser(
        prog="orch",
        description="A task board through which AI coding agents hand work to each other.\n"
        "The planner creates and preps tasks, the implementer claims and submits them, the\n"
        "reviewer approves or sends feedback; each agent asks 'orch next' what to do.",
        epilog="the handoff chain:\n"
        '  orch create "Add login rate limit" --priority P1      # planner: a stub\n'
        '  orch prep T-7k3m9q2x --goal "..." --ac "..." --dod "..." # planner: pending -> ready\n'
        "  orch next --agent cursor                              # implementer: what now?\n"
        "  orch claim T-7k3m9q2x --agent cursor                    # ready -> in-progress\n"
        '  orch submit T-7k3m9q2x --agent cursor --note "done"     # -> review\n'
        '  orch feedback T-7k3m9q2x --agent codex --text "..."     # reviewer: -> ready\n'
        "  orch complete T-7k3m9q2x --agent codex                  # reviewer: -> done\n"
        "every command takes --json; the agent may come from $ORCH_AGENT (else: a person).\n"
        "'orch review' is the old name of 'orch submit' and still works.",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"orch {__version__}")
    parser.add_argument(
        "--json",
        action="store_true",
        default=False,
        help="print one JSON document (errors: JSON on stderr)",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)

    for hook in EXTRA_COMMANDS:
        hook(sub)
    return parser


# Later interfaces (hooks, mcp, token) register their commands here without touching the above.
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def fail(error: OrchError, as_json: bool) -> NoReturn:
    from ..domain.ops import ops_in
    from .cli_text import command
    from .present import op_dict

    worded = error.worded_hint(command)
    if as_json:
        import json

        data: dict[str, object] = {**error.to_dict(), "hint": worded}
        if ops_in(error.hint_parts):
            data["ops"] = [op_dict(o) for o in ops_in(error.hint_parts)]
        sys.stderr.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        hint = f" ({worded})" if worded else ""
        sys.stderr.write(f"orch: {error.message}{hint}\n")
    raise SystemExit(error.exit_code)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    quick = _quick_status(args_list)
    if quick is not None:
        from .board_cli import cmd_status

        _RUNNING[:] = ["status"]
        return guarded(lambda: cmd_status(quick), as_json=quick.json)
    _load_extras()
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first)
    if first not in COMMANDS:  # not a command name: the full parser says what is wrong
        parser = build_parser()
    return guarded(lambda: _dispatch(parser, args_list), as_json="--json" in args_list)


def _quick_status(args_list: Sequence[str]) -> argparse.Namespace | None:
    """``orch status`` with only its own flags, spelt out in full, parsed as argparse would;
    None for anything else (help, an abbreviation, a bad value, another command), which
    argparse then parses and words. What agents run most does not wait for argparse to be
    imported and the parser built (every command module imported, argparse's texts looked
    up for translation): ~6 ms of a ~45 ms command."""
    if "status" not in args_list:
        return None
    args = QuickArgs()
    words = list(args_list)
    named = False
    while words:
        word = words.pop(0)
        if word == "--json":
            args.json = True
        elif not named:
            if word != "status":
                return None  # a global flag other than --json, or another command
            named = True
        elif word == "--all":
            args.all = True
        else:
            flag, given, value = word.partition("=")
            if flag not in ("--status", "--agent", "--limit"):
                return None
            if not given:
                if not words or words[0].startswith("-"):
                    return None  # argparse says what is missing
                value = words.pop(0)
            if flag == "--status":
                args.status = [*(args.status or []), value]
            elif flag == "--agent":
                args.agent = value
            elif (limit := _whole(value)) is not None:
                args.limit = limit
            else:
                return None
    # A stand-in with the attributes the handler reads, as argparse's Namespace has them.
    return args if named else None  # type: ignore[return-value]


class QuickArgs:
    """What argparse would make of ``orch status`` and its flags (``_quick_status``)."""

    command = "status"

    def __init__(self) -> None:
        self.json = False
        self.all = False
        self.status: list[str] | None = None
        self.agent: str | None = None
        self.limit: int | None = None


def _dispatch(parser: argparse.ArgumentParser, args_list: list[str]) -> int:
    args = parser.parse_args(args_list)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    args.json = bool(getattr(args, "json", False))
    _RUNNING[:] = [args.command]
    return int(args.handler(args))


def guarded(command: Callable[[], int], *, as_json: bool) -> int:
    """The CLI's one error boundary: every failure becomes a message and an exit code.

    A mistake (``OrchError``) or a refusal of the file system is one line (JSON with
    ``--json``) on stderr; anything else is a bug in orch, reported as one with its traceback.
    """
    try:
        return command()
    except OrchError as exc:
        fail(exc, as_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        from ..board.fsutil import storage_error

        fail(storage_error(exc, "complete the command"), as_json)
    except Exception as exc:  # a bug in orch, not the user's mistake: say so, keep the trace
        import traceback

        trace = traceback.format_exc()
        if not as_json:
            sys.stderr.write(trace)
        fail(InternalError.of(exc, trace), as_json)


def command_names() -> dict[str, tuple[str, str]]:
    """Every command with its summary and example (for the docs tests and help)."""
    _load_extras()
    build_parser()
    return dict(COMMANDS)


def _load_extras() -> None:
    """Register the commands of optional interfaces (cheap: they import lazily)."""
    import importlib

    for module in (
        "handoff_cli",
        "board_cli",
        "hooks_cli",
        "mcp_cli",
        "auth_cli",
        "serve_cli",
        "agents_cli",
    ):
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
