"""What only the SQL stores do: migrations, the database's own guards, leases and fences,
the events table's columns, races between processes' connections, NOTIFY, leaders.

Each test runs on real SQLite (a temp file) and on the machine's real PostgreSQL (a schema of
its own, dropped afterwards); see sql_support.py.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_orch.domain.agents import Agent
from mcp_orch.domain.errors import AlreadyClaimed, InvalidInput, RevisionConflict, StorageError
from mcp_orch.domain.events import Event
from mcp_orch.domain.model import Priority, Status, Task

from .sql_support import PG_URL, sql_stores

T0 = "2026-12-01T10:00:00.000Z"
T6 = "2026-12-01T10:00:06.000Z"
T9 = "2026-12-01T10:00:09.000Z"


def task(n: int, status: Status = Status.READY) -> Task:
    return Task(
        id=f"T-{n:08d}",
        title=f"task {n}",
        status=status,
        priority=Priority.P1,
        created=T0,
        updated=T0,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stores(kind: str, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    with sql_stores(kind, tmp_path) as make:
        yield make


def raw(store: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run plain SQL on the store's database, outside the store's code."""
    with store._writing() as cur:
        cur.execute(store.dialect.q(sql), params)
        return list(cur.fetchall()) if cur.description else []


def test_migrations_are_recorded_once_and_reopening_applies_nothing(
    stores: Callable[[], Any],
) -> None:
    first = stores()
    assert raw(first, "SELECT id, name FROM _migrations") == [(1, "initial")]
    second = stores()
    assert raw(second, "SELECT id, name FROM _migrations") == [(1, "initial")]
    assert second.revision() == 0


def test_a_database_with_a_newer_schema_is_refused_with_one_clear_error(
    stores: Callable[[], Any],
) -> None:
    store = stores()
    raw(store, "INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)", (7, "x", T0))
    with pytest.raises(StorageError) as info:
        stores()
    assert "has schema 7, this orch knows up to 1" in info.value.message
    assert "upgrade mcp-orch" in info.value.hint
    assert "\n" not in info.value.message


def test_the_database_itself_refuses_a_second_holder(stores: Callable[[], Any]) -> None:
    store = stores()
    sql = (
        "INSERT INTO leases (task_id, agent, fence, expires_at, acquired_at) VALUES (?, ?, ?, ?, ?)"
    )
    raw(store, sql, ("T-00000001", "cursor", 1, T6, T0))
    with pytest.raises(Exception) as info:  # the driver's IntegrityError, not our code's
        raw(store, sql, ("T-00000001", "claude", 2, T6, T0))
    assert "unique" in str(info.value).lower() or "duplicate" in str(info.value).lower()
    assert raw(store, "SELECT agent FROM leases") == [("cursor",)]


def test_grant_refuses_a_leased_task_and_fences_only_go_up(stores: Callable[[], Any]) -> None:
    store = stores()
    with store.transaction() as tx:
        assert tx.fence("T-00000001") == 0
        first = tx.grant("T-00000001", "cursor", T6, T0)
        assert (first.agent, first.fence, first.expires_at) == ("cursor", 1, T6)
    with pytest.raises(AlreadyClaimed, match="cursor"), store.transaction() as tx:
        tx.grant("T-00000001", "claude", T6, T0)
    with store.transaction() as tx:
        assert tx.release("T-00000001", fence=2) is False  # not the holder's fence
        assert tx.release("T-00000001", fence=1) is True
        assert tx.lease("T-00000001") is None
        second = tx.grant("T-00000001", "claude", T9, T0)
    assert second.fence == 2
    with store.transaction() as tx:
        assert tx.renew("T-00000001", "cursor", 1, T9) is False  # the stale holder lost it
        assert tx.renew("T-00000001", "claude", 2, T9) is True
        assert tx.fence("T-00000001") == 2
        assert [lease.task_id for lease in tx.leases("claude")] == ["T-00000001"]
        assert tx.leases("cursor") == ()


def test_expired_is_judged_at_the_time_given(stores: Callable[[], Any]) -> None:
    store = stores()
    with store.transaction() as tx:
        tx.grant("T-00000001", "cursor", T6, T0)
        tx.grant("T-00000002", "cursor", T9, T0)
        assert tx.expired("2026-12-01T10:00:05.999Z") == ()
        assert [x.task_id for x in tx.expired(T6)] == ["T-00000001"]
        assert [x.task_id for x in tx.expired(T9)] == ["T-00000001", "T-00000002"]


def test_a_rolled_back_transaction_leaves_no_task_event_lease_or_agent(
    stores: Callable[[], Any],
) -> None:
    store = stores()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.save(task(1), expected=None)
        tx.record(Event(at=T0, agent="chatgpt", op="create", task="T-00000001"))
        tx.grant("T-00000001", "cursor", T6, T0)
        tx.put_agent(Agent(name="cursor", role="implementer"))
        raise RuntimeError("boom")
    with store.transaction() as tx:
        assert not tx.exists("T-00000001")
        assert tx.fence("T-00000001") == 0
        assert tx.agents() == ()
    assert store.events() == [] and store.revision() == 0


def test_events_keep_the_spec_columns(stores: Callable[[], Any]) -> None:
    store = stores()
    event = Event(
        at=T0,
        agent="orchestrator",
        op="claim",
        task="T-00000001",
        from_status="ready",
        to_status="in-progress",
        note="assigned",
        holder="cursor",
    )
    with store.transaction() as tx:
        tx.record(event)
    [row] = raw(
        store,
        "SELECT type, practice_id, actor, task_id, agent, payload_json, occurred_at FROM events",
    )
    kind_, practice, actor, task_id, agent, payload, occurred = row
    assert (kind_, practice, actor, task_id, agent) == (
        "claim",
        "system",
        "orchestrator",
        "T-00000001",
        "cursor",
    )
    data = store.dialect.unpayload(payload)
    assert data == {
        "from_status": "ready",
        "to_status": "in-progress",
        "outcome": "ok",
        "note": "assigned",
    }
    assert store.dialect.untime(occurred) == T0
    assert store.events() == [event]
    assert store.events_after(0) == ([event], 1)


def test_events_after_pages_in_id_order(stores: Callable[[], Any]) -> None:
    store = stores()
    assert store.events_after(None) == ([], 0)
    for n in range(3):
        with store.transaction() as tx:
            tx.record(Event(at=T0, agent="a", op="create", task=f"T-{n:08d}"))
    events, cursor = store.events_after(1)
    assert [e.task for e in events] == ["T-00000001", "T-00000002"] and cursor == 3
    assert store.events_after(cursor) == ([], 3)
    assert [e.task for e in store.events("T-00000002")] == ["T-00000002"]


def test_attachments_are_kept_with_the_transaction(stores: Callable[[], Any]) -> None:
    store = stores()
    with store.transaction() as tx:
        ref = tx.attach("T-00000001", "tests", "FAILED test_x\n" * 3)
    assert ref.startswith("attachment:")
    assert store.attachment(ref) == "FAILED test_x\n" * 3
    with pytest.raises(InvalidInput):
        store.attachment("attachment:999")


def test_the_agent_registry_round_trips(stores: Callable[[], Any]) -> None:
    store = stores()
    cursor = Agent(
        name="cursor",
        role="implementer",
        capabilities=("backend", "frontend"),
        max_tasks=3,
        status="available",
        source="api",
        last_seen=T0,
    )
    with store.transaction() as tx:
        tx.put_agent(cursor)
        tx.put_agent(Agent(name="codex", role="reviewer"))
    with store.transaction() as tx:
        assert tx.agent("cursor") == cursor
        assert [a.name for a in tx.agents()] == ["codex", "cursor"]
        tx.put_agent(cursor._replace(status="error", error="heartbeats stopped"))
        tx.remove_agent("codex")
    with store.transaction() as tx:
        assert tx.agent("codex") is None
        assert tx.agent("cursor") == cursor._replace(status="error", error="heartbeats stopped")


def _claim(store: Any, task_id: str, agent: str) -> bool:
    """One claim as the service makes it: read the task, lease it, save it in progress."""
    try:
        with store.transaction() as tx:
            stored = tx.get(task_id)
            if stored.task.status is not Status.READY:
                return False
            tx.grant(task_id, agent, T6, T0)
            tx.save(
                stored.task.evolve(status=Status.IN_PROGRESS, agent=agent),
                expected=stored.revision,
            )
            tx.record(Event(at=T0, agent=agent, op="claim", task=task_id))
        return True
    except (AlreadyClaimed, RevisionConflict):
        return False


def test_two_stores_racing_from_many_threads_never_give_a_task_twice(
    stores: Callable[[], Any],
) -> None:
    first, second = stores(), stores()
    sqlite = first.dialect.name == "sqlite"
    tasks, per_store = (250, 4) if sqlite else (1000, 2)  # every thread tries every task
    with first.transaction() as tx:
        for n in range(tasks):
            tx.save(task(n), expected=None)
    wins: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(store: Any, agent: str, seed: int) -> None:
        order = [f"T-{n:08d}" for n in range(tasks)]
        random.Random(seed).shuffle(order)
        for task_id in order:
            if _claim(store, task_id, agent):
                with lock:
                    wins[task_id] += 1

    threads = [
        threading.Thread(target=worker, args=(store, f"agent{i}", i))
        for i, store in enumerate([first, second] * per_store)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == tasks and set(wins.values()) == {1}
    assert raw(first, "SELECT count(*), min(fence), max(fence) FROM leases") == [(tasks, 1, 1)]
    assert raw(first, "SELECT count(*) FROM events") == [(tasks,)]
    holders = raw(first, "SELECT count(*) FROM tasks WHERE status = 'in-progress'")
    assert holders == [(tasks,)]


def test_saves_on_a_stale_revision_from_another_store_are_refused(
    stores: Callable[[], Any],
) -> None:
    first, second = stores(), stores()
    with first.transaction() as tx:
        tx.save(task(1), expected=None)
    with first.transaction() as tx:
        old = tx.get("T-00000001")
    with second.transaction() as tx:
        tx.save(old.task.evolve(title="theirs"), expected=old.revision)
    with pytest.raises(RevisionConflict), first.transaction() as tx:
        tx.save(old.task.evolve(title="mine"), expected=old.revision)
    assert first.load("T-00000001").title == "theirs"
    assert first.snapshot().by_id()["T-00000001"].title == "theirs"


def test_an_unreachable_postgres_is_one_line_that_says_what_to_do() -> None:
    from mcp_orch.store.postgres import PostgresStore

    with pytest.raises(StorageError) as info:
        PostgresStore("postgresql://postgres:secret@127.0.0.1:1/test")
    assert info.value.message.startswith("cannot reach PostgreSQL at postgresql://postgres:***@")
    assert "secret" not in info.value.message and "\n" not in info.value.message
    assert "start PostgreSQL" in info.value.hint


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    with sql_stores("postgres", tmp_path) as make:
        yield make


def test_postgres_notifies_listeners_of_each_commit(pg: Callable[..., Any]) -> None:
    store = pg()
    seen: list[str] = []
    ready, got, stop = threading.Event(), threading.Event(), threading.Event()

    def callback(payload: str) -> None:
        seen.append(payload)
        (got if payload else ready).set()

    thread = threading.Thread(target=store.listen, args=(callback, stop, 0.05))
    thread.start()
    try:
        assert ready.wait(10), "the listener never connected"
        with store.transaction() as tx:
            tx.save(task(1), expected=None)
        assert got.wait(10), "no notification arrived"
    finally:
        stop.set()
        thread.join(10)
    assert seen[-1] == '{"revision": 1}'


def test_postgres_leases_follow_the_database_clock(pg: Callable[..., Any]) -> None:
    store = pg(db_clock=True)
    with store.transaction() as tx:
        # The caller's clock is years behind; only its 6 s duration counts.
        lease = tx.grant("T-00000001", "cursor", "2000-01-01T00:00:06.000Z", "2000-01-01T00:00:00Z")
        short = tx.grant("T-00000002", "cursor", "2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z")
        assert lease.acquired_at > "2026" and lease.expires_at > lease.acquired_at
        assert [x.task_id for x in tx.expired("2000-01-01T00:00:00Z")] == ["T-00000002"]
        assert tx.renew("T-00000001", "cursor", 1, "2000-01-01T00:00:00Z")
        assert tx.lease("T-00000001").expires_at >= lease.expires_at  # type: ignore[union-attr]
        assert short.fence == 1


def test_postgres_leader_is_one_replica_at_a_time(pg: Callable[..., Any]) -> None:
    first, second = pg(), pg()
    one = first.leader("sweeper")
    two = second.leader("sweeper")
    assert one.held and not two.held
    one.release()
    three = second.leader("sweeper")
    assert three.held
    three.release()


def test_postgres_url_has_no_password() -> None:
    from mcp_orch.store.postgres import masked

    assert masked("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert masked(PG_URL) == PG_URL
