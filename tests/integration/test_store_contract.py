"""One contract for every TaskStore. The file board runs it today; SQL stores join the list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_orch.board.files import FileStore
from mcp_orch.domain.errors import TaskNotFound
from mcp_orch.domain.events import Event
from mcp_orch.domain.model import CheckItem, HistoryEntry, Note, Priority, Status, Task
from mcp_orch.store import TaskStore

pytestmark = pytest.mark.mcp


def file_store(tmp_path: Path) -> TaskStore:
    store, _ = FileStore.initialize(str(tmp_path / ".mcp"))
    return store


STORES: dict[str, Callable[[Path], TaskStore]] = {"files": file_store}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TaskStore:
    return STORES[request.param](tmp_path)


def make(task_id: str = "T-abc123", **fields: object) -> Task:
    base = Task(
        id=task_id,
        title="Add login rate limit",
        status=Status.READY,
        priority=Priority.P0,
        created="2026-11-25T13:00:00.000Z",
        updated="2026-11-25T13:00:00.000Z",
        goal="Stop password guessing",
        acceptance=(CheckItem(text="429 after 5 tries"), CheckItem(text="resets", done=True)),
        feedback=(Note(key="FB-1", at="2026-11-25T13:01:00.000Z", author="codex", body="more"),),
        history=(
            HistoryEntry(
                at="2026-11-25T13:00:00.000Z",
                agent="chatgpt",
                op="create",
                from_status="",
                to_status="pending",
            ),
        ),
    )
    return base.evolve(**fields)


def test_an_empty_store_has_no_tasks(store: TaskStore) -> None:
    snap = store.snapshot()
    assert snap.tasks == () and snap.problems == ()
    with pytest.raises(TaskNotFound):
        store.load("T-abc123")


def test_saved_task_loads_back_equal_and_shows_in_snapshot(store: TaskStore) -> None:
    task = make()
    with store.transaction():
        store.save(task)
    assert store.load(task.id) == task
    (summary,) = store.snapshot().tasks
    assert (summary.id, summary.status, summary.priority, summary.open_feedback) == (
        task.id,
        Status.READY,
        Priority.P0,
        1,
    )


def test_a_status_change_moves_the_task_and_keeps_one_copy(store: TaskStore) -> None:
    with store.transaction():
        store.save(make())
    with store.transaction():
        store.save(make(status=Status.IN_PROGRESS, agent="cursor"))
    snap = store.snapshot()
    assert [(t.id, t.status, t.agent) for t in snap.tasks] == [
        ("T-abc123", Status.IN_PROGRESS, "cursor")
    ]
    assert [rel for rel, _ in store.iter_tasks()] == [snap.paths["T-abc123"]]


def test_saving_outside_a_transaction_is_refused(store: TaskStore) -> None:
    with pytest.raises(RuntimeError):
        store.save(make())
    assert store.snapshot().tasks == ()


def test_events_are_kept_in_order_and_filtered(store: TaskStore) -> None:
    for n, task in enumerate(["T-aaa111", "T-bbb222", "T-aaa111"]):
        store.record(Event(at=f"2026-11-25T13:00:0{n}.000Z", agent="cursor", op="claim", task=task))
    assert [e.at[17:19] for e in store.events()] == ["00", "01", "02"]
    assert [e.task for e in store.events("T-aaa111")] == ["T-aaa111", "T-aaa111"]
    assert [e.at for e in store.events(limit=1)] == ["2026-11-25T13:00:02.000Z"]


def test_the_change_token_moves_when_a_task_moves(store: TaskStore) -> None:
    with store.transaction():
        store.save(make())
    before = store.change_token()
    assert store.change_token() == before
    with store.transaction():
        store.save(make(status=Status.REVIEW))
    assert store.change_token() != before


def test_events_after_a_cursor_are_the_new_ones_only(store: TaskStore) -> None:
    assert store.events_after(None) == ([], 0)  # no log yet: from now on
    store.record(Event(at="2026-11-25T13:00:00.000Z", agent="chatgpt", op="create", task="T-a"))
    _, cursor = store.events_after(None)  # from now on: what is there is not news
    assert store.events_after(cursor) == ([], cursor)
    for op in ("prep", "claim"):
        store.record(Event(at="2026-11-25T13:01:00.000Z", agent="cursor", op=op, task="T-a"))
    news, later = store.events_after(cursor)
    assert [e.op for e in news] == ["prep", "claim"] and later > cursor
    assert store.events_after(later) == ([], later)
