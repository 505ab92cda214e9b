"""Two replicas (two orchestrators, each with its own connections, in-process state and
clock) on one database age the same silent agent: its ``agent_failed`` and ``agent_offline``
happen once each, whichever replica sweeps first, however their clocks disagree. The status
change is a compare-and-set on the entry as the sweep read it, and the event is recorded only
by the replica whose update changed the row."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mcp_orch.config import Config
from mcp_orch.domain.agents import Agent
from mcp_orch.scheduler import Orchestrator
from mcp_orch.service import ManualClock
from mcp_orch.store import TaskStore
from mcp_orch.store.coordination import CoordinatedTx
from tests.integration import test_coordination_contract as contract
from tests.integration.sql_support import sql_stores
from tests.integration.test_scheduler import START

pytestmark = pytest.mark.mcp

CONFIG = Config(lease_ttl=6.0, agent_timeout=60.0)
SKEW = 0.005  # the second replica's clock runs 5 ms behind the first's

store = contract.store  # the fixture: memory, SQLite, PostgreSQL


def _aging_events(store: TaskStore, name: str) -> list[str]:
    return [e.op for e in store.events(None, limit=10**6) if e.holder == name]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_replicas_aging_one_agent_record_each_change_once(kind: str, tmp_path: Path) -> None:
    with sql_stores(kind, tmp_path) as make:
        first, second = make(), make()
        ahead = ManualClock(START)
        behind = ManualClock(START - timedelta(seconds=SKEW))
        one = Orchestrator(first, CONFIG, ahead)
        two = Orchestrator(second, CONFIG, behind)
        one.add_agent(Agent(name="cursor", role="implementer"))
        ahead.advance(1.0)
        behind.advance(1.0)
        one.heartbeat("cursor")
        two.heartbeat("cursor")  # its session reached both replicas: both judge it by lease_ttl

        def both_sweep(seconds: float) -> None:
            ahead.advance(seconds)
            behind.advance(seconds)
            for replica in (one, two, one, two):
                replica.sweep()

        both_sweep(6.01)  # silent past lease_ttl, by either clock: error
        assert _aging_events(first, "cursor") == ["agent_failed"]
        both_sweep(60.0 - 6.01 - SKEW / 2)  # offline by the first clock, not yet the second's
        both_sweep(1.0)  # offline by both
        assert _aging_events(first, "cursor") == ["agent_failed", "agent_offline"]
        assert {a.name: a.status for a in two.agents()}["cursor"] == "offline"
        assert _aging_events(second, "cursor") == ["agent_failed", "agent_offline"]


def test_a_status_change_is_made_only_on_the_entry_as_read(store: TaskStore) -> None:
    """The store's compare-and-set: the entry changed since it was read (another replica
    aged it, or the agent was heard from): nothing is written, and the caller is told."""
    t0, t1 = contract.T0, contract.T1
    seen = Agent(name="cursor", role="implementer", status="available", last_seen=t0)
    with store.transaction() as tx:
        c: CoordinatedTx = tx  # type: ignore[assignment]
        c.put_agent(seen)
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.set_agent_status(seen, "error", "silent") is True
        assert c.agent("cursor") == seen._replace(status="error", error="silent")
        assert c.set_agent_status(seen, "error", "silent again") is False  # not as read now
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.agent("cursor") == seen._replace(status="error", error="silent")
        back = seen._replace(last_seen=t1)  # heard from again: available, a newer last_seen
        c.put_agent(back)
        assert c.set_agent_status(seen, "error", "stale") is False  # read before it came back
        assert c.agent("cursor") == back
        assert c.set_agent_status(Agent(name="ghost", role="implementer"), "error", "") is False
    with store.transaction() as tx:
        c = tx  # type: ignore[assignment]
        assert c.agent("cursor") == back
        never = Agent(name="codex", role="reviewer")  # never heard from: no last_seen
        c.put_agent(never)
        assert c.set_agent_status(never, "error", "x") is True
        assert c.agent("codex") == never._replace(status="error", error="x")
