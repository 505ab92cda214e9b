"""The agent routes of the HTTP API: the registry (list, one, add or update, remove) and
heartbeats. Changing the registry needs a person's token; a heartbeat is the agent's own."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..domain.errors import AgentNotFound, InvalidInput
from ..domain.ids import normalize_id
from ..inputs import check_agent
from . import http_io as io
from .http_api import Backend
from .http_shapes import agent_shape


async def list_agents(request: Request, backend: Backend) -> Any:
    backend.caller(request)
    agents = await backend.run(backend.orchestrator.agents)
    return {"agents": [agent_shape(a) for a in agents]}


async def get_agent(request: Request, backend: Backend) -> Any:
    backend.caller(request)
    name = check_agent(request.path_params["name"])
    return agent_shape(await backend.run(backend.orchestrator.agent_view, name))


AGENT_FIELDS = ("role", "capabilities", "max_tasks", "status")


async def put_agent(request: Request, backend: Backend) -> Any:
    caller = backend.caller(request)
    caller.require_admin("changing the agent registry")
    name = check_agent(request.path_params["name"])
    body = await io.read_json(request)
    io.only(body, AGENT_FIELDS)
    changes: dict[str, Any] = {
        "role": io.text(body, "role"),
        "capabilities": io.strings(body, "capabilities"),
        "max_tasks": io.integer(body, "max_tasks"),
        "status": io.text(body, "status"),
    }
    changes = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
    changes = {k: v for k, v in changes.items() if v is not None}
    saved = await backend.act(caller, _upsert_agent, backend.orchestrator, name, changes, wake=True)
    return agent_shape(saved)


def _upsert_agent(orchestrator: Any, name: str, changes: dict[str, Any]) -> Any:
    """Update the agent when it is registered, else add it (a role is needed then)."""
    try:
        orchestrator.agent_view(name)
    except AgentNotFound:
        from ..domain.agents import Agent

        if "role" not in changes:
            raise InvalidInput(
                f"{name} is a new agent: its role is missing",
                "give role: planner, implementer or reviewer",
            ) from None
        orchestrator.add_agent(Agent(name=name, source="api", **changes))
    else:
        orchestrator.update_agent(name, **changes)
    return orchestrator.agent_view(name)


async def delete_agent(request: Request, backend: Backend) -> Any:
    caller = backend.caller(request)
    caller.require_admin("removing an agent")
    name = check_agent(request.path_params["name"])
    requeued = await backend.act(caller, backend.orchestrator.remove_agent, name, wake=True)
    return {"removed": name, "requeued": list(requeued)}


async def heartbeat(request: Request, backend: Backend) -> Any:
    caller = backend.caller(request)
    name = caller.acting(request.path_params["name"])
    body = await io.read_json(request)
    io.only(body, ("tasks",))
    held = body.get("tasks")
    tasks: list[tuple[str, int]] | None = None
    if held is not None:
        if not isinstance(held, list) or not all(isinstance(t, dict) for t in held):
            raise InvalidInput(
                "tasks must be a list of objects", 'e.g. [{"id": "T-1", "fence": 3}]'
            )
        tasks = []
        for item in held:
            io.only(item, ("id", "fence"), "a task of tasks")
            tid = normalize_id(io.text(item, "id", required=True) or "")
            tasks.append((tid, io.integer(item, "fence") or 0))
    result = await backend.write(backend.orchestrator.heartbeat, name, tasks)  # wakes on revival
    return {"agent": name, **io.jsonable(result)}
