"""``orch mcp --http``: the MCP server over streamable HTTP at ``/mcp``, for remote clients.

Every request needs ``Authorization: Bearer <token>`` (``orch token create``); the SDK's bearer
middleware answers 401 before any tool runs. The token names the agent, so over HTTP nobody
can act as someone else. It binds to 127.0.0.1 unless told otherwise; put an HTTPS tunnel or
reverse proxy in front for clients such as ChatGPT, and name its host with ``--allow-host``.
"""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any

from pydantic import AnyHttpUrl

from ..domain.errors import InvalidInput, OrchError
from ..oauth.urls import PublicUrl
from ..service import Service
from .mcp_server import build_server


class BoardTokens:
    """The SDK's ``TokenVerifier`` over the board's token hashes (see ``mcp_orch.tokens``)."""

    def __init__(self, board: str) -> None:
        from ..tokens import Verifier

        self.verifier = Verifier(board)

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        try:
            record = self.verifier.agent_of(token)
        except OrchError:
            return None  # an unreadable token file admits nobody
        if record is None:
            return None
        return AccessToken(token=token, client_id=record.agent, scopes=[], subject=record.id)


def http_app(
    service: Service,
    board: str,
    *,
    host: str,
    allow_hosts: list[str],
    public_url: PublicUrl | None = None,
) -> Any:
    """The Starlette app of ``orch mcp --http``: streamable HTTP at /mcp, bearer token required
    (with ``public_url``, OAuth too: see ``oauth_http``)."""
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.transport_security import TransportSecuritySettings

    # Without OAuth the issuer is only a required field; tokens come from the CLI.
    verifier: Any = BoardTokens(board)
    auth = AuthSettings(issuer_url=AnyHttpUrl("http://localhost"), resource_server_url=None)
    oauth_routes: list[Any] = []
    if public_url is not None:
        from .oauth_http import oauth

        verifier, auth, oauth_routes = oauth(board, public_url, lambda: service.clock().timestamp())
    server = build_server(service, board=board, http=True, token_verifier=verifier, auth=auth)
    security = None
    if allow_hosts:  # behind a tunnel or proxy the Host header is the public name
        local = ["127.0.0.1", "localhost", "[::1]"]
        names = [*local, *allow_hosts]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[h for n in names for h in (n, f"{n}:*")],
            allowed_origins=[f"{s}://{n}" for n in allow_hosts for s in ("https", "http")]
            + [f"http://{n}:*" for n in local],
        )
    app = server.streamable_http_app(host=host, transport_security=security)
    app.router.routes[:0] = oauth_routes  # first: they replace the SDK's resource metadata
    return app


def listen(host: str, port: int) -> socket.socket:
    """The bound socket the server will accept on, or an error that says what to change.

    Bound here rather than by uvicorn, which logs a bare OSError and exits 3 (orch's "no
    board" code) after we would already have said "serving"."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise InvalidInput(
            f"cannot serve on {host}: {exc.strerror}",
            "give --host an address of this machine (127.0.0.1, 0.0.0.0)",
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restart at once
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"cannot serve on {shown}: the address is already in use",
                "another server holds that port; pick another --port, or stop it",
            ) from None
        raise InvalidInput(
            f"cannot serve on {shown}: {exc.strerror}",
            "pick another --port (1024 or above) or --host (an address of this machine)",
        ) from None
    return sock


def run_http(
    service: Service,
    board: str,
    *,
    host: str,
    port: int,
    allow_hosts: list[str],
    public_url: PublicUrl | None = None,
) -> None:
    import uvicorn

    sock = listen(host, port)
    app = http_app(service, board, host=host, allow_hosts=allow_hosts, public_url=public_url)
    shown = f"[{host}]" if ":" in host else host
    how = f"bearer token, or OAuth as {public_url.resource}" if public_url else "bearer token"
    sys.stderr.write(f"orch mcp: serving http://{shown}:{port}/mcp ({how} required)\n")
    sys.stderr.flush()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
