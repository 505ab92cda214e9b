"""The board's setup and inspection commands: init, status, show, log, doctor, demo.

Each handler calls one service (or board) function and prints the result as text or
``--json``. Registered into the ``orch`` parser like every command module (see
``cli.EXTRA_COMMANDS``); heavy modules are imported inside the handlers.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from . import cli

TYPE_CHECKING = False
if TYPE_CHECKING:  # types only: typing (and argparse: see cli_parser) cost an import
    import argparse

    from .shapes import LogJSON, StatusJSON


def cmd_init(args: argparse.Namespace) -> int:
    from ..project import init

    tests = tuple(args.test_command) if args.test_command is not None else None
    result = init(os.getcwd(), test_command=tests, detect=not args.no_detect)
    extra: dict[str, object] = {}
    lines = [f"board: {result.board}"]
    lines += [f"  created {c}" for c in result.created]
    lines += [f"  updated {u}" for u in result.updated]
    lines += [f"  kept    {k} (already there)" for k in result.kept]
    lines += [f"  BY HAND {h}" for h in result.by_hand]
    if args.clients:
        from ..clients import setup_clients

        written = setup_clients(result.root, [c.strip() for c in args.clients.split(",")])
        extra["clients"] = written
        lines += [f"  client  {w}" for w in written]
    if not (result.created or result.updated or result.by_hand or args.clients):
        lines.append("  nothing to do: the board was already set up")
    gates = "; ".join(result.test_command) or "none (orch init --test-command CMD sets one)"
    lines.append(f"test_command (run by the git hooks): {gates}")
    lines.append('next: orch create "Your first task" --priority P1')
    cli.emit(
        args,
        {
            "board": str(result.board),
            "root": str(result.root),
            "created": result.created,
            "updated": result.updated,
            "kept": result.kept,
            "by_hand": result.by_hand,
            "test_command": list(result.test_command),
            **extra,
        },
        "\n".join(lines),
        warnings=result.warnings,
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .present import human_age, status_dict

    statuses = _statuses(args.status)
    service = cli.open_service()
    snap = service.status()
    now = service.clock.now()
    data = status_dict(
        snap,
        now,
        include_closed=args.all,
        limit=args.limit,
        statuses=statuses,
        agent=args.agent.strip() if args.agent else None,
    )
    if args.json:  # what agents call: no table to format
        cli.emit(args, data, "")
        return 0
    closed = args.all or bool({"done", "failed"} & set(statuses))
    text = _status_text(data, human_age, closed_listed=closed)
    if not data["tasks"] and (statuses or args.agent):
        text = "no task matches --status/--agent\n" + text.split("\n", 1)[1]
    cli.emit(args, data, text)
    return 0


def _statuses(given: list[str] | None) -> tuple[str, ...]:
    """``--status ready,review --status done``: the states to list, checked."""
    if not given:
        return ()
    from ..inputs import parse_status

    names = [n for text in given for n in text.split(",") if n.strip()]
    return tuple(dict.fromkeys(parse_status(n).value for n in names))


# One line under the listing: what the marks in it mean.
LEGEND = (
    "legend: ! escalated, a person decides | <NAME sent back to NAME | feedback:N open notes"
    " | after:ID waits on ID | age: since created"
)


def _status_text(
    data: StatusJSON, human_age: Callable[[int | None], str], *, closed_listed: bool
) -> str:
    tasks, counts = data["tasks"], data["counts"]
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
        deps = f" after:{','.join(t['depends'])}" if t["depends"] else ""
        lines.append(
            f"  {t['id']:<12} {t['priority']}  {holder:<12} "
            f"{human_age(t['age_seconds']):>4}  {t['title']}{deps}{marks}"
        )
    total = data["total"]
    if not tasks and not total:
        lines.append('no active tasks (create one: orch create "TITLE")')
    elif total > len(tasks):
        lines.append(f"  ... {len(tasks)} of {total} listed (raise --limit for more)")
    if tasks:
        lines.append(LEGEND)
    closed = ", ".join(f"{k}: {counts.get(k, 0)}" for k in ("done", "failed"))
    lines.append(closed if closed_listed else f"{closed}  (orch status --all lists them)")
    problems = data["problems"]
    if problems:
        lines.append(f"PROBLEMS ({len(problems)}): the other tasks are listed above")
        lines += [f"  {p['message']}\n    -> {p['hint']}" for p in problems]
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    from ..board.format import render
    from .present import task_dict

    task = cli.open_service().show(args.id)
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
    cli.emit(args, task_dict(task), head + render(task))
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from .present import event_dict

    events = cli.open_service().log(args.id, limit=args.limit)
    lines = [
        f"{e.at}  {e.agent:<10} {e.op:<9} {e.task:<10} "
        f"{(e.from_status or '-') + ' -> ' + (e.to_status or '-'):<26} {e.outcome}"
        + (f"  {e.note}" if e.note else "")
        for e in events
    ]
    data: LogJSON = {"events": [event_dict(e) for e in events]}
    cli.emit(args, data, "\n".join(lines) or "no events yet")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import sys

    if args.serve:
        from ..demo_serve import run
    else:
        from ..demo import run

    if not args.json:
        return 0 if run(keep=args.keep).ok else 1
    # --json: the story goes to stderr, the record to stdout
    report = run(echo=lambda line: print(line, file=sys.stderr), keep=args.keep)
    cli.emit(args, report._asdict(), "")
    return 0 if report.ok else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..board import doctor

    service = cli.open_service()
    report = doctor.check(doctor.board_of(service.store), fix=args.fix, now=service.now())
    lines = [f"checked {report.tasks} task(s)"]
    for f in report.findings:
        state = "fixed" if f.fixed else ("left " if args.fix else "found")
        lines.append(f"  [{state}] {f.kind}: {f.message}")
        if not f.fixed and f.hint:
            lines.append(f"          -> {f.hint}")
    if not report.findings:
        lines.append("  the board is healthy")
    cli.emit(
        args,
        {
            "ok": report.ok,
            "tasks": report.tasks,
            "findings": [f.to_dict() for f in report.findings],
        },
        "\n".join(lines),
    )
    return 0 if report.ok else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add these commands to the ``orch`` parser (only the one being run is built)."""
    p = cli.add_command(
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
        help="quality-gate command for the git hooks (repeatable); replaces test_command in an"
        ' existing .mcp/config.yaml (--test-command "" clears it); default: detected for a new one',
    )
    p.add_argument("--no-detect", action="store_true", help="do not detect a test command")
    p.add_argument(
        "--clients",
        metavar="LIST",
        help="write MCP configs for these clients: cursor,claude,codex,vscode",
    )

    p = cli.add_command(
        sub,
        "status",
        cmd_status,
        "every active task by state: holder, priority, age",
        "orch status --json",
    )
    p.add_argument("--all", action="store_true", help="list done and failed tasks too")
    p.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help="only tasks in this state (repeatable, or comma-separated: ready,review)",
    )
    p.add_argument("--agent", metavar="NAME", help="only tasks NAME holds or implemented")
    p.add_argument("--limit", type=cli.positive_int, metavar="N", help="list at most N tasks")

    p = cli.add_command(
        sub,
        "show",
        cmd_show,
        "the whole task, all its context, open feedback first",
        "orch show T-7k3m9q2x",
    )
    cli.id_arg(p)

    p = cli.add_command(
        sub,
        "log",
        cmd_log,
        "the handoff history (the operation log) for debugging",
        "orch log T-7k3m9q2x --limit 20",
    )
    cli.id_arg(p, optional=True)
    p.add_argument(
        "--limit", type=cli.positive_int, default=100, help="newest N events (default 100)"
    )

    p = cli.add_command(
        sub,
        "doctor",
        cmd_doctor,
        "check the board: duplicates, conflicts, bad files, dependencies",
        "orch doctor --fix",
    )
    p.add_argument("--fix", action="store_true", help="repair what is safe to repair")

    p = cli.add_command(
        sub,
        "demo",
        cmd_demo,
        "play the whole handoff chain on a throwaway repo",
        "orch demo --keep",
    )
    p.add_argument("--keep", action="store_true", help="keep the throwaway repo to look at")
    p.add_argument(
        "--serve",
        action="store_true",
        help="play it through a real orch serve and its HTTP API (push, review, reassignment)",
    )


cli.EXTRA_COMMANDS.append(register)
