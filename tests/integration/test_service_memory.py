"""The handoff chain in process: the real ``Service`` on a ``MemoryStore`` with a
``ManualClock``. No subprocess and no files, so these run in milliseconds; the acceptance
tests run the same behaviours through the ``orch`` executable on the file board."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcp_orch.config import Config
from mcp_orch.domain.errors import (
    AgentBusy,
    DependencyError,
    IllegalTransition,
    NotAllowed,
    UnknownAgent,
)
from mcp_orch.domain.model import Status
from mcp_orch.service import ManualClock, Service
from mcp_orch.store.factory import open_store
from mcp_orch.store.memory import MemoryStore

ROLES = {
    "planner": ("chatgpt",),
    "implementer": ("cursor", "copilot"),
    "reviewer": ("codex",),
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))


@pytest.fixture
def service(clock: ManualClock) -> Service:
    return Service(MemoryStore(), Config(roles=ROLES), clock)


def ready(service: Service, title: str = "Add login rate limit", **kw: object) -> str:
    task_id = service.create(title, agent="chatgpt", **kw).id  # type: ignore[arg-type]
    service.prep(task_id, goal="stop password guessing", acceptance=["429"], agent="chatgpt")
    return task_id


def test_the_factory_opens_a_memory_store() -> None:
    store = open_store("memory", None)
    assert isinstance(store, MemoryStore) and store.url == "memory"


def test_a_task_goes_through_the_whole_chain(service: Service, clock: ManualClock) -> None:
    task_id = ready(service)
    clock.advance(60)
    assert service.next_action("cursor").decision.action == "claim"
    service.claim(task_id, agent="cursor")
    service.submit(task_id, agent="cursor", note="done, tested")
    assert service.next_action("codex").decision.task_id == task_id
    done = service.complete(task_id, agent="codex")
    assert done.status is Status.DONE
    ops = [(e.op, e.agent, e.to_status) for e in service.log(task_id)]
    assert ops == [
        ("create", "chatgpt", "pending"),
        ("prep", "chatgpt", "ready"),
        ("claim", "cursor", "in-progress"),
        ("submit", "cursor", "review"),
        ("complete", "codex", "done"),
    ]
    assert done.history[-1].at == "2026-11-25T13:01:00.000Z"  # the manual clock's time


def test_feedback_goes_back_to_the_same_implementer_and_submit_resolves_it(
    service: Service,
) -> None:
    task_id = ready(service)
    service.claim(task_id, agent="cursor")
    service.submit(task_id, agent="cursor")
    back = service.request_changes(task_id, agent="codex", text="handle the reset path")
    assert back.status is Status.READY and back.implementer == "cursor"
    assert [n.body for n in back.open_feedback] == ["handle the reset path"]
    assert service.next_action("cursor").decision.task_id == task_id
    service.claim(task_id, agent="cursor")
    resubmitted = service.submit(task_id, agent="cursor")
    assert resubmitted.open_feedback == ()


def test_dependencies_and_the_in_progress_limit_are_enforced(service: Service) -> None:
    first = ready(service, "first")
    second = ready(service, "second", depends=[first])
    with pytest.raises(DependencyError, match=first):
        service.claim(second, agent="cursor")
    other = ready(service, "other")
    service.claim(first, agent="cursor")
    with pytest.raises(AgentBusy):
        service.claim(other, agent="cursor")
    with pytest.raises(DependencyError, match="cycle"):
        service.prep(first, depends=[second], agent="chatgpt")


def test_roles_and_unknown_agents_are_refused_with_one_event_each(service: Service) -> None:
    task_id = ready(service)
    with pytest.raises(UnknownAgent):
        service.claim(task_id, agent="cursr")
    with pytest.raises(NotAllowed):
        service.claim(task_id, agent="codex")  # a reviewer does not implement
    refused = [(e.agent, e.outcome) for e in service.log(task_id) if e.op == "claim"]
    assert refused == [("cursr", "refused"), ("codex", "refused")]
    assert service.show(task_id).status is Status.READY


def test_an_escalated_task_leaves_the_queue_until_resolved(service: Service) -> None:
    task_id = ready(service)
    service.escalate(task_id, agent="cursor", reason="the spec contradicts itself")
    assert service.next_action("cursor").decision.task_id != task_id
    with pytest.raises(IllegalTransition, match="escalated"):
        service.claim(task_id, agent="cursor")
    service.resolve(task_id, agent="human", note="use the second reading")
    assert service.claim(task_id, agent="cursor").changed


def test_a_failed_gate_keeps_its_output_as_an_attachment(service: Service) -> None:
    task_id = ready(service)
    service.claim(task_id, agent="cursor")
    task = service.test_failed(
        task_id,
        agent="cursor",
        summary="tests failed (attempt 1)",
        attachment=("attempt-1-abc.md", "FAILED test_login\n"),
    )
    ref = task.errors[-1].ref
    assert task.status is Status.READY and task.open_feedback[-1].ref == ref
    store = service.store
    assert isinstance(store, MemoryStore) and store.attachment(ref) == "FAILED test_login\n"
    passed, refused = service.tests_passed(task_id, agent="cursor", commit="abc123")
    assert refused == "" and passed.open_feedback == ()


def test_wait_next_wakes_on_the_revision_not_the_recheck(clock: ManualClock) -> None:
    store = MemoryStore()
    config = Config(roles=ROLES)
    planner = Service(store, config, clock)
    waiter = Service(store, config, clock)
    handed = []

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        if not handed and clock.elapsed >= 0.2:
            handed.append(ready(planner))

    waiter.clock = clock
    clock.sleep = sleep  # type: ignore[method-assign]
    result = waiter.wait_next("cursor", timeout=10, poll=0.05, recheck=5.0)
    assert result.decision.action == "claim" and result.decision.task_id == handed[0]
    assert clock.elapsed < 0.4  # woken by the revision within a poll, not by the 5 s recheck
