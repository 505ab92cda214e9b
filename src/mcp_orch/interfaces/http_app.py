"""The one app of ``orch serve``: the orchestrator's HTTP API, the MCP endpoint (``/mcp``, the
tools of ``orch mcp`` over the same service) and the timed chores, in one process.

The API's routes (``/api/orchestrator/...``, ``/healthz``, ``/readyz``, ``/openapi.json``) are
an app of their own in front of the MCP app: a request for them does not go through the MCP
SDK's middleware (its bearer check and auth context; the routes check the token themselves,
once), only through Starlette's error and exception handlers. Everything else is the MCP app's
(``/mcp``, OAuth metadata, and the JSON 404 of an unknown route).

The chores run in the app's lifespan: the assigner (``assign_ready``) after a write that may
have made work assignable (the writes made while a pass runs wake one pass after it, at least
that pass's length later; a POST that assigned its own task wakes none), a safety pass every
``IDLE`` seconds while the store changes, and the sweeper (expired leases back to the queue,
silent agents' statuses aged) when the facade says one is due (``next_wakeup``, ``due_in``), at
the latest every ``IDLE`` seconds. Each sweep
tick first asks the store whether anything changed (``change_token``: no query on PostgreSQL
while its notifications are heard, else the revision); when nothing did and no lease or status
is due, the tick ends there, so an idle service makes that one cheap look every ``IDLE``
seconds and nothing else.

Several replicas on one PostgreSQL database: every replica runs both chores (they are safe
twice: each pass is a writing transaction, and those take turns; a lease is released under its
fence). A change committed by another replica reaches this one through ``store.listen``
(LISTEN/NOTIFY on a connection of its own, in a thread): it wakes the assigner (a task made
ready there) and whatever else asked (``Backend.on_change``: the file mirror); the next sweep
tick sees the change and learns the leases granted there. Without it, or while its connection
is lost, the ``IDLE`` poll is the fallback.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from .http_api import Backend, answer_error, routes
from .http_errors import HttpError

IDLE = 5.0  # seconds between two chores when nothing changes (the safety poll)
SOON = 0.05  # the shortest sleep between two sweeps
GRACE = 10.0  # seconds the MCP app's lifespan gets to end at shutdown


API = "/api/orchestrator"
OWN = frozenset({"/healthz", "/readyz", "/openapi.json", API})  # the API app's, with API/...


def build_app(backend: Backend, *, host: str, allow_hosts: list[str]) -> Any:
    """The API's routes in front of the MCP app of ``mcp_http``, the chores in the lifespan.

    The MCP app (the SDK: the slowest import of the process, over a second) is built in a
    thread after the service has started, so ``/healthz`` and the API answer at once; a
    request for ``/mcp`` meanwhile waits for it."""
    from starlette.applications import Starlette

    api = Starlette(routes=routes(backend), exception_handlers={HTTPException: _http_exception})
    prefix = API + "/"
    mcp = _Deferred(backend, host, allow_hosts)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "lifespan":
            await _lifespan(backend, mcp, receive, send)
        elif scope["type"] == "http" and (path in OWN or path.startswith(prefix)):
            await api(scope, receive, send)
        else:
            await (await mcp.app())(scope, receive, send)
            if scope["type"] == "http" and scope.get("method") not in ("GET", "HEAD"):
                backend.poke()  # an MCP tool (create, prep) may have made work assignable

    return app


class _Deferred:
    """The MCP app, built (and its lifespan entered) in the background by ``run``."""

    def __init__(self, backend: Backend, host: str, allow_hosts: list[str]) -> None:
        self.backend, self.host, self.allow_hosts = backend, host, allow_hosts
        self.ready = anyio.Event()  # built (or failed): requests may go on
        self.done = anyio.Event()  # its lifespan ended (or it never started)
        self.built: Any = None

    def build(self) -> Any:
        from .http_mcp import Orchestrated
        from .mcp_http import http_app

        backend = self.backend
        tools = Orchestrated(backend.service, backend.orchestrator)  # MCP agents are fenced too
        mcp = http_app(tools, backend.board, host=self.host, allow_hosts=self.allow_hosts)
        mcp.add_exception_handler(HTTPException, _http_exception)
        return mcp

    async def run(self, stopping: anyio.Event) -> None:
        """Build the app in a thread, run its lifespan (the SDK's session manager) until
        ``stopping``. A failure is said on stderr; ``/mcp`` then answers 503."""
        try:
            mcp = await anyio.to_thread.run_sync(self.build)
            async with mcp.router.lifespan_context(mcp):
                self.built = mcp
                self.ready.set()
                await stopping.wait()
        except Exception as exc:
            sys.stderr.write(f"orch serve: /mcp could not start: {type(exc).__name__}: {exc}\n")
            sys.stderr.flush()
            self.built = _unavailable
        finally:
            self.ready.set()
            self.done.set()

    async def app(self) -> Any:
        await self.ready.wait()
        return self.built


async def _unavailable(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        error = HttpError("unavailable", "the MCP endpoint did not start", "see the server log")
        await answer_error(error)(scope, receive, send)


async def _lifespan(backend: Backend, mcp: _Deferred, receive: Any, send: Any) -> None:
    """The ASGI lifespan: the chores, the LISTEN thread and the MCP app run from start-up to
    shutdown (the requests in flight have finished by then)."""
    message = await receive()
    if message["type"] != "lifespan.startup":
        return
    loop = asyncio.get_running_loop()
    stopping = anyio.Event()
    async with anyio.create_task_group() as group:
        backend.changed = anyio.Event()
        # A step hands the assigner's pass to the chores loop (the orchestrator calls ``wake``
        # from a worker thread): the request answers without waiting for it.
        backend.orchestrator.wake = lambda: loop.call_soon_threadsafe(backend.poke)
        group.start_soon(chores, backend)
        group.start_soon(mcp.run, stopping)
        stop = _listen(backend, loop)
        try:
            await send({"type": "lifespan.startup.complete"})
            while message["type"] != "lifespan.shutdown":
                message = await receive()
        finally:
            stop()
            stopping.set()
            with anyio.move_on_after(GRACE):
                await mcp.done.wait()  # its lifespan ends before the chores stop
            group.cancel_scope.cancel()
    await send({"type": "lifespan.shutdown.complete"})


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (no such route, a method the route does not take) as the
    API's JSON errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = HttpError(
            "not_found",
            f"no route {request.url.path}",
            "the routes are listed in GET /openapi.json",
        )
    elif exc.status_code == 405:
        error = HttpError(
            "method_not_allowed",
            f"{request.method} is not a method of {request.url.path}",
            "see GET /openapi.json",
        )
    else:
        return JSONResponse(
            {"error": {"code": "http", "message": str(exc.detail), "hint": ""}},
            exc.status_code,
        )
    return answer_error(error)


def _listen(backend: Backend, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Wake the chores (and ``backend.on_change``) at every change any replica commits, in a
    thread, while the store can tell (PostgreSQL); what stops it."""
    listen = getattr(backend.service.store, "listen", None)
    if listen is None:
        return lambda: None
    done = threading.Event()

    def changed(payload: str) -> None:
        try:
            loop.call_soon_threadsafe(backend.poke)
        except RuntimeError:  # the loop closed as the service stopped: nothing to wake
            return
        for hook in backend.on_change:
            hook()

    # Its wait for notifications ends every IDLE seconds (to look at ``done``): each end costs
    # the database a transaction (psycopg's notifies() with a timeout), so not every second.
    thread = threading.Thread(
        target=listen, args=(changed, done, IDLE), name="orch-listen", daemon=True
    )
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(0.5)  # a daemon: its wait may outlast the service, which does not wait

    return stop


async def chores(backend: Backend) -> None:
    """Assign after every write (coalesced), sweep when due, forever (see the module's
    docstring). A chore that fails is said once on stderr and tried again next time (the
    service keeps serving)."""
    said = ""
    orchestrator = backend.orchestrator
    store = backend.service.store
    token: object = object()  # the store's change token at the last sweep tick
    loop = asyncio.get_running_loop()
    sweep_at = 0.0  # loop time of the next sweep tick (the first: at once)
    assign = True  # a pass is owed (at start: whatever waits)
    passed, took = float("-inf"), 0.0  # loop time of the last pass's end; how long it took
    while True:
        try:
            if loop.time() >= sweep_at:
                seen = await backend.run(store.change_token)
                due = orchestrator.due_in()
                if seen != token or (due is not None and due <= SOON):
                    await backend.chore(orchestrator.sweep)  # assigns what it freed itself
                    # A safety pass (work made assignable with no wake-up), every IDLE s.
                    assign = assign or loop.time() - passed >= IDLE
                    wait = float(orchestrator.next_wakeup())
                else:  # nothing changed, nothing due: the one look was the tick's work
                    wait = IDLE if due is None else due
                token = seen
                sweep_at = loop.time() + min(max(wait, SOON), IDLE)
            if assign:
                assign = False
                began = loop.time()
                await backend.chore(orchestrator.assign_ready)
                passed = loop.time()
                took = passed - began
            said = ""
        except Exception as exc:  # a database that went away: keep serving, retry later
            message = f"orch serve: a timed chore failed: {type(exc).__name__}: {exc}"
            if message != said:
                sys.stderr.write(message + "\n")
                sys.stderr.flush()
                said = message
            token, sweep_at = object(), loop.time() + IDLE
        # A lease granted meanwhile (by a request, or the pass) may run out before the tick.
        due = orchestrator.due_in()
        if due is not None:
            sweep_at = min(sweep_at, loop.time() + max(due, SOON))
        assert backend.changed is not None
        with anyio.move_on_after(max(0.0, sweep_at - loop.time())):
            await backend.changed.wait()
            assign = True  # the writes of a pass's length are one pass
        backend.changed = anyio.Event()
        if assign:  # passes woken by writes are a pass's length apart (at least SOON): the
            # chores take at most half the worker's time, the requests the rest
            await anyio.sleep(max(0.0, passed + max(took, SOON) - loop.time()))
