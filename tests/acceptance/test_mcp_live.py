"""Between tool calls (issue 12): task IDs completed as a client types, on the ``task://``
template and the prompts, ranked as ``next`` ranks them; and log notifications of what other
processes do on the board, at the level the client set and not below it."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import LoggingMessageNotificationParams, PromptReference, ResourceTemplateReference

from tests.acceptance.mcp_support import http, http_server, new_token, stdio
from tests.conftest import Orch

pytestmark = [
    pytest.mark.server,
    # logging/setLevel is deprecated in the SDK's newest protocol era; the handshake era (what
    # clients speak today, and the conformance suite) still has it.
    pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning"),
]

TEMPLATE = ResourceTemplateReference(uri="task://{task_id}{?page}")


async def complete(client: Client, ref: Any, typed: str) -> tuple[list[str], int | None, bool]:
    got = (await client.complete(ref, {"name": "task_id", "value": typed})).completion
    return got.values, got.total, bool(got.has_more)


def test_task_ids_complete_ranked_for_the_caller_and_filtered(orch: Orch) -> None:
    other = orch.ready("Other work on the login page", "--priority", "P0")
    mine = orch.ready("Rate limit for login", "--priority", "P2")
    orch("claim", mine, "--agent", "cursor")
    stub = orch.create("A stub nobody defined")
    done = orch.ready("Finished login work")
    orch("claim", done, "--agent", "claude")
    orch("review", done, "--agent", "claude")
    orch("complete", done, "--agent", "codex")

    async def main() -> None:
        async with stdio(orch.cwd, "cursor") as client:
            values, total, more = await complete(client, TEMPLATE, "")
            # Its own work first (held, though P2), then ready work, then the rest; done last.
            assert values == [mine, other, stub, done] and total == 4 and not more
            assert (await complete(client, TEMPLATE, "login"))[0] == [mine, other, done]
            assert (await complete(client, TEMPLATE, "LIMIT rate"))[0] == [mine]
            assert (await complete(client, TEMPLATE, mine[:5]))[0][0] == mine
            assert (await complete(client, TEMPLATE, mine[2:6].upper()))[0] == [mine]
            for role in ("planner", "implementer", "reviewer"):
                ref = PromptReference(name=role)
                assert (await complete(client, ref, mine[:6]))[0] == [mine]
            # What is not a task ID argument completes to nothing, without an error.
            nothing = await client.complete(
                PromptReference(name="test_prompt_with_arguments"), {"name": "arg1", "value": "x"}
            )
            assert nothing.completion.values == []
        async with stdio(orch.cwd, "chatgpt") as planner:
            assert (await complete(planner, TEMPLATE, ""))[0][0] == stub  # a stub to define

    anyio.run(main)


def test_at_most_a_hundred_values_with_has_more_and_the_total(orch: Orch) -> None:
    from mcp_orch.interfaces.cli import open_service

    service = open_service(str(orch.cwd))
    for i in range(130):
        service.create(f"bulk task {i:03d}", agent="chatgpt")

    async def main() -> None:
        async with stdio(orch.cwd, "cursor") as client:
            values, total, more = await complete(client, TEMPLATE, "bulk")
            assert len(values) == 100 and total == 130 and more
            values, total, more = await complete(client, TEMPLATE, "bulk task 12")
            assert len(values) == total == 12 and not more  # 012, 112 and 120-129

    anyio.run(main)


Wait = Callable[[Callable[[LoggingMessageNotificationParams], bool]], Awaitable[Any]]


def collector() -> tuple[list[LoggingMessageNotificationParams], Any, Wait]:
    got: list[LoggingMessageNotificationParams] = []
    arrived = {"event": anyio.Event()}

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        got.append(params)
        arrived["event"].set()

    async def wait_for(
        pred: Callable[[LoggingMessageNotificationParams], bool],
    ) -> LoggingMessageNotificationParams:
        with anyio.fail_after(10):
            while True:
                for item in got:
                    if pred(item):
                        return item
                arrived["event"] = anyio.Event()
                await arrived["event"].wait()

    return got, on_log, wait_for


def data(params: LoggingMessageNotificationParams) -> dict[str, str]:
    assert isinstance(params.data, dict)
    return params.data


def test_a_handoff_by_another_agent_arrives_at_the_set_level_and_not_below(orch: Orch) -> None:
    task_id = orch.ready("Reviewed elsewhere")
    orch("claim", task_id, "--agent", "cursor")
    orch("review", task_id, "--agent", "cursor")
    bystander = orch.ready("Someone else's task")
    got, on_log, wait_for = collector()

    async def main() -> None:
        async with stdio(orch.cwd, "cursor", logging_callback=on_log) as client:
            await client.set_logging_level("notice")
            # Below notice (info: new ready work; debug: others' moves): not sent.
            orch("claim", bystander, "--agent", "claude")
            fresh = orch.ready("New ready work")
            # The reviewer, in another process, sends the task back with feedback: a handoff
            # to this agent.
            secret = "the password is hunter2"
            orch("feedback", task_id, "--agent", "codex", "--text", f"rename it; {secret}")
            note = await wait_for(lambda p: data(p)["task"] == task_id)
            assert note.level == "notice" and note.logger == "orch"
            assert data(note)["kind"] == "feedback" and data(note)["by"] == "codex"
            assert "next_task" in data(note)["message"]
            assert all("hunter2" not in str(p.data) for p in got)  # no note text, ever
            # A later notice proves the earlier, quieter events were filtered, not slow.
            orch("claim", task_id, "--agent", "cursor")
            orch("review", task_id, "--agent", "cursor")
            orch("complete", task_id, "--agent", "codex")
            await wait_for(lambda p: data(p)["op"] == "complete")
            assert {p.level for p in got} == {"notice"}
            assert not any(data(p)["task"] in (bystander, fresh) for p in got)
            # Lower the level: the quieter news arrives too.
            await client.set_logging_level("debug")
            other = orch.ready("More ready work")
            ready_note = await wait_for(
                lambda p: data(p)["task"] == other and data(p)["op"] == "prep"
            )
            assert ready_note.level == "info" and data(ready_note)["kind"] == "new-work"

    anyio.run(main)


def test_a_task_held_by_this_agent_changed_by_someone_else_is_a_warning(orch: Orch) -> None:
    task_id = orch.ready("Held by cursor")
    orch("claim", task_id, "--agent", "cursor")
    _, on_log, wait_for = collector()

    async def main() -> None:
        async with stdio(orch.cwd, "cursor", logging_callback=on_log) as client:
            await client.set_logging_level("warning")
            orch("escalate", task_id, "--agent", "codex", "--reason", "spec unclear")
            note = await wait_for(lambda p: data(p)["task"] == task_id)
            assert note.level == "warning" and data(note)["kind"] == "changed"
            assert "spec unclear" not in str(note.data)

    anyio.run(main)


def test_over_http_the_tokens_agent_hears_a_review_handed_to_it(orch: Orch) -> None:
    token = new_token(orch, "codex")
    task_id = orch.ready("Submitted while connected")
    orch("claim", task_id, "--agent", "cursor")
    _, on_log, wait_for = collector()

    async def main(url: str) -> None:
        async with http(url, token, logging_callback=on_log) as client:
            await client.set_logging_level("info")
            orch("review", task_id, "--agent", "cursor", "--note", "done")
            note = await wait_for(lambda p: data(p)["task"] == task_id)
            assert note.level == "notice" and data(note)["kind"] == "handoff"
            assert "review" in data(note)["message"]
            values, _, _ = await complete(client, TEMPLATE, "")
            assert values[0] == task_id  # the reviewer's own work: the review

    with http_server(orch.cwd) as server:
        anyio.run(main, server.url)


def cpu_seconds_of_children() -> dict[int, float]:
    """CPU time (user + system) of each process this test started, by pid (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # fields[1] is the parent's pid
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_watcher_of_an_idle_board_does_not_spin(orch: Orch) -> None:
    got, on_log, _ = collector()

    async def main() -> float:
        async with stdio(orch.cwd, "cursor", logging_callback=on_log) as client:
            await client.set_logging_level("debug")  # the watcher runs
            before = cpu_seconds_of_children()
            await anyio.sleep(2)  # a measuring window, not a wait for anything
            after = cpu_seconds_of_children()
        return max(after[pid] - before.get(pid, 0.0) for pid in after)

    used = anyio.run(main)
    assert used < 0.2, f"an idle server used {used:.2f} s of CPU in 2 s"
    assert got == []
