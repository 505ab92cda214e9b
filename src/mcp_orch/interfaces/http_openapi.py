"""``GET /openapi.json``: the API described by hand (OpenAPI 3.1), no framework generating it.

A test holds this document and the app's routes to the same set of paths and methods.
"""

from __future__ import annotations

from typing import Any

from .. import __version__

API = "/api/orchestrator"
STEPS = ("claim", "submit", "feedback", "complete", "fail", "escalate", "progress")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


STR = {"type": "string"}
INT = {"type": "integer"}
NSTR = {"type": ["string", "null"]}
STRS = {"type": "array", "items": STR}
ERRORS = {
    "400": "invalid input (malformed JSON, unknown fields, wrong types)",
    "401": "no valid bearer token",
    "403": "the token's agent may not take this step",
    "404": "no such task, agent or route",
    "409": "not allowed now (the reason in error.message; lease_lost: the holder changed)",
    "413": "the body is too large",
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {"error": _obj({"code": STR, "message": STR, "hint": STR}, ("code", "message", "hint"))},
        ("error",),
    ),
    "TaskIn": _obj(
        {
            "id": STR,
            "title": STR,
            "description": STR,
            "goal": STR,
            "type": {"enum": ["P0", "P1", "P2"]},
            "priority": {"type": ["integer", "string"]},
            "status": {"enum": ["pending", "ready"]},
            "assigned_agent": NSTR,
            "dependencies": STRS,
            "capabilities": STRS,
            "files": STRS,
            "acceptance_criteria": STRS,
            "metadata": _obj(
                {
                    "goal": STR,
                    "acceptance_criteria": STRS,
                    "estimated_duration": {"type": "number"},
                    "risk_level": {"enum": ["critical", "standard", "experimental"]},
                }
            ),
        }
    ),
    "Assignment": _obj(
        {
            "task_id": STR,
            "assigned_agent": NSTR,
            "estimated_completion": NSTR,
            "queued_because": STR,
            "fence": INT,
        },
        ("task_id", "assigned_agent", "estimated_completion"),
    ),
    "Task": _obj(
        {
            "id": STR,
            "title": STR,
            "type": {"enum": ["P0", "P1", "P2"]},
            "priority": INT,
            "status": {
                "enum": ["pending", "assigned", "in_progress", "completed", "failed", "blocked"]
            },
            "board_status": STR,
            "assigned_agent": NSTR,
            "dependencies": STRS,
            "capabilities": STRS,
            "created_at": STR,
            "assigned_at": NSTR,
            "completed_at": NSTR,
            "metadata": {"type": "object"},
            "board": {"type": "object", "description": "the task as orch show --json gives it"},
        }
    ),
    "AgentStatus": _obj(
        {
            "name": STR,
            "status": {"enum": ["available", "busy", "error", "offline"]},
            "current_tasks": STRS,
            "capabilities": STRS,
            "last_heartbeat": NSTR,
            "performance_metrics": _obj(
                {
                    "tasks_completed": INT,
                    "average_completion_time": {"type": "number"},
                    "error_rate": {"type": "number"},
                }
            ),
        }
    ),
    "Event": _obj(
        {
            "id": {"type": ["integer", "null"]},
            "type": STR,
            "practice_id": STR,
            "actor": STR,
            "task_id": NSTR,
            "agent": NSTR,
            "payload_json": {"type": "object"},
            "occurred_at": STR,
        }
    ),
    "Next": _obj(
        {
            "action": STR,
            "task": {"type": ["object", "null"]},
            "reason": STR,
            "command": STR,
            "op": {"type": ["object", "null"]},
            "ops": {"type": "array"},
        }
    ),
}


def _op(
    summary: str,
    answer: str,
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    public: bool = False,
    errors: tuple[str, ...] = ("400", "401", "403", "404", "409", "413"),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": _ref(answer)}}}
            if answer
            else {"description": "OK"},
            **{
                code: {
                    "description": ERRORS[code],
                    "content": {"application/json": {"schema": _ref("Error")}},
                }
                for code in (() if public else errors)
            },
        },
    }
    if body is not None:
        op["requestBody"] = {"content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": STR}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": STR} for n in names]


def _query_int(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": INT} for n in names]


# The two lower bounds of GET /events (both may be given).
EVENT_SINCE = [
    {
        "name": "since",
        "in": "query",
        "schema": {"type": "string", "format": "date-time"},
        "description": "an ISO 8601 time: the events that occurred at or after it",
    },
    {
        "name": "since_id",
        "in": "query",
        "schema": INT,
        "description": "an event's id: the events recorded after it (pass the last id you "
        "saw to poll for news); a SQL store's events have ids, the file board's do not",
    },
]


def paths() -> dict[str, Any]:
    agent = _obj({"agent": STR})
    steps = {
        f"{API}/tasks/{{task_id}}/{step}": {
            "post": _op(
                f"{step} a task (409 with the reason when the step is not allowed now)",
                "",
                body=_obj({"agent": STR, "fence": INT, "note": STR, "text": STR, "reason": STR}),
                params=[_path("task_id")],
            )
        }
        for step in STEPS
    }
    return {
        "/healthz": {"get": _op("the process is up", "", public=True)},
        "/readyz": {"get": _op("the database is reachable and migrated", "", public=True)},
        "/openapi.json": {"get": _op("this document", "", public=True)},
        f"{API}/tasks": {
            "post": _op(
                "create or update a task and assign it at once",
                "Assignment",
                body=_obj(
                    {"task": _ref("TaskIn"), "priority_override": INT, "agent": STR}, ("task",)
                ),
            ),
            "get": _op(
                "tasks, filtered and paged",
                "",
                params=_query("status", "agent", "priority", "offset", "limit"),
            ),
        },
        f"{API}/tasks/{{task_id}}": {
            "get": _op("one task with its board context", "Task", params=[_path("task_id")])
        },
        **steps,
        f"{API}/next": {"post": _op("what this agent should do now", "Next", body=agent)},
        f"{API}/agents": {"get": _op("the registry with each agent's status", "")},
        f"{API}/agents/{{name}}": {
            "get": _op("one agent", "AgentStatus", params=[_path("name")]),
            "post": _op(
                "add or update an agent (a person's token)",
                "AgentStatus",
                body=_obj({"role": STR, "capabilities": STRS, "max_tasks": INT, "status": STR}),
                params=[_path("name")],
            ),
            "delete": _op(
                "remove an agent; its tasks go back to the queue", "", params=[_path("name")]
            ),
        },
        f"{API}/agents/{{name}}/heartbeat": {
            "post": _op(
                "the agent is alive; renews its leases and names the tasks it lost",
                "",
                body=_obj({"tasks": {"type": "array", "items": _obj({"id": STR, "fence": INT})}}),
                params=[_path("name")],
            )
        },
        f"{API}/events": {
            "get": _op(
                "the audit trail, filtered and paged in the store (oldest first)",
                "",
                params=[*_query("task_id", "type"), *EVENT_SINCE, *_query_int("offset", "limit")],
            )
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "mcp-orch orchestrator", "version": __version__},
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
