"""The service's side of ``interfaces/remote.py``: the route the CLI sends its operations to.

``POST /api/orchestrator/cli`` with ``{"op": NAME, "args": {...}}`` (the wire format of
``remote.encode``) runs the service operation NAME, the call the CLI would have made on the
files, on the service ``make_service`` gives (``orch serve``'s: ``http_mcp.Orchestrated``, so
a step takes and checks leases as over MCP and the API), and answers ``{"result": ...}`` or
the API's error body ``{"error": {"code", "message", "hint"}}`` (plus what rebuilds the same
``OrchError`` on the CLI's side). Only the service's own token (the one in
``.mcp/service.json``) is accepted: it is a person's, like the CLI on the files, which lets
anyone name any agent.

``orch serve`` mounts ``routes(...)`` next to the public API. ``run_op`` holds everything but
the HTTP, so tests call it in-process too.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..domain.errors import InternalError, InvalidInput, OrchError
from .http_errors import status_of  # the API's one table: a refusal answers alike on both
from .remote import FORWARDED, ROUTE, decode, encode, error_data

TYPE_CHECKING = False
if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from ..service import Service

MAX_BODY = 8 << 20  # a test log sent with `orch error --text-file` may be large; not unbounded

# ``orch agents`` through the service: the name the CLI sends -> the facade's method.
AGENT_OPS = {
    "agents.list": "agents",
    "agents.add": "add_agent",
    "agents.update": "update_agent",
    "agents.remove": "remove_agent",
    "agents.heartbeat": "heartbeat",  # orch mcp's: its agent is alive while the session runs
}


def _fail(exc: OrchError) -> tuple[int, dict[str, object]]:
    return status_of(exc), error_data(exc)


def _request(body: object) -> tuple[str, list[object], dict[str, object]]:
    """The operation, its positional and its keyword arguments; ``InvalidInput`` if malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("op"), str):
        raise InvalidInput('the body must be {"op": NAME, "args": {...}}', "see orch's remote.py")
    unknown = sorted(set(body) - {"op", "args"})
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(unknown)}", "send only op and args")
    try:
        args = decode(body.get("args") or {})
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidInput(
            f"unreadable args: {exc}", "send args as remote.encode makes them"
        ) from None
    if not isinstance(args, dict):
        raise InvalidInput("args must be an object", "send args as remote.encode makes them")
    positional = list(args.pop("_args", ()))
    return str(body["op"]), positional, args


def plain(value: object) -> object:
    """Records as plain JSON objects (what ``orch agents --json`` prints)."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {k: plain(v) for k, v in zip(value._fields, value, strict=True)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def run_op(
    service: Service, body: object, orchestrator: object | None = None
) -> tuple[int, dict[str, object]]:
    """Run one CLI operation; (HTTP status, answer body). Never raises."""
    try:
        op, positional, kwargs = _request(body)
        if op in AGENT_OPS:
            return 200, {"result": plain(_agent_op(orchestrator, op, positional, kwargs))}
        if op not in FORWARDED:
            raise InvalidInput(
                f"unknown operation {op!r}", f"one of {', '.join(sorted(FORWARDED))}"
            )
        agent = kwargs.get("agent")
        if op in ("next_action", "wait_next") and positional:
            agent = positional[0]  # next takes its agent first
        if orchestrator is not None and isinstance(agent, str) and agent:
            touch = getattr(orchestrator, "touch", None)
            if touch is not None:
                touch(agent)  # any call an agent makes counts as alive
        value = _call(getattr(service, op), positional, kwargs)
    except OrchError as exc:
        return _fail(exc)
    except Exception as exc:  # a bug, not the caller's mistake: say so, keep the trace
        import traceback

        return _fail(InternalError.of(exc, traceback.format_exc()))
    answer = {"value": value, "warnings": service.take_warnings()}
    return 200, {"result": encode(answer)}


def _call(
    method: Callable[..., object], positional: list[object], kwargs: dict[str, object]
) -> object:
    try:
        import inspect

        inspect.signature(method).bind(*positional, **kwargs)
    except TypeError as exc:
        raise InvalidInput(f"bad arguments: {exc}", "send what the operation takes") from None
    return method(*positional, **kwargs)


def _agent_op(
    orchestrator: object | None, op: str, positional: list[object], kwargs: dict[str, object]
) -> object:
    method = getattr(orchestrator, AGENT_OPS[op], None) if orchestrator is not None else None
    if method is None:
        raise OrchError(
            "this service keeps no agent registry",
            "stop it and edit .mcp/agents.yaml: orch agents works on the file then",
        )
    if "capabilities" in kwargs:  # records hold tuples
        kwargs["capabilities"] = tuple(kwargs["capabilities"] or ())  # type: ignore[arg-type]
    if op == "agents.add":
        from ..domain.agents import Agent
        from ..scheduler.registry import checked_fields

        unknown = sorted(set(kwargs) - {"name", "role", "capabilities", "max_tasks"})
        if unknown or positional:
            raise InvalidInput(f"unknown fields: {', '.join(unknown)}", "name, role, ...")
        return method(Agent(**checked_fields(kwargs, "the agent"), source="api"))
    return _call(method, positional, kwargs)


def authorized(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and bool(token) and hmac.compare_digest(given, token)


def routes(
    make_service: Callable[[], Service],
    token: str,
    orchestrator: object | None = None,
    *,
    run: Callable[..., Awaitable[Any]] | None = None,
) -> list[Route]:
    """The route ``orch serve`` mounts: ``POST /api/orchestrator/cli`` for its own token.
    ``run(fn, *args)`` runs the operation in a worker thread (default: anyio's; the service
    passes its own, which keeps one writer at a time)."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def answer(status: int, data: dict[str, object]) -> Response:
        return JSONResponse(data, status_code=status)

    async def endpoint(request: Request) -> Response:
        import anyio.to_thread

        if not authorized(request.headers.get("authorization", ""), token):
            refused = OrchError(
                "a valid bearer token is needed", "use the token in .mcp/service.json"
            )
            refused.code = "unauthorized"
            return answer(401, error_data(refused))
        data = await request.body()
        if len(data) > MAX_BODY:
            return answer(
                413, error_data(InvalidInput(f"the body is over {MAX_BODY} bytes", "send less"))
            )
        try:
            body = json.loads(data)
        except ValueError:
            return answer(400, error_data(InvalidInput("the body is not JSON", "send JSON")))
        runner = run or anyio.to_thread.run_sync
        if isinstance(body, dict) and body.get("op") == "wait_next":
            # Waiting only reads, and must not hold the one writer's turn while it waits
            # (the change it waits for could never be made).
            runner = anyio.to_thread.run_sync
        status, result = await runner(run_op, make_service(), body, orchestrator)
        return answer(status, result)

    return [Route(ROUTE, endpoint, methods=["POST"])]
