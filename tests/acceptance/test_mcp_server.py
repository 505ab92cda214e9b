"""The MCP server over stdio, as an agent's client sees it: the tool list and its size, tool
errors, identity, paging, resources, prompts, and changes made on disk between calls."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import anyio
import pytest

from mcp_orch.interfaces.cli import open_service
from tests.acceptance.mcp_support import call, call_error, stdio, text
from tests.conftest import ORCH, Orch, clean_env, heavy_imports, set_roles, task_file

pytestmark = [pytest.mark.server]

TOKEN_BUDGET = 2_000  # the whole tools/list answer, at 4 JSON characters per token
EXPECTED_TOOLS = {
    "next_task",
    "create_task",
    "prep_task",
    "claim_task",
    "submit_task",
    "review_task",
    "report_error",
    "escalate_task",
    "check_task",
    "get_task",
    "board_status",
}


def test_tools_list_is_small_and_complete(orch: Orch) -> None:
    async def main() -> list[dict[str, object]]:
        async with stdio(orch.cwd, "cursor") as client:
            listed = await client.list_tools()
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]

    tools = anyio.run(main)
    assert {t["name"] for t in tools} == EXPECTED_TOOLS
    size = len(json.dumps({"tools": tools}))
    assert size / 4 < TOKEN_BUDGET, f"tools/list costs {size / 4:.0f} tokens"

    async def anonymous() -> int:  # a server without ORCH_AGENT lists an agent parameter too
        async with stdio(orch.cwd, None) as client:
            listed = await client.list_tools()
        dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]
        return len(json.dumps({"tools": dumped}))

    bigger = anyio.run(anonymous)
    assert bigger / 4 < TOKEN_BUDGET, f"tools/list costs {bigger / 4:.0f} tokens without an agent"
    for tool in tools:
        assert len(str(tool["description"])) > 60, f"{tool['name']} must say when to use it"


def test_tool_errors_carry_the_clis_message_and_the_server_survives(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    task_id = orch.ready("Taken task")
    orch("claim", task_id, "--agent", "cursor")
    cli_err = orch("claim", task_id, "--agent", "claude", "--json", check=False).err_json()
    assert cli_err["hint"] == "pick other work: orch next --agent claude"
    unknown_cli = orch("show", "T-zzzzzz", "--json", check=False).err_json()
    assert "orch status" in str(unknown_cli["hint"])

    async def main() -> None:
        async with stdio(orch.cwd, "claude") as client:
            message = await call_error(client, "claim_task", task_id=task_id)
            # the CLI's message; its hint as a tool call (an MCP client may have no shell)
            assert message.endswith(f"{cli_err['error']} (pick other work: call next_task)")
            unknown = await call_error(client, "get_task", task_id="T-zzzzzz")
            assert f"{unknown_cli['error']} (the board lists them: call board_status" in unknown
            assert "orch " not in unknown
            not_holder = await call_error(client, "submit_task", task_id=task_id)
            assert "only the holder can submit it" in not_holder
            illegal = await call_error(client, "review_task", task_id=task_id, approve=True)
            assert task_id in illegal and "review" in illegal
            # Malformed arguments: missing, wrong type, unknown values, unknown tool.
            assert "task_id" in await call_error(client, "claim_task")
            assert "task_id" in await call_error(client, "claim_task", task_id=42)
            assert "approve" in await call_error(client, "review_task", task_id=task_id)
            assert "P7" in await call_error(client, "create_task", title="x", priority="P7")
            assert "is not a task ID" in await call_error(client, "get_task", task_id="../x")
            assert "title is empty" in await call_error(client, "create_task", title="   ")
            unknown = await client.call_tool("no_such_tool", {})
            assert unknown.is_error and "no_such_tool" in text(unknown)
            feedback = await call_error(client, "review_task", task_id=task_id, approve=False)
            assert "feedback" in feedback
            # Still serving after all of that.
            assert (await call(client, "get_task", task_id=task_id))["agent"] == "cursor"

    anyio.run(main)
    # Nothing was created by the refused calls.
    assert orch.json("status", "--all")["total"] == 1


def test_agent_comes_from_orch_agent_or_the_argument(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    task_id = orch.ready("Who claims it")

    async def main() -> None:
        async with stdio(orch.cwd, None) as anonymous:
            message = await call_error(anonymous, "claim_task", task_id=task_id)
            assert "who is acting" in message and "ORCH_AGENT" in message
            claimed = await call(anonymous, "claim_task", task_id=task_id, agent="claude")
            assert claimed["agent"] == "claude"
        async with stdio(orch.cwd, "claude") as named:
            assert (await call(named, "next_task"))["action"] == "continue"

    anyio.run(main)


def test_a_server_with_an_identity_refuses_to_act_as_another_agent(orch: Orch) -> None:
    task_id = orch.ready("Claimed by the server's own agent")
    before = orch.json("show", task_id)

    async def main() -> None:
        async with stdio(orch.cwd, "chatgpt") as planner:
            for tool, args in [
                ("next_task", {}),
                ("claim_task", {"task_id": task_id}),
                ("create_task", {"title": "should never exist"}),
            ]:
                message = await call_error(planner, tool, agent="codex", **args)
                assert "this server acts as chatgpt" in message and "omit agent" in message
            # Its own name is fine, and so is no name at all.
            named = await call(planner, "next_task", agent="chatgpt")
            assert named == await call(planner, "next_task")
            assert named["action"] == "wait"  # as the planner: a ready task is for others

    anyio.run(main)
    assert orch.json("show", task_id) == before
    assert orch.json("status", "--all")["total"] == 1


def test_config_edits_apply_to_the_next_call(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    task_id = orch.ready("Waiting for a reviewer")
    orch("claim", task_id, "--agent", "cursor")
    orch("review", task_id, "--agent", "cursor")
    config = orch.cwd / ".mcp" / "config.yaml"

    async def main() -> None:
        async with stdio(orch.cwd, "claude") as client:
            assert (await call(client, "next_task"))["action"] != "review"
            config.write_text(
                config.read_text().replace("reviewer: [codex]", "reviewer: [codex, claude]")
            )
            now = await call(client, "next_task")
            assert (now["action"], now["task"]["id"]) == ("review", task_id)  # type: ignore[index]
            config.write_text("roles: [not, a, mapping]\n")
            assert "roles must be a mapping" in await call_error(client, "next_task")

    anyio.run(main)


def test_changes_made_on_disk_between_calls_are_seen(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    task_id = orch.create("Edited behind the server's back")

    async def main() -> None:
        async with stdio(orch.cwd, "cursor") as client:
            assert (await call(client, "get_task", task_id=task_id))["status"] == "pending"
            # The CLI preps and claims it while the server runs.
            orch("prep", task_id, "--goal", "from the CLI", "--agent", "chatgpt")
            seen = await call(client, "get_task", task_id=task_id)
            assert (seen["status"], seen["goal"]) == ("ready", "from the CLI")
            orch("claim", task_id, "--agent", "claude")
            message = await call_error(client, "claim_task", task_id=task_id)
            assert "already claimed by claude" in message
            # A person edits the file by hand (as a git checkout would).
            path = task_file(orch.cwd, task_id)
            path.write_text(path.read_text().replace("from the CLI", "edited by hand"))
            assert (await call(client, "get_task", task_id=task_id))["goal"] == "edited by hand"
            board = await call(client, "board_status")
            assert board["counts"] == {"in-progress": 1}

    anyio.run(main)


def test_board_status_pages_a_thousand_tasks(orch: Orch, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORCH_BOARD", raising=False)
    service = open_service(str(orch.cwd))
    made = {service.create(f"task {i:04d}", priority=f"P{i % 3}").id for i in range(1000)}

    async def main() -> list[dict[str, object]]:
        pages = []
        async with stdio(orch.cwd, "cursor") as client:
            offset: object = 0
            while offset is not None:
                page = await call(client, "board_status", offset=offset, limit=200)
                pages.append(page)
                offset = page["next_offset"]
            too_big = await call_error(client, "board_status", limit=1000)
            assert "limit" in too_big
            assert "offset" in await call_error(client, "board_status", offset=-1)
        return pages

    pages = anyio.run(main)
    assert len(pages) == 5
    seen = [t["id"] for p in pages for t in p["tasks"]]  # type: ignore[attr-defined]
    assert len(seen) == 1000 and set(seen) == made
    assert all(p["total"] == 1000 for p in pages)
    priorities = [t["priority"] for t in pages[0]["tasks"]]  # type: ignore[attr-defined]
    assert priorities == sorted(priorities)  # most urgent first
    assert max(len(json.dumps(p)) for p in pages) < 100_000  # no answer is unbounded


def test_resources_and_prompts(orch: Orch) -> None:
    task_id = orch.ready("Readable task")
    orch("claim", task_id, "--agent", "cursor")
    orch("review", task_id, "--agent", "cursor")
    orch("feedback", task_id, "--agent", "codex", "--text", "rename the helper")

    async def main() -> None:
        async with stdio(orch.cwd, "cursor") as client:
            read = await client.read_resource(f"task://{task_id}")
            markdown = read.contents[0].text  # type: ignore[union-attr]
            assert markdown.startswith("OPEN FEEDBACK") and "rename the helper" in markdown
            assert f"# Task: {task_id} - Readable task" in markdown
            assert markdown.endswith(task_file(orch.cwd, task_id).read_text())
            board = (await client.read_resource("board://status")).contents[0].text  # type: ignore[union-attr]
            assert task_id in board and "ready: 1" in board
            with pytest.raises(Exception, match="T-zzzzzz"):
                await client.read_resource("task://T-zzzzzz")
            prompts = await client.list_prompts()
            assert {p.name for p in prompts.prompts} == {"planner", "implementer", "reviewer"}
            for role, tool in [
                ("planner", "prep_task"),
                ("implementer", "submit_task"),
                ("reviewer", "review_task"),
            ]:
                got = await client.get_prompt(role)
                words = got.messages[0].content.text  # type: ignore[union-attr]
                assert "next_task" in words and tool in words

    anyio.run(main)


def test_cli_commands_other_than_mcp_do_not_import_the_sdk(orch: Orch) -> None:
    assert (
        heavy_imports(orch.cwd, ["status"], ["next", "--agent", "cursor"], ["token", "list"]) == []
    )


def test_no_board_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(ORCH), "mcp"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 3
    assert "no task board here" in proc.stderr and "orch init" in proc.stderr


def test_a_bug_in_a_tool_reaches_the_client_as_a_named_tool_error() -> None:
    """The SDK hides a plain exception's message; the boundary names it as orch's bug."""
    from mcp.server.mcpserver.exceptions import ToolError

    from mcp_orch.interfaces.mcp_server import tool_errors

    with pytest.raises(ToolError) as raised, tool_errors():
        {}["missing"]  # the injected bug
    assert "internal error: KeyError: 'missing'" in str(raised.value)
    assert "bug in orch" in str(raised.value)
    with pytest.raises(ToolError, match="already named"), tool_errors():
        raise ToolError("already named")


def test_next_task_names_board_problems_that_can_hide_work(orch: Orch) -> None:
    task_id = orch.ready("copied by a merge")
    path = task_file(orch.cwd, task_id)
    (path.parent.parent / "review" / path.name).write_bytes(path.read_bytes())

    async def main() -> None:
        async with stdio(orch.cwd, "cursor") as client:
            answer = await call(client, "next_task")
            assert answer["action"] == "idle" and answer["problems_total"] == 2
            kinds = {p["kind"] for p in answer["problems"]}  # type: ignore[union-attr]
            assert kinds == {"duplicate", "status-mismatch"}

    anyio.run(main)
