"""The MCP endpoint of ``orch serve`` (``/mcp``): the tools of ``orch mcp`` through the
official SDK client, with a bearer token, over the same store as the HTTP API."""

from __future__ import annotations

import anyio
import httpx
import pytest

from tests.acceptance.mcp_support import INIT, call, http
from tests.acceptance.serve_support import serving
from tests.conftest import Orch

pytestmark = [pytest.mark.server]


def test_mcp_answers_tools_list_and_sees_what_the_api_wrote(orch: Orch) -> None:
    with serving(orch, agents=("chatgpt", "cursor")) as served:
        tid = served.ready("Made over HTTP")
        url = f"{served.base}/mcp"
        headers = {"Accept": "application/json, text/event-stream"}
        assert httpx.post(url, json=INIT, headers=headers, timeout=10).status_code == 401

        async def main() -> None:
            async with http(url, served.tokens["cursor"]) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                assert {"next_task", "claim_task", "submit_task", "board_status"} <= tools
                assert (await call(client, "get_task", task_id=tid))["title"] == "Made over HTTP"
                claimed = await call(client, "claim_task", task_id=tid)
                assert claimed["agent"] == "cursor"
                nxt = await call(client, "next_task")
                assert nxt["action"] == "continue" and nxt["task"]["id"] == tid

        anyio.run(main)
        shown = served.ok("chatgpt", "GET", f"tasks/{tid}")
        assert shown["status"] == "in_progress" and shown["assigned_agent"] == "cursor"
        # The claim over MCP took a lease like one over the API: cursor is busy with it.
        assert served.ok("chatgpt", "GET", "agents/cursor")["current_tasks"] == [tid]
