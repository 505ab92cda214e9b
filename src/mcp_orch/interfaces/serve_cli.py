"""``orch serve``: the orchestrator service, one process (HTTP API, ``/mcp``, the chores).

Imported on every ``orch`` call to register the command, so it imports nothing heavy: the web
stack, the SQL drivers and the scheduler load inside ``cmd_serve`` only.

Start-up refuses in one line and a non-zero exit, before anything is served: a busy port, a
database that cannot be opened (unreachable, a newer schema than this code knows). SIGINT and
SIGTERM stop it cleanly: no new connections, the requests in flight finish, exit 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable

from . import cli
from .mcp_cli import port_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..service import Service
    from .http_api import Backend

DEFAULT_PORT = 8700
DEFAULT_DB = "sqlite:///.mcp/orch.db"
ENV_DB = "ORCH_DB_URL"
AGENTS_FILE = "agents.yaml"
GRACE = 10  # seconds the requests in flight get to finish after SIGTERM
PG_CONCURRENCY = 4  # reads in flight at once on PostgreSQL (its pool holds 8 connections)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..board.locate import find_board
    from .mcp_http import listen

    board = find_board()
    url = args.db or os.environ.get(ENV_DB, "").strip() or DEFAULT_DB
    sock = listen(args.host, args.port)  # a busy port is said before the database is opened
    try:
        backend = open_backend(board, url)
        from .http_app import build_app

        app = build_app(backend, host=args.host, allow_hosts=args.allow_host or [])
        from .bridge import Bridge  # the board import, the file mirror, service.json, the CLI

        here = sock.getsockname()
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        bridge = Bridge(
            backend.service,
            board,
            f"http://{'[' + host + ']' if ':' in host else host}:{here[1]}",
            orchestrator=backend.orchestrator,
            run=backend.run,
            on_write=backend.poke,
        )
        app = bridge.wrap(app)
        backend.on_change.append(bridge.notify)  # another replica's change: to the files too
        ready = backend.check_ready
        backend.check_ready = lambda: {**ready(), "mirror": bridge.role, "files": bridge.files}
    except BaseException:
        sock.close()
        raise
    gc.enable()  # ``orch`` turns it off for short commands; a server runs for hours
    return serve(app, sock, args.host, args.port, backend.service.store.url)


def open_backend(board: str, url: str) -> Backend:
    """The store at ``url`` (migrated), the service and the orchestrator over it."""
    from ..scheduler.tasks import TaskInput
    from ..service.compose import build
    from .http_api import Backend

    service = opened(lambda: build(board, cli._clock(), url=url), url)
    store = service.store
    orchestrator = orchestrator_for(service, board)

    def ready() -> dict[str, object]:
        return {"store": _shown(store.url), "revision": store.revision()}

    overlap = PG_CONCURRENCY if store.url.startswith("postgres") else 1
    backend = Backend(
        orchestrator,
        service,
        board,
        parse_task=TaskInput.from_json,
        check_ready=ready,
        concurrency=overlap,
    )
    if store.url.startswith(("sqlite", "postgres")):  # group commit (store/groupcommit)
        from ..store.groupcommit import GroupCommit

        backend.group = GroupCommit(store)
        # PostgreSQL: the writes take turns on its lock anyway; reads overlap in the pool.
        backend.group_reads = not store.url.startswith("postgres")
    return backend


def opened(make: Callable[[], Service], url: str) -> Service:
    """``make()``; a database that refuses (a driver's own error: connection refused, a bad
    URL) is one ``StorageError`` naming the URL without its password."""
    from ..domain.errors import OrchError, StorageError

    try:
        return make()
    except OrchError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StorageError(
            f"cannot open the database {_shown(url)}: {first}",
            "check --db (or ORCH_DB_URL) and that the database is running",
        ) from None


def _shown(url: str) -> str:
    """The URL without its password (it goes to the terminal and logs)."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, who = head.partition("://")
    return f"{scheme}://{who.split(':', 1)[0]}:***@{tail}" if ":" in who else url


def orchestrator_for(service: Service, board: str) -> Any:
    """The scheduler's ``Orchestrator`` when the store coordinates (leases, the registry),
    with ``.mcp/agents.yaml`` loaded; else the file board's stand-in."""
    if service.store.extras("coordination") is None:
        from .http_board import BoardOrchestrator

        return BoardOrchestrator(service)
    from ..scheduler import Orchestrator

    orchestrator = Orchestrator(service.store, service.config, service.clock)
    path = os.path.join(board, AGENTS_FILE)
    if os.path.exists(path):
        orchestrator.load_agents_yaml(path)
    return orchestrator


def serve(app: Any, sock: Any, host: str, port: int, store_url: str) -> int:
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # A stop that was asked for is a clean exit (0), not death by that signal.
            getattr(self, "_captured_signals", []).clear()

    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"orch serve: http://{shown}:{port} (API /api/orchestrator, MCP /mcp; "
        f"store {_shown(store_url)}; bearer token required)\n"
    )
    sys.stderr.flush()
    settings = uvicorn.Config(
        app, log_level="warning", timeout_graceful_shutdown=GRACE, lifespan="on"
    )
    server = Server(settings)
    server.run(sockets=[sock])
    if not server.started:
        return 1  # the lifespan failed; uvicorn said why
    sys.stderr.write("orch serve: stopped\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = cli.add_command(
        sub,
        "serve",
        cmd_serve,
        "run the orchestrator service: HTTP API, MCP at /mcp, assignment and lease sweeping",
        "orch serve --port 8700 --db postgresql://orch@db.example/orch",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument(
        "--db",
        metavar="URL",
        help=f"the store: {DEFAULT_DB} (default, or ${ENV_DB}), postgresql://..., files",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="a public host name /mcp is reached by (tunnel, proxy); repeatable",
    )


cli.EXTRA_COMMANDS.append(register)
