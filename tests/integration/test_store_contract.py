"""One contract for every TaskStore: each backend in ``STORES`` runs every test here.

Adding a backend is one line in ``STORES``: a function that, given a fresh temp folder, returns
an opener; each call of the opener is one more handle on the same storage (the file board
opened again, the same memory store, a new database connection), as separate processes or
requests would have.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_orch.board.files import FileStore
from mcp_orch.config import Config
from mcp_orch.domain.errors import AlreadyClaimed, OrchError, RevisionConflict, TaskNotFound
from mcp_orch.domain.events import Event
from mcp_orch.domain.model import CheckItem, HistoryEntry, Note, Priority, Status, Task
from mcp_orch.service import ManualClock, Service
from mcp_orch.store import TaskStore
from mcp_orch.store.memory import MemoryStore

from .sql_support import sql_stores

pytestmark = pytest.mark.mcp

Opener = Callable[[], TaskStore]


def file_store(tmp_path: Path) -> Opener:
    board = str(tmp_path / ".mcp")
    FileStore.initialize(board)
    return lambda: FileStore(board)


def memory_store(tmp_path: Path) -> Opener:
    store = MemoryStore()
    return lambda: store


_OPEN: list[AbstractContextManager[Opener]] = []  # databases to close and drop after a test


def _sql(kind: str, tmp_path: Path) -> Opener:
    """Stores on one SQLite file, or on one PostgreSQL schema (see sql_support.py)."""
    opened = sql_stores(kind, tmp_path)
    _OPEN.append(opened)
    return opened.__enter__()


STORES: dict[str, Callable[[Path], Opener]] = {
    "files": file_store,
    "memory": memory_store,
    "sqlite": lambda tmp_path: _sql("sqlite", tmp_path),
    "postgres": lambda tmp_path: _sql("postgres", tmp_path),
}


@pytest.fixture(params=sorted(STORES))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    yield STORES[request.param](tmp_path)
    while _OPEN:
        _OPEN.pop().__exit__(None, None, None)


@pytest.fixture
def store(store_factory: Opener) -> TaskStore:
    return store_factory()


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
    return base.evolve(**fields)  # type: ignore[arg-type]


def event(op: str = "claim", task: str = "T-abc123", **fields: str) -> Event:
    fields = {"agent": "cursor", **fields}
    return Event(at="2026-11-25T13:00:00.000Z", op=op, task=task, **fields)


def put(store: TaskStore, task: Task) -> None:
    """Save ``task`` whatever is there: a new task, or over the revision just read."""
    with store.transaction() as tx:
        expected = tx.get(task.id).revision if tx.exists(task.id) else None
        tx.save(task, expected=expected)


def service_on(store: TaskStore) -> Service:
    clock = ManualClock(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    return Service(store, Config(enforce_roles=False), clock)


# ---------------------------------------------------------------------- tasks


def test_an_empty_store_has_no_tasks(store: TaskStore) -> None:
    snap = store.snapshot()
    assert snap.tasks == () and snap.problems == ()
    with pytest.raises(TaskNotFound):
        store.load("T-abc123")
    with store.transaction() as tx, pytest.raises(TaskNotFound):
        tx.get("T-abc123")


def test_saved_task_loads_back_equal_and_shows_in_snapshot(store: TaskStore) -> None:
    task = make()
    put(store, task)
    assert store.load(task.id) == task
    (summary,) = store.snapshot().tasks
    assert (summary.id, summary.status, summary.priority, summary.open_feedback) == (
        task.id,
        Status.READY,
        Priority.P0,
        1,
    )


def test_a_status_change_keeps_one_copy(store: TaskStore) -> None:
    put(store, make())
    put(store, make(status=Status.IN_PROGRESS, agent="cursor"))
    snap = store.snapshot()
    assert [(t.id, t.status, t.agent) for t in snap.tasks] == [
        ("T-abc123", Status.IN_PROGRESS, "cursor")
    ]
    assert snap.problems == ()


def test_reads_in_a_transaction_see_its_own_writes(store: TaskStore) -> None:
    put(store, make("T-dep111", status=Status.DONE))
    with store.transaction() as tx:
        tx.save(
            make(status=Status.IN_PROGRESS, agent="cursor", depends=("T-dep111",)), expected=None
        )
        assert tx.exists("T-abc123") and not tx.exists("T-zzz999")
        assert tx.load("T-abc123").agent == "cursor"
        assert tx.statuses(["T-abc123", "T-dep111", "T-zzz999"]) == {
            "T-abc123": Status.IN_PROGRESS,
            "T-dep111": Status.DONE,
        }
        assert [t.id for t in tx.held_by("cursor")] == ["T-abc123"] and not tx.held_by("codex")
        assert tx.graph() == {"T-abc123": ("T-dep111",), "T-dep111": ()}
        assert [n.key for n in tx.open_feedback("T-abc123")] == ["FB-1"]
        assert {t.id for t in tx.snapshot().tasks} == {"T-abc123", "T-dep111"}
    assert store.load("T-abc123").agent == "cursor"


# ---------------------------------------------------------------------- compare-and-swap


def test_a_save_over_a_newer_revision_is_refused(store: TaskStore) -> None:
    put(store, make())
    with store.transaction() as tx:
        first = tx.get("T-abc123")
    with store.transaction() as tx:
        tx.save(first.task.evolve(title="the first writer"), expected=first.revision)
    with pytest.raises(RevisionConflict), store.transaction() as tx:
        tx.save(first.task.evolve(title="the second writer"), expected=first.revision)
    assert store.load("T-abc123").title == "the first writer"


def test_a_new_task_over_an_existing_id_is_refused(store: TaskStore) -> None:
    put(store, make())
    with pytest.raises(RevisionConflict), store.transaction() as tx:
        tx.save(make(title="an impostor"), expected=None)
    assert store.load("T-abc123").title == "Add login rate limit"


def test_a_replace_of_a_task_that_is_not_there_is_refused(store: TaskStore) -> None:
    with pytest.raises(RevisionConflict), store.transaction() as tx:
        tx.save(make(), expected=1)
    assert store.snapshot().tasks == ()


def test_a_saved_task_has_a_new_revision(store: TaskStore) -> None:
    put(store, make())
    with store.transaction() as tx:
        before = tx.get("T-abc123").revision
    put(store, make(title="renamed"))
    with store.transaction() as tx:
        after = tx.get("T-abc123").revision
    assert before > 0 and after > 0 and after != before


# ---------------------------------------------------------------------- units of work


def test_an_exception_rolls_back_tasks_events_and_attachments(store: TaskStore) -> None:
    put(store, make())
    revision, events = store.revision(), store.events()
    with pytest.raises(ZeroDivisionError), store.transaction() as tx:
        stored = tx.get("T-abc123")
        tx.save(stored.task.evolve(title="never"), expected=stored.revision)
        tx.save(make("T-new111"), expected=None)
        tx.record(event())
        tx.attach("T-abc123", "attempt-1-abc.md", "the log")
        raise ZeroDivisionError
    assert store.load("T-abc123").title == "Add login rate limit"
    assert [t.id for t in store.snapshot().tasks] == ["T-abc123"]
    assert store.events() == events and store.revision() == revision
    board = store.extras("board")
    if isinstance(board, FileStore):
        assert not (Path(board.root) / "feedback" / "T-abc123").exists()


def test_the_event_commits_with_the_task(store: TaskStore) -> None:
    _, cursor = store.events_after(None)
    with store.transaction() as tx:
        tx.save(make(), expected=None)
        tx.record(event("create", to_status="ready"))
    assert store.load("T-abc123") == make()
    news, _ = store.events_after(cursor)
    assert [(e.op, e.task, e.to_status) for e in news] == [("create", "T-abc123", "ready")]


def test_the_revision_rises_with_every_transaction_that_writes(store: TaskStore) -> None:
    seen = [store.revision()]
    put(store, make())
    seen.append(store.revision())
    with store.transaction() as tx:
        tx.record(event())
    seen.append(store.revision())
    with store.transaction() as tx:
        tx.load("T-abc123")  # reads only
    assert store.revision() >= seen[-1]
    put(store, make(title="again"))
    seen.append(store.revision())
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert store.snapshot().revision == store.revision()


def test_another_handle_sees_what_one_committed(store_factory: Opener) -> None:
    one, two = store_factory(), store_factory()
    put(one, make())
    assert two.load("T-abc123") == make()
    assert two.revision() == one.revision() > 0


def test_the_change_token_moves_when_a_task_changes(store: TaskStore) -> None:
    put(store, make())
    before = store.change_token()
    assert store.change_token() == before
    put(store, make(status=Status.REVIEW))
    assert store.change_token() != before


def test_an_attachment_is_kept_with_its_task(store: TaskStore) -> None:
    with store.transaction() as tx:
        tx.save(make(), expected=None)
        first = tx.attach("T-abc123", "attempt-1-aaa.md", "FAILED test_login\n")
        second = tx.attach("T-abc123", "attempt-2-bbb.md", "FAILED test_reset\n")
    assert first and second and first != second
    assert store.attachment(first) == "FAILED test_login\n"
    assert store.attachment(second) == "FAILED test_reset\n"


# ---------------------------------------------------------------------- events


def test_events_are_kept_in_order_and_filtered(store: TaskStore) -> None:
    for n, task in enumerate(["T-aaa111", "T-bbb222", "T-aaa111"]):
        with store.transaction() as tx:
            tx.record(event(task=task)._replace(at=f"2026-11-25T13:00:0{n}.000Z"))
    assert [e.at[17:19] for e in store.events()] == ["00", "01", "02"]
    assert [e.task for e in store.events("T-aaa111")] == ["T-aaa111", "T-aaa111"]
    assert [e.at for e in store.events(limit=1)] == ["2026-11-25T13:00:02.000Z"]


def test_a_page_of_events_is_filtered_counted_and_paged_in_the_store(store: TaskStore) -> None:
    from mcp_orch.store.eventpage import events_page, query

    steps = [("T-aaa111", "claim"), ("T-bbb222", "claim"), ("T-aaa111", "submit")] * 3
    for n, (task, op) in enumerate(steps):
        with store.transaction() as tx:
            tx.record(event(op, task=task)._replace(at=f"2026-11-25T13:00:0{n}.000Z"))

    def page(**asked: object) -> tuple[list[str], int]:
        got = events_page(store, query(**asked))  # type: ignore[arg-type]
        return [f"{e.task[2]}{e.op[0]}{e.at[18]}" for e in got.events], got.total

    assert page(limit=4) == (["ac0", "bc1", "as2", "ac3"], 9)  # oldest first
    assert page(offset=7, limit=4) == (["bc7", "as8"], 9)
    assert page(task_id="T-aaa111", type="claim") == (["ac0", "ac3", "ac6"], 3)
    # since: a time in any ISO form, the events at or after it.
    assert page(since="2026-11-25T14:00:05+01:00", type="submit") == (["as5", "as8"], 2)
    assert page(since="2026-11-25T13:00:09Z") == ([], 0)
    with pytest.raises(OrchError, match="since is not a time"):
        query(since="yesterday")
    ids = [e.id for e in store.events()]
    if all(ids):  # a SQL store: since_id is the events recorded after that one
        assert page(since_id=int(ids[6])) == (["bc7", "as8"], 2)
        assert page(since_id=int(ids[1]), task_id="T-bbb222", limit=1) == (["bc4"], 2)
    else:  # the file board's and the memory store's events have no ids: said, not ignored
        with pytest.raises(OrchError, match="no ids"):
            page(since_id=1)


def test_events_after_a_cursor_are_the_new_ones_only(store: TaskStore) -> None:
    assert store.events_after(None) == ([], 0)  # nothing yet: from now on
    store.record_refused(event("create", task="T-a", outcome="refused"))
    _, cursor = store.events_after(None)  # from now on: what is there is not news
    assert store.events_after(cursor) == ([], cursor)
    for op in ("prep", "claim"):
        with store.transaction() as tx:
            tx.record(event(op, task="T-a"))
    news, later = store.events_after(cursor)
    assert [e.op for e in news] == ["prep", "claim"] and later > cursor
    assert store.events_after(later) == ([], later)


def test_an_agent_is_known_by_its_work_not_by_its_refusals(store: TaskStore) -> None:
    put(store, make(implementer="codex"))
    store.record_refused(event(agent="typo", outcome="refused"))
    with store.transaction() as tx:
        tx.record(Event(at="2026-11-25T13:00:00.000Z", agent="chatgpt", op="prep"))
    with store.transaction() as tx:
        assert tx.knows_agent("codex") and tx.knows_agent("chatgpt")
        assert not tx.knows_agent("typo") and not tx.knows_agent("nobody")


# ---------------------------------------------------------------------- through the service


def ready_task(service: Service) -> str:
    task_id = service.create("Add login rate limit", agent="chatgpt").id
    service.prep(task_id, goal="stop password guessing", agent="chatgpt")
    return task_id


def test_concurrent_claims_through_the_service_have_one_winner(store_factory: Opener) -> None:
    task_id = ready_task(service_on(store_factory()))
    agents = [f"agent{n}" for n in range(8)]
    services = [service_on(store_factory()) for _ in agents]
    start = threading.Barrier(len(agents))
    outcomes: dict[str, str] = {}

    def claim(service: Service, agent: str) -> None:
        start.wait()
        try:
            service.claim(task_id, agent=agent)
            outcomes[agent] = "won"
        except OrchError as exc:
            outcomes[agent] = exc.code

    threads = [
        threading.Thread(target=claim, args=pair) for pair in zip(services, agents, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [a for a, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    assert sorted(set(outcomes.values())) == ["already_claimed", "won"]
    store = store_factory()
    assert store.load(task_id).agent == winners[0]
    claims = [e for e in store.events(task_id) if e.op == "claim"]
    assert sorted(e.outcome for e in claims) == ["ok", *["refused"] * 7]


def test_a_refused_step_changes_nothing_and_leaves_one_refused_event(store: TaskStore) -> None:
    service = service_on(store)
    task_id = ready_task(service)
    service.claim(task_id, agent="cursor")
    with store.transaction() as tx:
        before = tx.get(task_id)
    _, cursor = store.events_after(None)
    with pytest.raises(AlreadyClaimed):
        service.claim(task_id, agent="codex")
    with store.transaction() as tx:
        assert tx.get(task_id) == before
    news, _ = store.events_after(cursor)
    assert [(e.op, e.agent, e.outcome, e.task) for e in news] == [
        ("claim", "codex", "refused", task_id)
    ]
    assert "already claimed by cursor" in news[0].note


def test_a_step_saves_the_task_and_its_event_together(store: TaskStore) -> None:
    service = service_on(store)
    task_id = ready_task(service)
    _, cursor = store.events_after(None)
    service.claim(task_id, agent="cursor")
    news, _ = store.events_after(cursor)
    assert [(e.op, e.from_status, e.to_status) for e in news] == [("claim", "ready", "in-progress")]
    assert store.load(task_id).agent == "cursor"


# ---------------------------------------------------------------------- the file board only


def test_the_file_board_refuses_a_save_over_a_hand_edit(tmp_path: Path) -> None:
    store = file_store(tmp_path)()
    put(store, make())
    board = store.extras("board")
    assert isinstance(board, FileStore)
    (rel,) = board.paths()["T-abc123"]
    with store.transaction() as tx:
        stored = tx.get("T-abc123")
        path = Path(board.path(rel))
        path.write_text(path.read_text(encoding="utf-8") + "\nedited by hand\n", encoding="utf-8")
        with pytest.raises(RevisionConflict):
            tx.save(stored.task.evolve(title="over the edit"), expected=stored.revision)
    assert "edited by hand" in Path(board.path(rel)).read_text(encoding="utf-8")


def test_only_the_file_board_declares_the_board_capability(store: TaskStore) -> None:
    board = store.extras("board")
    assert (board is not None) == (store.url == "files")
    assert store.extras("no-such-capability") is None


def test_the_file_board_mirrors_an_escalated_task_when_it_saves_it(tmp_path: Path) -> None:
    store = file_store(tmp_path)()
    mirror = tmp_path / ".mcp" / "escalations" / "T-abc123.md"
    escalated = make().add_note(
        "escalations",
        at="2026-11-25T13:02:00.000Z",
        author="cursor",
        body="spec unclear",
        source="manual",
    )
    put(store, escalated)
    assert "spec unclear" in mirror.read_text(encoding="utf-8")
    put(
        store,
        escalated.evolve(
            escalations=tuple(n.resolve("2026-11-25T13:03:00.000Z") for n in escalated.escalations)
        ),
    )
    assert not mirror.exists()
    with pytest.raises(ZeroDivisionError), store.transaction() as tx:
        tx.save(escalated, expected=tx.get("T-abc123").revision)
        raise ZeroDivisionError
    assert not mirror.exists()  # rolled back: no mirror of what was never saved
