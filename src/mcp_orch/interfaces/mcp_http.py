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

from ..domain.errors import InvalidInput, OrchError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..oauth.urls import PublicUrl
    from ..service import Service


class BoardTokens:
    """The SDK's ``TokenVerifier`` over the board's token hashes (see ``mcp_orch.tokens``)."""

    def __init__(self, board: str) -> None:
        from ..tokens import Verifier

        self.verifier = Verifier(board)
        self.reported = ""

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        try:
            record = self.verifier.agent_of(token)
        except OrchError as exc:  # an unreadable token file admits nobody; say so, once
            self.report(f"{exc.message} ({exc.hint}); until then every request gets 401")
            return None
        self.reported = ""
        if record is None:
            return None
        return AccessToken(token=token, client_id=record.agent, scopes=[], subject=record.id)

    def report(self, message: str) -> None:
        """Write ``message`` on the server's stderr unless it was the last one written."""
        if message != self.reported:
            self.reported = message
            sys.stderr.write(f"orch mcp: {message}\n")
            sys.stderr.flush()


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
    from pydantic import AnyHttpUrl

    from .mcp_server import build_server  # the MCP SDK: imported by who serves, when it does

    # Without OAuth the issuer is only a required field; tokens come from the CLI.
    verifier: Any = BoardTokens(board)
    auth = AuthSettings(issuer_url=AnyHttpUrl("http://localhost"), resource_server_url=None)
    oauth_routes: list[Any] = []
    if public_url is not None:
        from .oauth_http import oauth

        verifier, auth, oauth_routes = oauth(
            board, public_url, lambda: service.clock.now().timestamp()
        )
    server = build_server(service, board=board, http=True, token_verifier=verifier, auth=auth)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, **allowed_names(host, allow_hosts)
    )
    app = server.streamable_http_app(host=host, transport_security=security)
    app.router.routes[:0] = oauth_routes  # first: they replace the SDK's resource metadata
    return app


LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("0.0.0.0", "::", "")


def allowed_names(host: str, allow_hosts: list[str]) -> dict[str, list[str]]:
    """The ``Host`` and ``Origin`` values DNS-rebinding protection admits: localhost, the
    address the server is bound to (every address of this machine for a wildcard bind), and
    the public names given with --allow-host. Each with or without a port."""
    bound = machine_addresses() if host in WILDCARD else {host}
    names = [*LOOPBACK, *sorted(_bracketed(a) for a in bound - set(LOOPBACK)), *allow_hosts]
    names = list(dict.fromkeys(n for n in names if n))
    return {
        "allowed_hosts": [h for n in names for h in (n, f"{n}:*")],
        "allowed_origins": [
            o for n in names for s in ("http", "https") for o in (f"{s}://{n}", f"{s}://{n}:*")
        ],
    }


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def machine_addresses() -> set[str]:
    """This machine's names and interface addresses (what a client on the network may put in
    ``Host`` when the server listens on 0.0.0.0 or ::)."""
    found: set[str] = {socket.gethostname(), socket.getfqdn()}
    for name in list(found):
        try:
            found.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
        except OSError:
            pass
    found.update(_interface_addresses())
    return {a.split("%", 1)[0] for a in found if a}


def _interface_addresses() -> set[str]:
    """Every interface's IPv4 (ioctl) and IPv6 (/proc) address, on Linux; nothing elsewhere."""
    import ipaddress

    found: set[str] = set()
    try:
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            for _, name in socket.if_nameindex():
                try:
                    packed = fcntl.ioctl(  # SIOCGIFADDR
                        probe.fileno(), 0x8915, struct.pack("256s", name[:15].encode())
                    )
                except OSError:
                    continue  # no IPv4 address on this interface
                found.add(socket.inet_ntoa(packed[20:24]))
    except (ImportError, OSError):
        pass
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as table:
            for line in table:
                found.add(str(ipaddress.IPv6Address(int(line.split()[0], 16))))
    except (OSError, ValueError, IndexError):
        pass
    return found


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
