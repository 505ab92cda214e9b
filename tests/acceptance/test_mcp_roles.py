"""Roles hold over MCP too (stdio and HTTP: a planner's token cannot claim or approve), and
the server speaks in tools, not shell commands: a ChatGPT planner has no shell (issue 8)."""

from __future__ import annotations

import anyio
import pytest

from tests.acceptance.mcp_support import call, call_error, http, http_server, new_token, stdio
from tests.conftest import Orch

pytestmark = [pytest.mark.server, pytest.mark.mcp]


def test_next_task_and_tool_errors_speak_in_tools(orch: Orch) -> None:
    stub = orch.create("Define me", "--agent", "chatgpt")

    async def main() -> None:
        async with stdio(orch.cwd, "chatgpt") as planner, stdio(orch.cwd, "cursor") as cursor:
            nxt = await call(planner, "next_task")
            assert nxt["action"] == "prep" and nxt["tool"] == "prep_task"
            assert nxt["command"] == (
                f"call prep_task with task_id={stub}, goal=..., acceptance_criteria=..., "
                "definition_of_done=..."
            )
            assert nxt["op"]["name"] == "prep"  # type: ignore[index]
            await call(planner, "prep_task", task_id=stub, goal="g")
            await call(cursor, "claim_task", task_id=stub)
            # a refusal names who may do it; its hint is a tool call
            message = await call_error(cursor, "prep_task", task_id=stub, goal="other")
            assert f"prep {stub} needs a planner (chatgpt); cursor is an implementer" in message
            message = await call_error(cursor, "review_task", task_id=stub, approve=True)
            assert "needs a reviewer (codex)" in message and "orch " not in message
            message = await call_error(cursor, "claim_task", task_id="T-zzzzzzzz")
            assert "orch " not in message
            # the implementer is told, as a tool call, to submit what it holds
            cont = await call(cursor, "next_task")
            assert cont["command"] == f"call submit_task with task_id={stub}, note=..."
        async with stdio(orch.cwd, "cusor") as typo:  # a typo in the client's ORCH_AGENT
            message = await call_error(typo, "next_task")
            assert (
                "unknown agent 'cusor'" in message
                and "chatgpt, claude, codex, copilot, cursor" in message
            )

    anyio.run(main)


def test_errors_name_tools_with_their_arguments(orch: Orch) -> None:
    tid = orch.ready("Held by cursor")
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")

    async def main() -> None:
        async with stdio(orch.cwd, "cursor") as cursor:
            message = await call_error(cursor, "claim_task", task_id=tid)
            assert message.endswith(
                f"cannot claim {tid}: it is review (claim needs ready) (the reviewer approves "
                f"it (call review_task with task_id={tid}, approve=true) or sends feedback "
                f"(call review_task with task_id={tid}, approve=false, feedback=...))"
            )

    anyio.run(main)


def test_a_planners_token_cannot_claim_or_approve(orch: Orch) -> None:
    tid = orch.ready("Over HTTP")
    planner = new_token(orch, "chatgpt")
    with http_server(orch.cwd) as server:

        async def main() -> None:
            async with http(server.url, planner) as client:
                message = await call_error(client, "claim_task", task_id=tid)
                assert (
                    f"claim {tid} needs an implementer (cursor, claude, copilot); "
                    "chatgpt is a planner" in message
                )
                orch("claim", tid, "--agent", "cursor")
                orch("review", tid, "--agent", "cursor")
                message = await call_error(client, "review_task", task_id=tid, approve=True)
                assert "needs a reviewer (codex)" in message

        anyio.run(main)
    assert orch.json("show", tid)["status"] == "review"


def test_over_mcp_no_agent_is_not_a_person(orch: Orch) -> None:
    async def main() -> None:
        async with stdio(orch.cwd, None) as anonymous:
            message = await call_error(anonymous, "create_task", title="by nobody")
            assert "who is acting" in message
            made = await call(anonymous, "create_task", title="by the planner", agent="chatgpt")
            assert made["status"] == "pending"

    anyio.run(main)
    assert orch.json("status")["total"] == 1
