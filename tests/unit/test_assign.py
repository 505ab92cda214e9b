"""The orchestrator's assignment rules (domain/assign.py), one test per rule, and the spec's
"Task Assignment Test"."""

from __future__ import annotations

import pytest

from mcp_orch.domain.agents import Agent
from mcp_orch.domain.assign import Choice, choose, plan
from mcp_orch.domain.model import Status
from mcp_orch.domain.policy import Summary
from tests.unit.test_domain import s as summary

pytestmark = pytest.mark.mcp

R, IP, RV, D = Status.READY, Status.IN_PROGRESS, Status.REVIEW, Status.DONE
SEEN = "2026-01-01T00:00:00.000Z"


def task(
    tid: str, status: Status = R, prio: str = "P1", created: str = "2026-01-01", **kw: object
) -> Summary:
    return summary(tid, status, prio, created, **kw)


def agent(name: str, role: str = "implementer", **kw: object) -> Agent:
    base: dict[str, object] = dict(
        name=name, role=role, max_tasks=1, status="available", last_seen=SEEN
    )
    base.update(kw)
    return Agent(**base)  # type: ignore[arg-type]


def test_the_specs_task_assignment_test() -> None:
    """5 tasks of different priorities: P0 first, several P1s to cursor, dependencies kept."""
    tasks = [
        task("T-p2", prio="P2", created="2026-01-01"),
        task("T-p1a", prio="P1", created="2026-01-02"),
        task("T-p1b", prio="P1", created="2026-01-03"),
        task("T-p0", prio="P0", created="2026-01-04"),
        task("T-p1c", prio="P1", created="2026-01-01", depends=("T-p0",)),
    ]
    cursor = agent("cursor", capabilities=("backend",), max_tasks=3)
    choices = plan(tasks, [cursor], {})
    assert [c.task_id for c in choices] == ["T-p0", "T-p1c", "T-p1a", "T-p1b", "T-p2"]
    assigned = {c.task_id: c.agent for c in choices if c.agent}
    assert assigned == {"T-p0": "cursor", "T-p1a": "cursor", "T-p1b": "cursor"}  # 3 at once
    queued = {c.task_id: c.queued_because for c in choices if not c.agent}
    assert queued["T-p1c"] == "waiting for T-p0 (ready)"  # never before its dependency is done
    assert queued["T-p2"].startswith("all capable agents are at max_tasks (cursor: 3/3")
    done = plan(tasks, [cursor], {}, statuses={"T-p0": D})
    assert [c.task_id for c in done if c.agent][:2] == ["T-p0", "T-p1c"]


def test_priority_then_age_then_id() -> None:
    tasks = [task("T-b", created="2026-01-02"), task("T-a", created="2026-01-02")]
    tasks.append(task("T-old", prio="P2", created="2020-01-01"))
    tasks.append(task("T-new", prio="P0", created="2026-12-01"))
    order = [c.task_id for c in plan(tasks, [agent("cursor", max_tasks=9)], {})]
    assert order == ["T-new", "T-a", "T-b", "T-old"]


def test_the_least_loaded_capable_agent_gets_it() -> None:
    agents = [agent("cursor", max_tasks=4), agent("claude", max_tasks=2)]
    assert choose(task("T-1"), agents, {"cursor": 1, "claude": 1}, {}).agent == "cursor"  # 1/4
    assert choose(task("T-1"), agents, {"cursor": 2, "claude": 0}, {}).agent == "claude"
    spread = plan([task(f"T-{n}") for n in range(4)], agents, {})
    assert sorted(c.agent for c in spread) == ["claude", "claude", "cursor", "cursor"]


def test_an_agent_needs_every_capability_the_task_names() -> None:
    agents = [agent("cursor", capabilities=("backend",)), agent("claude", capabilities=("css",))]
    both = task("T-1", capabilities=("backend", "css"))
    assert choose(both, agents, {}, {}).queued_because == (
        "no single agent with every capability backend, css"
    )
    front = task("T-2", capabilities=("frontend", "backend"))
    assert choose(front, agents, {}, {}).queued_because == "no agent with capability frontend"
    assert choose(task("T-3", capabilities=("css",)), agents, {}, {}).agent == "claude"
    assert choose(task("T-4"), agents, {}, {}).agent in ("cursor", "claude")  # needs nothing


def test_an_agent_not_alive_is_pushed_nothing() -> None:
    never = agent("cursor", last_seen="")  # available in the registry, never called in
    gone = agent("claude", status="error")
    choice = choose(task("T-1"), [never, gone], {}, {})
    assert choice == Choice(
        "T-1", "", "claim", "no capable agent is alive (cursor: not seen yet, claude: error)"
    )
    assert choose(task("T-1"), [never, gone, agent("copilot", status="busy")], {}, {}).agent == (
        "copilot"
    )


def test_only_the_role_that_takes_the_step_gets_it() -> None:
    planner, reviewer = agent("chatgpt", role="planner"), agent("codex", role="reviewer")
    assert choose(task("T-1"), [planner, reviewer], {}, {}).queued_because == (
        "no implementer in the agent registry"
    )
    review = task("T-2", status=RV, implementer="cursor")
    assert choose(review, [agent("cursor"), reviewer], {}, {}) == Choice("T-2", "codex", "review")


def test_review_never_goes_to_the_agent_that_implemented_it() -> None:
    both = [agent("codex", role="reviewer", max_tasks=5), agent("claude", role="reviewer")]
    review = task("T-1", status=RV, implementer="codex")
    assert choose(review, both, {}, {}).agent == "claude"
    alone = choose(review, both[:1], {}, {})
    assert alone.queued_because.startswith("its only reviewers implemented it (codex)")


def test_work_sent_back_goes_to_its_implementer_only() -> None:
    back = task("T-1", implementer="claude", open_feedback=2)
    agents = [agent("cursor"), agent("claude", max_tasks=2)]
    assert choose(back, agents, {"claude": 1}, {}).agent == "claude"  # even when more loaded
    assert choose(back, agents[:1], {}, {}).queued_because == (
        "sent back to claude with feedback; it is theirs to fix"
    )


def test_escalated_and_blocked_tasks_wait_and_other_work_is_not() -> None:
    tasks = [
        task("T-esc", prio="P0", escalated=True),
        task("T-dep", prio="P0", depends=("T-gone", "T-run")),
        task("T-run", status=IP, agent="claude"),
        task("T-ok", prio="P2"),
    ]
    choices = {c.task_id: c for c in plan(tasks, [agent("cursor")], {})}
    assert set(choices) == {"T-esc", "T-dep", "T-ok"}  # in progress: nothing to assign
    assert choices["T-esc"].queued_because.startswith("escalated")
    assert choices["T-dep"].queued_because == "waiting for T-gone (unknown), T-run (in-progress)"
    assert choices["T-ok"].agent == "cursor"


def test_each_assignment_adds_to_the_agents_load() -> None:
    choices = plan([task("T-1"), task("T-2")], [agent("cursor", max_tasks=2)], {"cursor": 1})
    assert [c.agent for c in choices] == ["cursor", ""]
