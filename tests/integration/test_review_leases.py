"""A review given to a reviewer is held under a lease like an implementer's task (issue 10,
AC5.3): a reviewer that dies (its heartbeats stop: ``lease_ttl``) or stays silent (a CLI
reviewer that makes no call: ``agent_timeout``) loses the review to another reviewer, never
to the task's implementer, and the ``reassigned`` event says why. Memory, SQLite and
PostgreSQL, with a ``ManualClock``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_orch.config import Config
from mcp_orch.domain.agents import Agent
from mcp_orch.domain.errors import LeaseLost
from mcp_orch.domain.model import Status
from mcp_orch.store import TaskStore
from tests.integration import test_scheduler as sched

pytestmark = pytest.mark.mcp

store = sched.store  # the fixture: each test once per backend (memory, SQLite, PostgreSQL)


def _world(store: TaskStore, tmp: Path, config: Config | None = None) -> sched.World:
    """AGENTS_YAML's agents (claude implements backend work, codex reviews) and gemini, a
    second reviewer."""
    world = sched.World(store, tmp, config)
    world.orch.add_agent(Agent(name="gemini", role="reviewer"))
    return world


def _in_review_with_codex(world: sched.World) -> str:
    tid = world.task("endpoint", needs=["backend"]).task_id
    assert world.holder(tid) == "claude"
    world.orch.step(tid, "submit", agent="claude")
    assert world.holder(tid) == "codex"
    return tid


def _taken(world: sched.World, tid: str) -> list[str]:
    return [e.note for e in world.store.events(tid) if e.op == "reassigned"]


def test_a_dead_reviewers_review_goes_to_another_reviewer_within_the_lease(
    store: TaskStore, tmp_path: Path
) -> None:
    world = _world(store, tmp_path, Config(lease_ttl=6.0, agent_timeout=600.0))
    world.beat("claude", "codex")
    tid = _in_review_with_codex(world)
    fence = world.store.events(tid)[-1].note.split("fence ")[1].rstrip(")")
    world.beat("gemini")
    world.run(3.0, ["claude", "codex", "gemini"])
    assert world.holder(tid) == "codex"  # alive: it keeps the review
    world.run(7.0, ["claude", "gemini"])  # codex's heartbeats stop
    assert world.holder(tid) == "gemini"
    assert world.store.load(tid).status is Status.REVIEW  # still a review, not work again
    (why,) = _taken(world, tid)
    assert why.startswith(f"taken from codex (fence {fence}): its lease on the review expired")
    assert "no heartbeat since" in why
    view = {a.name: a for a in world.orch.agents()}
    assert view["codex"].status == "error" and view["codex"].error == why
    with pytest.raises(LeaseLost):  # the dead reviewer's late verdict is refused
        world.orch.step(tid, "complete", agent="codex", fence=int(fence))
    assert world.store.load(tid).status is Status.REVIEW


def test_a_silent_cli_reviewers_review_goes_back_after_agent_timeout(
    store: TaskStore, tmp_path: Path
) -> None:
    """A reviewer that sends no heartbeats holds a review for agent_timeout past its last
    call (a call promises nothing sooner), then loses it like an implementer."""
    world = _world(store, tmp_path, Config(lease_ttl=6.0, agent_timeout=60.0))
    world.beat("claude")
    world.orch.touch("codex")  # a CLI reviewer: one call, no heartbeats
    tid = _in_review_with_codex(world)
    world.run(50.0, ["claude"])
    assert world.holder(tid) == "codex"  # well past lease_ttl: a call promises more
    world.beat("gemini")
    world.run(15.0, ["claude", "gemini"])
    assert world.holder(tid) == "gemini"
    (why,) = _taken(world, tid)
    assert why.startswith("taken from codex") and "no call since" in why


def test_a_dead_reviewers_review_never_goes_to_its_implementer(
    store: TaskStore, tmp_path: Path
) -> None:
    """claude implemented it and reviews too: the review waits for another reviewer."""
    roles = {"planner": ("chatgpt",), "implementer": ("claude",), "reviewer": ("claude", "codex")}
    world = sched.World(store, tmp_path, Config(roles=roles))
    world.orch.update_agent("claude", role="reviewer")
    world.beat("claude", "codex")
    tid = world.task("endpoint").task_id
    world.orch.step(tid, "claim", agent="claude")
    world.orch.step(tid, "submit", agent="claude")
    assert world.holder(tid) == "codex"
    world.run(12.0, ["claude"])
    assert world.holder(tid) == ""  # back in the queue, and nobody may take it
    assert len(_taken(world, tid)) == 1
    assert world.orch.next_for("claude").decision.action != "review"
    assert world.holder(tid) == ""
    world.beat("codex")  # back: it is given the review again
    assert world.holder(tid) == "codex"
