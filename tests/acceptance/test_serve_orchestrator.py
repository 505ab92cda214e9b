"""The orchestrator through a real ``orch serve`` on SQLite: the spec's Task Assignment Test
(P0 first, several P1s to cursor at once, dependencies respected), the registry changed live,
and a stale agent's write refused by its fence (409 ``lease_lost``)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.acceptance.serve_support import Served, serving
from tests.conftest import Orch

pytestmark = [pytest.mark.server]

AGENTS_YAML = """\
agents:
  - name: cursor
    role: implementer
    capabilities: [backend, frontend]
    max_tasks: 3
  - name: codex
    role: reviewer
    capabilities: [review]
"""


@pytest.fixture
def served(orch: Orch) -> Served:
    (orch.cwd / ".mcp" / "agents.yaml").write_text(AGENTS_YAML)
    with serving(orch, agents=("chatgpt", "cursor", "codex", "claude")) as server:
        yield server  # type: ignore[misc]


def task(title: str, priority: str, **more: Any) -> dict[str, Any]:
    return {
        "task": {
            "title": title,
            "priority": priority,
            "goal": f"goal of {title}",
            "acceptance_criteria": ["it works"],
            "capabilities": ["backend"],
            **more,
        }
    }


def until(check: Any, what: str, timeout: float = 10) -> Any:
    """Poll ``check()`` until it is truthy (the assigner runs in the server's own loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def holder(served: Served, tid: str, *alive: str) -> str | None:
    """Who holds ``tid`` now; the ``alive`` agents send a heartbeat first, as a live agent
    does every few seconds (an agent whose heartbeats stop loses its tasks)."""
    for name in alive:
        served.ok(name, "POST", f"agents/{name}/heartbeat", json={})
    return served.ok("chatgpt", "GET", f"tasks/{tid}")["assigned_agent"]  # type: ignore[no-any-return]


def test_the_spec_task_assignment_test(served: Served) -> None:
    p0 = served.ok("chatgpt", "POST", "tasks", json=task("Urgent", "P0"))
    p1s = [served.ok("chatgpt", "POST", "tasks", json=task(f"Feature {n}", "P1")) for n in range(3)]
    later = served.ok(
        "chatgpt",
        "POST",
        "tasks",
        json=task("After the urgent one", "P2", dependencies=[p0["task_id"]]),
    )
    assert all(a["assigned_agent"] is None for a in (p0, *p1s, later))  # nobody alive yet
    served.ok("cursor", "POST", "agents/cursor/heartbeat", json={})  # cursor comes alive
    ids = [p0["task_id"], *(a["task_id"] for a in p1s)]
    until(lambda: holder(served, ids[2], "cursor") == "cursor", "cursor holds three tasks")
    held = {tid for tid in ids if holder(served, tid) == "cursor"}
    assert p0["task_id"] in held and len(held) == 3  # P0 first, then P1s, up to max_tasks 3
    assert holder(served, later["task_id"]) is None  # its dependency is not done
    shown = served.ok("chatgpt", "GET", f"tasks/{later['task_id']}")
    assert shown["status"] == "blocked"
    events = served.ok("chatgpt", "GET", "events", params={"type": "assigned"})["events"]
    assert events and events[0]["task_id"] == p0["task_id"]  # the P0 went out first
    assert events[0]["actor"] == "orchestrator" and events[0]["agent"] == "cursor"  # audit
    cursor = served.ok("chatgpt", "GET", "agents/cursor")
    assert cursor["status"] == "busy" and sorted(cursor["current_tasks"]) == sorted(held)
    assert set(cursor["performance_metrics"]) >= {"tasks_completed", "error_rate"}

    def finish(tid: str) -> None:
        served.ok("cursor", "POST", f"tasks/{tid}/submit", json={"note": "fixed"})
        served.ok("codex", "POST", f"tasks/{tid}/complete", json={})

    finish(p0["task_id"])  # the P2 may go now, but the last P1 comes first
    (waiting,) = set(ids) - held
    until(lambda: holder(served, waiting, "cursor") == "cursor", "the last P1 goes to cursor")
    assert holder(served, later["task_id"]) is None  # cursor is full again (max_tasks 3)
    finish(waiting)
    until(
        lambda: holder(served, later["task_id"], "cursor") == "cursor",
        "the P2 once its dependency is done and cursor has room",
    )


def test_the_registry_changes_live_and_a_removed_agents_tasks_go_back(served: Served) -> None:
    added = served.ok(
        "admin", "POST", "agents/claude", json={"role": "implementer", "capabilities": ["backend"]}
    )
    assert added["name"] == "claude" and added["capabilities"] == ["backend"]
    names = {a["name"] for a in served.ok("codex", "GET", "agents")["agents"]}
    assert {"cursor", "codex", "claude"} <= names
    served.ok("claude", "POST", "agents/claude/heartbeat", json={})
    tid = served.ok("chatgpt", "POST", "tasks", json=task("For claude", "P1"))["task_id"]
    until(lambda: holder(served, tid, "claude") == "claude", "claude is assigned the task")
    gone = served.ok("admin", "DELETE", "agents/claude")
    assert gone == {"removed": "claude", "requeued": [tid]}
    served.refused("admin", "GET", "agents/claude", 404)
    updated = served.ok("admin", "POST", "agents/cursor", json={"max_tasks": 5})
    assert updated["max_tasks"] == 5


def test_a_stale_agents_write_is_refused_by_its_fence(served: Served) -> None:
    served.ok(
        "admin", "POST", "agents/claude", json={"role": "implementer", "capabilities": ["backend"]}
    )
    served.ok("claude", "POST", "agents/claude/heartbeat", json={})
    tid = served.ok("chatgpt", "POST", "tasks", json=task("Taken away", "P1"))["task_id"]
    until(lambda: holder(served, tid, "claude") == "claude", "claude is assigned the task")
    fence = served.ok("claude", "POST", f"tasks/{tid}/claim", json={})["fence"]
    assert fence > 0
    served.ok("admin", "DELETE", "agents/claude")  # its task goes back to the queue (fence + 1)
    served.ok("cursor", "POST", "agents/cursor/heartbeat", json={})
    until(lambda: holder(served, tid, "cursor") == "cursor", "cursor is given the task")
    error = served.refused(
        "claude", "POST", f"tasks/{tid}/submit", 409, json={"fence": fence, "note": "late"}
    )
    assert error["code"] == "lease_lost"
    assert served.ok("chatgpt", "GET", f"tasks/{tid}")["board_status"] == "in-progress"
