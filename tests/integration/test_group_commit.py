"""Group commit on SQLite (``store.groupcommit``): writes that queue up while one runs are
committed together in one transaction, each undone alone when it fails, and answered only
after the commit; a call that is not batchable runs alone, in its turn. Real SQLite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from mcp_orch.domain.errors import InvalidInput
from mcp_orch.domain.model import Task
from mcp_orch.store.groupcommit import GroupCommit
from mcp_orch.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    made = SqliteStore(str(tmp_path / "orch.db"))
    yield made
    made.close()


def saver(store: SqliteStore, tid: str, *, fail: bool = False) -> Any:
    def save() -> str:
        with store.transaction() as tx:
            tx.save(Task(id=tid, title=tid, created="c", updated="u"), expected=None)
            if fail:
                raise InvalidInput(f"{tid} refused after its save", "")
        return tid

    return save


def held(group: GroupCommit) -> tuple[threading.Event, Future[Any]]:
    """The worker busy with a call that waits for the returned gate to be set, so the calls
    submitted meanwhile queue up behind it; and that call's answer ("first")."""
    gate, began = threading.Event(), threading.Event()

    def blocker() -> str:
        began.set()
        gate.wait(10)
        return "first"

    first = group.submit(blocker)
    assert began.wait(10)
    return gate, first


def test_queued_writes_commit_together_and_a_failing_one_is_undone_alone(
    store: SqliteStore,
) -> None:
    group = GroupCommit(store)
    gate, first = held(group)
    futures = [group.submit(saver(store, f"T-batch{n:03d}"), batch=True) for n in range(5)]
    bad = group.submit(saver(store, "T-refused", fail=True), batch=True)
    last = group.submit(saver(store, "T-after"), batch=True)
    gate.set()
    assert first.result(10) == "first"
    assert [f.result(10) for f in futures] == [f"T-batch{n:03d}" for n in range(5)]
    with pytest.raises(InvalidInput, match="T-refused refused"):
        bad.result(10)
    assert last.result(10) == "T-after"
    ids = {t.id for t in store.snapshot().tasks}
    assert ids == {*(f"T-batch{n:03d}" for n in range(5)), "T-after"}  # not the refused one
    assert group.batches == 1  # the seven queued calls: one transaction
    group.shutdown()


def test_a_call_that_is_not_batchable_runs_alone_in_its_turn(store: SqliteStore) -> None:
    group = GroupCommit(store)
    order: list[str] = []

    def alone() -> int:
        order.append("alone")
        return len(store.snapshot().tasks)  # sees what the batch before it committed

    gate, _ = held(group)
    a = group.submit(saver(store, "T-one"), batch=True)
    b = group.submit(saver(store, "T-two"), batch=True)
    c = group.submit(alone)
    d = group.submit(saver(store, "T-three"), batch=True)
    gate.set()
    assert (a.result(10), b.result(10), c.result(10), d.result(10)) == (
        "T-one",
        "T-two",
        2,
        "T-three",
    )
    assert group.batches == 1 and order == ["alone"]
    group.shutdown()


def test_a_request_cancelled_while_queued_is_skipped_and_the_worker_goes_on(
    store: SqliteStore,
) -> None:
    group = GroupCommit(store)
    gate, _ = held(group)
    gone = group.submit(saver(store, "T-gone"), batch=True)
    kept = group.submit(saver(store, "T-kept"), batch=True)
    assert gone.cancel()  # its client went away before it began
    gate.set()
    assert kept.result(10) == "T-kept"
    assert group.submit(saver(store, "T-later")).result(10) == "T-later"  # still working
    assert {t.id for t in store.snapshot().tasks} == {"T-kept", "T-later"}
    group.shutdown()


def test_on_postgresql_queued_writes_commit_together_and_a_failing_one_is_undone_alone(
    tmp_path: Path,
) -> None:
    from .sql_support import sql_stores

    with sql_stores("postgres", tmp_path) as make:
        pg = make()
        group = GroupCommit(pg)
        gate, _ = held(group)
        good = [group.submit(saver(pg, f"T-pg{n}"), batch=True) for n in range(3)]
        bad = group.submit(saver(pg, "T-pgbad", fail=True), batch=True)
        after = group.submit(saver(pg, "T-pgafter"), batch=True)
        gate.set()
        assert [f.result(10) for f in good] == ["T-pg0", "T-pg1", "T-pg2"]
        with pytest.raises(InvalidInput, match="T-pgbad refused"):
            bad.result(10)
        assert after.result(10) == "T-pgafter"
        assert group.batches == 1
        other = make()  # another connection sees the batch committed, without the refused one
        assert {t.id for t in other.snapshot().tasks} == {"T-pg0", "T-pg1", "T-pg2", "T-pgafter"}
        group.shutdown()
