"""Client ID Metadata Documents: a client whose ``client_id`` is an HTTPS URL serving its own
registration (name, redirect URIs) as JSON. ChatGPT registers this way.

The document is fetched by the server, so the fetch is bounded: HTTPS only (plain HTTP only
to a loopback address, and only when the server itself is on one: tests), no redirects, 5 s,
64 KiB. Its ``client_id`` must be its own URL and it gets no secret (a public client, PKCE
only). Fetched documents are cached for a few minutes.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from .urls import LOOPBACK

TIMEOUT_S = 5.0
MAX_BYTES = 64 * 1024
CACHE_S = 300.0


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


class Documents:
    """Fetches and caches client metadata documents (in this process)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}

    async def get(self, url: str) -> dict[str, Any] | None:
        cached = self._cache.get(url)
        if cached and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        try:
            document: dict[str, Any] | None = await self._fetch(url)
        except Refused as why:
            sys.stderr.write(f"orch mcp: client metadata document {url} refused: {why}\n")
            sys.stderr.flush()
            document = None
        if document is not None:  # a failure is retried at the next request
            self._cache[url] = (time.monotonic(), document)
        return document

    async def _fetch(self, url: str) -> dict[str, Any]:
        import httpx2

        try:
            async with (
                httpx2.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http,
                http.stream("GET", url, headers={"Accept": "application/json"}) as answer,
            ):
                if answer.status_code != 200:
                    raise Refused(f"HTTP {answer.status_code}")
                body = b""
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise Refused(f"larger than {MAX_BYTES} bytes")
        except httpx2.HTTPError as exc:
            raise Refused(f"cannot fetch it ({type(exc).__name__})") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise Refused("not JSON") from None
        return check_document(url, document)


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
