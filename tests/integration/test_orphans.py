"""Work in progress that the orchestrator did not hand out (a board imported with tasks in
progress) is leased to its holder at start, so a holder that never calls in loses it like
any other, and one that does keeps it; on every store that keeps leases, on a ManualClock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcp_orch.config import Config
from mcp_orch.domain.model import Status, Task, format_time
from mcp_orch.scheduler import Orchestrator, adopt_orphans
from mcp_orch.service import ManualClock
from mcp_orch.store import TaskStore
from mcp_orch.store.coordination import CoordinatedTx
from tests.integration import test_coordination_contract as contract

pytestmark = pytest.mark.mcp

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
store = contract.store  # each test once per backend

ROLES = {"planner": ("chatgpt",), "implementer": ("cursor", "claude"), "reviewer": ("codex",)}


def imported(store: TaskStore, tid: str, holder: str, status: Status = Status.IN_PROGRESS) -> None:
    """A task as a board import writes it: in progress with a holder, no lease."""
    at = format_time(START)
    task = Task(id=tid, title=tid, status=status, agent=holder, created=at, updated=at, goal="g")
    with store.transaction() as tx:
        tx.save(task, expected=None)


def lease_of(store: TaskStore, tid: str) -> tuple[str, str] | None:
    with store.transaction() as tx:
        lease = tx.lease(tid)  # type: ignore[attr-defined]
    return None if lease is None else (lease.agent, lease.expires_at)


def test_an_orphan_is_leased_and_taken_back_when_its_holder_stays_silent(
    store: TaskStore,
) -> None:
    clock = ManualClock(START)
    orch = Orchestrator(store, Config(roles=ROLES), clock)
    imported(store, "T-orphan01", "cursor")
    imported(store, "T-orphan02", "human")  # a person's: not fenced, never taken back
    imported(store, "T-ready001", "", Status.READY)
    assert adopt_orphans(orch) == ["T-orphan01"]
    timeout = orch.config.agent_timeout
    assert lease_of(store, "T-orphan01") == ("cursor", orch.later(timeout))
    assert lease_of(store, "T-orphan02") is None and lease_of(store, "T-ready001") is None
    assert adopt_orphans(orch) == []  # once: a second run finds nothing left to adopt
    clock.advance(timeout - 1)
    orch.sweep()
    assert store.load("T-orphan01").status is Status.IN_PROGRESS  # still within its time
    clock.advance(2)
    orch.sweep()
    back = store.load("T-orphan01")
    assert back.status is Status.READY and back.agent == ""
    why = [e for e in store.events("T-orphan01") if e.op == "reassigned"]
    assert len(why) == 1 and why[0].note.startswith("taken from cursor")


def test_a_holder_that_calls_in_keeps_its_orphan(store: TaskStore) -> None:
    clock = ManualClock(START)
    orch = Orchestrator(store, Config(roles=ROLES), clock)
    imported(store, "T-orphan01", "cursor")
    adopt_orphans(orch)
    clock.advance(orch.config.agent_timeout - 5)
    beat = orch.heartbeat("cursor", [("T-orphan01", 1)])
    assert beat.renewed == ("T-orphan01",) and beat.lost == ()
    clock.advance(orch.config.lease_ttl / 2)
    orch.sweep()
    assert store.load("T-orphan01").agent == "cursor"
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        assert [x.task_id for x in c.leases("cursor")] == ["T-orphan01"]
