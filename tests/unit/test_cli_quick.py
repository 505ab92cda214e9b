"""``orch status`` with plain flags skips argparse (``cli._quick_status``): it must read every
command line exactly as argparse does, and leave to argparse whatever it does not read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_orch.interfaces import cli

FIELDS = ("json", "all", "status", "agent", "limit", "command")

TAKEN = [
    ["status"],
    ["status", "--json"],
    ["--json", "status"],
    ["--json", "status", "--json"],
    ["status", "--all", "--all"],
    ["status", "--agent", "cursor"],
    ["status", "--agent=cursor"],
    ["status", "--agent", ""],
    ["status", "--agent="],
    ["status", "--agent", "a", "--agent", "b"],  # the last one wins
    ["status", "--status", "ready,review", "--status", "done"],
    ["status", "--status=ready"],
    ["status", "--limit", "5"],
    ["status", "--limit=12", "--json", "--all"],
    ["status", "--limit", " 7"],
    ["status", "--agent=-x"],  # a value after = is the value, whatever it looks like
    ["status", "--agent", "status"],
]

LEFT = [  # argparse's to read (help, an error, an abbreviation, another command)
    [],
    ["next"],
    ["show", "status"],
    ["status", "-h"],
    ["status", "--help"],
    ["--help", "status"],
    ["--version", "status"],
    ["status", "--js"],  # an abbreviation argparse accepts
    ["status", "--lim", "3"],
    ["status", "--limit", "0"],
    ["status", "--limit", "-1"],
    ["status", "--limit", "three"],
    ["status", "--limit=x"],
    ["status", "--agent"],
    ["status", "--agent", "--json"],
    ["status", "extra"],
    ["status", "status"],
    ["status", "--"],
    ["--agent", "x", "status"],
]


def parsed(argv: list[str]) -> dict[str, object]:
    """What argparse makes of ``argv`` (as ``cli.main`` runs it), in the fields status reads."""
    cli._load_extras()
    first = next((a for a in argv if not a.startswith("-")), None)
    args = cli.build_parser(first).parse_args(argv)
    args.json = bool(getattr(args, "json", False))
    return {f: getattr(args, f) for f in FIELDS}


@pytest.mark.parametrize("argv", TAKEN, ids=" ".join)
def test_what_the_quick_path_reads_it_reads_as_argparse_does(argv: list[str]) -> None:
    quick = cli._quick_status(argv)
    assert quick is not None
    assert {f: getattr(quick, f) for f in FIELDS} == parsed(argv)


@pytest.mark.parametrize("argv", LEFT, ids=lambda a: " ".join(a) or "(nothing)")
def test_what_it_does_not_read_is_left_to_argparse(argv: list[str]) -> None:
    assert cli._quick_status(argv) is None


def test_orch_status_imports_no_argparse(tmp_path: Path) -> None:
    """The point of it: ``orch status --json`` on a board loads neither argparse nor the
    other command modules (nor what only a write needs)."""
    subprocess.run([sys.executable, "-m", "mcp_orch", "init", "--no-detect"], cwd=tmp_path)
    code = (
        "import sys\n"
        "from mcp_orch.interfaces import cli\n"
        "code = cli.main(['status', '--json'])\n"
        "heavy = ('argparse', 'gettext', 'importlib', 'mcp_orch.interfaces.handoff_cli',\n"
        "         'mcp_orch.interfaces.cli_parser', 'mcp_orch.board.filetx')\n"
        "print(code, sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert out.stderr.strip() == "0 []", out.stderr
    assert '"tasks":[]' in out.stdout.replace(" ", "")
