"""The docs are tested: every command is documented, and CI runs the README's commands."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from mcp_orch.config import render_template
from mcp_orch.interfaces import cli

pytestmark = pytest.mark.cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, tuple[str, str]]:
    return cli.command_names()


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_is_in_the_readme(name: str) -> None:
    assert re.search(rf"`orch {re.escape(name)}\b", README), f"README never shows `orch {name}`"


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_help_has_an_example(name: str) -> None:
    summary, example = _commands()[name]
    assert summary and example.startswith(f"orch {name}")


def _parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:  # type: ignore[type-arg]
    """The CLI's whole parser, and its action that holds one sub-parser per command."""
    cli.command_names()  # every interface's commands registered
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub


def _examples(help_text: str) -> list[str]:
    """The command lines shown under ``example:`` in a command's help."""
    if "example:\n" not in help_text:
        return []
    shown = help_text.split("example:\n", 1)[1].split("\n")
    return [line.strip() for line in shown if line.strip().startswith("orch ")]


def _parses(parser: argparse.ArgumentParser, line: str, names: list[str]) -> bool:
    argv = shlex.split(line, comments=True)
    if len(argv) < 2 or argv[0] != "orch" or argv[1] not in names:
        return False
    try:
        parser.parse_args(argv[1:])
    except SystemExit:  # the CLI's parser reports a usage mistake and exits 2
        return False
    return True


def without_a_working_example(
    parser: argparse.ArgumentParser,
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> tuple[list[str], list[str]]:
    """The commands the parser really has (each once, whatever its aliases), and those whose
    help shows no example, or one that runs another command or that the parser refuses."""
    names: dict[int, list[str]] = {}
    for name, command in sub.choices.items():
        names.setdefault(id(command), []).append(name)
    checked, bad = [], []
    for own in names.values():
        command = sub.choices[own[0]]
        checked.append(own[0])
        examples = _examples(command.epilog or "")
        if not examples or not all(_parses(parser, line, own) for line in examples):
            bad.append(own[0])
    return checked, bad


def test_every_command_of_the_parser_shows_an_example_that_parses() -> None:
    checked, bad = without_a_working_example(*_parser())
    assert set(_commands()) <= set(checked)  # the walk saw every registered command
    assert bad == []


def test_the_example_check_finds_a_command_without_a_working_example() -> None:
    parser, sub = _parser()
    sub.add_parser("bare", help="added without an example")
    sub.add_parser("typo", epilog="example:\n  orch typo --no-such-flag")
    sub.add_parser("elsewhere", epilog="example:\n  orch status --json")
    assert without_a_working_example(parser, sub)[1][-3:] == ["bare", "typo", "elsewhere"]


def test_every_config_key_is_in_the_readme() -> None:
    keys = re.findall(r"^([a-z_]+):", render_template(), flags=re.MULTILINE)
    assert keys, "the config template has no keys"
    for key in keys:
        assert f"{key}:" in README, f"config key {key} is not documented"


def test_quick_start_has_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", quick)
    assert len(commands) == 2, commands
    assert "orch demo" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
