"""The MCP surface is documented: every tool, resource and prompt the server offers, and every
client ``orch init --clients`` knows, appears in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_orch.clients import CLIENTS
from mcp_orch.interfaces.mcp_server import Identity, build_tools
from mcp_orch.interfaces.mcp_text import PROMPTS

pytestmark = pytest.mark.server

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
TOOLS = [fn.__name__ for fn in build_tools(None, Identity(None, http=False))]  # type: ignore[arg-type]


@pytest.mark.parametrize("name", TOOLS)
def test_every_mcp_tool_is_in_the_readme(name: str) -> None:
    assert re.search(rf"`{name}`", README), f"README never names the MCP tool `{name}`"


@pytest.mark.parametrize("name", ["task://", "board://status", *PROMPTS])
def test_every_resource_and_prompt_is_in_the_readme(name: str) -> None:
    assert name in README, f"README never names {name}"


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_every_client_setup_is_in_the_readme(name: str) -> None:
    assert re.search(rf"--clients [a-z,]*\b{name}\b", README), f"README never sets up {name}"
