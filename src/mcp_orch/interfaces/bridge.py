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

Replicas (several ``orch serve`` on one PostgreSQL database): one board has one writer, so only
the replica holding the store's ``leader("mirror")`` lock (a session advisory lock) imports and
mirrors (``role`` "leader"); the others stand by ("standby") and try again every
``LEADER_RETRY`` seconds, so when the leader stops or is killed (PostgreSQL ends its session and
frees the lock) a survivor takes the board over: it imports its board and starts the mirror,
whose first pass compares every task with its file. A leader whose lock's session ended (the
database restarted) finds out at its next look and stops writing the files.
"""

from __future__ import annotations

import secrets
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from . import remote, remote_api

WRITES_SKIP = frozenset({"GET", "HEAD", "OPTIONS"})
MIRROR_LOCK = "mirror"  # the leader lock of the replica that writes the board's files
LEADER_RETRY = 5.0  # seconds between a standby's tries (one connection each: an idle cost)


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
        self.role = "off"  # of the mirror: "leader", "standby" (another replica has it), "off"
        self._leader: Any = None
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()

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
        """Import the board, start the mirror (on the leader), announce the service; the
        problems found."""
        problems: list[Any] = []
        if self.mirror_on:
            problems += self._lead_or_stand_by()
        # In the background: a board with thousands in progress must not delay the start.
        threading.Thread(target=self._adopt, name="orch-adopt", daemon=True).start()
        remote.write_service_file(self.board, self.url, self.token)
        self.problems = problems
        for problem in problems:
            _say(problem)
        return problems

    def _adopt(self) -> None:
        """Lease the work in progress the board came with (``scheduler.orphans``), so a
        holder that never calls in loses it like any other."""
        if self.orchestrator is None or self.service.store.extras("coordination") is None:
            return  # the file board's stand-in: no leases
        from ..scheduler import adopt_orphans

        adopted = adopt_orphans(self.orchestrator)  # type: ignore[arg-type]
        if adopted:
            _tell(
                f"{len(adopted)} task(s) in progress leased to their holders: each keeps its "
                "task while it calls in (a heartbeat or any call)"
            )

    def _lead_or_stand_by(self) -> list[Any]:
        leader = getattr(self.service.store, "leader", None)
        if leader is None:  # one process per database (SQLite, in memory): it writes the board
            return self._start_mirror()
        self._leader = leader(MIRROR_LOCK)
        problems: list[Any] = []
        if self._leader.held:
            _tell("this replica writes the board's files (the mirror's leader)")
            problems = self._start_mirror()
        else:
            self._leader = None
            self.role = "standby"
            _tell("another replica writes the board's files; this one takes over if it stops")
        self._watcher = threading.Thread(target=self._watch, name="orch-leader", daemon=True)
        self._watcher.start()
        return problems

    def _start_mirror(self) -> list[Any]:
        from ..store.board_import import import_board
        from ..store.mirror import Mirror

        imported = import_board(self.board, self.service.store)
        mirror = Mirror(self.service.store, self.board)
        mirror.on_problem = _say
        mirror.on_current = lambda written: _tell(
            f"the board's files are current ({written} written)"
        )
        # Every task is compared with its file in the mirror's thread, so the service answers
        # at once (a first start on a database of 10,000 tasks writes 10,000 files). The CLI
        # sends its writes here meanwhile; its reads of the files may show older states.
        _tell("bringing the board's files up to date in the background")
        problems = list(imported.problems) + mirror.start(background=True)
        self.mirror, self.role = mirror, "leader"
        return problems

    def _watch(self) -> None:
        """Until the service stops, every ``LEADER_RETRY`` seconds: the leader checks it still
        holds the lock (its session may have ended: then it stops writing the files), a
        standby tries to take it (then it imports its board and mirrors)."""
        while not self._stopping.wait(LEADER_RETRY):
            if self._leader is not None:
                if not self._leader.alive():
                    _tell(
                        "the leader lock was lost (its database session ended): this "
                        "replica stops writing the board's files"
                    )
                    self._step_down()
                continue
            try:
                leader = self.service.store.leader(MIRROR_LOCK)
            except Exception:  # the database is away: try again later
                continue
            if leader.held:
                self._take_over(leader)

    def _take_over(self, leader: Any) -> None:
        self._leader = leader
        _tell("the mirror's leader stopped: this replica writes the board's files now")
        try:
            for problem in self._start_mirror():
                _say(problem)
        except Exception as exc:  # e.g. an unreadable board: let another replica try
            _tell(f"the board could not be taken over: {type(exc).__name__}: {exc}")
            self._step_down()

    def _step_down(self) -> None:
        if self.mirror is not None:
            self.mirror.stop()
            self.mirror = None
        if self._leader is not None:
            self._leader.release()
            self._leader = None
        self.role = "standby"

    def stop(self) -> None:
        remote.remove_service_file(self.board, self.token)
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
        if self.mirror is not None:
            self.mirror.stop()
            self.mirror = None
        if self._leader is not None:
            self._leader.release()  # after the last pass: the next leader starts from it
            self._leader = None

    @property
    def files(self) -> str:
        """The board's files: "writing" while a start compares every task with its file (in
        the background), "current" after, "" where this process does not write them."""
        if self.mirror is None:
            return ""
        return "current" if self.mirror.current.is_set() else "writing"

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
    _tell(f"{problem.message} ({problem.hint})")


def _tell(text: str) -> None:
    sys.stderr.write(f"orch serve: {text}\n")
    sys.stderr.flush()
