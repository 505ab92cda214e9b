"""What ``orch serve`` adds so the board stays readable and the CLI has one writer.

``Bridge(...).wrap(app)`` wraps the service's ASGI app:

- at start-up (after the app's own lifespan started): a SQL or in-memory store takes in the
  board (``store.board_import.import_board``: every task it lacks, the log as events), the
  file mirror starts (``store.mirror``), and ``.mcp/service.json`` announces the service to
  the CLI with a token of its own (``interfaces/remote.py``);
- ``POST /api/orchestrator/cli``: the CLI's operations (``interfaces/remote_api.py``);
- after every request that may have written (any method but GET/HEAD/OPTIONS), the mirror is
  woken, so the files follow within a second;
- at shutdown (after the app's requests finished and its chores stopped): the mirror's last
  pass (the board is current) and ``service.json`` removed. ``orch`` then works on the files.

On the file board itself (``--db files``) there is nothing to import or mirror: the store is
the files; only ``service.json`` and the CLI route are added.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from . import remote, remote_api

WRITES_SKIP = frozenset({"GET", "HEAD", "OPTIONS"})


class Bridge:
    """The board's side of a running service (see the module's docstring)."""

    def __init__(
        self,
        service: Any,
        board: str,
        url: str,
        *,
        orchestrator: object | None = None,
        run: Callable[..., Awaitable[Any]] | None = None,
        mirror: bool | None = None,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.board = board
        self.url = url
        self.orchestrator = orchestrator
        self.token = secrets.token_urlsafe(32)
        self._run = run
        self._on_write = on_write  # the service's own wake-up after a write (its assigner)
        store = service.store
        self.mirror_on = store.url != "files" if mirror is None else mirror
        self.mirror: Any = None
        self.problems: list[Any] = []

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._run is not None:
            return await self._run(fn, *args)
        import anyio.to_thread

        return await anyio.to_thread.run_sync(fn, *args)

    def make_service(self) -> Any:
        """A service per CLI request over the one store (its warnings are that request's),
        whose handoff steps and ``next`` go through the orchestrator like MCP's and the
        API's: a claim made with ``orch claim`` takes a lease, a stale holder is fenced."""
        from ..service import Service

        base = self.service
        plain = Service(base.store, base.config, base.clock)
        if self.orchestrator is None or base.store.extras("coordination") is None:
            return plain  # the file board keeps no leases: its service is the whole story
        from .http_mcp import Orchestrated

        return Orchestrated(plain, self.orchestrator)

    # ------------------------------------------------------------------ start, stop

    def start(self) -> list[Any]:
        """Import the board, start the mirror, announce the service; the problems found."""
        problems: list[Any] = []
        if self.mirror_on:
            from ..store.board_import import import_board
            from ..store.mirror import Mirror

            imported = import_board(self.board, self.service.store)
            problems += list(imported.problems)
            self.mirror = Mirror(self.service.store, self.board)
            self.mirror.on_problem = _say
            problems += self.mirror.start()
        remote.write_service_file(self.board, self.url, self.token)
        self.problems = problems
        for problem in problems:
            _say(problem)
        return problems

    def stop(self) -> None:
        remote.remove_service_file(self.board, self.token)
        if self.mirror is not None:
            self.mirror.stop()
            self.mirror = None

    def notify(self) -> None:
        if self.mirror is not None:
            self.mirror.notify()

    # ------------------------------------------------------------------ ASGI

    def wrap(self, app: Any) -> Any:
        """``app`` with the bridge around it (an ASGI app)."""
        from starlette.applications import Starlette

        cli_app = Starlette(
            routes=remote_api.routes(
                self.make_service, self.token, self.orchestrator, run=self._call
            )
        )

        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                await app(scope, receive, self._lifespan_send(send))
                return
            if scope["type"] == "http" and scope.get("path") == remote.ROUTE:
                await cli_app(scope, receive, send)
                if self._on_write is not None:
                    self._on_write()  # a CLI step may have made work for someone
            else:
                await app(scope, receive, send)
            if scope["type"] == "http" and scope.get("method", "GET") not in WRITES_SKIP:
                self.notify()

        return wrapped

    def _lifespan_send(self, send: Any) -> Any:
        async def lifespan_send(message: dict[str, Any]) -> None:
            kind = message.get("type")
            if kind == "lifespan.startup.complete":
                try:
                    await self._call(self.start)
                except Exception as exc:  # the board cannot be taken in: do not serve
                    text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
            elif kind == "lifespan.shutdown.complete":
                await self._call(self.stop)
            await send(message)

        return lifespan_send


def _say(problem: Any) -> None:
    sys.stderr.write(f"orch serve: {problem.message} ({problem.hint})\n")
    sys.stderr.flush()
