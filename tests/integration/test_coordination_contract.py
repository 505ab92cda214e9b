"""One contract for the coordination part of every store (seam.md, "Coordination"): agents,
leases and fences, with the invariants the orchestrator relies on. ``STORES`` lists the
backends that keep them (memory first; the SQL stores join with one line each)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_orch.domain.agents import Agent
from mcp_orch.domain.errors import AlreadyClaimed
from mcp_orch.store import TaskStore
from mcp_orch.store.coordination import CoordinatedTx
from mcp_orch.store.memory import MemoryStore

pytestmark = pytest.mark.mcp

STORES: dict[str, Callable[[Path], TaskStore]] = {"memory": lambda tmp: MemoryStore()}
T0, T1, T2 = "2026-12-01T12:00:00.000Z", "2026-12-01T12:00:06.000Z", "2026-12-01T12:00:12.000Z"


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TaskStore:
    made = STORES[request.param](tmp_path)
    assert made.extras("coordination") is not None
    return made


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
