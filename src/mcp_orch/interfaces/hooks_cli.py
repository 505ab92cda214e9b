"""``orch hooks install|uninstall|status`` and ``orch hook STAGE``: thin, see ``mcp_orch.hooks``.

Imported on every ``orch`` call (``cli._load_extras``), so it imports nothing at module level
beyond what the CLI already has; the hooks package is loaded only by these commands.
"""

from __future__ import annotations

import argparse
import os

from . import cli


def _root() -> str:
    from ..board.locate import find_board

    return os.path.dirname(find_board())


def cmd_hooks(args: argparse.Namespace) -> int:
    from ..hooks import install

    root = _root()
    if args.action == "install":
        report = install.install(root, mode=args.mode)
    elif args.action == "uninstall":
        report = install.uninstall(root)
    else:
        report = install.status(root)
    head = f"{args.action}: {report.mode or '-'} ({report.where or '-'})"
    cli.emit(
        args,
        {
            "action": args.action,
            "mode": report.mode,
            "where": report.where,
            "changed": report.installed if args.action != "status" else False,
            "installed": report.installed if args.action == "status" else None,
            "lines": list(report.lines),
        },
        "\n".join([head, *(f"  {ln}" for ln in report.lines)]),
    )
    return 0


def cmd_hook(args: argparse.Namespace) -> int:
    from ..hooks import runner

    # git's arguments come verbatim (REMAINDER), so a --json after the stage lands among them;
    # git never passes it (its only argument is the message file), so it is the flag, not a path.
    given = [a for a in args.args if a != "--json"]
    return runner.run(args.stage, given, lambda: cli.open_service())


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = cli.add_command(
        sub,
        "hooks",
        cmd_hooks,
        "install, remove or show mcp-orch's git hooks (plain git, husky, pre-commit)",
        "orch hooks install   # then: orch hooks status; orch hooks uninstall",
    )
    p.add_argument(
        "action",
        choices=("install", "uninstall", "status"),
        help="install: wire mcp-orch in (idempotent); uninstall: put every hook file back "
        "byte for byte; status: what is installed where",
    )
    p.add_argument(
        "--mode",
        default="auto",
        choices=("auto", "git", "husky", "pre-commit"),
        help="which hook layout to use (default: detected)",
    )
    p = cli.add_command(
        sub,
        "hook",
        cmd_hook,
        "internal: what the installed git hooks run (commit-msg: quality gate; post-commit: "
        "record)",
        "orch hook commit-msg .git/COMMIT_EDITMSG   # ORCH_HOOKS=0 turns it off",
    )
    p.add_argument("stage", help="the git hook stage: commit-msg or post-commit")
    p.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="git's arguments to the hook, verbatim (commit-msg: the message file, default "
        "COMMIT_EDITMSG); outside a repository it exits 0; --json only makes errors JSON",
    )


cli.EXTRA_COMMANDS.append(register)
