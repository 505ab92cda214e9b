"""No tool answer is unbounded: a task with a long past and a board with many problems are
answered in pieces, each saying what it left out and how to get the rest."""

from __future__ import annotations

import json

import anyio
import pytest

from mcp_orch.domain.model import HistoryEntry
from mcp_orch.interfaces.cli import open_service
from tests.acceptance.mcp_support import call, call_error, stdio
from tests.conftest import Orch

pytestmark = [pytest.mark.server]

BOUND = 100_000  # characters of one answer (~25,000 tokens), whatever the task or board holds
LONG = "the whole trace: " + "x" * 50_000


@pytest.fixture
def heavy(orch: Orch, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ready task with 500 history entries, 100 feedback notes (the last 3 open, one of them
    50 KB long) and 30 errors, saved through the real store."""
    monkeypatch.delenv("ORCH_BOARD", raising=False)
    service = open_service(str(orch.cwd))
    task_id = service.create("Heavy task", agent="chatgpt").id
    service.prep(task_id, goal="survive a long past", acceptance=["it works"], agent="chatgpt")
    with service.store.transaction():
        task = service.store.load(task_id)
        at = task.updated
        steps = tuple(
            HistoryEntry(at, "cursor", "note", "ready", "ready", note=f"step {i}")
            for i in range(len(task.history), 500)
        )
        task = task.evolve(history=(*task.history, *steps))
        for i in range(100):
            body = LONG if i == 98 else f"feedback {i}"
            task = task.add_note(
                "feedback", at=at, author="codex", body=body, source="review", open=i >= 97
            )
        for i in range(30):
            task = task.add_note("errors", at=at, author="cursor", body=f"error {i}", source="test")
        service.store.save(task)
    return task_id


def test_a_task_with_a_long_past_is_answered_bounded_and_paged(orch: Orch, heavy: str) -> None:
    whole = orch.json("show", heavy)
    assert len(whole["history"]) == 500 and len(whole["feedback"]) == 100  # type: ignore[arg-type]

    async def main() -> tuple[list[dict[str, object]], list[object]]:
        answers = []
        async with stdio(orch.cwd, "cursor") as client:
            answers.append(await call(client, "get_task", task_id=heavy))
            nxt = await call(client, "next_task")
            assert nxt["action"] == "claim"
            answers.append(nxt["task"])  # type: ignore[arg-type]
            answers.append(await call(client, "claim_task", task_id=heavy))
            history: list[object] = []
            offset: object = 0
            while offset is not None:
                page = await call(
                    client, "get_task", task_id=heavy, section="history", offset=offset
                )
                assert page["total"] == 501 and len(page["items"]) <= 20  # type: ignore[arg-type]
                history += page["items"]  # type: ignore[arg-type]
                offset = page["next_offset"]
            assert "offset" in await call_error(client, "get_task", task_id=heavy, offset=-1)
            assert "section" in await call_error(client, "get_task", task_id=heavy, section="x")
        return answers, history

    answers, history = anyio.run(main)
    last = [a["history"][-1] for a in answers]  # type: ignore[index]
    assert [h["note"] for h in last[:2]] == ["step 499", "step 499"]
    assert last[2]["op"] == "claim"
    for answer in answers:
        assert len(json.dumps(answer, ensure_ascii=False)) < BOUND
        assert len(answer["history"]) == 20  # type: ignore[arg-type]
        assert len(answer["feedback"]) == 5 and len(answer["errors"]) == 5  # type: ignore[arg-type]
        omitted = answer["omitted"]
        assert omitted["feedback"] == 95 and omitted["errors"] == 25  # type: ignore[index]
        assert omitted["history"] in (480, 481)  # type: ignore[index]  # claim adds one
        assert f"task://{heavy}" in str(answer["more"]) and "section" in str(answer["more"])
        # Every open note is there; the long one cut, saying how much is left and where.
        open_bodies = [n["body"] for n in answer["open_feedback"]]  # type: ignore[attr-defined]
        assert open_bodies[0] == "feedback 97" and open_bodies[2] == "feedback 99"
        assert open_bodies[1].startswith("the whole trace: xxx") and len(open_bodies[1]) < 2_200
        assert f"more characters: task://{heavy}]" in open_bodies[1]
    # Paging the history gives all of it, oldest first, as the CLI shows it.
    claimed = orch.json("show", heavy)
    assert len(history) == 501
    assert [h["note"] for h in history] == [h["note"] for h in claimed["history"]]  # type: ignore[index, attr-defined]


def test_board_status_pages_problems_and_escalations(
    orch: Orch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCH_BOARD", raising=False)
    service = open_service(str(orch.cwd))
    escalated = set()
    for i in range(300):
        task_id = service.create(f"stuck {i:03d}", agent="chatgpt").id
        service.escalate(task_id, agent="cursor", reason=f"unclear spec {i}: " + "why " * 200)
        escalated.add(task_id)
    ready = orch.cwd / ".mcp" / "tasks" / "ready"
    for i in range(300):
        (ready / f"broken-{i:03d}.md").write_text(f"not a task {i}\n")

    async def main() -> tuple[dict[str, object], list[dict[str, object]], str]:
        async with stdio(orch.cwd, "cursor") as client:
            first = await call(client, "board_status")
            pages, offset = [], 0
            while offset is not None:
                page = await call(client, "board_status", offset=offset, limit=200)
                pages.append(page)
                offset = page["next_offset"]  # type: ignore[assignment]
            read = await client.read_resource("board://status")
        return first, pages, read.contents[0].text  # type: ignore[union-attr]

    first, pages, board = anyio.run(main)
    assert len(first["problems"]) == 50 and first["problems_total"] == 300  # type: ignore[arg-type]
    assert len(first["escalated"]) == 50 and first["escalated_total"] == 300  # type: ignore[arg-type]
    assert first["next_offset"] == 50
    assert len(pages) == 2
    # A page of 200 tasks, 200 escalated IDs and 200 problems; the default page is far smaller.
    assert max(len(json.dumps(p, ensure_ascii=False)) for p in pages) < 1.5 * BOUND
    assert len(json.dumps(first, ensure_ascii=False)) < BOUND / 2
    seen = [e for p in pages for e in p["escalated"]]  # type: ignore[attr-defined]
    assert len(seen) == 300 and set(seen) == escalated
    problems = [p["message"] for page in pages for p in page["problems"]]  # type: ignore[attr-defined, index]
    assert len(problems) == 300 and len(set(problems)) == 300
    assert "and 250 more" in board and len(board) < BOUND
