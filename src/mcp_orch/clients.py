"""``orch init --clients cursor,claude,codex,vscode``: wire agents' MCP clients to the board.

For each client: its project MCP config (an ``orch`` server running ``orch mcp`` with the
client's ``ORCH_AGENT``) and agent instructions where that agent looks for them. Existing files
are merged into, never replaced: a server already named ``orch`` is kept as the user left it,
and the instructions live between markers that are replaced in place, so running it again
changes nothing.
"""

from __future__ import annotations

import json
import os
import tomllib

from .board.fsutil import atomic_write
from .domain.errors import InvalidInput
from .domain.record import Record
from .executable import orch_command

SERVER = "orch"
BEGIN = "<!-- orch:begin (written by `orch init --clients`; edits inside are replaced) -->"
END = "<!-- orch:end -->"
BEGIN_PREFIX = "<!-- orch:begin"


class Client(Record):
    agent: str  # its ORCH_AGENT
    config: str  # the project MCP config file
    key: str  # JSON key holding the servers ("" for TOML)
    instructions: tuple[str, ...]  # where its agent reads project instructions


CLIENTS: dict[str, Client] = {
    "cursor": Client("cursor", ".cursor/mcp.json", "mcpServers", (".cursor/rules/orch.mdc",)),
    "claude": Client("claude", ".mcp.json", "mcpServers", ("CLAUDE.md",)),
    "codex": Client("codex", ".codex/config.toml", "", ("AGENTS.md",)),
    "vscode": Client("copilot", ".vscode/mcp.json", "servers", ("AGENTS.md",)),
}

INSTRUCTIONS = """\
## Task board (orch)

Work in this repository is handed between agents on an orch task board (`.mcp/tasks/`).
Use the `orch` MCP server's tools; your agent name comes from its config (`ORCH_AGENT`).

- Call `next_task` first and after every handoff: it says what to do and which tool is next.
- Implementer: `claim_task` before touching code, fix open feedback first, `submit_task`
  with a note on what you did and how you tested it.
- Reviewer: `review_task` with `approve=true`, or `approve=false` and precise feedback.
- Planner: `create_task`, then `prep_task` (goal, acceptance criteria, DoR, DoD, files).
- Failing tests you cannot fix: `report_error`. Stuck: `escalate_task`; never guess.
- Without MCP, the same from a shell: `orch next --agent NAME` (see `orch --help`).
"""

MDC_HEAD = """\
---
description: How to work with this project's orch task board
alwaysApply: true
---
"""


def server_entry(client: Client) -> dict[str, object]:
    entry: dict[str, object] = {"command": orch_command(), "args": ["mcp"]}
    env = {"ORCH_AGENT": client.agent}
    if client.key == "servers" or client.config.startswith(".cursor/"):
        # Cursor and VS Code may start servers outside the project; point them at it.
        env["ORCH_BOARD"] = "${workspaceFolder}"
    if client.config != ".cursor/mcp.json":
        entry = {"type": "stdio", **entry}
    entry["env"] = env
    return entry


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    atomic_write(path, text)


def merge_json(root: str, client: Client) -> str:
    path = os.path.join(root, client.config)
    old = _read(path)
    try:
        data = json.loads(old) if old and old.strip() else {}
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get(client.key, {}), dict):
        return f"skipped {client.config}: not plain JSON (comments?); add the server by hand"
    servers = data.setdefault(client.key, {})
    if SERVER in servers:
        return f"kept {client.config} (it already has a server named {SERVER})"
    servers[SERVER] = server_entry(client)
    _write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return f"wrote {client.config} (server {SERVER}, ORCH_AGENT={client.agent})"


def merge_toml(root: str, client: Client) -> str:
    path = os.path.join(root, client.config)
    old = _read(path) or ""
    try:
        servers = tomllib.loads(old).get("mcp_servers", {})
    except tomllib.TOMLDecodeError:
        return f"skipped {client.config}: it is not valid TOML; add the server by hand"
    if SERVER in servers:
        return f"kept {client.config} (it already has mcp_servers.{SERVER})"
    block = (
        f"[mcp_servers.{SERVER}]\n"
        f"command = {json.dumps(orch_command())}\n"
        'args = ["mcp"]\n'
        f'env = {{ ORCH_AGENT = "{client.agent}" }}\n'
    )
    text = old + ("\n" if old and not old.endswith("\n") else "") + ("\n" if old else "") + block
    tomllib.loads(text)  # never write a file Codex cannot read
    _write(path, text)
    return f"wrote {client.config} (mcp_servers.{SERVER}, ORCH_AGENT={client.agent})"


def upsert_block(text: str, body: str) -> str:
    """``text`` with the marked orch block set to ``body`` (appended when it has none)."""
    block = f"{BEGIN}\n{body.rstrip()}\n{END}\n"
    start = text.find(BEGIN_PREFIX)  # the prefix: a marker whose comment was edited still counts
    end = text.find(END, start)
    if start != -1 and end != -1:
        return text[:start] + block + text[end + len(END) :].lstrip("\n")
    if not text.strip():
        return block
    return text.rstrip("\n") + "\n\n" + block


def merge_instructions(root: str, rel: str) -> str:
    path = os.path.join(root, rel)
    old = _read(path)
    base = old if old is not None else (MDC_HEAD if rel.endswith(".mdc") else "")
    new = upsert_block(base, INSTRUCTIONS)
    if new == old:
        return f"unchanged {rel}"
    _write(path, new)
    return f"{'wrote' if old is None else 'updated'} {rel} (orch instructions)"


def setup_clients(root: str, clients: list[str]) -> list[str]:
    """Write each client's MCP config and instructions under ``root``; what was done, per file."""
    names = list(dict.fromkeys(c.strip().lower() for c in clients if c.strip()))
    unknown = [n for n in names if n not in CLIENTS]
    if unknown or not names:
        raise InvalidInput(
            f"unknown client {', '.join(unknown)!s}" if unknown else "no client named",
            "use any of: " + ",".join(CLIENTS),
        )
    done: list[str] = []
    seen: set[str] = set()
    for name in names:
        client = CLIENTS[name]
        merge = merge_json if client.key else merge_toml
        done.append(merge(root, client))
        for rel in client.instructions:
            if rel not in seen:
                seen.add(rel)
                done.append(merge_instructions(root, rel))
    return done
