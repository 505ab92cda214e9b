"""``orch init --clients``: each client's project MCP config and the agents' instructions,
merged into what is there, idempotently."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import Orch

pytestmark = [pytest.mark.server, pytest.mark.cli]

ALL = "cursor,claude,codex,vscode"


def snapshot(root: Path) -> dict[str, str]:
    names = [
        ".cursor/mcp.json",
        ".cursor/rules/orch.mdc",
        ".mcp.json",
        ".vscode/mcp.json",
        ".codex/config.toml",
        "AGENTS.md",
        "CLAUDE.md",
    ]
    return {n: (root / n).read_text() for n in names if (root / n).exists()}


def test_each_client_gets_its_config_with_its_agent(orch: Orch) -> None:
    out = orch.json("init", "--clients", ALL)
    assert len(out["clients"]) == 7  # type: ignore[arg-type]
    root = orch.cwd
    cursor = json.loads((root / ".cursor/mcp.json").read_text())["mcpServers"]["orch"]
    assert cursor["command"] == "orch" and cursor["args"] == ["mcp"]
    assert cursor["env"]["ORCH_AGENT"] == "cursor"
    claude = json.loads((root / ".mcp.json").read_text())["mcpServers"]["orch"]
    assert (claude["type"], claude["env"]["ORCH_AGENT"]) == ("stdio", "claude")
    vscode = json.loads((root / ".vscode/mcp.json").read_text())
    assert "mcpServers" not in vscode  # VS Code's key is "servers"
    assert vscode["servers"]["orch"]["env"]["ORCH_AGENT"] == "copilot"
    codex = tomllib.loads((root / ".codex/config.toml").read_text())["mcp_servers"]["orch"]
    assert codex == {"command": "orch", "args": ["mcp"], "env": {"ORCH_AGENT": "codex"}}
    rules = (root / ".cursor/rules/orch.mdc").read_text()
    assert rules.startswith("---\n") and "alwaysApply: true" in rules
    for name in ("AGENTS.md", "CLAUDE.md", ".cursor/rules/orch.mdc"):
        assert "next_task" in (root / name).read_text()


def test_existing_files_are_merged_not_replaced_and_a_rerun_changes_nothing(orch: Orch) -> None:
    root = orch.cwd
    (root / "CLAUDE.md").write_text("# House rules\n\nAlways run the linter.\n")
    (root / "AGENTS.md").write_text("# Agents\n\nBe brief.\n")
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"db": {"command": "dbmcp"}}}))
    (root / ".codex").mkdir()
    (root / ".codex/config.toml").write_text('model = "o4"\n\n[mcp_servers.db]\ncommand = "x"\n')
    orch("init", "--clients", ALL)
    first = snapshot(root)
    assert first["CLAUDE.md"].startswith("# House rules\n\nAlways run the linter.\n")
    assert first["AGENTS.md"].startswith("# Agents\n\nBe brief.\n")
    servers = json.loads(first[".mcp.json"])["mcpServers"]
    assert set(servers) == {"db", "orch"}
    codex = tomllib.loads(first[".codex/config.toml"])
    assert codex["model"] == "o4" and set(codex["mcp_servers"]) == {"db", "orch"}

    orch("init", "--clients", ALL)
    assert snapshot(root) == first
    assert first["AGENTS.md"].count("orch:begin") == 1

    # A person's own "orch" server entry is kept as they wrote it; the block is refreshed.
    mine = {"mcpServers": {"orch": {"command": "/opt/bin/orch", "args": ["mcp"]}}}
    (root / ".cursor/mcp.json").write_text(json.dumps(mine))
    agents = first["AGENTS.md"]
    begin, end = agents.index("<!-- orch:begin"), agents.index("<!-- orch:end -->")
    (root / "AGENTS.md").write_text(agents[:begin] + "<!-- orch:begin -->\nstale\n" + agents[end:])
    (root / "AGENTS.md").write_text((root / "AGENTS.md").read_text() + "\n## After\n\nkeep\n")
    result = orch.json("init", "--clients", "cursor,codex")
    assert any(line.startswith("kept .cursor/mcp.json") for line in result["clients"])  # type: ignore[union-attr]
    assert json.loads((root / ".cursor/mcp.json").read_text()) == mine
    refreshed = (root / "AGENTS.md").read_text()
    assert "stale" not in refreshed and "next_task" in refreshed
    assert refreshed.startswith("# Agents\n\nBe brief.\n") and refreshed.endswith("keep\n")


def test_unknown_client_and_unreadable_configs(orch: Orch) -> None:
    bad = orch("init", "--clients", "cursor,emacs", check=False)
    assert bad.code == 2 and "emacs" in bad.err and "cursor,claude,codex,vscode" in bad.err
    root = orch.cwd
    (root / ".vscode").mkdir()
    jsonc = '{\n  // my servers\n  "servers": {}\n}\n'
    (root / ".vscode/mcp.json").write_text(jsonc)
    out = orch.json("init", "--clients", "vscode")
    assert any("skipped .vscode/mcp.json" in line for line in out["clients"])  # type: ignore[union-attr]
    assert (root / ".vscode/mcp.json").read_text() == jsonc
