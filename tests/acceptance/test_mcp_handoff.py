"""The spec's Task Handoff Test and Context Preservation Test, driven by three agents through
the real MCP client: over stdio (one ``orch mcp`` process per agent) and over streamable HTTP
(one server, one bearer token per agent). No copy-paste: each agent learns what to do from
``next_task`` alone."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.acceptance.mcp_support import call, http, http_server, new_token, stdio
from tests.conftest import Orch, set_roles, task_file

pytestmark = [pytest.mark.server, pytest.mark.mcp]

GOAL = "Limit login attempts to stop password guessing"
CRITERIA = ["5 failed tries per minute per account", "the 6th try answers 429"]
DOR = ["rate limit numbers agreed with security"]
DOD = ["unit tests pass", "README documents the limit"]
FILES = ["src/auth/login.py", "tests/test_login.py"]
NOTES = "use the existing redis client; key by account id"
FEEDBACK = "the lockout is never reset: add an expiry and a test for it"
ERROR = "pytest tests/test_login.py::test_lockout FAILED: KeyError 'attempts'"


async def handoff(agents: dict[str, Client]) -> str:
    planner, implementer, reviewer = agents["chatgpt"], agents["cursor"], agents["codex"]

    # The planner creates a stub (pending) and fleshes it out (ready).
    assert (await call(planner, "next_task"))["action"] == "idle"
    made = await call(planner, "create_task", title="Add login rate limit", priority="P0")
    task_id = str(made["id"])
    assert made["status"] == "pending"
    nxt = await call(planner, "next_task")
    assert (nxt["action"], nxt["tool"]) == ("prep", "prep_task")
    prepped = await call(
        planner,
        "prep_task",
        task_id=task_id,
        goal=GOAL,
        acceptance_criteria=CRITERIA,
        definition_of_ready=DOR,
        definition_of_done=DOD,
        files=FILES,
        notes=NOTES,
    )
    assert prepped["status"] == "ready"

    # The implementer is told to claim it, with the whole definition in hand.
    nxt = await call(implementer, "next_task")
    assert (nxt["action"], nxt["tool"]) == ("claim", "claim_task")
    task = nxt["task"]
    assert isinstance(task, dict) and task["id"] == task_id and task["goal"] == GOAL
    claimed = await call(implementer, "claim_task", task_id=task_id)
    assert (claimed["status"], claimed["agent"]) == ("in-progress", "cursor")
    assert [c["text"] for c in claimed["acceptance_criteria"]] == CRITERIA  # type: ignore[union-attr]
    assert (await call(implementer, "next_task"))["action"] == "continue"
    await call(implementer, "report_error", task_id=task_id, text=ERROR)
    await call(implementer, "submit_task", task_id=task_id, note="limiter added, tests green")

    # The reviewer sends it back with feedback.
    nxt = await call(reviewer, "next_task")
    assert (nxt["action"], nxt["tool"]) == ("review", "review_task")
    back = await call(reviewer, "review_task", task_id=task_id, approve=False, feedback=FEEDBACK)
    assert (back["status"], back["implementer"], back["open_feedback"]) == ("ready", "cursor", 1)

    # The implementer sees the feedback through next_task alone, fixes and resubmits.
    nxt = await call(implementer, "next_task")
    assert (nxt["action"], nxt["tool"]) == ("fix", "claim_task")
    open_feedback = nxt["task"]["open_feedback"]  # type: ignore[index]
    assert [n["body"] for n in open_feedback] == [FEEDBACK]
    await call(implementer, "claim_task", task_id=task_id)
    await call(implementer, "submit_task", task_id=task_id, note="expiry added with a test")

    # The reviewer approves; nobody has anything left to do.
    assert (await call(reviewer, "next_task"))["action"] == "review"
    done = await call(reviewer, "review_task", task_id=task_id, approve=True)
    assert done["status"] == "done"
    for client in agents.values():
        assert (await call(client, "next_task"))["action"] == "idle"
    return task_id


def assert_context_preserved(project: Path, task_id: str) -> None:
    """Everything every agent said is in the done task's one file."""
    path = task_file(project, task_id)
    assert path.parent.name == "done"
    text = path.read_text()
    for piece in [GOAL, *CRITERIA, *DOR, *DOD, *FILES, NOTES, FEEDBACK, ERROR]:
        assert piece in text, f"{piece!r} was lost on the way"
    for note in ("limiter added, tests green", "expiry added with a test"):
        assert note in text
    history = text[text.index("## History") :]
    for agent, op in [
        ("chatgpt", "create"),
        ("chatgpt", "prep"),
        ("cursor", "claim"),
        ("cursor", "review"),
        ("codex", "feedback"),
        ("codex", "complete"),
    ]:
        assert agent in history and op in history


def test_handoff_over_stdio(orch: Orch) -> None:
    async def main() -> str:
        async with (
            stdio(orch.cwd, "chatgpt") as planner,
            stdio(orch.cwd, "cursor") as implementer,
            stdio(orch.cwd, "codex") as reviewer,
        ):
            return await handoff({"chatgpt": planner, "cursor": implementer, "codex": reviewer})

    task_id = anyio.run(main)
    assert_context_preserved(orch.cwd, task_id)
    # The CLI sees the same board the agents used.
    assert orch.json("show", task_id)["status"] == "done"


def test_handoff_over_http(orch: Orch) -> None:
    tokens = {agent: new_token(orch, agent) for agent in ("chatgpt", "cursor", "codex")}
    with http_server(orch.cwd) as server:

        async def main() -> str:
            async with (
                http(server.url, tokens["chatgpt"]) as planner,
                http(server.url, tokens["cursor"]) as implementer,
                http(server.url, tokens["codex"]) as reviewer,
            ):
                agents = {"chatgpt": planner, "cursor": implementer, "codex": reviewer}
                return await handoff(agents)

        task_id = anyio.run(main)
    assert_context_preserved(orch.cwd, task_id)


def _race_outcome(results: list[object]) -> tuple[int, list[str]]:
    wins = [r for r in results if not r.is_error]  # type: ignore[attr-defined]
    losses = [r.content[0].text for r in results if r.is_error]  # type: ignore[attr-defined]
    return len(wins), losses


def test_two_stdio_clients_claim_at_once_exactly_one_wins(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    task_id = orch.ready("Contended task")

    async def main() -> list[object]:
        results: list[object] = []
        async with stdio(orch.cwd, "cursor") as one, stdio(orch.cwd, "claude") as two:
            ready = anyio.Event()

            async def claim(client: Client) -> None:
                await ready.wait()
                results.append(await client.call_tool("claim_task", {"task_id": task_id}))

            async with anyio.create_task_group() as group:
                group.start_soon(claim, one)
                group.start_soon(claim, two)
                ready.set()
        return results

    wins, losses = _race_outcome(anyio.run(main))
    assert wins == 1 and len(losses) == 1
    holder = orch.json("show", task_id)["agent"]
    assert f"already claimed by {holder}" in losses[0]


def test_two_http_clients_claim_at_once_exactly_one_wins(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    task_id = orch.ready("Contended task")
    one, two = new_token(orch, "cursor"), new_token(orch, "claude")
    with http_server(orch.cwd) as server:

        async def main() -> list[object]:
            results: list[object] = []
            async with http(server.url, one) as a, http(server.url, two) as b:
                ready = anyio.Event()

                async def claim(client: Client) -> None:
                    await ready.wait()
                    results.append(await client.call_tool("claim_task", {"task_id": task_id}))

                async with anyio.create_task_group() as group:
                    group.start_soon(claim, a)
                    group.start_soon(claim, b)
                    ready.set()
            return results

        wins, losses = _race_outcome(anyio.run(main))
    assert wins == 1 and len(losses) == 1
    holder = orch.json("show", task_id)["agent"]
    assert holder in ("cursor", "claude")
    assert f"already claimed by {holder}" in losses[0]
