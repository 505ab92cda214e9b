"""argparse's side of ``orch``: the parser, help formatter and list action ``cli`` builds
its parsers from. Imported only when a parser is built (argparse costs ~5 ms to import), so
``orch status`` with plain flags (``cli._quick_status``) never loads it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..domain.errors import InvalidInput
from . import cli

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn


class Formatter(argparse.RawDescriptionHelpFormatter):
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


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line (JSON with --json), exit 2."""

    def error(self, message: str) -> NoReturn:
        # Unknown arguments are reported by the top-level parser; point at the command's help.
        only = cli.running_only()
        prog = f"orch {only}" if self.prog == "orch" and only else self.prog
        cli.fail(InvalidInput(message, f"see '{prog} --help'"), "--json" in sys.argv)


class Items(argparse._ExtendAction):
    """``--ac A B ...``: several values to a flag, remembering where each run of them ended, so
    a task ID typed after them (``orch prep --ac x T-7k3m9q2x``) can be given back (see
    ``cli.take_id``)."""

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
