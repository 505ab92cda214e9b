"""One contract for the coordination part of every store (seam.md, "Coordination"): agents,
leases and fences, with the invariants the orchestrator relies on. ``BACKENDS`` lists the
backends that keep them (memory first; the SQL stores join with one line each)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mcp_orch.config import Config
from mcp_orch.domain.agents import Agent
from mcp_orch.domain.errors import AlreadyClaimed, InvalidInput, OrchError, TaskNotFound
from mcp_orch.domain.events import Event
from mcp_orch.domain.model import Note, Priority, Status, Task
from mcp_orch.domain.policy import Summary, summarize
from mcp_orch.service import ManualClock, Service
from mcp_orch.store import TaskStore, Tx, joined
from mcp_orch.store.coordination import CoordinatedTx
from mcp_orch.store.memory import MemoryStore
from tests.integration.sql_support import sql_stores

pytestmark = pytest.mark.mcp

BACKENDS = ("memory", "sqlite", "postgres")  # a new backend: one more name here
T0, T1, T2 = "2026-12-01T12:00:00.000Z", "2026-12-01T12:00:06.000Z", "2026-12-01T12:00:12.000Z"


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    with sql_stores(request.param, tmp_path) as make:
        made = make()
        assert made.extras("coordination") is not None
        yield made


class Rollback(Exception):
    pass


def test_agents_are_put_replaced_listed_and_removed(store: TaskStore) -> None:
    cursor = Agent(name="cursor", role="implementer", capabilities=("backend",), max_tasks=3)
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.put_agent(cursor)
        c.put_agent(Agent(name="codex", role="reviewer"))
        assert c.agent("cursor") == cursor  # its own writes
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert [a.name for a in c.agents()] == ["codex", "cursor"]
        c.put_agent(cursor._replace(status="available", last_seen=T0))
        c.remove_agent("codex")
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.agents() == (cursor._replace(status="available", last_seen=T0),)
        assert c.agent("codex") is None


def test_one_lease_per_task_and_fences_only_go_up(store: TaskStore) -> None:
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        assert c.fence("T-aaaaaa") == 0 and c.lease("T-aaaaaa") is None
        first = c.grant("T-aaaaaa", "cursor", T1, T0)
        assert (first.agent, first.fence, first.expires_at, first.acquired_at) == (
            "cursor",
            1,
            T1,
            T0,
        )
    with pytest.raises(AlreadyClaimed), store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        c.grant("T-aaaaaa", "claude", T1, T0)
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.lease("T-aaaaaa") == first
        assert not c.release("T-aaaaaa", fence=7)  # not the lease of that fence
        assert c.release("T-aaaaaa", fence=1)
        assert c.lease("T-aaaaaa") is None and c.fence("T-aaaaaa") == 1  # kept after
        second = c.grant("T-aaaaaa", "claude", T2, T1)
    assert second.fence == 2
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.leases() == (second,) and c.leases("cursor") == ()


def test_renew_only_the_agents_lease_of_that_fence(store: TaskStore) -> None:
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.grant("T-aaaaaa", "cursor", T1, T0)
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert not c.renew("T-aaaaaa", "claude", 1, T2)
        assert not c.renew("T-aaaaaa", "cursor", 2, T2)
        assert not c.renew("T-bbbbbb", "cursor", 1, T2)
        assert c.renew("T-aaaaaa", "cursor", 1, T2)
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        lease = c.lease("T-aaaaaa")
        assert lease is not None and lease.expires_at == T2


def test_renew_all_moves_every_lease_of_the_agent_and_no_other(store: TaskStore) -> None:
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.grant("T-bbbbbb", "cursor", T1, T0)
        c.grant("T-aaaaaa", "cursor", T0, T0)
        c.grant("T-cccccc", "claude", T1, T0)
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        renewed = c.renew_all("cursor", T2)
        assert [(x.task_id, x.fence, x.expires_at) for x in renewed] == [
            ("T-aaaaaa", 1, T2),
            ("T-bbbbbb", 1, T2),
        ]
        assert c.renew_all("nobody", T2) == ()
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert [x.expires_at for x in c.leases("cursor")] == [T2, T2]
        assert [x.expires_at for x in c.leases("claude")] == [T1]


def test_expired_lists_the_leases_run_out_soonest_first(store: TaskStore) -> None:
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.grant("T-late00", "cursor", T2, T0)
        c.grant("T-soon00", "claude", T1, T0)
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.expired(T0) == ()
        assert [x.task_id for x in c.expired(T1)] == ["T-soon00"]  # at the expiry: expired
        assert [x.task_id for x in c.expired(T2)] == ["T-soon00", "T-late00"]
        assert [x.task_id for x in c.leases()] == ["T-soon00", "T-late00"]


def test_a_rolled_back_transaction_leaves_no_lease_agent_or_fence(store: TaskStore) -> None:
    with pytest.raises(Rollback), store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.put_agent(Agent(name="cursor", role="implementer"))
        c.grant("T-aaaaaa", "cursor", T1, T0)
        raise Rollback
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.agents() == () and c.lease("T-aaaaaa") is None and c.fence("T-aaaaaa") == 0


def test_a_change_of_holder_moves_the_revision(store: TaskStore) -> None:
    start = store.revision()
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.grant("T-aaaaaa", "cursor", T1, T0)
    granted = store.revision()
    assert granted > start  # next --wait wakes: the board's holders changed
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        c.release("T-aaaaaa", 1)
    assert store.revision() > granted


# ---------------------------------------------------------------------- nested transactions


def _task(task_id: str, status: Status = Status.READY, **fields: object) -> Task:
    base = Task(
        id=task_id,
        title=f"task {task_id}",
        status=status,
        priority=Priority.P1,
        created=T0,
        updated=T0,
    )
    return base.evolve(**fields)  # type: ignore[arg-type]


def _event(op: str, task: str, **fields: str) -> Event:
    return Event(at=T0, op=op, task=task, agent="cursor", **fields)


def test_an_inner_block_that_raises_undoes_only_its_own_writes(store: TaskStore) -> None:
    start = store.revision()
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.save(_task("T-outer0"), expected=None)
        c.record(_event("create", "T-outer0"))
        with pytest.raises(Rollback), store.transaction() as inner:
            assert inner is tx  # the same transaction object, whatever the depth
            i: CoordinatedTx = inner  # type: ignore[assignment]
            i.save(_task("T-inner0"), expected=None)
            i.save(_task("T-outer0", title="changed inside"), expected=i.get("T-outer0").revision)
            i.record(_event("create", "T-inner0"))
            ref = i.attach("T-inner0", "gate", "output")
            i.put_agent(Agent(name="inner", role="implementer"))
            i.grant("T-outer0", "inner", T1, T0)
            raise Rollback
        assert not c.exists("T-inner0")  # gone at once, within the outer transaction
        assert c.load("T-outer0").title == "task T-outer0"
        assert c.lease("T-outer0") is None and c.fence("T-outer0") == 0
        assert c.agent("inner") is None
        c.grant("T-outer0", "cursor", T1, T0)  # the outer goes on after catching it
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert not c.exists("T-inner0") and c.load("T-outer0").title == "task T-outer0"
        assert c.agents() == ()
        lease = c.lease("T-outer0")
        assert lease is not None and (lease.agent, lease.fence) == ("cursor", 1)
    assert [(e.op, e.task) for e in store.events()] == [("create", "T-outer0")]
    with pytest.raises(InvalidInput):
        store.attachment(ref)
    assert store.revision() == start + 1  # one commit


def test_a_rolled_back_inner_block_that_took_the_revision_gives_it_back(
    store: TaskStore,
) -> None:
    """The inner block's save took the transaction's revision; after the rollback the outer's
    own save takes it anew, so its task and the store agree on the revision committed."""
    start = store.revision()
    with store.transaction() as tx:
        with pytest.raises(Rollback), store.transaction() as inner:
            inner.save(_task("T-inner0"), expected=None)
            raise Rollback
        revision = tx.save(_task("T-outer0"), expected=None)
    assert store.revision() == start + 1 == revision
    with store.transaction() as tx:
        assert tx.get("T-outer0").revision == revision


def test_inner_blocks_commit_only_with_the_outermost(store: TaskStore) -> None:
    with pytest.raises(Rollback), store.transaction() as tx:
        with store.transaction() as inner:
            inner.save(_task("T-inner0"), expected=None)
        with store.transaction() as middle:
            with pytest.raises(Rollback), store.transaction() as innermost:
                innermost.save(_task("T-deeper"), expected=None)
                raise Rollback
            middle.save(_task("T-middle"), expected=None)
        assert tx.exists("T-inner0") and tx.exists("T-middle") and not tx.exists("T-deeper")
        raise Rollback  # the outermost rolls back: the inner blocks' writes go with it
    with store.transaction() as tx:
        assert not any(tx.exists(t) for t in ("T-inner0", "T-middle", "T-deeper"))
    with store.transaction() as tx:
        with store.transaction() as inner:
            inner.save(_task("T-inner0"), expected=None)
        with pytest.raises(Rollback), store.transaction() as inner:
            inner.save(_task("T-second"), expected=None)
            raise Rollback
    with store.transaction() as tx:
        assert tx.exists("T-inner0") and not tx.exists("T-second")


def test_a_database_error_in_an_inner_block_is_an_orch_error_the_outer_may_survive(
    store: TaskStore,
) -> None:
    """A statement the database refuses (on PostgreSQL this aborts the whole transaction
    until the savepoint is rolled back to)."""
    if isinstance(store, MemoryStore):
        pytest.skip("the memory store has no database to refuse a statement")
    with store.transaction() as tx:
        tx.save(_task("T-outer0"), expected=None)
        with pytest.raises(OrchError), store.transaction() as inner:
            inner.save(_task("T-inner0"), expected=None)
            inner._x("INSERT INTO fences (task_id, fence) VALUES ('T-inner0', 0)")  # type: ignore[attr-defined]
        tx.save(_task("T-outer1"), expected=None)
    with store.transaction() as tx:
        assert tx.exists("T-outer0") and tx.exists("T-outer1") and not tx.exists("T-inner0")


def _refused(store: TaskStore, task: str) -> list[Event]:
    return [e for e in store.events() if e.task == task and e.outcome == "refused"]


def test_a_refused_step_inside_an_outer_that_rolls_back_keeps_its_one_event(
    store: TaskStore,
) -> None:
    service = Service(store, Config(enforce_roles=False), ManualClock(datetime(2026, 12, 1)))
    with pytest.raises(Rollback), store.transaction() as tx:
        tx.save(_task("T-outer0"), expected=None)
        with pytest.raises(TaskNotFound):
            service.claim("T-000404", agent="cursor")  # its own (inner) block is refused
        raise Rollback
    assert [(e.op, e.agent) for e in _refused(store, "T-000404")] == [("claim", "cursor")]
    assert [e.task for e in store.events()] == ["T-000404"]  # the outer's work is gone
    with store.transaction() as tx:
        assert not tx.exists("T-outer0")


def test_a_refused_event_inside_a_committing_outer_is_written_once_after_it(
    store: TaskStore,
) -> None:
    with store.transaction() as tx:
        tx.record(_event("create", "T-outer0"))
        store.record_refused(_event("claim", "T-000404", outcome="refused"))
        tx.record(_event("prep", "T-outer0"))
    assert [(e.op, e.task) for e in store.events()] == [
        ("create", "T-outer0"),
        ("prep", "T-outer0"),
        ("claim", "T-000404"),  # kept aside, written right after the outer committed
    ]
    assert len(_refused(store, "T-000404")) == 1
    store.record_refused(_event("claim", "T-000405", outcome="refused"))  # no tx: at once
    assert [e.task for e in store.events()][-1] == "T-000405"


# ---------------------------------------------------------------------- the assigner's reads


def test_assignable_is_ready_or_review_work_with_no_lease_most_urgent_first(
    store: TaskStore,
) -> None:
    escalation = Note(key="ESC-1", at=T0, author="cursor", body="stuck")
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        for task in (
            _task("T-p1late", created=T2),
            _task("T-p1b", created=T1),
            _task("T-p1a", created=T1),
            _task("T-p0", status=Status.REVIEW, priority=Priority.P0, created=T2),
            _task("T-p2", priority=Priority.P2, created=T0),
            _task("T-leased"),
            _task("T-escal", escalations=(escalation,)),
            _task("T-pend", status=Status.PENDING),
            _task("T-prog", status=Status.IN_PROGRESS, agent="cursor"),
            _task("T-done", status=Status.DONE),
        ):
            c.save(task, expected=None)
        c.grant("T-leased", "cursor", T1, T0)
        expected = ["T-p0", "T-p1a", "T-p1b", "T-p1late", "T-p2"]
        assert [t.id for t in c.assignable()] == expected  # its own writes
        assert [t.id for t in c.assignable(2)] == expected[:2]
        assert c.assignable(0) == ()
        assert [t.id for t in c.assignable(status=Status.READY)] == expected[1:]
        assert [t.id for t in c.assignable(1, Status.READY)] == ["T-p1a"]
        assert [t.id for t in c.assignable(status=Status.REVIEW)] == ["T-p0"]
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        found = c.assignable()
        assert [t.id for t in found] == expected
        assert found == tuple(sorted(found, key=Summary.sort_key))
        assert found[0].status is Status.REVIEW and found[0].priority is Priority.P0
        c.release("T-leased")
        assert "T-leased" in [t.id for t in c.assignable()]


def test_lease_counts_are_per_agent_holding_any(store: TaskStore) -> None:
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        assert c.lease_counts() == {}
        for task_id, agent in (("T-a", "cursor"), ("T-b", "cursor"), ("T-c", "claude")):
            c.grant(task_id, agent, T1, T0)
        assert c.lease_counts() == {"cursor": 2, "claude": 1}
        c.release("T-c")
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.lease_counts() == {"cursor": 2}


def test_lease_counts_of_some_agents_and_their_held_tasks_without_a_lease(
    store: TaskStore,
) -> None:
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        for task_id, agent in (("T-a", "cursor"), ("T-b", "cursor"), ("T-c", "claude")):
            c.save(_task(task_id, Status.IN_PROGRESS, agent=agent), expected=None)
        c.save(_task("T-d", Status.IN_PROGRESS, agent="claude"), expected=None)  # unleased
        c.save(_task("T-e", Status.IN_PROGRESS, agent="codex"), expected=None)  # unleased
        for task_id, agent in (("T-a", "cursor"), ("T-b", "cursor"), ("T-c", "claude")):
            c.grant(task_id, agent, T1, T0)
        assert c.lease_counts(["cursor", "nobody"]) == {"cursor": 2}
        assert c.lease_counts([]) == {}
        assert c.unleased_held(["cursor", "claude", "codex"]) == {"claude": 1, "codex": 1}
        assert c.unleased_held(["cursor"]) == {}
        c.release("T-a")
        assert c.unleased_held(["cursor"]) == {"cursor": 1}
        assert c.lease_counts(["cursor", "claude"]) == {"cursor": 1, "claude": 1}


def test_what_a_transaction_read_follows_its_own_writes_and_rollbacks(store: TaskStore) -> None:
    """Reads of a lease, an agent and the events within one transaction, read again after
    writes of it, inner blocks that fail, and (the events) before anything is committed."""
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.save(_task("T-a"), expected=None)
        assert c.lease("T-a") is None and c.agent("cursor") is None
        with pytest.raises(Rollback), store.transaction():
            c.grant("T-a", "cursor", T1, T0)
            c.put_agent(Agent(name="cursor", role="implementer"))
            assert c.lease("T-a") is not None and c.agent("cursor") is not None
            raise Rollback
        assert c.lease("T-a") is None and c.agent("cursor") is None
        lease = c.grant("T-a", "cursor", T1, T0)
        assert c.lease("T-a") == lease
        c.renew("T-a", "cursor", lease.fence, T2)
        renewed = c.lease("T-a")
        assert renewed is not None and renewed.expires_at == T2
        c.release("T-a")
        assert c.lease("T-a") is None
        c.record(_event("create", "T-a"))
        if not isinstance(store, MemoryStore):  # a SQL store reads in the open transaction
            assert [e.op for e in store.events("T-a")] == ["create"]  # its own, uncommitted
        assert c.knows_agent("cursor")  # from that event
        with pytest.raises(Rollback), store.transaction():
            c.record(_event("claim", "T-a"))
            raise Rollback
        c.record(_event("submit", "T-a"))
    assert [e.op for e in store.events("T-a")] == ["create", "submit"]


def test_events_recorded_before_an_inner_block_survive_its_rollback(store: TaskStore) -> None:
    """An event recorded by the outer block, then read (so inserted) inside an inner block
    that rolls back, still commits with the outer block's writes: no task without its
    events (as group commit runs one call after another, each in a savepoint)."""
    with store.transaction() as tx:
        tx.save(_task("T-a"), expected=None)
        tx.record(_event("create", "T-a"))
        with pytest.raises(Rollback), store.transaction() as inner:
            seen = [e.op for e in store.events("T-a")]  # a read inside
            assert seen == ([] if isinstance(store, MemoryStore) else ["create"])
            inner.record(_event("claim", "T-a"))
            raise Rollback
        tx.record(_event("submit", "T-a"))
    assert [e.op for e in store.events("T-a")] == ["create", "submit"]


def test_the_registry_and_lease_counts_read_follow_the_transactions_own_writes(
    store: TaskStore,
) -> None:
    """Read once, then read again after each write of the same transaction (a grant, a
    release, a registry change, an inner block rolled back): always what is written."""
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        for n in range(3):
            c.save(_task(f"T-{n}"), expected=None)
        c.put_agent(Agent(name="cursor", role="implementer"))
        assert [a.name for a in c.agents()] == ["cursor"]
        assert c.lease_counts(["cursor", "codex"]) == {}
        c.grant("T-0", "cursor", T1, T0)
        c.grant("T-1", "cursor", T1, T0)
        assert c.lease_counts(["cursor", "codex"]) == {"cursor": 2}
        c.put_agent(Agent(name="codex", role="reviewer"))
        assert [a.name for a in c.agents()] == ["codex", "cursor"]
        c.grant("T-2", "codex", T1, T0)
        assert c.lease_counts(["codex", "cursor"]) == {"codex": 1, "cursor": 2}
        with pytest.raises(Rollback), store.transaction():
            c.release("T-1")
            c.remove_agent("codex")
            assert c.lease_counts(["cursor"]) == {"cursor": 1}
            assert [a.name for a in c.agents()] == ["cursor"]
            raise Rollback
        assert c.lease_counts(["cursor", "codex"]) == {"cursor": 2, "codex": 1}
        assert [a.name for a in c.agents()] == ["codex", "cursor"]
        c.release("T-0")
        assert c.lease_counts(["cursor", "codex"]) == {"cursor": 1, "codex": 1}
        c.put_agent(Agent(name="cursor", role="implementer", max_tasks=5))
        assert [a.max_tasks for a in c.agents() if a.name == "cursor"] == [5]
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.lease_counts(["cursor", "codex"]) == {"cursor": 1, "codex": 1}
        assert [(a.name, a.max_tasks) for a in c.agents()][-1] == ("cursor", 5)


def test_the_columns_a_listing_reads_follow_every_save(store: TaskStore) -> None:
    """A save writes what changed since the row was read (SQL stores: only those columns):
    after each kind of change, in one transaction and across them, the listing's columns say
    what the task's body says."""
    with store.transaction() as tx:
        tx.save(_task("T-dep"), expected=None)
        tx.save(_task("T-a"), expected=None)
        got = tx.get("T-a")
        tx.save(got.task.evolve(status=Status.IN_PROGRESS, agent="cursor"), expected=got.revision)
    changes: list[dict[str, object]] = [
        {"priority": Priority.P0, "capabilities": ("backend",)},
        {"depends": ("T-dep",), "title": "renamed"},
        {"status": Status.REVIEW, "agent": "", "implementer": "cursor"},
        {},  # nothing that a column shows
        {"status": Status.READY, "implementer": "", "capabilities": ()},
    ]
    for change in changes:
        with store.transaction() as tx:
            got = tx.get("T-a")
            tx.save(got.task.evolve(**change), expected=got.revision)  # type: ignore[arg-type]
            again = tx.get("T-a")  # saved twice in one transaction
            tx.save(again.task.evolve(updated=T2), expected=again.revision)
        summary = {t.id: t for t in store.snapshot().tasks}["T-a"]
        assert summary == summarize(store.load("T-a"))
    assert summary.status is Status.READY and summary.priority is Priority.P0
    assert summary.depends == ("T-dep",) and summary.title == "renamed"


def test_blocks_joined_to_the_transaction_commit_and_roll_back_with_it(store: TaskStore) -> None:
    """``joined``: a nested block inside is the outer transaction itself (no savepoint, on
    the SQL stores not even a nesting level): it commits with the outermost block, and what
    it lets out rolls the outermost back whole."""
    with store.transaction() as tx:
        with joined(store), store.transaction() as inner:
            assert inner is tx
            assert getattr(tx, "depth", 0) == 0
            inner.save(_task("T-in"), expected=None)
        with store.transaction() as other:  # outside ``joined``: nested as ever
            other.save(_task("T-after"), expected=None)
    with pytest.raises(Rollback), store.transaction() as tx:
        tx.save(_task("T-gone"), expected=None)
        with joined(store), store.transaction() as inner:
            inner.save(_task("T-gone2"), expected=None)
            raise Rollback
    with store.transaction() as tx:
        assert tx.exists("T-in") and tx.exists("T-after")
        assert not tx.exists("T-gone") and not tx.exists("T-gone2")


def test_many_nested_blocks_keep_exactly_the_writes_of_blocks_that_did_not_fail(
    store: TaskStore,
) -> None:
    """A seeded mix of inner blocks at several depths, some failing: what is committed is
    exactly the writes of the blocks whose every enclosing block succeeded (on PostgreSQL the
    savepoints of finished blocks are released lazily: this checks their names never mix)."""
    rng = random.Random(20261201)
    count = 0

    def block(tx: Tx, depth: int) -> list[str]:
        nonlocal count
        kept: list[str] = []
        for _ in range(rng.randint(1, 4)):
            if depth < 4 and rng.random() < 0.5:
                fails = rng.random() < 0.35
                try:
                    with store.transaction() as inner:
                        written = block(inner, depth + 1)
                        if fails:
                            raise Rollback
                    kept.extend(written)
                except Rollback:
                    pass
            else:
                count += 1
                tx.save(_task(f"T-{count:06d}"), expected=None)
                kept.append(f"T-{count:06d}")
        return kept

    with store.transaction() as tx:
        expected = block(tx, 0)
        for _ in range(5):
            try:
                with store.transaction() as inner:
                    expected.extend(block(inner, 1))
            except Rollback:
                pass
    assert count > 25 and 0 < len(expected) < count  # the seed makes a real mix
    with store.transaction() as tx:
        present = [f"T-{n:06d}" for n in range(1, count + 1) if tx.exists(f"T-{n:06d}")]
    assert present == sorted(expected)


def test_a_new_or_redefined_agent_moves_the_revision_and_a_refresh_does_not(
    store: TaskStore,
) -> None:
    cursor = Agent(name="cursor", role="implementer", capabilities=("backend",), max_tasks=2)
    start = store.revision()
    with store.transaction() as tx:
        coord: CoordinatedTx = tx  # type: ignore[assignment]
        coord.put_agent(cursor)
    registered = store.revision()
    assert registered > start
    with store.transaction() as tx:  # a heartbeat: how it is doing, not what it is
        coord = tx  # type: ignore[assignment]
        coord.put_agent(cursor._replace(status="busy", last_seen=T1, error="x"))
    assert store.revision() == registered
    for changed in (
        cursor._replace(capabilities=("backend", "ui")),
        cursor._replace(max_tasks=3),
        cursor._replace(role="reviewer"),
    ):
        before = store.revision()
        with store.transaction() as tx:
            coord = tx  # type: ignore[assignment]
            coord.put_agent(changed)
        assert store.revision() > before, changed
        with store.transaction() as tx:
            coord = tx  # type: ignore[assignment]
            assert coord.agent("cursor") == changed
