"""``orch``: the command line. Parse, call one service function, print. Nothing else.

Agents call this hundreds of times a day, so it uses argparse (no third-party import) and
imports heavy things (YAML, the MCP SDK) only inside the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..domain.errors import InternalError, InvalidInput, OrchError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import at start-up; the annotations need it only here
    from typing import Any, NoReturn

    from ..service import Service
    from ..service.clock import Clock

ENV_AGENT = "ORCH_AGENT"
ENV_CLOCK = "ORCH_CLOCK"  # tests only: a fixed ISO time instead of the system clock

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
        # Unknown arguments are reported by the top-level parser; point at the command's help.
        prog = f"orch {_ONLY[0]}" if self.prog == "orch" and _ONLY else self.prog
        fail(InvalidInput(message, f"see '{prog} --help'"), "--json" in sys.argv)


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document (errors: JSON on stderr)",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def seconds(text: str) -> float:
    """An argparse type: a finite, non-negative number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):  # also refuses nan, which compares false to everything
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


class _Items(argparse._ExtendAction):
    """``--ac A B ...``: several values to a flag, remembering where each run of them ended, so
    a task ID typed after them (``orch prep --ac x T-7k3m9q2x``) can be given back (see
    ``take_id``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, values, option_string)
        runs: list[tuple[str, int, int]] = getattr(namespace, "item_runs", [])
        count = len(values) if isinstance(values, list) else 1
        runs.append((self.dest, len(getattr(namespace, self.dest)) - 1, count))
        namespace.item_runs = runs


def items_flag(p: argparse.ArgumentParser, *flags: str, metavar: str, help: str) -> None:
    """A flag taking one or more values (repeatable); see ``take_id``."""
    p.add_argument(*flags, action=_Items, nargs="+", metavar=metavar, help=help)


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
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="example:\n  " + example,
        formatter_class=_Formatter,
    )
    _json_flag(p)
    p.set_defaults(handler=handler, command=name)
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
        '  orch prep T-7k3m9q2x --goal "..." --ac "..." --dod "..." # planner: pending -> ready\n'
        "  orch next --agent cursor                              # implementer: what now?\n"
        "  orch claim T-7k3m9q2x --agent cursor                    # ready -> in-progress\n"
        '  orch submit T-7k3m9q2x --agent cursor --note "done"     # -> review\n'
        '  orch feedback T-7k3m9q2x --agent codex --text "..."     # reviewer: -> ready\n'
        "  orch complete T-7k3m9q2x --agent codex                  # reviewer: -> done\n"
        "every command takes --json; the agent may come from $ORCH_AGENT (else: a person).\n"
        "'orch review' is the old name of 'orch submit' and still works.",
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
    _load_extras()
    first = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(first)
    if first not in COMMANDS:  # not a command name: the full parser says what is wrong
        parser = build_parser()
    return guarded(lambda: _dispatch(parser, args_list), as_json="--json" in args_list)


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
