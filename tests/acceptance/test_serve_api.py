"""The orchestrator's HTTP API on a real ``orch serve``: the handoff chain, the spec's shapes,
tokens (401, 403), and bad input to every route (a clear 4xx, never a 500, nothing changed)."""

from __future__ import annotations

import pytest

from tests.acceptance.serve_support import API, Served, serving
from tests.conftest import Orch

pytestmark = [pytest.mark.server]

DB: tuple[str, ...] = ()  # the default store: SQLite in .mcp/orch.db
AGENTS = ("chatgpt", "cursor", "claude", "codex")


@pytest.fixture
def served(orch: Orch) -> Served:
    with serving(orch, *DB, agents=AGENTS) as server:
        yield server  # type: ignore[misc]


def test_the_handoff_chain_over_http(served: Served, orch: Orch) -> None:
    made = served.ok(
        "chatgpt",
        "POST",
        "tasks",
        json={
            "task": {
                "title": "Rate limit",
                "priority": "P1",
                "goal": "stop guessing",
                "acceptance_criteria": ["429 on the 6th try"],
            }
        },
    )
    tid = made["task_id"]
    assert set(made) >= {"task_id", "assigned_agent", "estimated_completion"}
    nxt = served.ok("cursor", "POST", "next", json={})
    assert nxt["action"] == "claim" and nxt["task"]["id"] == tid
    assert f"{API}/tasks/{tid}/claim" in nxt["command"]
    claimed = served.ok("cursor", "POST", f"tasks/{tid}/claim", json={})["task"]
    assert claimed["status"] == "in_progress" and claimed["assigned_agent"] == "cursor"
    served.ok("cursor", "POST", f"tasks/{tid}/submit", json={"note": "limiter added"})
    back = served.ok("codex", "POST", f"tasks/{tid}/feedback", json={"text": "per account too"})
    assert back["task"]["board_status"] == "ready"
    assert served.ok("cursor", "POST", "next")["action"] == "fix"
    served.ok("cursor", "POST", f"tasks/{tid}/claim")
    served.ok("cursor", "POST", f"tasks/{tid}/submit", json={"note": "both counted"})
    done = served.ok("codex", "POST", f"tasks/{tid}/complete", json={})["task"]
    assert done["status"] == "completed" and done["completed_at"]

    shown = served.ok("claude", "GET", f"tasks/{tid}")
    assert shown["type"] == "P1" and shown["priority"] == 1
    assert shown["metadata"]["acceptance_criteria"] == ["429 on the 6th try"]
    assert [n["body"] for n in shown["board"]["feedback"]] == ["per account too"]

    events = served.ok("claude", "GET", "events", params={"task_id": tid})["events"]
    assert [e["type"] for e in events][-3:] == ["claim", "submit", "complete"]
    assert all(e["practice_id"] == "system" and e["occurred_at"] for e in events)
    assert events[-1]["actor"] == "codex" and events[-1]["payload_json"]["to_status"] == "done"
    page = served.ok("claude", "GET", "events", params={"limit": 2, "offset": 1})
    assert len(page["events"]) == 2 and page["next_offset"] == 3 and page["total"] > 3


def test_listing_tasks_filters_and_pages(served: Served, orch: Orch) -> None:
    ids = [served.ready(f"Task {n}", p) for n, p in enumerate(["P2", "P0", "P1"])]
    listed = served.ok("cursor", "GET", "tasks")
    assert [t["id"] for t in listed["tasks"]] == [ids[1], ids[2], ids[0]]  # P0 first
    assert served.ok("cursor", "GET", "tasks", params={"priority": "P1"})["total"] == 1
    first = served.ok("cursor", "GET", "tasks", params={"limit": 2})
    assert len(first["tasks"]) == 2 and first["next_offset"] == 2
    served.ok("cursor", "POST", f"tasks/{ids[1]}/claim")
    held = served.ok("cursor", "GET", "tasks", params={"status": "in_progress"})
    assert [t["id"] for t in held["tasks"]] == [ids[1]]


def test_every_route_but_health_needs_a_valid_token(served: Served, orch: Orch) -> None:
    tid = served.ready("Untouchable")
    before = served.tasks()
    routes = [
        ("POST", "tasks", {"task": {"title": "never"}}),
        ("GET", "tasks", None),
        ("GET", f"tasks/{tid}", None),
        ("POST", f"tasks/{tid}/claim", {}),
        ("POST", "next", {}),
        ("GET", "agents", None),
        ("GET", "agents/cursor", None),
        ("POST", "agents/newbie", {"role": "implementer"}),
        ("DELETE", "agents/cursor", None),
        ("POST", "agents/cursor/heartbeat", {}),
        ("GET", "events", None),
    ]
    served.tokens["forged"] = "orch_not-a-real-token"
    for who in (None, "forged"):
        for method, path, body in routes:
            error = served.refused(who, method, path, 401, json=body)
            assert error["code"] == "unauthorized"
    assert served.tasks() == before
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert served.call(None, "GET", path).status_code == 200


def test_a_token_acts_as_its_agent_only(served: Served, orch: Orch) -> None:
    tid = served.ready("Mine")
    before = served.tasks()
    error = served.refused("claude", "POST", f"tasks/{tid}/claim", 403, json={"agent": "cursor"})
    assert "acts as claude" in error["message"]
    error = served.refused("chatgpt", "POST", f"tasks/{tid}/claim", 403)  # a planner
    assert error["code"] == "not_allowed" and "implementer" in error["message"]
    served.refused("cursor", "POST", "agents/newbie", 403, json={"role": "implementer"})
    served.refused("cursor", "DELETE", "agents/codex", 403)
    served.refused("cursor", "POST", "agents/codex/heartbeat", 403, json={})
    assert served.tasks() == before
    # A person's token may act as anyone.
    claimed = served.ok("admin", "POST", f"tasks/{tid}/claim", json={"agent": "claude"})
    assert claimed["task"]["assigned_agent"] == "claude"


BAD_BODIES = [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "not an object"),
    (b'"text"', "not an object"),
    (b"\xff\xfe", "not valid JSON"),
]


def test_bad_input_to_every_route_is_a_clear_4xx_and_changes_nothing(
    served: Served, orch: Orch
) -> None:
    tid = served.ready("Stays ready")
    before = served.tasks()
    posts = [
        "tasks",
        f"tasks/{tid}/claim",
        f"tasks/{tid}/submit",
        "next",
        "agents/cursor/heartbeat",
    ]
    for path in posts:
        for body, said in BAD_BODIES:
            error = served.refused("cursor", "POST", path, 400, content=body)
            assert said in error["message"], (path, error)
        error = served.refused("cursor", "POST", path, 400, json={"bogus": 1})
        assert "unknown field" in error["message"] and "bogus" in error["message"]
    wrong_types = [
        ("tasks", {"task": "a title"}),
        ("tasks", {"task": {"title": 5}}),
        ("tasks", {"task": {"title": "x", "priority": "P7"}}),
        ("tasks", {"task": {"title": "x", "dependencies": "T-1"}}),
        ("tasks", {"task": {"title": "x"}, "priority_override": "high"}),
        ("tasks", {"task": {"title": "x", "colour": "red"}}),
        (f"tasks/{tid}/submit", {"note": ["a"]}),
        (f"tasks/{tid}/claim", {"fence": "3"}),
        (f"tasks/{tid}/claim", {"agent": "bad name!"}),
        ("next", {"agent": 7}),
        ("agents/cursor/heartbeat", {"tasks": "T-1"}),
        ("agents/cursor/heartbeat", {"tasks": [{"id": tid, "lease": 1}]}),
    ]
    for path, body in wrong_types:
        served.refused("admin" if path == "tasks" else "cursor", "POST", path, 400, json=body)
    for query in ({"limit": "lots"}, {"offset": "-1"}, {"colour": "red"}):
        served.refused("cursor", "GET", "tasks", 400, params=query)
        served.refused("cursor", "GET", "events", 400, params=query)
    served.refused("cursor", "GET", "tasks/T-nothere0", 404)
    served.refused("cursor", "GET", "tasks/not an id", 400)
    served.refused("cursor", "POST", "tasks/T-nothere0/claim", 404)
    served.refused("cursor", "POST", f"tasks/{tid}/dance", 404)
    served.refused("cursor", "GET", "agents/nobody", 404)
    served.refused("cursor", "GET", "/nowhere", 404)
    served.refused("cursor", "PUT", "tasks", 405)
    huge = b'{"note": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert served.refused("cursor", "POST", f"tasks/{tid}/claim", 413, content=huge)
    error = served.refused("cursor", "POST", f"tasks/{tid}/submit", 409, json={"note": "early"})
    assert error["code"] == "illegal_transition" and "ready" in error["message"]
    assert served.tasks() == before  # (a refused step is logged, as on the CLI)
