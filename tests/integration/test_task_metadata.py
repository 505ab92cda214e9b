"""The spec's ``metadata.risk_level`` and ``metadata.estimated_duration`` of a task (issue 10):
kept with the task (two header lines of its file, ``## Risk`` and ``## Estimate``), answered
back in the API's Task shape, changed by an update, refused by name when wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mcp_orch.config import Config
from mcp_orch.domain.errors import InvalidInput
from mcp_orch.interfaces.http_shapes import task_shape
from mcp_orch.scheduler import Orchestrator, TaskInput
from mcp_orch.service import ManualClock, Service
from mcp_orch.store.memory import MemoryStore

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def orchestrator() -> Orchestrator:
    roles = {"planner": ("chatgpt",), "implementer": ("cursor",), "reviewer": ("codex",)}
    return Orchestrator(MemoryStore(), Config(roles=roles), ManualClock(START))


def submit(orch: Orchestrator, task: dict[str, object]) -> str:
    return orch.submit_task(TaskInput.from_json(task), actor="chatgpt").task_id


def test_risk_and_estimate_are_kept_and_shown() -> None:
    orch = orchestrator()
    meta = {"goal": "stop guessing", "risk_level": "critical", "estimated_duration": 90}
    tid = submit(orch, {"title": "Rate limit", "metadata": meta})
    task = orch.store.load(tid)
    assert (task.risk, task.estimate) == ("critical", "90m")
    shown = task_shape(task, lambda _: True)["metadata"]
    assert shown["risk_level"] == "critical" and shown["estimated_duration"] == 90
    plain = orch.store.load(submit(orch, {"title": "Other", "goal": "g"}))
    shown = task_shape(plain, lambda _: True)["metadata"]
    assert shown["risk_level"] == "standard" and shown["estimated_duration"] is None


def test_an_update_changes_them_and_keeps_what_it_does_not_name() -> None:
    orch = orchestrator()
    meta = {"goal": "g", "risk_level": "critical", "estimated_duration": 30}
    tid = submit(orch, {"title": "Rate limit", "status": "pending", "metadata": meta})
    submit(orch, {"id": tid, "metadata": {"risk_level": "experimental"}})
    task = orch.store.load(tid)
    assert (task.risk, task.estimate) == ("experimental", "30m")
    submit(orch, {"id": tid, "metadata": {"estimated_duration": 1.5}})
    task = orch.store.load(tid)
    assert (task.risk, task.estimate) == ("experimental", "90s")
    assert task_shape(task, lambda _: True)["metadata"]["estimated_duration"] == 1.5


def test_a_wrong_risk_or_estimate_is_refused_and_creates_nothing() -> None:
    svc = Service(MemoryStore(), Config(), ManualClock(START))
    with pytest.raises(InvalidInput, match="unknown risk level 'huge'"):
        svc.create("x", risk="huge")
    with pytest.raises(InvalidInput, match="estimate: '10' is not a duration"):
        svc.create("x", estimate="10")
    assert svc.store.snapshot().tasks == ()
    orch = orchestrator()
    with pytest.raises(InvalidInput, match="risk_level"):
        submit(orch, {"title": "x", "metadata": {"risk_level": "huge"}})
    assert orch.store.snapshot().tasks == ()
