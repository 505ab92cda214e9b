"""A stand-in for ``orch serve`` in the CLI bridge's tests: remote_api's route under uvicorn.

``python bridge_server.py BOARD PORT``: serves ``POST /api/orchestrator/cli`` (and
``/healthz``) for the board, with a Service on the board's own files as the one writer, writes
``BOARD/service.json`` once it listens and removes it on exit. The CLI's side is what is
tested; the real ``orch serve`` mounts the same route.
"""

from __future__ import annotations

import secrets
import signal
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_orch.interfaces import remote, remote_api
from mcp_orch.interfaces.cli import _clock
from mcp_orch.service import Service
from mcp_orch.service.compose import build


def main() -> None:
    board, port = sys.argv[1], int(sys.argv[2])
    token = secrets.token_urlsafe(32)

    def make_service() -> Service:
        print("served a CLI request", file=sys.stderr, flush=True)  # what the tests count
        return build(board, _clock())  # ORCH_CLOCK pins the clock, as on the CLI

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/healthz", healthz), *remote_api.routes(make_service, token)],
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler
    # it found: let that be an exit that runs the ``finally`` (the default would kill us).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    remote.write_service_file(board, f"http://127.0.0.1:{port}", token)
    try:
        server.run()
    finally:
        remote.remove_service_file(board, token)


if __name__ == "__main__":
    main()
