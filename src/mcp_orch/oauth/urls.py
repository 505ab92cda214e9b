"""The public URL of an OAuth-enabled server: its issuer and its resource (RFC 8414, 8707)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..domain.errors import InvalidInput
from ..domain.record import Record

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MCP_PATH = "/mcp"


class PublicUrl(Record):
    issuer: str  # https://orch.example.com (no trailing slash)
    resource: str  # https://orch.example.com/mcp
    host: str  # orch.example.com (for --allow-host)

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK


def parse_public_url(text: str) -> PublicUrl:
    """``--public-url``: an HTTPS origin (plain HTTP only on a loopback address, for tests)."""
    hint = "give the HTTPS origin the server is reached at, e.g. https://orch.example.com"
    raw = text.strip().rstrip("/")
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InvalidInput(f"--public-url {text!r} is not a URL", hint) from None
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput(f"--public-url {text!r} is not an http(s) URL", hint)
    if parts.scheme == "http" and host not in LOOPBACK:
        raise InvalidInput(
            f"--public-url {text!r} is plain HTTP", "OAuth needs HTTPS (a tunnel or proxy): " + hint
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"--public-url {text!r} has a query, fragment or user", hint)
    if parts.path not in ("", MCP_PATH):
        raise InvalidInput(
            f"--public-url {text!r} has a path; orch serves /mcp at the root of its host",
            "proxy a whole host (or subdomain) to orch: " + hint,
        )
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    return PublicUrl(origin, origin + MCP_PATH, host)


def same_resource(given: str, resource: str) -> bool:
    """RFC 8707: is ``given`` this server's resource (a trailing slash and case of the
    scheme and host aside)?"""
    try:
        a, b = urlsplit(given.strip()), urlsplit(resource)
        return (a.scheme.lower(), a.netloc.lower(), a.path.rstrip("/") or "/") == (
            b.scheme,
            b.netloc,
            b.path.rstrip("/") or "/",
        ) and not (a.query or a.fragment)
    except ValueError:
        return False
