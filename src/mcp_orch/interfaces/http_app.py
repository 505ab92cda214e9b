"""The one app of ``orch serve``: the orchestrator's HTTP API, the MCP endpoint (``/mcp``, the
tools of ``orch mcp`` over the same service) and the timed chores, in one process.

The chores run in the app's lifespan: the sweeper (expired leases back to the queue, at the
facade's ``next_wakeup``) and the assigner (``assign_ready``, at once after a write, else on
the same timer). Between two changes nothing runs more often than every ``IDLE`` seconds, so
an idle service makes no database query more often than that.

Several replicas on one PostgreSQL database: every replica runs both chores (they are safe
twice: each pass is a writing transaction, and those take turns; a lease is released under its
fence). A change committed by another replica reaches this one through ``store.listen``
(LISTEN/NOTIFY on a connection of its own, in a thread): it wakes the chores (a task made
ready there, a lease granted there whose expiry this sweeper should now know) and whatever
else asked (``Backend.on_change``: the file mirror). Without it, or while its connection is
lost, the ``IDLE`` poll is the fallback.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from .http_api import Backend, answer_error, routes
from .http_errors import HttpError

IDLE = 5.0  # seconds between two chores when nothing changes (the safety poll)
SOON = 0.05  # the shortest sleep between two chores (a burst of writes is one pass)


def build_app(backend: Backend, *, host: str, allow_hosts: list[str]) -> Any:
    """The MCP app of ``mcp_http`` with the API's routes in front and the chores in its
    lifespan."""
    from .http_mcp import Orchestrated
    from .mcp_http import http_app

    tools = Orchestrated(backend.service, backend.orchestrator)  # MCP agents are fenced too
    app = http_app(tools, backend.board, host=host, allow_hosts=allow_hosts)
    app.router.routes[:0] = routes(backend)
    app.add_exception_handler(HTTPException, _http_exception)
    app.router.lifespan_context = _with_chores(app.router.lifespan_context, backend)
    return app


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


def _with_chores(
    inner: Callable[[Any], AbstractAsyncContextManager[Any]], backend: Backend
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state, anyio.create_task_group() as group:
            backend.changed = anyio.Event()
            loop = asyncio.get_running_loop()
            # A step hands the assigner's pass to the chores loop (the orchestrator calls
            # ``wake`` from a worker thread): the request answers without waiting for it.
            backend.orchestrator.wake = lambda: loop.call_soon_threadsafe(backend.poke)
            group.start_soon(chores, backend)
            stop = _listen(backend, loop)
            try:
                yield state
            finally:
                stop()
                group.cancel_scope.cancel()

    return lifespan


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

    thread = threading.Thread(target=listen, args=(changed, done), name="orch-listen", daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(5)  # listen looks at ``done`` every second

    return stop


async def chores(backend: Backend) -> None:
    """Sweep and assign, forever: after a write at once, else when the earliest lease runs
    out, at the latest every ``IDLE`` seconds. A chore that fails is said once on stderr and
    tried again next time (the service keeps serving)."""
    said = ""
    orchestrator = backend.orchestrator
    while True:
        try:
            await backend.run(orchestrator.sweep)
            await backend.run(orchestrator.assign_ready)
            wait = float(await backend.run(orchestrator.next_wakeup))
            said = ""
        except Exception as exc:  # a database that went away: keep serving, retry later
            message = f"orch serve: a timed chore failed: {type(exc).__name__}: {exc}"
            if message != said:
                sys.stderr.write(message + "\n")
                sys.stderr.flush()
                said = message
            wait = IDLE
        with anyio.move_on_after(min(max(wait, SOON), IDLE)):
            assert backend.changed is not None
            await backend.changed.wait()
        backend.changed = anyio.Event()
