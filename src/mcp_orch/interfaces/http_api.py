"""The HTTP API of ``orch serve``: Starlette routes over the orchestrator facade.

Each route checks the bearer token, reads and validates its input (``http_io``), makes ONE
call to the facade in a worker thread and renders the answer (``http_shapes``). Every refusal
goes through ``answer_error``: ``{"error": {"code", "message", "hint"}}`` with a 4xx, and the
facade has rolled back whatever it refused, so nothing changed. The routes share the app
with the MCP endpoint (``/mcp``), built by ``mcp_http``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..domain.errors import InternalError, InvalidInput, OrchError
from ..domain.ids import normalize_id
from ..store.groupcommit import GroupCommit
from ..tokens import Verifier
from . import http_io as io
from .http_errors import HttpError, error_body, http_call, status_of
from .http_shapes import event_shape, summary_shape, task_shape
from .present import decision_dict

Handler = Callable[[Request], Awaitable[Response]]
STEPS: dict[str, tuple[str, ...]] = {  # each step's own body fields (with agent and fence)
    "claim": (),
    "submit": ("note",),
    "feedback": ("text",),
    "complete": ("note",),
    "fail": ("reason",),
    "escalate": ("reason",),
    "progress": ("note",),
}
PAGE = 100
MAX_PAGE = 1000


class Backend:
    """What the routes call: the orchestrator facade, the service beneath it (reads, the MCP
    tools) and its store. ``concurrency`` worker threads touch them (``run``, a thread pool of
    that size: its queue is the limit, and a hop to it costs less than anyio's ``to_thread``
    with a ``CapacityLimiter``): one on SQLite and the file board, whose store is the single
    writer of its file (a short critical section costs less than a pool), several on
    PostgreSQL, whose pool and row locks let requests overlap."""

    def __init__(
        self,
        orchestrator: Any,
        service: Any,
        board: str,
        *,
        parse_task: Callable[[dict[str, Any]], Any],
        check_ready: Callable[[], dict[str, Any]],
        concurrency: int = 1,
    ) -> None:
        self.orchestrator = orchestrator
        self.service = service
        self.board = board
        self.parse_task = parse_task
        self.check_ready = check_ready
        self.verifier = Verifier(board)
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="orch-worker")
        # Group commit (``store.groupcommit``), set by the serve process: the agents' writes that
        # queue up are committed together. SQLite (one writer): every call goes there
        # (``group_reads``), the chores whole. PostgreSQL (writers take turns on the
        # database's lock anyway): the agents' writes; reads and chores overlap in ``pool``.
        self.group: GroupCommit | None = None
        self.group_reads = True
        self.changed: anyio.Event | None = None  # set by a write: the assigner runs at once
        # Called (from a thread) when another replica committed a change (see http_app).
        self.on_change: list[Callable[[], None]] = []

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in a worker thread. A request cancelled meanwhile (its
        client gone) does not stop it: what it does takes effect whole, or not at all."""
        call = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        if self.group is not None and self.group_reads:
            return await asyncio.wrap_future(self.group.submit(call))
        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    async def chore(self, fn: Callable[[], Any]) -> Any:
        """``run`` for a timed chore (a sweep, an assigner pass): with group commit on
        SQLite, all its transactions in one (savepoints of it), so a pass that gives out fifty
        tasks is one fsync, not fifty, and the requests queued behind it wait that much less.
        On PostgreSQL in the pool, each of its transactions taking its turn with the
        requests' (a pass that gives out thousands does not hold the writes up meanwhile)."""
        if self.group is None or not self.group_reads:
            return await self.run(fn)
        store = self.service.store

        def whole() -> Any:
            with store.transaction():
                return fn()

        return await self.run(whole)

    async def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``run`` for an agent's short write (a step, a submission, a heartbeat, ``next``):
        with group commit, gathered with the others queued into one transaction."""
        if self.group is None:
            return await self.run(fn, *args, **kwargs)
        call = functools.partial(fn, *args, **kwargs) if args or kwargs else fn
        return await asyncio.wrap_future(self.group.submit(call, batch=True))

    async def act(
        self, caller: io.Caller, fn: Callable[..., Any], *args: Any, wake: bool = False, **kw: Any
    ) -> Any:
        """``fn`` for an agent's request: its call counts as a sign of life. The facade wakes
        the assigner itself when a step or a sign of life made work assignable (``wake`` on
        the orchestrator); ``wake=True`` pokes it here too, for the registry's changes (an
        agent with room, a removed agent's tasks back in the queue)."""

        def both() -> Any:
            if not caller.admin:
                self.orchestrator.touch(caller.agent)
            return fn(*args, **kw)

        try:
            return await self.write(both)
        finally:
            if wake:
                self.poke()

    def poke(self) -> None:
        if self.changed is not None:
            self.changed.set()

    def caller(self, request: Request) -> io.Caller:
        token = io.bearer(request)
        try:
            record = self.verifier.agent_of(token)
        except OrchError as exc:  # a damaged token file admits nobody
            raise HttpError("unauthorized", exc.message, exc.hint) from None
        if record is None:
            raise HttpError(
                "unauthorized",
                "this bearer token is not valid (unknown, or revoked)",
                "create one with: orch token create --agent NAME (see orch token list)",
            )
        return io.Caller(record.agent, bool(getattr(record, "admin", False)), record.id)

    def done(self, task: Any) -> Callable[[str], bool]:
        """Which of ``task``'s dependencies are done (read one by one: a task names few, and
        the board may hold 10,000)."""
        from ..domain.model import Task

        if not isinstance(task, Task):
            task = getattr(task, "task", None)
        finished: set[str] = set()
        for dep in task.depends if isinstance(task, Task) else ():
            try:
                if self.service.store.load(dep).status.value == "done":
                    finished.add(dep)
            except OrchError:  # an unknown or unreadable dependency is not done
                pass
        return finished.__contains__


def answer_error(error: OrchError) -> JSONResponse:
    return JSONResponse(error_body(error), status_of(error))


def endpoint(handler: Callable[[Request, Backend], Awaitable[Any]], backend: Backend) -> Handler:
    """A route: the handler's answer as JSON, every refusal as a 4xx, a bug as a 500 (with
    its traceback on the server's stderr, never in the answer)."""

    async def route(request: Request) -> Response:
        try:
            data = await handler(request, backend)
        except OrchError as exc:
            return answer_error(exc)
        except Exception as exc:
            sys.stderr.write(traceback.format_exc())
            return answer_error(InternalError.of(exc, ""))
        return data if isinstance(data, Response) else JSONResponse(data)

    return route


# ---------------------------------------------------------------------- health


async def healthz(request: Request, backend: Backend) -> Any:
    return {"ok": True}


async def readyz(request: Request, backend: Backend) -> Any:
    try:
        return {"ok": True, **(await backend.run(backend.check_ready))}
    except OrchError as exc:
        return JSONResponse(error_body(exc), 503)


async def openapi(request: Request, backend: Backend) -> Any:
    from .http_openapi import document

    return document()


# ---------------------------------------------------------------------- tasks


async def submit_task(request: Request, backend: Backend) -> Any:
    caller = backend.caller(request)
    body = await io.read_json(request)
    io.only(body, ("task", "priority_override", "agent"))
    fields = body.get("task")
    if not isinstance(fields, dict):
        raise InvalidInput(
            "task is missing (or not an object)",
            'send {"task": {"title": "...", "priority": "P1", "capabilities": [...]}}',
        )
    override = io.integer(body, "priority_override")
    actor = caller.acting(io.text(body, "agent"))
    task_input = backend.parse_task(fields)
    done = await backend.act(
        caller,
        backend.orchestrator.submit_task,
        task_input,
        actor=actor,
        priority_override=override,
    )
    answer = io.jsonable(done)
    return JSONResponse(answer, 201 if not fields.get("id") else 200)


async def list_tasks(request: Request, backend: Backend) -> Any:
    backend.caller(request)
    io.query_only(request, ("status", "agent", "priority", "offset", "limit"))
    offset = io.query_int(request, "offset", 0, 10**9)
    limit = io.query_int(request, "limit", PAGE, MAX_PAGE)
    q = request.query_params
    wanted = {s for s in q.get("status", "").split(",") if s}
    snap = await backend.run(backend.service.status)
    states = {s.id: s.status.value for s in snap.tasks}
    shapes = [summary_shape(s, lambda d: states.get(d) == "done") for s in snap.tasks]
    picked = [
        t
        for t in shapes
        if (not wanted or t["status"] in wanted or t["board_status"] in wanted)
        and (not q.get("agent") or q["agent"] in (t["assigned_agent"], t["implementer"]))
        and (not q.get("priority") or q["priority"] in (t["type"], str(t["priority"])))
    ]
    picked.sort(key=lambda t: (t["priority"], t["created_at"], t["id"]))
    page = picked[offset : offset + limit]
    more = offset + limit < len(picked)
    return {
        "tasks": page,
        "total": len(picked),
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


async def get_task(request: Request, backend: Backend) -> Any:
    backend.caller(request)
    tid = normalize_id(request.path_params["task_id"])

    def show() -> tuple[Any, Callable[[str], bool]]:  # one hop to the worker
        task = backend.service.show(tid)
        return task, backend.done(task)

    task, done = await backend.run(show)
    return task_shape(task, done)


async def task_step(request: Request, backend: Backend) -> Any:
    caller = backend.caller(request)
    step = request.path_params["step"]
    if step not in STEPS:
        raise HttpError(
            "not_found",
            f"no step {step!r} on a task",
            f"the steps are {', '.join(STEPS)}: POST /api/orchestrator/tasks/ID/STEP",
        )
    tid = normalize_id(request.path_params["task_id"])
    body = await io.read_json(request)
    io.only(body, ("agent", "fence", *STEPS[step]), f"the body of {step}")
    texts = {k: io.text(body, k) for k in STEPS[step]}
    fence = io.integer(body, "fence")
    agent = caller.acting(io.text(body, "agent"))
    args = {k: v for k, v in texts.items() if v is not None}

    def step_and_deps() -> tuple[Any, Callable[[str], bool]]:  # one hop to the worker
        result = backend.orchestrator.step(tid, step, agent=agent, fence=fence, **args)
        return result, backend.done(result)

    # A claim or a progress note frees nothing; the facade wakes the assigner itself after
    # submit, feedback, complete and fail; the rest (escalate) may free its agent's room.
    wake = step not in ("claim", "progress", "submit", "feedback", "complete", "fail")
    result, done = await backend.act(caller, step_and_deps, wake=wake)
    return step_answer(result, done)


def step_answer(result: object, done: Callable[[str], bool]) -> dict[str, Any]:
    """A step's result: the task in the spec's shape, with what else the step answered
    (``changed``, ``fence``)."""
    from ..domain.model import Task

    shown: dict[str, Any] = {}
    for key, value in result._asdict().items():  # type: ignore[attr-defined]
        shown[key] = task_shape(value, done) if isinstance(value, Task) else io.jsonable(value)
    return shown


async def next_action(request: Request, backend: Backend) -> Any:
    caller = backend.caller(request)
    body = await io.read_json(request)
    io.only(body, ("agent",))
    agent = caller.acting(io.text(body, "agent"))
    result = await backend.act(caller, backend.orchestrator.next_for, agent)
    d = result.decision
    words = [http_call(o) for o in d.ops]
    return decision_dict(d, result.task, result.problems, command="  # or: ".join(words))


# ---------------------------------------------------------------------- events


async def list_events(request: Request, backend: Backend) -> Any:
    """The events the filters match, one page, filtered and paged in the store."""
    from ..store.eventpage import events_page, query

    backend.caller(request)
    io.query_only(request, ("task_id", "type", "since", "since_id", "offset", "limit"))
    q = request.query_params
    asked = query(
        task_id=normalize_id(q["task_id"]) if q.get("task_id") else None,
        type=q.get("type", ""),
        since=q.get("since", ""),
        since_id=io.query_int(request, "since_id", 0, 2**62),
        offset=io.query_int(request, "offset", 0, 10**9),
        limit=io.query_int(request, "limit", PAGE, MAX_PAGE),
    )
    page = await backend.run(events_page, backend.service.store, asked)
    end = asked.offset + asked.limit
    return {
        "events": [event_shape(e) for e in page.events],
        "total": page.total,
        "offset": asked.offset,
        "next_offset": end if end < page.total else None,
    }


def routes(backend: Backend) -> list[Route]:
    from . import http_agents as agents

    api = "/api/orchestrator"
    table: list[tuple[str, Callable[[Request, Backend], Awaitable[Any]], list[str]]] = [
        ("/healthz", healthz, ["GET"]),
        ("/readyz", readyz, ["GET"]),
        ("/openapi.json", openapi, ["GET"]),
        (f"{api}/tasks", submit_task, ["POST"]),
        (f"{api}/tasks", list_tasks, ["GET"]),
        (f"{api}/tasks/{{task_id}}", get_task, ["GET"]),
        (f"{api}/tasks/{{task_id}}/{{step}}", task_step, ["POST"]),
        (f"{api}/next", next_action, ["POST"]),
        (f"{api}/agents", agents.list_agents, ["GET"]),
        (f"{api}/agents/{{name}}", agents.get_agent, ["GET"]),
        (f"{api}/agents/{{name}}", agents.put_agent, ["POST"]),
        (f"{api}/agents/{{name}}", agents.delete_agent, ["DELETE"]),
        (f"{api}/agents/{{name}}/heartbeat", agents.heartbeat, ["POST"]),
        (f"{api}/events", list_events, ["GET"]),
    ]
    return [Route(path, endpoint(fn, backend), methods=m) for path, fn, m in table]
