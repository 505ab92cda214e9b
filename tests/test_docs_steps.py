"""The README's "One name per step" table is what the code does: each operation's CLI command
is a registered command of the same name, its MCP tool (and fixed argument) is the one MCP
hints name, and the HTTP routes of issue 10's handoff steps end in the same name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_orch.domain.ops import OPS
from mcp_orch.interfaces import cli
from mcp_orch.interfaces.mcp_text import TOOLS

pytestmark = pytest.mark.cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
TABLE = README.split("### One name per step: CLI, MCP and HTTP", 1)[1].split("\n### ", 1)[0]
ROWS = {
    cells[0].strip("`"): cells[1:]
    for cells in (
        [c.strip() for c in line.strip("|").split("|")]
        for line in TABLE.splitlines()
        if line.startswith("| `")
    )
}
# The steps that get a route of their own (issue 10): POST /api/orchestrator/tasks/{id}/STEP.
ROUTED = ("claim", "submit", "feedback", "complete", "fail", "escalate", "progress")


def test_every_operation_has_a_row() -> None:
    assert set(OPS) <= set(ROWS), set(OPS) - set(ROWS)


@pytest.mark.parametrize("step", sorted(set(OPS) | {"check"}))
def test_the_cli_command_of_a_step_has_its_name(step: str) -> None:
    commands = re.findall(r"`orch (\w+)`", ROWS[step][1])
    assert commands[0] == step and set(commands) <= set(cli.command_names())


@pytest.mark.parametrize("step", sorted(OPS))
def test_the_mcp_tool_of_a_step_is_the_one_hints_name(step: str) -> None:
    cell = ROWS[step][2]
    if step not in TOOLS:
        assert cell == "(a person's step: the CLI)"
        return
    tool, fixed, _ = TOOLS[step]
    assert cell == " ".join(f"`{part}`" for part in (tool, fixed) if part)


def test_the_routed_steps_end_in_their_name() -> None:
    for step in ROUTED:
        assert ROWS[step][3].startswith(f"`POST /api/orchestrator/tasks/{{id}}/{step}`"), step


def test_submit_keeps_review_as_its_old_cli_name() -> None:
    assert ROWS["submit"][1] == "`orch submit` (old name: `orch review`)"
    assert "review" in cli.command_names() and "submit" in cli.command_names()
