"""Client ID Metadata Documents: a client whose ``client_id`` is an HTTPS URL serving its own
registration (name, redirect URIs) as JSON. ChatGPT registers this way.

The document is fetched by the server when anyone on the internet names its URL, so the fetch
must not be a way into the server's own network (SSRF): HTTPS only (plain HTTP only to a
loopback address, and only when the server itself is on one: tests); the host is resolved
first and refused if any of its addresses is not a public one (private, loopback, link-local,
shared, multicast, reserved, unspecified, or such an address inside an IPv6 one) unless the
setting ``oauth: allow_document_networks`` names its network; the connection goes to the very
address that was checked (no second lookup a DNS rebinding could answer differently), with
the certificate checked for the host name; no proxy from the environment, no redirects, 5 s
in all, 64 KiB. Its ``client_id`` must be its own URL and it gets no secret (a public client,
PKCE only). Fetched documents are cached for a few minutes.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import SplitResult, urlsplit

from ..domain.errors import InvalidInput
from .urls import LOOPBACK

TIMEOUT_S = 5.0  # the whole fetch: the lookup, the connection and every byte of the answer
MAX_BYTES = 64 * 1024
CACHE_S = 300.0
SETTING = "allow_document_networks"  # under ``oauth:`` in .mcp/config.yaml

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_document_url(client_id: str, *, allow_loopback_http: bool) -> bool:
    """Is this client_id a metadata document URL this server may fetch?"""
    try:
        parts = urlsplit(client_id)
    except ValueError:
        return False
    if parts.path in ("", "/") or parts.fragment or parts.username:
        return False
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and allow_loopback_http and parts.hostname in LOOPBACK


def networks_setting(oauth: object) -> tuple[Network, ...]:
    """The networks ``oauth: {allow_document_networks: [...]}`` opens to document fetches
    (``oauth``: that section of the config as parsed); ``InvalidInput`` names a bad one."""
    if oauth is None:
        return ()
    hint = f"for example: oauth: {{{SETTING}: [10.20.0.0/16]}}"
    if not isinstance(oauth, dict):
        raise InvalidInput(".mcp/config.yaml: oauth must be a mapping", hint)
    unknown = sorted(str(k) for k in oauth if k != SETTING)
    if unknown:
        raise InvalidInput(f".mcp/config.yaml: unknown oauth key(s) {', '.join(unknown)}", hint)
    given = oauth.get(SETTING) or []
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list):
        raise InvalidInput(f".mcp/config.yaml: oauth.{SETTING} must be a list of networks", hint)
    networks: list[Network] = []
    for item in given:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise InvalidInput(
                f".mcp/config.yaml: oauth.{SETTING}: {item!r} is not an IP network", hint
            ) from None
    return tuple(networks)


def refusal(address: Address, *, loopback: bool, networks: Sequence[Network] = ()) -> str:
    """Why the server must not fetch a document from ``address`` ("" if it may):
    ``loopback``: the server itself runs on loopback (tests), so loopback is allowed."""
    if any(address.version == n.version and address in n for n in networks):
        return ""
    inner = _embedded(address)
    if inner is not None and inner != address:
        why = refusal(inner, loopback=loopback, networks=networks)
        return f"{why} (inside {address})" if why else ""
    if address.is_loopback:
        return "" if loopback else "a loopback address"
    kinds = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((what for hit, what in kinds if hit), "")


_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded(address: Address) -> Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any: the
    packets go there."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class Documents:
    """Fetches and caches client metadata documents (in this process). ``loopback``: the
    server runs on loopback, so documents on loopback may be fetched (tests); ``networks``:
    the setting's networks, fetched from although not public."""

    def __init__(
        self,
        *,
        loopback: bool = False,
        networks: Sequence[Network] = (),
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.loopback = loopback
        self.networks = tuple(networks)
        self.timeout = timeout
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}

    async def get(self, url: str) -> dict[str, Any] | None:
        cached = self._cache.get(url)
        if cached and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        try:
            document: dict[str, Any] | None = await self.fetch(url)
        except Refused as why:
            sys.stderr.write(f"orch mcp: client metadata document {url} refused: {why}\n")
            sys.stderr.flush()
            document = None
        if document is not None:  # a failure is retried at the next request
            self._cache[url] = (time.monotonic(), document)
        return document

    async def fetch(self, url: str) -> dict[str, Any]:
        """The document at ``url``, checked; ``Refused`` says why not."""
        import anyio

        parts = urlsplit(url)
        try:
            with anyio.fail_after(self.timeout):
                body = await self._download(parts)
        except TimeoutError:
            raise Refused(f"no whole answer within {self.timeout:g} s") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise Refused("not JSON") from None
        return check_document(url, document)

    async def _download(self, parts: SplitResult) -> bytes:
        import httpx2

        host = parts.hostname or ""
        addresses = await self._addresses(host, parts.port or _PORTS[parts.scheme])
        for address in addresses[:-1]:
            try:
                return await self._get(parts, address)
            except Unreachable:
                continue  # a host with an IPv6 address this machine cannot reach, say
        try:
            return await self._get(parts, addresses[-1])
        except Unreachable as exc:
            error = exc.args[0]
            assert isinstance(error, httpx2.HTTPError)
            raise Refused(f"cannot fetch it ({type(error).__name__}: {error})") from None

    async def _get(self, parts: SplitResult, address: Address) -> bytes:
        """GET the document from ``address`` (checked), as the URL's host."""
        import httpx2

        host = parts.hostname or ""
        target = parts._replace(netloc=_netloc(address, parts.port)).geturl()
        headers = {"Accept": "application/json", "Host": parts.netloc.rpartition("@")[2]}
        try:
            async with (
                httpx2.AsyncClient(follow_redirects=False, trust_env=False) as http,
                http.stream(
                    "GET", target, headers=headers, extensions={"sni_hostname": host}
                ) as answer,
            ):
                if answer.is_redirect:
                    raise Refused(f"HTTP {answer.status_code}: redirects are not followed")
                if answer.status_code != 200:
                    raise Refused(f"HTTP {answer.status_code}")
                if _length(answer.headers.get("content-length")) > MAX_BYTES:
                    raise Refused(f"larger than {MAX_BYTES} bytes")
                body = b""
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise Refused(f"larger than {MAX_BYTES} bytes")
        except httpx2.ConnectError as exc:
            raise Unreachable(exc) from None
        except httpx2.HTTPError as exc:
            raise Refused(f"cannot fetch it ({type(exc).__name__}: {exc})") from None
        return body

    async def _addresses(self, host: str, port: int) -> list[Address]:
        """The addresses to connect to, in the resolver's order: every address ``host``
        resolves to must be one the server may fetch from (an attacker's name may list a
        public one and a private one, and a connection may go to either)."""
        import socket

        import anyio

        try:
            found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(f"cannot resolve {host} ({exc})") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(f[4][0])) for f in found))
        if not addresses:
            raise Refused(f"{host} has no address")
        for address in addresses:
            why = refusal(address, loopback=self.loopback, networks=self.networks)
            if why:
                named = host if host == str(address) else f"{host} resolves to {address}"
                raise Refused(
                    f"{named}, {why}: documents are fetched only from public addresses "
                    f"(oauth: {SETTING} in .mcp/config.yaml opens a network)"
                )
        return addresses


_PORTS = {"https": 443, "http": 80}


def _length(header: str | None) -> int:
    try:
        return int(header or 0)
    except ValueError:
        return 0  # a body that does not say its size is counted as it comes


def _netloc(address: Address, port: int | None) -> str:
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"{shown}:{port}" if port else shown


def check_document(url: str, document: object) -> dict[str, Any]:
    """The document as a client record (``Refused`` says why it is not one)."""
    if not isinstance(document, dict):
        raise Refused("not a JSON object")
    if document.get("client_id") != url:
        raise Refused("its client_id is not its own URL")
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise Refused("it lists no redirect_uris")
    method = document.get("token_endpoint_auth_method") or "none"
    if method != "none" or "client_secret" in document:
        raise Refused("a metadata document client must be public (auth method none)")
    return {**document, "token_endpoint_auth_method": "none"}


class Refused(Exception):
    """Why a metadata document cannot be used (said on the server's stderr)."""


class Unreachable(Exception):
    """No connection to one of the host's addresses (its ``httpx2.ConnectError``): the
    next one is tried."""
