"""The orchestrator's HTTP API on a real ``orch serve``: the handoff chain, the spec's shapes,
tokens (401, 403), and bad input to every route (a clear 4xx, never a 500, nothing changed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.acceptance.serve_support import API, Served, serving
from tests.conftest import Orch

pytestmark = [pytest.mark.server]

AGENTS = ("chatgpt", "cursor", "claude", "codex")
PG = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture(params=["sqlite", "postgresql"])
def served(orch: Orch, request: pytest.FixtureRequest) -> Iterator[Served]:
    """``orch serve`` on its default store (SQLite in .mcp/orch.db), and on a PostgreSQL
    database of its own (created here, dropped afterwards)."""
    if request.param == "sqlite":
        with serving(orch, agents=AGENTS) as server:
            yield server
        return
    import psycopg

    name = f"orch_http_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with serving(orch, "--db", f"{PG}/{name}", agents=AGENTS) as server:
            yield server
    finally:
        with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    assert made["assigned_agent"] is None and made["queued_because"]  # nobody alive yet
    beat = served.ok("cursor", "POST", "agents/cursor/heartbeat", json={})
    assert beat["agent"] == "cursor" and beat["lost"] == []
    # Alive now: the task is pushed to it (or, if the assigner has not run yet, next takes it).
    nxt = served.ok("cursor", "POST", "next", json={})
    assert nxt["action"] == "continue" and nxt["task"]["id"] == tid
    assert f"{API}/tasks/{tid}/submit" in nxt["command"]
    claimed = served.ok("cursor", "POST", f"tasks/{tid}/claim", json={})
    assert claimed["changed"] is False and claimed["fence"] > 0  # it holds it already
    assert claimed["task"]["status"] == "in_progress"
    assert claimed["task"]["assigned_agent"] == "cursor"
    served.ok("cursor", "POST", f"tasks/{tid}/submit", json={"note": "limiter added"})
    back = served.ok("codex", "POST", f"tasks/{tid}/feedback", json={"text": "per account too"})
    assert back["task"]["board_status"] == "ready"
    again = served.ok("cursor", "POST", "next")  # back to the same implementer
    assert again["task"]["id"] == tid and again["action"] in ("fix", "continue")
    served.ok("cursor", "POST", f"tasks/{tid}/claim")
    served.ok("cursor", "POST", f"tasks/{tid}/submit", json={"note": "both counted"})
    done = served.ok("codex", "POST", f"tasks/{tid}/complete", json={})["task"]
    assert done["status"] == "completed" and done["completed_at"]

    shown = served.ok("claude", "GET", f"tasks/{tid}")
    assert shown["type"] == "P1" and shown["priority"] == 1
    assert shown["metadata"]["acceptance_criteria"] == ["429 on the 6th try"]
    assert [n["body"] for n in shown["board"]["feedback"]] == ["per account too"]

    events = served.ok("claude", "GET", "events", params={"task_id": tid})["events"]
    types = [e["type"] for e in events]
    assert types[:2] == ["create", "prep"] and types[-1] == "complete", types
    assert types[2] in ("assigned", "claim"), types  # pushed by the assigner, or pulled
    assert types.count("submit") == 2 and "feedback" in types
    assert all(e["practice_id"] == "system" and e["occurred_at"] for e in events)
    assert events[-1]["actor"] == "codex" and events[-1]["payload_json"]["to_status"] == "done"
    page = served.ok("claude", "GET", "events", params={"limit": 2, "offset": 1})
    assert len(page["events"]) == 2 and page["next_offset"] == 3 and page["total"] > 3
    # since_id: what came after an event (a poller's cursor); since: a time, in any ISO form.
    after = served.ok("claude", "GET", "events", params={"since_id": events[-2]["id"]})
    assert [e["id"] for e in after["events"]][:1] == [events[-1]["id"]]
    assert all(e["id"] > events[-2]["id"] for e in after["events"])
    at = events[-1]["occurred_at"]
    since = served.ok("claude", "GET", "events", params={"since": at, "task_id": tid})
    assert since["events"][0]["occurred_at"] == at and since["total"] <= len(events)


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
    tid = served.ok(
        "chatgpt", "POST", "tasks", json={"task": {"title": "A stub", "status": "pending"}}
    )["task_id"]
    before = served.tasks()  # a stub: nobody is assigned it, whoever comes alive
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
    for query in ({"since": "yesterday"}, {"since_id": "-3"}, {"since_id": "x"}):
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
    assert error["code"] == "illegal_transition" and "pending" in error["message"]
    assert served.tasks() == before  # (a refused step is logged, as on the CLI)
