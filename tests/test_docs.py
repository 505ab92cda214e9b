"""The docs are tested: every command is documented, and CI runs the README's commands."""

from __future__ import annotations

import re
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
