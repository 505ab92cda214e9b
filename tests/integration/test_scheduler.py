"""The orchestrator (issue 10) in-process: assignment (push and pull), leases, heartbeats,
fencing, the sweeper and the agent registry, on every store that keeps agents and leases,
with a ``ManualClock`` so every threshold is crossed exactly and nothing sleeps.

The stores are test_coordination_contract's ``store`` fixture: every backend that keeps
agents and leases (memory, SQLite, PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_orch.config import Config
from mcp_orch.domain.agents import Agent
from mcp_orch.domain.errors import (
    AgentNotFound,
    AlreadyClaimed,
    IllegalTransition,
    InvalidInput,
    LeaseLost,
    NotAllowed,
    UnknownAgent,
)
from mcp_orch.domain.model import Priority, Status
from mcp_orch.scheduler import Assignment, Orchestrator, TaskInput
from mcp_orch.service import ManualClock
from mcp_orch.store import TaskStore
from tests.integration import test_coordination_contract as contract

pytestmark = pytest.mark.mcp

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

store = contract.store  # the fixture: each test once per backend


AGENTS_YAML = """\
agents:
  - name: cursor
    role: implementer
    capabilities: [backend, frontend]
    max_tasks: 3
  - name: claude
    role: implementer
    capabilities: [backend]
  - name: codex
    role: reviewer
    capabilities: [review]
"""


class World:
    """An orchestrator on ``store`` with the agents of ``AGENTS_YAML``, and its clock."""

    def __init__(self, store: TaskStore, tmp: Path, config: Config | None = None) -> None:
        self.clock = ManualClock(START)
        self.store = store
        self.orch = Orchestrator(store, config or Config(), self.clock)
        path = tmp / "agents.yaml"
        path.write_text(AGENTS_YAML)
        self.orch.load_agents_yaml(str(path))

    def task(
        self,
        title: str,
        priority: str = "P1",
        *,
        depends: Iterable[str] = (),
        needs: Iterable[str] = (),
        goal: str = "do it",
    ) -> Assignment:
        self.clock.advance(0.01)  # tasks are ordered by age: each one 10 ms younger
        fields = TaskInput(
            title=title,
            goal=goal,
            priority=Priority(priority),
            dependencies=tuple(depends),
            capabilities=tuple(needs),
        )
        return self.orch.submit_task(fields, actor="chatgpt")

    def beat(self, *agents: str) -> None:
        for agent in agents:
            self.orch.heartbeat(agent)

    def holder(self, task_id: str) -> str:
        with self.store.transaction() as tx:
            lease = tx.lease(task_id)  # type: ignore[attr-defined]
        return lease.agent if lease is not None else ""

    def ops(self, task_id: str) -> list[tuple[str, str, str]]:
        return [(e.op, e.agent, e.holder) for e in self.store.events(task_id) if e.outcome == "ok"]

    def run(self, seconds: float, beating: Iterable[str], every: float = 2.0) -> None:
        """Let ``seconds`` pass as a serve process would: ``beating`` agents send a heartbeat
        every ``every`` s, and the sweeper runs whenever ``next_wakeup`` says."""
        end = self.clock.elapsed + seconds
        next_beat = self.clock.elapsed + every
        names = list(beating)
        while self.clock.elapsed < end:
            step = min(
                self.orch.next_wakeup(), next_beat - self.clock.elapsed, end - self.clock.elapsed
            )
            self.clock.advance(max(step, 0.001))
            if self.clock.elapsed >= next_beat - 1e-9:
                self.beat(*names)
                next_beat += every
            self.orch.sweep()


@pytest.fixture
def world(store: TaskStore, tmp_path: Path) -> World:
    return World(store, tmp_path)


# ---------------------------------------------------------------------- the spec's test


def test_the_task_assignment_test_p0_first_several_p1s_to_cursor_dependencies_kept(
    world: World,
) -> None:
    """Five tasks of different priorities, created before anyone is alive; cursor (max_tasks
    3) comes alive: P0 first, then the P1s, never the one waiting on the P0."""
    p2 = world.task("polish", "P2")
    dep_first = world.task("schema", "P0")
    after = world.task("migrate", "P1", depends=[dep_first.task_id])
    p1a = world.task("login", "P1")
    p1b = world.task("logout", "P1")
    assert all(a.assigned_agent is None for a in (p2, dep_first, after, p1a, p1b))
    world.beat("cursor")  # only cursor comes alive
    given = [e.task for e in world.store.events() if e.op == "assigned"]
    assert given == [dep_first.task_id, p1a.task_id, p1b.task_id]  # P0, then P1s by age
    assert {world.holder(t) for t in given} == {"cursor"}
    for tid in given:
        assert world.store.load(tid).status is Status.IN_PROGRESS
        assert world.store.load(tid).agent == "cursor"
    waiting = world.orch.assign_task(after.task_id)
    assert waiting.assigned_agent is None
    assert waiting.queued_because == f"waiting for {dep_first.task_id} (in-progress)"
    full = world.orch.assign_task(p2.task_id)
    assert full.assigned_agent is None and "max_tasks" in full.queued_because
    assert "cursor: 3/3" in full.queued_because


def test_a_done_dependency_releases_the_task_that_waited_for_it(world: World) -> None:
    world.beat("cursor", "codex")
    first = world.task("schema", "P0")
    second = world.task("migrate", "P0", depends=[first.task_id])
    assert first.assigned_agent == "cursor" and second.assigned_agent is None
    handed = world.orch.step(first.task_id, "submit", agent="cursor", note="done")
    assert [(a.task_id, a.assigned_agent) for a in handed.assignments] == [(first.task_id, "codex")]
    done = world.orch.step(first.task_id, "complete", agent="codex")
    assert done.task.status is Status.DONE
    assert [a.task_id for a in done.assignments] == [second.task_id]
    assert world.holder(second.task_id) == "cursor"


# ---------------------------------------------------------------------- matching


def test_capabilities_decide_who_may_take_a_task(world: World) -> None:
    world.beat("claude", "cursor")
    front = world.task("new page", needs=["frontend"])
    back = world.task("new endpoint", needs=["backend"])
    assert front.assigned_agent == "cursor"  # claude has no frontend
    assert back.assigned_agent == "claude"  # the least loaded of the two that may
    nobody = world.task("mobile app", needs=["ios"])
    assert nobody.assigned_agent is None
    assert nobody.queued_because == "no agent with capability ios"


def test_the_least_loaded_agent_gets_the_next_task(world: World) -> None:
    world.orch.update_agent("claude", max_tasks=3)
    world.beat("cursor", "claude")
    names = [world.task(f"task {n}").assigned_agent for n in range(6)]
    assert sorted(names) == ["claude"] * 3 + ["cursor"] * 3
    assert names[:2] != [names[0], names[0]]  # the second goes to the other, less loaded one
    sixth = world.task("one more")
    assert sixth.assigned_agent is None and "max_tasks" in sixth.queued_because


def test_a_reviewer_is_never_given_implementer_work(world: World) -> None:
    world.beat("codex")
    queued = world.task("endpoint")
    assert queued.assigned_agent is None
    assert queued.queued_because.startswith("no capable agent is alive")  # codex may not
    assert world.holder(queued.task_id) == ""


def test_review_goes_to_a_reviewer_who_did_not_implement_it(
    store: TaskStore, tmp_path: Path
) -> None:
    roles = {"planner": ("chatgpt",), "implementer": ("cursor", "claude"), "reviewer": ("codex",)}
    world = World(store, tmp_path, Config(roles=roles))
    world.orch.update_agent("codex", role="reviewer")
    world.orch.add_agent(Agent(name="gemini", role="reviewer"))
    world.beat("claude")
    tid = world.task("endpoint", needs=["backend"]).task_id
    assert world.holder(tid) == "claude"
    world.beat("codex")
    handed = world.orch.step(tid, "submit", agent="claude")
    assert [a.assigned_agent for a in handed.assignments] == ["codex"]
    assert world.holder(tid) == "codex"
    with pytest.raises(LeaseLost):  # gemini was not given it: codex reviews it
        world.orch.step(tid, "complete", agent="gemini")


def test_nobody_reviews_their_own_work(store: TaskStore, tmp_path: Path) -> None:
    """claude implements and reviews: its own submission waits for another reviewer."""
    roles = {"planner": ("chatgpt",), "implementer": ("claude",), "reviewer": ("claude", "codex")}
    world = World(store, tmp_path, Config(roles=roles))
    world.orch.update_agent("claude", role="reviewer")
    world.beat("claude")
    tid = world.task("endpoint").task_id
    world.orch.step(tid, "claim", agent="claude")
    world.orch.step(tid, "submit", agent="claude")
    queued = world.orch.assign_task(tid)
    assert queued.assigned_agent is None  # claude is alive and free, but implemented it
    assert queued.queued_because == "no capable agent is alive (codex: not seen yet)"
    assert world.holder(tid) == ""
    assert world.orch.next_for("claude").decision.action != "review"
    with pytest.raises(NotAllowed):
        world.orch.step(tid, "complete", agent="claude")
    world.beat("codex")  # come alive, it is given the review at once
    assert world.holder(tid) == "codex"


def test_an_agent_never_heard_from_is_pushed_nothing(world: World) -> None:
    queued = world.task("endpoint")
    assert queued.assigned_agent is None
    assert "not seen yet" in queued.queued_because or "offline" in queued.queued_because
    yaml_agents = [a for a in world.orch.agents() if a.source == "yaml"]
    assert [a.status for a in yaml_agents] == ["offline"] * 3
    world.orch.touch("claude")  # any call counts as alive
    assert world.holder(queued.task_id) == "claude"
    view = {a.name: a for a in world.orch.agents()}
    assert view["claude"].status == "busy" and view["claude"].current_tasks == (queued.task_id,)


def test_a_sent_back_task_goes_back_to_its_implementer(world: World) -> None:
    world.beat("claude", "codex")
    tid = world.task("endpoint", needs=["backend"]).task_id
    world.orch.step(tid, "submit", agent="claude")
    world.beat("cursor")  # cursor is free and capable, but the fix is claude's
    handed = world.orch.step(tid, "feedback", agent="codex", text="add a test")
    assert world.holder(tid) == "claude"
    assert (tid, "claude") in [(a.task_id, a.assigned_agent) for a in handed.assignments]


# ---------------------------------------------------------------------- pull


def test_next_gives_assigned_work_first_then_claims_the_best_ready_task(world: World) -> None:
    world.beat("cursor")
    given = world.task("pushed", "P1")
    assert given.assigned_agent == "cursor"
    late = world.task("urgent", "P0")  # cursor has room: pushed too
    answer = world.orch.next_for("cursor")
    assert answer.decision.action == "continue"
    assert answer.decision.task_id in (given.task_id, late.task_id)
    world.orch.update_agent("cursor", max_tasks=2)  # now full: the next task stays queued
    lone = world.task("for whoever asks", "P2")
    assert world.holder(lone.task_id) == ""
    pulled = world.orch.next_for("claude")  # claude never called before: it asks, it gets
    assert pulled.decision.action == "continue" and pulled.decision.task_id == lone.task_id
    assert world.holder(lone.task_id) == "claude"
    assert world.store.load(lone.task_id).agent == "claude"


def test_next_for_a_reviewer_is_the_review_it_was_given(world: World) -> None:
    world.beat("cursor", "codex")
    tid = world.task("endpoint").task_id
    world.orch.step(tid, "submit", agent="cursor")
    answer = world.orch.next_for("codex")
    assert answer.decision.action == "review" and answer.decision.task_id == tid
    assert "given to you for review" in answer.decision.reason


# ---------------------------------------------------------------------- failure


def test_an_agent_killed_mid_task_loses_it_within_10_s_and_its_late_completion_is_refused(
    world: World,
) -> None:
    world.beat("cursor", "claude")
    tid = world.task("endpoint", needs=["backend"]).task_id
    first = world.holder(tid)
    other = "claude" if first == "cursor" else "cursor"
    fence = world.orch.step(tid, "progress", agent=first, note="half way").fence
    assert fence > 0
    world.run(4.0, [first, other])
    last_beat = world.clock.elapsed  # the victim's last heartbeat
    world.run(12.0, [other])  # the victim is dead: only the other agent calls in
    moved = [e for e in world.store.events(tid) if e.op == "assigned" and e.holder == other]
    assert moved, world.ops(tid)
    assert world.holder(tid) == other
    taken = [e for e in world.store.events(tid) if e.op == "reassigned"]
    assert len(taken) == 1 and f"taken from {first}" in taken[0].note
    # the reassignment came within 10 s of the last heartbeat, by the clock
    from mcp_orch.domain.model import parse_time

    at = parse_time(moved[0].at)
    assert at is not None
    assert (at - START).total_seconds() - last_beat <= 10.0
    view = {a.name: a for a in world.orch.agents()}
    assert view[first].status == "error" and "lease expired" in view[first].error
    with pytest.raises(LeaseLost):  # the late write under the old fence
        world.orch.step(tid, "submit", agent=first, fence=fence)
    with pytest.raises(LeaseLost):  # and without a fence: the task is another's now
        world.orch.step(tid, "progress", agent=first)
    assert world.store.load(tid).agent == other
    refused = [e for e in world.store.events(tid) if e.outcome == "refused"]
    assert len(refused) == 2


def test_a_silent_agent_goes_from_error_to_offline_after_agent_timeout(
    store: TaskStore, tmp_path: Path
) -> None:
    world = World(store, tmp_path, Config(lease_ttl=6.0, agent_timeout=60.0))
    world.beat("cursor")
    world.run(7.0, [])
    assert {a.name: a.status for a in world.orch.agents()}["cursor"] == "error"
    world.run(60.0, [])
    assert {a.name: a.status for a in world.orch.agents()}["cursor"] == "offline"
    ops = [e.op for e in world.store.events() if e.holder == "cursor"]
    assert ops == ["agent_failed", "agent_offline"]
    world.beat("cursor")
    assert {a.name: a.status for a in world.orch.agents()}["cursor"] == "available"


def test_due_in_says_when_a_silent_agents_status_ages_and_none_once_all_are_offline(
    store: TaskStore, tmp_path: Path
) -> None:
    """What the serve process's chores sweep on while the store does not change: no lease is
    held, yet a silent agent's error and offline are due on time, and then nothing is."""
    world = World(store, tmp_path, Config(lease_ttl=6.0, agent_timeout=60.0))
    world.orch.sweep()
    assert world.orch.due_in() is None  # nobody heard from, no lease: nothing until a change
    world.beat("cursor")
    world.orch.sweep()
    due = world.orch.due_in()
    assert due == pytest.approx(6.0, abs=0.01)  # its error: lease_ttl after its heartbeat
    world.clock.advance(due + 0.01)
    world.orch.sweep()
    assert {a.name: a.status for a in world.orch.agents()}["cursor"] == "error"
    due = world.orch.due_in()
    assert due == pytest.approx(60.0 - 6.01, abs=0.02)  # offline: agent_timeout after it
    world.clock.advance(due + 0.01)
    world.orch.sweep()
    assert {a.name: a.status for a in world.orch.agents()}["cursor"] == "offline"
    assert world.orch.due_in() is None
    assert [e.op for e in world.store.events() if e.holder == "cursor"] == [
        "agent_failed",
        "agent_offline",
    ]


def test_an_agent_that_only_calls_keeps_its_task_until_agent_timeout(
    store: TaskStore, tmp_path: Path
) -> None:
    """The CLI sends no heartbeats: its lease is agent_timeout long, not lease_ttl."""
    world = World(store, tmp_path, Config(agent_timeout=600.0))
    tid = world.task("endpoint").task_id
    world.orch.step(tid, "claim", agent="claude")
    world.run(300.0, [])
    assert world.holder(tid) == "claude"
    world.orch.step(tid, "submit", agent="claude", note="took five minutes")
    assert world.store.load(tid).status is Status.REVIEW


def test_a_heartbeat_names_what_was_lost_and_what_was_given(world: World) -> None:
    world.beat("cursor")
    a = world.task("a").task_id
    fence_a = world.orch.step(a, "progress", agent="cursor").fence
    b = world.task("b").task_id
    beat = world.orch.heartbeat("cursor", [(a, fence_a), ("T-zzzzzz", 1)])
    assert beat.lost == ("T-zzzzzz",)
    assert beat.assigned == (b,)
    assert set(beat.renewed) == {a, b}
    with pytest.raises(InvalidInput):
        world.orch.heartbeat("human")


def test_sweeping_an_idle_service_writes_nothing_and_sleeps_the_longest(world: World) -> None:
    before = world.store.revision()
    assert world.orch.sweep() == []
    assert world.orch.next_wakeup() == 5.0
    assert world.store.revision() == before


def test_next_wakeup_is_the_earliest_lease_expiry(world: World) -> None:
    world.beat("cursor")
    world.task("a")
    world.clock.advance(0.5)
    assert world.orch.next_wakeup() == pytest.approx(1.0)  # capped at the busy poll, 1 s
    world.clock.advance(5.0)
    assert world.orch.next_wakeup() == pytest.approx(0.5, abs=0.02)  # the 6 s lease ends


# ---------------------------------------------------------------------- the registry


def test_removing_an_agent_returns_its_tasks_to_the_queue(world: World) -> None:
    world.beat("cursor")
    tid = world.task("endpoint", needs=["backend"]).task_id
    assert world.holder(tid) == "cursor"
    world.beat("claude")
    assert world.orch.remove_agent("cursor") == [tid]
    assert world.holder(tid) == "claude"  # reassigned at once
    assert "cursor" not in {a.name for a in world.orch.agents()}
    with pytest.raises(AgentNotFound):
        world.orch.remove_agent("cursor")


def test_agents_are_added_and_changed_live(world: World) -> None:
    world.orch.add_agent(Agent(name="windsurf", role="implementer", capabilities=("ios",)))
    world.orch.touch("windsurf")
    assert world.task("mobile app", needs=["ios"]).assigned_agent == "windsurf"
    with pytest.raises(InvalidInput):
        world.orch.add_agent(Agent(name="windsurf", role="implementer"))
    with pytest.raises(InvalidInput):
        world.orch.update_agent("windsurf", max_tasks=0)
    with pytest.raises(InvalidInput):
        world.orch.update_agent("windsurf", colour="blue")
    world.orch.update_agent("windsurf", capabilities=("ios", "android"), max_tasks=2)
    assert world.task("android app", needs=["android"]).assigned_agent == "windsurf"


def test_an_unknown_agent_is_refused_not_registered(world: World) -> None:
    with pytest.raises(UnknownAgent):
        world.orch.heartbeat("cusor")
    assert "cusor" not in {a.name for a in world.orch.agents()}


def test_performance_metrics_come_from_the_events(world: World) -> None:
    world.beat("cursor", "codex")
    tid = world.task("endpoint").task_id
    world.clock.advance(120)
    world.orch.step(tid, "submit", agent="cursor")
    world.orch.step(tid, "complete", agent="codex")
    other = world.task("broken").task_id
    world.orch.step(other, "fail", agent="cursor", reason="cannot be done")
    world.clock.advance(10)  # past the metrics' cache
    m = {a.name: a.performance_metrics for a in world.orch.agents()}["cursor"]
    assert (m.tasks_completed, m.average_completion_time, m.error_rate) == (1, 2.0, 0.5)


def test_performance_metrics_read_on_from_where_they_left_off(world: World) -> None:
    """Read once, the metrics then count only the events recorded since, and come out as a
    reading of the whole log from scratch does."""
    world.beat("cursor", "codex")
    tid = world.task("endpoint").task_id
    assert "cursor" not in world.orch.metrics()  # read now: nothing done yet
    world.clock.advance(60)
    world.orch.step(tid, "submit", agent="cursor")
    world.orch.step(tid, "complete", agent="codex")
    world.clock.advance(2)  # past the metrics' cache
    later = world.orch.metrics()
    assert (later["cursor"].tasks_completed, later["cursor"].average_completion_time) == (1, 1.0)
    assert later == Orchestrator(world.store, Config(), world.clock).metrics()


def test_the_events_trail_names_every_handoff(world: World) -> None:
    world.beat("cursor", "codex")
    tid = world.task("endpoint").task_id
    world.orch.step(tid, "submit", agent="cursor")
    world.orch.step(tid, "complete", agent="codex")
    assert world.ops(tid) == [
        ("create", "chatgpt", ""),
        ("prep", "chatgpt", ""),
        ("assigned", "orchestrator", "cursor"),
        ("submit", "cursor", ""),
        ("assigned", "orchestrator", "codex"),
        ("complete", "codex", ""),
    ]
    history = [(h.agent, h.op) for h in world.store.load(tid).history]
    assert ("orchestrator", "claim") in history


# ---------------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("agents: [", "not valid YAML"),
        ("agents:\n  - name: x\n    role: boss\n", ":2: unknown role 'boss'"),
        ("agents:\n  - name: x\n    role: implementer\n    max_tasks: 0\n", "max_tasks"),
        ("agents:\n  - name: x\n    role: reviewer\n    colour: red\n", "unknown key(s) colour"),
        ("agents:\n  - {name: x, role: reviewer}\n  - {name: x, role: planner}\n", "twice"),
        ("agent:\n  - name: x\n", "expected one key"),
    ],
)
def test_a_bad_agents_yaml_is_refused_clearly_and_changes_nothing(
    world: World, tmp_path: Path, text: str, says: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(InvalidInput) as refused:
        world.orch.load_agents_yaml(str(bad))
    assert says in refused.value.message
    assert [a.name for a in world.orch.agents()] == ["claude", "codex", "cursor"]


def test_reading_agents_yaml_again_keeps_status_and_drops_who_is_gone(
    world: World, tmp_path: Path
) -> None:
    world.beat("cursor")
    world.orch.add_agent(Agent(name="windsurf", role="implementer"))
    only = tmp_path / "agents.yaml"
    only.write_text("agents:\n  - {name: cursor, role: implementer, max_tasks: 2}\n")
    world.orch.load_agents_yaml(str(only))
    view = {a.name: a for a in world.orch.agents()}
    assert set(view) == {"cursor", "windsurf"}  # the API's agent stays
    assert view["cursor"].status == "available" and view["cursor"].max_tasks == 2


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"title": "x", "colour": "red"}, "unknown field(s) in task: colour"),
        ({"title": 5}, "task.title must be a string"),
        ({"title": "x", "priority": 7}, "task.priority must be P0, P1 or P2"),
        ({"title": "x", "dependencies": "T-1"}, "must be a list of strings"),
        ({"title": "x", "status": "completed"}, "cannot be set here"),
        ({"title": "x", "goal": "a", "description": "b"}, "disagree"),
        ({"title": "x", "metadata": {"estimated_duration": -1}}, "estimated_duration"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_a_bad_task_is_refused_naming_the_field(data: object, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        TaskInput.from_json(data)
    assert says in refused.value.message


def test_the_spec_task_shape_is_accepted(world: World) -> None:
    world.beat("cursor")
    fields = TaskInput.from_json(
        {
            "id": None,
            "title": "Rate limit",
            "type": "P0",
            "priority": 0,
            "status": "pending",
            "assigned_agent": None,
            "dependencies": [],
            "capabilities": ["backend"],
            "created_at": "2026-01-01T00:00:00Z",
            "metadata": {
                "goal": "stop guessing",
                "acceptance_criteria": ["429 after 5"],
                "estimated_duration": 90,
            },
        }
    )
    stub = world.orch.submit_task(fields, actor="chatgpt")
    assert stub.assigned_agent is None and "stub" in stub.queued_because
    ready = world.orch.submit_task(fields._replace(status=""), actor="chatgpt")
    assert ready.assigned_agent == "cursor" and ready.fence == 1
    assert ready.estimated_completion == world.orch.later(90 * 60)  # the estimate, from now
    task = world.store.load(ready.task_id)
    assert task.priority is Priority.P0 and task.capabilities == ("backend",)


def test_a_bad_submission_creates_nothing(world: World) -> None:
    with pytest.raises(InvalidInput):
        world.orch.submit_task(
            TaskInput(title="x", goal="y", files=("/etc/passwd",)), actor="chatgpt"
        )
    with pytest.raises(NotAllowed):
        world.orch.submit_task(TaskInput(title="x", goal="y"), actor="cursor")
    assert world.store.snapshot().tasks == ()


def test_a_step_refused_changes_nothing(world: World) -> None:
    world.beat("cursor")
    tid = world.task("endpoint").task_id
    before = world.store.load(tid)
    with pytest.raises(IllegalTransition):
        world.orch.step(tid, "complete", agent="human")
    with pytest.raises(InvalidInput):
        world.orch.step(tid, "dance", agent="cursor")
    with pytest.raises(InvalidInput):
        world.orch.step(tid, "submit", agent="cursor", colour="red")
    assert world.store.load(tid) == before and world.holder(tid) == "cursor"


def test_agents_pulling_at_once_never_share_a_task(store: TaskStore, tmp_path: Path) -> None:
    """Twelve agents in threads ask for work and submit it until the board is empty: every
    task is claimed exactly once, and nobody is refused for a lost race."""
    import threading

    world = World(store, tmp_path)
    names = [f"bot{n}" for n in range(12)]
    for name in names:
        world.orch.add_agent(Agent(name=name, role="implementer", max_tasks=2))
    tids = {world.task(f"task {n}").task_id for n in range(60)}  # nobody alive: all queued
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while True:
                answer = world.orch.next_for(name)
                if answer.decision.action == "continue" and answer.decision.task_id:
                    world.orch.step(answer.decision.task_id, "submit", agent=name)
                elif errors or all(t.status is Status.REVIEW for t in store.snapshot().tasks):
                    return  # (an agent told to wait asks again: work may be pushed to it)
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    events = store.events(None, limit=10**6)
    taken = [e.task for e in events if e.op in ("claim", "assigned") and e.outcome == "ok"]
    assert sorted(taken) == sorted(tids)  # each once: no task given twice
    assert {store.load(t).status for t in tids} == {Status.REVIEW}


def test_a_call_renews_the_leases_of_an_agent_that_sends_no_heartbeats(
    store: TaskStore, tmp_path: Path
) -> None:
    world = World(store, tmp_path, Config(agent_timeout=600.0))
    tid = world.task("endpoint").task_id
    world.orch.step(tid, "claim", agent="claude")
    world.run(500.0, [])
    world.orch.touch("claude")  # e.g. orch show through the service, 500 s later
    world.run(500.0, [])
    assert world.holder(tid) == "claude"  # 1,000 s after the claim, 500 s after the call
    world.run(101.0, [])
    assert world.holder(tid) == ""  # 601 s of silence: back in the queue
    assert world.store.load(tid).status is Status.READY


def test_after_a_restart_an_agent_is_pushed_nothing_until_it_calls_in(world: World) -> None:
    world.beat("cursor")  # alive for the first service process
    world.clock.advance(1.0)
    again = Orchestrator(world.store, Config(), world.clock)  # the service restarted
    world.orch = again
    queued = world.task("endpoint")
    assert queued.assigned_agent is None  # its last call was to the process before
    assert {a.name: a.status for a in again.agents()}["cursor"] == "offline"
    again.heartbeat("cursor")
    assert world.holder(queued.task_id) == "cursor"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_replicas_on_one_database_never_assign_a_task_twice(kind: str, tmp_path: Path) -> None:
    """Two orchestrators (two serve processes' worth: their own connections, their own
    in-process state) on one database, agents pulling through either and both pushing."""
    import threading

    from tests.integration.sql_support import sql_stores

    with sql_stores(kind, tmp_path) as make:
        first, second = make(), make()
        one = World(first, tmp_path)
        two = Orchestrator(second, Config(), one.clock)
        names = [f"bot{n}" for n in range(8)]
        for name in names:
            one.orch.add_agent(Agent(name=name, role="implementer", max_tasks=2))
        tids = {one.task(f"task {n}").task_id for n in range(40)}
        errors: list[BaseException] = []

        def work(orch: Orchestrator, name: str) -> None:
            try:
                while True:
                    answer = orch.next_for(name)
                    if answer.decision.action == "continue" and answer.decision.task_id:
                        orch.step(answer.decision.task_id, "submit", agent=name)
                    elif errors or all(t.status is Status.REVIEW for t in first.snapshot().tasks):
                        return
            except BaseException as exc:  # pragma: no cover - shown by the assertion below
                errors.append(exc)

        replicas = [one.orch, two]
        threads = [
            threading.Thread(target=work, args=(replicas[n % 2], name))
            for n, name in enumerate(names)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert errors == []
        events = first.events(None, limit=10**6)
        taken = [e.task for e in events if e.op in ("claim", "assigned") and e.outcome == "ok"]
        assert sorted(taken) == sorted(tids)  # each task given once, across both replicas


def test_a_lease_left_by_a_step_outside_the_orchestrator_is_let_go(world: World) -> None:
    """A person sends the task back to ready on the service directly (the CLI on the files,
    a git hook): the sweeper releases the lease, and the task is assigned again."""
    world.beat("cursor")
    tid = world.task("endpoint").task_id
    world.orch.service().resolve(tid, agent="human", to="ready")
    assert world.holder(tid) == "cursor"  # the lease outlived the move
    again = world.orch.sweep()  # lets the lease go, and assigns the task at once
    assert [(a.task_id, a.assigned_agent) for a in again] == [(tid, "cursor")]
    assert world.store.load(tid).agent == "cursor"
    assert "released" in [e.op for e in world.store.events(tid)]


def test_a_submission_that_loses_the_race_to_the_assigner_names_who_got_the_task(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``POST /tasks`` and the serve process's assigner loop (or another replica) both try to
    assign a new task; when the loop wins, the answer names its agent, not 'queued'."""
    loop = Orchestrator(world.store, Config(), world.clock)  # started before anyone calls in
    world.beat("claude")
    give = world.orch._give_in

    def loop_first(tx: object, pick: object, *args: object, **kwargs: bool) -> object:
        loop.assign_ready()  # the loop's pass lands between the plan and the give
        return give(tx, pick, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(world.orch, "_give_in", loop_first)
    answer = world.task("endpoint", needs=["backend"])
    assert world.holder(answer.task_id) == "claude"
    assert answer.assigned_agent == "claude" and answer.queued_because == ""
    assert answer.fence >= 1


def test_assigning_a_task_the_assigner_already_gave_names_its_holder(world: World) -> None:
    world.beat("claude")
    svc = world.orch.service()
    task = svc.prep(svc.create("endpoint", agent="chatgpt", goal="do it").id, agent="chatgpt")
    first = world.orch.assign_ready()  # the loop's pass, before the request's own try
    assert [a.assigned_agent for a in first] == ["claude"]
    again = world.orch.assign_task(task.id)
    assert (again.assigned_agent, again.fence, again.queued_because) == (
        "claude",
        first[0].fence,
        "",
    )


def test_a_submission_is_one_commit(world: World) -> None:
    """Create, prep and assign commit together: the store's revision moves by one."""
    world.beat("cursor")  # max_tasks 3
    world.task("first")  # the planner's sign of life is written now, not again within 1 s
    before = world.store.revision()
    given = world.task("endpoint")
    assert given.assigned_agent == "cursor"
    assert world.store.revision() == before + 1


def test_a_task_created_ready_is_written_once_with_both_events(world: World) -> None:
    """``create`` with its prep (what a submission makes): the stored task is ready and
    prepped, its log says create then prep, as a create followed by a prep would."""
    svc = world.orch.service()
    prep = svc.prep_change("chatgpt", acceptance=["it works"], files=["src/app.py"])
    task = svc.create("endpoint", agent="chatgpt", goal="do it", then=prep)
    stored = world.store.load(task.id)
    assert stored == task and stored.status is Status.READY
    assert [c.text for c in stored.acceptance] == ["it works"] and stored.files == ("src/app.py",)
    assert [h.op for h in stored.history] == ["create", "prep"]
    assert [op for op, _, _ in world.ops(task.id)] == ["create", "prep"]


def test_a_create_whose_prep_is_refused_creates_nothing_and_logs_the_refusal(
    world: World,
) -> None:
    svc = world.orch.service()
    before = {t.id for t in world.store.snapshot().tasks}
    with pytest.raises(InvalidInput, match="has no goal yet"):
        svc.create("endpoint", agent="chatgpt", then=svc.prep_change("chatgpt"))
    assert {t.id for t in world.store.snapshot().tasks} == before
    refused = [e for e in world.store.events() if e.outcome == "refused"]
    assert [(e.op, e.agent) for e in refused] == [("prep", "chatgpt")]
    assert refused[0].task not in before


def test_a_submission_whose_assignment_fails_still_creates_the_task_queued(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The assignment fails after it wrote its lease and event: those are undone, the task
    stands (ready), and the answer says it is queued, not that the submission failed."""
    world.beat("claude")
    take = world.orch._take

    def take_then_fail(tx: object, pick: object, actor: str, *known: object) -> object:
        take(tx, pick, actor, *known)  # type: ignore[arg-type]
        raise RuntimeError("the disk hiccuped")

    monkeypatch.setattr(world.orch, "_take", take_then_fail)
    given = world.task("endpoint")
    assert given.assigned_agent is None and "the disk hiccuped" in given.queued_because
    assert world.store.load(given.task_id).status is Status.READY
    assert world.holder(given.task_id) == ""
    assert [op for op, _, _ in world.ops(given.task_id)] == ["create", "prep"]
    monkeypatch.undo()
    assert world.orch.assign_task(given.task_id).assigned_agent == "claude"


def test_a_claim_by_an_agent_not_registered_yet_is_one_commit(
    store: TaskStore, tmp_path: Path
) -> None:
    """An HTTP claim by an agent the registry does not know yet: its registration, the claim
    and its lease commit together; a refused claim leaves one refused event and the task as
    it was, and the agent still counts as heard from."""
    roles = {"planner": ("chatgpt",), "implementer": ("newbie", "other")}
    world = World(store, tmp_path, Config(roles=roles))
    tid = world.task("endpoint").task_id  # nobody alive: queued
    before = store.revision()
    result = world.orch.step(tid, "claim", agent="newbie")
    assert store.revision() == before + 1
    assert world.holder(tid) == "newbie" and result.fence >= 1
    assert world.orch.registered("newbie") is not None
    task = store.load(tid)
    with pytest.raises(AlreadyClaimed) as refused:
        world.orch.step(tid, "claim", agent="other")
    assert "newbie" in str(refused.value)
    assert store.load(tid) == task and world.holder(tid) == "newbie"
    assert [e.agent for e in store.events(tid) if e.outcome == "refused"] == ["other"]
    assert world.orch.registered("other") is not None


def test_a_step_that_does_not_commit_does_not_count_as_a_sign_of_life(
    store: TaskStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sign of life is written in the step's transaction: when that rolls back, the
    agent's next call writes it again (it is not skipped as written less than 1 s ago)."""
    roles = {"planner": ("chatgpt",), "implementer": ("newbie",)}
    world = World(store, tmp_path, Config(roles=roles))
    tid = world.task("endpoint").task_id
    run = world.orch._run_step

    def crash(*args: object) -> object:
        raise RuntimeError("the process is going down")

    monkeypatch.setattr(world.orch, "_run_step", crash)
    with pytest.raises(RuntimeError):
        world.orch.step(tid, "claim", agent="newbie")
    assert world.orch.registered("newbie") is None  # rolled back with the step
    monkeypatch.setattr(world.orch, "_run_step", run)
    world.orch.step(tid, "claim", agent="newbie")  # at once: the same instant
    assert world.orch.registered("newbie") is not None and world.holder(tid) == "newbie"
