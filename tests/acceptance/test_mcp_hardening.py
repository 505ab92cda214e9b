"""The MCP server as a new user meets it (issue 8, "MCP server"): installed by a plain pip
install, DNS-rebinding protection on every bind, tools that say what they do to the board,
bounded resources, clean errors, its version, and client configs that work without ``orch``
on the editor's PATH."""

from __future__ import annotations

import json
import os
import tomllib
from importlib.metadata import requires, version
from pathlib import Path

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from mcp_orch.interfaces.mcp_http import machine_addresses
from tests.acceptance.mcp_support import INIT, call, call_error, http, http_server, new_token, stdio
from tests.conftest import ORCH, Orch, task_file

pytestmark = [pytest.mark.server]


def test_a_plain_install_brings_the_sdk_and_the_mcp_extra_still_resolves() -> None:
    needs = requires("mcp-orch") or []
    plain = [r.split(";")[0].strip() for r in needs if "extra ==" not in r]
    assert any(r.startswith("mcp") for r in plain), needs
    assert any(r.startswith("uvicorn") for r in plain), needs
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["optional-dependencies"]["mcp"] == []  # 'mcp-orch[mcp]' works


def post(url: str, token: str, host: str, origin: str | None = None) -> int:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token}",
        "Host": host,
    }
    if origin:
        headers["Origin"] = origin
    return httpx.post(url, json=INIT, headers=headers, timeout=10).status_code


def test_a_wildcard_bind_checks_host_and_origin_against_this_machine(orch: Orch) -> None:
    token = new_token(orch, "cursor")
    with http_server(orch.cwd, "--host", "0.0.0.0") as server:
        port = server.url.split(":")[2].split("/")[0]
        assert post(server.url, token, "evil.example.com") == 421
        assert post(server.url, token, f"evil.example.com:{port}") == 421
        assert post(server.url, token, f"127.0.0.1:{port}", "http://evil.example.com") == 403
        assert post(server.url, token, f"127.0.0.1:{port}", f"http://localhost:{port}") == 200
        address = sorted(a for a in machine_addresses() if "." in a and a != "127.0.0.1")
        for name in address[:1]:  # one of this machine's own addresses, as a LAN client sends
            assert post(server.url, token, f"{name}:{port}") == 200


def test_host_localhost_without_a_port_is_accepted_on_the_default_bind(orch: Orch) -> None:
    token = new_token(orch, "cursor")
    with http_server(orch.cwd) as server:
        assert post(server.url, token, "localhost") == 200
        assert post(server.url, token, "localhost", "http://localhost") == 200
        assert post(server.url, token, "evil.example.com") == 421


def test_tools_carry_annotations_and_every_parameter_a_description(orch: Orch) -> None:
    async def main() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        async with stdio(orch.cwd, "cursor") as named, stdio(orch.cwd, None) as anonymous:
            tools = [
                t.model_dump(mode="json", by_alias=True) for t in (await named.list_tools()).tools
            ]
            bare = [
                t.model_dump(mode="json", by_alias=True)
                for t in (await anonymous.list_tools()).tools
            ]
        return tools, bare

    tools, bare = anyio.run(main)
    hints = {t["name"]: t["annotations"] for t in tools}
    for name, given in hints.items():
        for key in ("readOnlyHint", "destructiveHint", "idempotentHint"):
            assert isinstance(given[key], bool), (name, key)  # type: ignore[index]
    assert hints["get_task"]["readOnlyHint"] and not hints["claim_task"]["readOnlyHint"]  # type: ignore[index]
    assert hints["claim_task"]["idempotentHint"] and hints["prep_task"]["destructiveHint"]  # type: ignore[index]
    for tool in tools + bare:
        props: dict[str, dict[str, object]] = tool["inputSchema"]["properties"]  # type: ignore[index]
        for param, schema in props.items():
            assert schema.get("description"), f"{tool['name']}.{param} has no description"
    # The server started with ORCH_AGENT knows who calls: no agent parameter to fill in.
    assert not any("agent" in t["inputSchema"]["properties"] for t in tools)  # type: ignore[index]
    assert (
        "agent" in next(t for t in bare if t["name"] == "claim_task")["inputSchema"]["properties"]
    )  # type: ignore[index]


def test_over_http_the_token_names_the_agent_so_tools_take_none(orch: Orch) -> None:
    token = new_token(orch, "cursor")

    async def main(url: str) -> list[dict[str, object]]:
        async with http(url, token) as client:
            return [
                t.model_dump(mode="json", by_alias=True) for t in (await client.list_tools()).tools
            ]

    with http_server(orch.cwd) as server:
        tools = anyio.run(main, server.url)
    assert not any("agent" in t["inputSchema"]["properties"] for t in tools)  # type: ignore[index]


def test_a_huge_hand_grown_task_file_is_paged_through_the_resource(orch: Orch) -> None:
    task_id = orch.ready("Grown by hand")
    path = task_file(orch.cwd, task_id)
    line = "A line of notes someone kept pasting into the file, again and again.\n"
    path.write_text(path.read_text() + "\n## Notes Log\n\n" + line * 150_000)  # ~10 MB
    size = len(path.read_text())
    assert size > 10_000_000

    async def main() -> list[str]:
        pages = []
        async with stdio(orch.cwd, "cursor") as client:
            read = await client.read_resource(f"task://{task_id}")
            pages.append(read.contents[0].text)  # type: ignore[union-attr]
            count = int(pages[0].rsplit("[page 1 of ", 1)[1].split()[0])
            assert count > 100  # 10 MB in pages of at most 100,000 characters
            last = await client.read_resource(f"task://{task_id}?page={count}")
            pages.append(last.contents[0].text)  # type: ignore[union-attr]
            with pytest.raises(MCPError, match="page"):
                await client.read_resource(f"task://{task_id}?page=999")
            assert (await call(client, "get_task", task_id=task_id))["id"] == task_id
        return pages

    first, last = anyio.run(main)
    assert len(first) < 101_000 and f"task://{task_id}?page=2" in first
    assert first.startswith(f"# Task: {task_id}")
    assert "this is the last page" in last and len(last) < 101_000


def test_an_unknown_prompt_is_a_clean_error_and_the_version_is_reported(orch: Orch) -> None:
    async def main() -> str:
        async with stdio(orch.cwd, "cursor") as client:
            with pytest.raises(MCPError) as caught:
                await client.get_prompt("no_such_prompt")
            assert caught.value.error.code == -32602
            assert "planner" in caught.value.error.message
            got = await client.get_prompt("reviewer", {"task_id": "T-7k3m9q2x"})
            assert "T-7k3m9q2x" in got.messages[0].content.text  # type: ignore[union-attr]
            info = client.server_info
            assert info is not None
            return info.version

    assert anyio.run(main) == version("mcp-orch")


def test_a_corrupt_token_file_is_logged_on_stderr_with_what_to_do(orch: Orch) -> None:
    token = new_token(orch, "cursor")
    with http_server(orch.cwd) as server:
        (orch.cwd / ".mcp" / ".secrets" / "tokens.json").write_text("{not json")
        for _ in range(3):
            assert post(server.url, token, "127.0.0.1") == 401
        log = server.log.read_text()
    assert "tokens.json" in log and "orch token create" in log
    assert log.count("tokens.json") == 1  # said once, not once per request
    assert "Traceback" not in log


def test_configs_and_npm_scripts_work_without_orch_on_path(orch: Orch) -> None:
    (orch.cwd / "package.json").write_text('{"name": "demo", "scripts": {}}\n')
    bare = {"PATH": "/usr/bin:/bin"}  # as an editor started from the desktop has it
    orch("init", "--clients", "cursor,codex", env=bare)
    cursor = json.loads((orch.cwd / ".cursor/mcp.json").read_text())["mcpServers"]["orch"]
    assert cursor["command"] == str(ORCH) and os.path.isabs(cursor["command"])
    codex = tomllib.loads((orch.cwd / ".codex/config.toml").read_text())["mcp_servers"]["orch"]
    assert codex["command"] == str(ORCH)
    scripts = json.loads((orch.cwd / "package.json").read_text())["scripts"]
    assert scripts["mcp:status"] == f"{ORCH} status"
    task_id = orch.ready("Reachable without PATH")

    async def main() -> None:  # the server the config names starts with that bare PATH
        async with stdio(orch.cwd, "cursor", PATH="/usr/bin:/bin") as client:
            assert (await call(client, "claim_task", task_id=task_id))["agent"] == "cursor"
            assert "who is acting" not in await call_error(client, "claim_task", task_id="T-zzzzzz")

    anyio.run(main)


def test_configs_say_plain_orch_when_path_finds_it(orch: Orch) -> None:
    orch("init", "--clients", "claude")
    claude = json.loads((orch.cwd / ".mcp.json").read_text())["mcpServers"]["orch"]
    assert claude["command"] == "orch"
