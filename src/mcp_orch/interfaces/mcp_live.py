"""What the MCP server answers and says between tool calls: task IDs completed as a client
types (``completion/complete``), and log notifications (``logging/setLevel``,
``notifications/message``) of what happens on the board while an agent is connected.

How the server notices changes made by other processes (the CLI, the git hooks, another MCP
server): every operation appends a line to the board's log, so per connection a watcher task
asks the service for the news since its cursor every ``POLL`` seconds: one ``stat`` when
nothing happened, so it never spins, and a read of the new lines when something did. It starts
when the client says it is initialized (the handshake era; a 2026-era client opts into logs
per request instead) and is cancelled when the connection closes. The service is synchronous,
so the watcher and the completions call it in a worker thread (``anyio.to_thread``), through
one ``Service`` of their own behind a lock, never the tools' (which runs on the event loop).
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import anyio
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
)

from .. import config
from ..domain.attention import LEVELS, Notice
from ..service import Service
from .mcp_text import PROMPTS

POLL = 0.1  # seconds between two looks at the log: a handoff is heard within about this
DEFAULT_LEVEL = "notice"  # before the client sets one: what is addressed to this agent
LEVEL = "orch.log_level"  # keys in the connection's state
READY = "orch.watching"
STARTED = "orch.started"
TASK_ARGUMENT = "task_id"
T = TypeVar("T")


class Reader:
    """A ``Service`` of its own for the worker threads, one call at a time, with the board's
    config as it is now (as every tool call re-reads it)."""

    def __init__(self, open_service: Callable[[], Service], board: str | None) -> None:
        self._open = open_service
        self._service: Service | None = None
        self._board = board
        self._lock = threading.Lock()

    async def run(self, call: Callable[[Service], T]) -> T:
        def locked() -> T:
            with self._lock:
                if self._service is None:
                    self._service = self._open()
                if self._board is not None:
                    self._service.config = config.load(self._board)
                return call(self._service)

        return await anyio.to_thread.run_sync(locked)


@asynccontextmanager
async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
    """The server's task group, in which each connection's watcher runs."""
    async with anyio.create_task_group() as group:
        yield {"watchers": group}
        group.cancel_scope.cancel()


def reader_of(service: Service, board: str | None) -> Service:
    """A second ``Service`` on the same board, for the worker threads."""
    if board is None or service.store.url == "memory":
        return service  # no board folder to open twice (in-process use); memory is shared
    from ..service.compose import build

    return build(board, service.clock, config=service.config, url=service.store.url)


def news(agent: str, cursor: int, service: Service) -> tuple[list[Notice], int]:
    return service.news(agent, cursor)


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Connection:
    # The SDK hands handlers a per-request session; the connection (whose state and teardown
    # outlive the request) is only reachable through it.
    return ctx.session._connection


def ready(connection: Connection) -> anyio.Event:
    event: anyio.Event = connection.state.setdefault(READY, anyio.Event())
    return event


class Live:
    """Completions, the log level and the watchers of one server."""

    def __init__(self, reader: Reader, agent: Callable[[], str | None]) -> None:
        self.reader = reader
        self.agent = agent  # who the current request acts as, when the server knows

    def install(self, server: MCPServer[Any]) -> None:
        low = server._lowlevel_server  # no public way to declare logging in this SDK
        low.add_request_handler("logging/setLevel", SetLevelRequestParams, self.set_level)
        server.completion()(self.complete)  # type: ignore[no-untyped-call]

    async def set_level(
        self, ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        connection = connection_of(ctx)
        connection.state[LEVEL] = params.level
        with anyio.move_on_after(5):  # the watcher's cursor is set: what follows is heard
            await ready(connection).wait()
        return EmptyResult()

    async def middleware(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        if ctx.method == "prompts/get":
            name = (ctx.params or {}).get("name")
            if name not in PROMPTS:
                raise MCPError(
                    INVALID_PARAMS,
                    f"unknown prompt {name!r}; the prompts are {', '.join(PROMPTS)}",
                )
        result = await call_next(ctx)
        if ctx.method == "notifications/initialized":
            await self.start_watcher(ctx)
        return result

    async def start_watcher(self, ctx: ServerRequestContext[Any, Any]) -> None:
        connection = connection_of(ctx)
        if connection.state.get(STARTED):
            return
        connection.state[STARTED] = True
        agent = self.agent()
        group = (ctx.lifespan_context or {}).get("watchers")
        if not agent or group is None:
            ready(connection).set()  # nobody to watch for: nothing will be sent
            return
        cursor = await self.reader.run(lambda s: s.log_cursor())
        scope = anyio.CancelScope()
        connection.exit_stack.callback(scope.cancel)  # the watcher ends with its connection
        group.start_soon(self.watch, connection, agent, cursor, scope)
        ready(connection).set()

    async def watch(
        self, connection: Connection, agent: str, cursor: int, scope: anyio.CancelScope
    ) -> None:
        with scope:
            try:
                while True:
                    await anyio.sleep(POLL)
                    notes, cursor = await self.reader.run(partial(news, agent, cursor))
                    floor = LEVELS.index(connection.state.get(LEVEL, DEFAULT_LEVEL))
                    for note in notes:
                        if LEVELS.index(note.level) >= floor:
                            params = {"level": note.level, "logger": "orch", "data": note.to_dict()}
                            await connection.notify("notifications/message", params)
            except Exception:  # a bug must not take the server down: say it, stop watching
                sys.stderr.write(f"orch mcp: the board watcher for {agent} stopped:\n")
                traceback.print_exc(file=sys.stderr)

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: object,
    ) -> Completion:
        if isinstance(ref, PromptReference):
            wanted = ref.name in PROMPTS
        else:
            wanted = ref.uri.startswith("task://")
        if not wanted or argument.name != TASK_ARGUMENT:
            return Completion(values=[], total=0, has_more=False)
        agent, typed = self.agent(), argument.value
        ids, total = await self.reader.run(lambda s: s.complete_task_id(agent, typed))
        return Completion(values=ids, total=total, has_more=total > len(ids))
