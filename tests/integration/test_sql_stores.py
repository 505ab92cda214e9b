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
    every = [(1, "initial"), (2, "assignable index")]
    assert raw(first, "SELECT id, name FROM _migrations ORDER BY id") == every
    second = stores()
    assert raw(second, "SELECT id, name FROM _migrations ORDER BY id") == every
    assert second.revision() == 0


def test_a_database_with_a_newer_schema_is_refused_with_one_clear_error(
    stores: Callable[[], Any],
) -> None:
    store = stores()
    raw(store, "INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)", (7, "x", T0))
    with pytest.raises(StorageError) as info:
        stores()
    assert "has schema 7, this orch knows up to 2" in info.value.message
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
    shown = store.events()
    assert shown[0].id.isdigit()  # its row in the table
    assert [e._replace(id="") for e in shown] == [event]
    after, cursor = store.events_after(0)
    assert [e._replace(id="") for e in after] == [event] and cursor == 1


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
            _claim_in(tx, task_id, agent)
            tx.record(Event(at=T0, agent=agent, op="claim", task=task_id))
        return True
    except (AlreadyClaimed, RevisionConflict):
        return False


def test_two_stores_racing_from_many_threads_never_give_a_task_twice(
    stores: Callable[[], Any],
) -> None:
    first, second = stores(), stores()
    sqlite = first.dialect.name == "sqlite"
    if not sqlite:  # the per-task guards alone (locks, CAS, the primary key), unserialized
        first, second = stores(serialize=False), stores(serialize=False)
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
        if not payload:
            ready.set()
        elif payload == '{"revision": 1}':  # ours: the channel also carries other schemas'
            got.set()

    thread = threading.Thread(target=store.listen, args=(callback, stop, 0.05))
    thread.start()
    try:
        assert ready.wait(10), "the listener never connected"
        with store.transaction() as tx:
            tx.save(task(1), expected=None)
        assert got.wait(10), f"no notification of revision 1 arrived: {seen}"
    finally:
        stop.set()
        thread.join(10)


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


KILLED_WRITER = """
import sys
from mcp_orch.domain.events import Event
from mcp_orch.domain.model import Status, Task
kind, where, schema = sys.argv[1:4]
if kind == "sqlite":
    from mcp_orch.store.sqlite import SqliteStore
    store = SqliteStore(where)
else:
    from mcp_orch.store.postgres import PostgresStore
    store = PostgresStore(where, schema=schema, db_clock=False)
def task(n):
    return Task(id=f"T-{n:08d}", title="t", status=Status.READY, created="x", updated="x")
with store.transaction() as tx:
    tx.save(task(1), expected=None)
    tx.record(Event(at="2026-12-01T10:00:00.000Z", agent="a", op="create", task="T-00000001"))
with store.transaction() as tx:
    tx.save(task(2), expected=None)
    tx.record(Event(at="2026-12-01T10:00:00.000Z", agent="a", op="create", task="T-00000002"))
    tx.grant("T-00000001", "a", "2026-12-01T10:00:06.000Z", "2026-12-01T10:00:00.000Z")
    print("inside", flush=True)
    sys.stdin.read()  # killed here, in the middle of the transaction
"""


def test_a_writer_killed_mid_transaction_loses_only_that_transaction(
    kind: str, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    with sql_stores(kind, tmp_path) as make:
        store = make()  # migrated; and for postgres, the schema the child writes in
        where = str(tmp_path / "orch.db") if kind == "sqlite" else PG_URL
        schema = getattr(store, "schema", "") or ""
        with subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, kind, where, schema],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            try:
                assert child.stdout is not None and child.stdout.readline() == "inside\n"
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait(30)
        assert [t.id for t in store.snapshot().tasks] == ["T-00000001"]
        assert [e.task for e in store.events()] == ["T-00000001"]
        with store.transaction() as tx:  # the dead writer holds no lock any more
            assert tx.lease("T-00000001") is None and tx.fence("T-00000001") == 0
            tx.save(task(3), expected=None)
        assert store.revision() == 2


def test_open_store_puts_sqlite_beside_the_board_and_takes_postgres_urls(
    tmp_path: Path,
) -> None:
    from mcp_orch.store.factory import open_store

    from .sql_support import pg_admin, pg_schema

    board = tmp_path / ".mcp"
    board.mkdir()
    lite = open_store("sqlite:///.mcp/orch.db", str(board))
    assert lite.url == f"sqlite:///{board / 'orch.db'}" and (board / "orch.db").is_file()
    assert lite.extras("coordination") is lite and lite.extras("board") is None
    lite.close()  # type: ignore[attr-defined]
    with pg_schema() as schema:
        pg = open_store(f"{PG_URL}?options=-csearch_path%3D{schema}", None)
        with pg.transaction() as tx:
            tx.save(task(1), expected=None)
        pg.close()  # type: ignore[attr-defined]
        with pg_admin() as conn:
            row = conn.execute(f'SELECT count(*) FROM "{schema}".tasks').fetchone()
        assert row == (1,)


def test_a_heartbeat_is_no_news_but_a_new_definition_is(stores: Callable[[], Any]) -> None:
    store = stores()
    cursor = Agent(name="cursor", role="implementer", status="available", last_seen=T0)
    with store.transaction() as tx:
        tx.put_agent(cursor)
        tx.grant("T-00000001", "cursor", T6, T0)
    revision = store.revision()
    with store.transaction() as tx:
        tx.put_agent(cursor._replace(last_seen=T6))
        assert tx.renew("T-00000001", "cursor", 1, T9)
        assert tx.release("T-00000001", fence=7) is False
    assert store.revision() == revision  # nothing for a waiter to wake up for
    with store.transaction() as tx:
        assert tx.agent("cursor") == cursor._replace(last_seen=T6)
        tx.put_agent(cursor._replace(max_tasks=3))
    assert store.revision() == revision + 1


def test_ready_picks_the_most_urgent_and_skips_what_another_transaction_holds(
    pg: Callable[..., Any],
) -> None:
    store = pg(serialize=False)  # per-task locks only: writers run side by side
    with store.transaction() as tx:
        tx.save(task(1).evolve(priority=Priority.P2), expected=None)
        tx.save(task(2), expected=None)
        tx.save(task(3).evolve(priority=Priority.P0), expected=None)
        tx.save(task(4, Status.PENDING).evolve(priority=Priority.P0), expected=None)
    picked, go_on, done = threading.Event(), threading.Event(), threading.Event()
    seen: list[list[str]] = []

    def other() -> None:
        with store.transaction() as tx:
            seen.append([t.id for t in tx.ready(1)])
            picked.set()
            go_on.wait(10)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert picked.wait(10)
        with store.transaction() as tx:  # T-3 is locked by the other transaction: skipped
            assert [t.id for t in tx.ready(5)] == ["T-00000002", "T-00000001"]
    finally:
        go_on.set()
        thread.join(10)
    assert seen == [["T-00000003"]] and done.is_set()
    with store.transaction() as tx:
        assert [t.id for t in tx.ready(5)] == ["T-00000003", "T-00000002", "T-00000001"]


def test_a_snapshot_after_changes_is_the_board_as_a_fresh_read_sees_it(
    stores: Callable[[], Any],
) -> None:
    first, second = stores(), stores()
    with first.transaction() as tx:
        for n in range(5):
            tx.save(task(n), expected=None)
    assert len(first.snapshot().tasks) == 5  # cached from here on
    with second.transaction() as tx:  # another handle (process) changes two, adds one
        for n in (1, 3):
            stored = tx.get(f"T-{n:08d}")
            tx.save(stored.task.evolve(title=f"changed {n}"), expected=stored.revision)
        tx.save(task(9), expected=None)
    snap = first.snapshot()
    fresh = stores().snapshot()
    assert snap.revision == fresh.revision == 2
    assert snap.by_id() == fresh.by_id() and len(snap.tasks) == 6
    assert snap.by_id()["T-00000003"].title == "changed 3"
    with first.transaction() as tx:  # inside a transaction: its own writes too
        stored = tx.get("T-00000000")
        tx.save(stored.task.evolve(status=Status.IN_PROGRESS, agent="x"), expected=stored.revision)
        inside = tx.snapshot().by_id()
        assert inside["T-00000000"].agent == "x" and inside["T-00000003"].title == "changed 3"
    assert first.snapshot().by_id()["T-00000000"].agent == "x"


def test_replicas_starting_together_migrate_once(tmp_path: Path) -> None:
    from mcp_orch.store.postgres import PostgresStore

    from .sql_support import pg_schema

    with pg_schema() as schema:
        opened: list[Any] = []
        errors: list[BaseException] = []

        def start() -> None:
            try:
                opened.append(PostgresStore(PG_URL, schema=schema, max_size=1))
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        try:
            assert errors == [] and len(opened) == 4
            assert raw(opened[0], "SELECT id FROM _migrations ORDER BY id") == [(1,), (2,)]
        finally:
            for store in opened:
                store.close()


def test_postgres_writers_take_turns_so_rules_across_tasks_hold(pg: Callable[..., Any]) -> None:
    """An agent with room for one task: two replicas each read its load and give it a task.
    The second writer's transaction waits for the first to commit, then sees the load."""
    first, second = pg(), pg()
    with first.transaction() as tx:
        tx.save(task(1), expected=None)
        tx.save(task(2), expected=None)
    a_in, a_go, b_read = threading.Event(), threading.Event(), threading.Event()
    given: list[str] = []

    def give(store: Any, task_id: str, inside: threading.Event, go: threading.Event) -> None:
        with store.transaction() as tx:
            load = len(tx.held_by("cursor"))
            inside.set()
            go.wait(10)
            if load < 1:
                _claim_in(tx, task_id, "cursor")
                given.append(task_id)

    a = threading.Thread(target=give, args=(first, "T-00000001", a_in, a_go))
    b = threading.Thread(target=give, args=(second, "T-00000002", b_read, threading.Event()))
    a.start()
    assert a_in.wait(10)
    b.start()
    try:
        assert not b_read.wait(0.3), "the second writer read while the first was writing"
    finally:
        a_go.set()
        a.join(10)
        b.join(10)
    assert given == ["T-00000001"] and b_read.is_set()
    assert [t.id for t in first.snapshot().tasks if t.agent == "cursor"] == ["T-00000001"]


def _claim_in(tx: Any, task_id: str, agent: str) -> None:
    stored = tx.get(task_id)
    tx.grant(task_id, agent, T6, T0)
    after = stored.task.evolve(status=Status.IN_PROGRESS, agent=agent)
    tx.save(after, expected=stored.revision)


def test_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    from mcp_orch.store.sqlite import SqliteStore

    path = tmp_path / "orch.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StorageError) as info:
        SqliteStore(str(path))
    assert str(path) in info.value.message and "\n" not in info.value.message
    assert path.read_text().startswith("these are my notes")  # left as it was


def test_a_snapshot_read_in_a_transaction_is_the_base_of_the_next_and_stays_true(
    stores: Callable[[], Any],
) -> None:
    """The assigner reads the board inside a transaction on every pass: what it read becomes
    the store's base (the next pass reads only what changed), and neither another store's
    commits nor a rolled-back write in a later transaction make the base lie."""
    first, second = stores(), stores()
    with first.transaction() as tx:
        for n in range(3):
            tx.save(task(n), expected=None)
    with first.transaction() as tx:
        base = tx.snapshot()
    assert first._cached() is base  # kept: committed, nothing written before it
    with second.transaction() as tx:
        tx.save(task(1, Status.IN_PROGRESS), expected=tx.get("T-00000001").revision)
        tx.save(task(3), expected=None)
    with pytest.raises(RuntimeError), first.transaction() as tx:
        tx.save(task(4), expected=None)
        assert "T-00000004" in tx.snapshot().by_id()  # its own write, seen but not kept
        raise RuntimeError("roll back")
    with first.transaction() as tx:
        seen = {t.id: t.status for t in tx.snapshot().tasks}
    assert seen == {
        "T-00000000": Status.READY,
        "T-00000001": Status.IN_PROGRESS,
        "T-00000002": Status.READY,
        "T-00000003": Status.READY,
    }
    assert {t.id for t in first.snapshot().tasks} == set(seen)


def test_sqlite_reads_assignable_work_in_index_order_and_stops_at_the_limit(
    tmp_path: Path,
) -> None:
    """The assigner's read walks the ``tasks_assignable`` partial index (no sort of the whole
    board, no scan of it), checking each task's lease by the primary key."""
    from mcp_orch.store.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "orch.db"))
    run: list[str] = []
    try:
        with store.transaction() as tx:
            for n, status in enumerate((Status.READY, Status.REVIEW, Status.DONE) * 20):
                task = Task(id=f"T-{n:08d}", title="t", status=status, created=T0, updated=T0)
                tx.save(task, expected=None)
            store._conn.set_trace_callback(run.append)
            assert len(tx.assignable(5)) == 5
            store._conn.set_trace_callback(None)
            (sql,) = [s for s in run if "NOT EXISTS" in s]
            plan = " | ".join(str(row[3]) for row in tx._x("EXPLAIN QUERY PLAN " + sql))
    finally:
        store.close()
    assert "SCAN tasks USING INDEX tasks_assignable" in plan, plan
    assert "SEARCH leases USING COVERING INDEX" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


# ---------------------------------------------------------------------- memos and caches


class Undo(Exception):
    pass


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The IDs whose Markdown body the SQL stores parse from now on."""
    from mcp_orch.store import sqltx

    parsed: list[str] = []
    real = sqltx.parse_body

    def counting(task_id: str, body: str) -> Task:
        parsed.append(task_id)
        return real(task_id, body)

    monkeypatch.setattr(sqltx, "parse_body", counting)
    return parsed


def test_a_task_read_again_at_its_revision_is_not_parsed_again(
    stores: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = stores(), stores()
    with writer.transaction() as tx:
        tx.save(task(1), expected=None)
    parsed = _parses(monkeypatch)
    with writer.transaction() as tx:
        first = tx.get("T-00000001")  # saved and committed by this store: known already
        assert tx.get("T-00000001").task is first.task
    assert writer.load("T-00000001") == task(1) and parsed == []
    assert reader.load("T-00000001") == task(1) and parsed == ["T-00000001"]  # once per store
    assert reader.load("T-00000001") == task(1) and parsed == ["T-00000001"]
    with reader.transaction() as tx:
        stored = tx.get("T-00000001")
        tx.save(stored.task.evolve(title="changed"), expected=stored.revision)
    assert writer.load("T-00000001").title == "changed"  # the row is read every time
    assert parsed == ["T-00000001", "T-00000001"]


def test_a_rolled_back_save_never_enters_the_task_cache(stores: Callable[[], Any]) -> None:
    """A rolled-back transaction's revision number is taken again by the next writer (here
    another replica): what it saved must not be what a later read at that revision gets."""
    store, other = stores(), stores()
    with store.transaction() as tx:
        tx.save(task(1), expected=None)

    def replace(title: str) -> int:
        with other.transaction() as tx:
            stored = tx.get("T-00000001")
            return tx.save(stored.task.evolve(title=title), expected=stored.revision)

    with pytest.raises(Undo), store.transaction() as tx:
        stored = tx.get("T-00000001")
        tx.save(stored.task.evolve(title="rolled back"), expected=stored.revision)
        assert tx.get("T-00000001").task.title == "rolled back"  # its own write
        raise Undo
    assert replace("by the other") == 2  # the rolled-back number, taken again
    assert store.load("T-00000001").title == "by the other"
    with store.transaction() as tx:
        stored = tx.get("T-00000001")
        with pytest.raises(Undo), store.transaction() as inner:
            inner.save(stored.task.evolve(title="undone inside"), expected=stored.revision)
            assert inner.get("T-00000001").task.title == "undone inside"
            raise Undo
    assert replace("again") == 3
    assert store.load("T-00000001").title == "again"


def test_agents_and_leases_read_through_the_memo_are_always_fresh(
    stores: Callable[[], Any],
) -> None:
    first, other = stores(), stores()
    cursor = Agent(name="cursor", role="implementer", capabilities=("backend",), max_tasks=2)
    with first.transaction() as tx:
        tx.put_agent(cursor._replace(status="available", last_seen=T0))
        tx.grant("T-00000001", "cursor", T6, T0)
    with first.transaction() as tx:
        assert tx.agents() == (cursor._replace(status="available", last_seen=T0),)
        (lease,) = tx.leases()
        assert tx.lease("T-00000001") is lease  # the same row: the same object
    with other.transaction() as tx:  # another replica changes both rows
        tx.put_agent(cursor._replace(status="busy", last_seen=T6, capabilities=("ui",)))
        assert tx.renew("T-00000001", "cursor", 1, T9)
    with first.transaction() as tx:
        assert tx.agent("cursor") == cursor._replace(
            status="busy", last_seen=T6, capabilities=("ui",)
        )
        assert [x.expires_at for x in tx.leases()] == [T9]
        tx.remove_agent("cursor")
        assert tx.agents() == ()


def test_a_transaction_reads_its_own_saves_without_parsing_them(
    stores: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = stores()
    parsed = _parses(monkeypatch)
    with store.transaction() as tx:
        tx.save(task(1), expected=None)
        first = tx.get("T-00000001")
        assert first.task == task(1)
        second = first.task.evolve(title="second")
        tx.save(second, expected=first.revision)
        with pytest.raises(Undo), store.transaction() as inner:
            again = inner.get("T-00000001")
            inner.save(again.task.evolve(title="undone"), expected=again.revision)
            assert inner.get("T-00000001").task.title == "undone"
            raise Undo
        # the same revision as the undone save: what is read is the save before it
        assert tx.get("T-00000001").task == second
    assert parsed == []
    assert stores().load("T-00000001") == second
