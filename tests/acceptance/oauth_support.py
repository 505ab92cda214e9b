"""OAuth against a real ``orch mcp --http --public-url`` process: a local site (the client's
callback and its metadata document), a test that acts as the browser on the consent page, and
the raw token requests the refusal tests make."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from tests.acceptance.mcp_support import INIT, HttpServer, free_port, http_server
from tests.conftest import Orch


@dataclass
class Site:
    """A local web site of the client: serves JSON documents, records its callback's hits."""

    base: str
    documents: dict[str, object] = field(default_factory=dict)
    callbacks: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def local_site() -> Iterator[Site]:
    site = Site("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/callback":
                site.callbacks.append({k: v[0] for k, v in parse_qs(query).items()})
                body, kind = b"you may close this window", "text/plain"
            elif path in site.documents:
                body, kind = json.dumps(site.documents[path]).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def oauth_server(
    orch: Orch, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[HttpServer]:
    """``orch mcp --http --public-url http://127.0.0.1:PORT`` (loopback may be plain HTTP)."""
    port = port or free_port()
    with http_server(
        orch.cwd, "--public-url", f"http://127.0.0.1:{port}", port=port, env=env
    ) as server:
        yield server


def origin(server: HttpServer) -> str:
    return server.url.removesuffix("/mcp")


def approval_code(orch: Orch, env: dict[str, str] | None = None) -> str:
    """A real ``orch auth approve`` in the project, as the person at the terminal."""
    return str(orch.json("auth", "approve", env=env)["code"])


class Consent:
    """The person in the browser: opens the authorization URL, reads orch's consent page,
    enters the approval code and follows the redirect."""

    def __init__(self, orch: Orch, *, code: str | None = None, agent: str | None = None) -> None:
        self.orch = orch
        self.code = code
        self.agent = agent
        self.pages: list[str] = []

    def open(self, authorize_url: str) -> httpx.Response:
        """GET /authorize, then the consent page; returns the page (or the refusal)."""
        answer = httpx.get(authorize_url, timeout=10)
        if answer.status_code != 302 or "/consent?" not in answer.headers["location"]:
            return answer
        page = httpx.get(answer.headers["location"], timeout=10)
        self.pages.append(page.text)
        return page

    def approve(self, page: httpx.Response, decision: str = "allow") -> httpx.Response:
        """POST the consent form; returns the redirect back to the client."""
        request_id = re.search(r'name="request" value="([^"]+)"', page.text)
        assert request_id, page.text
        agent = self.agent or re.search(r"<option>([^<]+)</option>", page.text).group(1)  # type: ignore[union-attr]
        form = {
            "request": request_id.group(1),
            "approval": self.code or approval_code(self.orch),
            "agent": agent,
            "decision": decision,
        }
        return httpx.post(str(page.url).split("?")[0], data=form, timeout=10)

    def through(self, authorize_url: str) -> dict[str, str]:
        """The whole consent, following the redirect to the client's callback: its query."""
        back = self.approve(self.open(authorize_url))
        assert back.status_code == 302, back.text
        location = back.headers["location"]
        httpx.get(location, timeout=10)  # the browser arrives at the client's callback
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class MemoryStorage:
    """The SDK client's ``TokenStorage``, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


# ---------------------------------------------------------------------- raw requests


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


@dataclass
class RawClient:
    """A client registered by DCR, driven request by request."""

    base: str
    client_id: str
    redirect_uri: str
    verifier: str = ""

    def authorize_url(self, pair: tuple[str, str] | None = None, **extra: str) -> str:
        self.verifier, challenge = pair or pkce()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": "st-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "resource": self.base + "/mcp",
            **extra,
        }
        return f"{self.base}/authorize?{urlencode(query)}"

    def token(self, **form: str) -> httpx.Response:
        data = {"client_id": self.client_id, **form}
        return httpx.post(self.base + "/token", data=data, timeout=10)

    def redeem(self, code: str, **extra: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self.verifier,
            "resource": self.base + "/mcp",
        }
        return self.token(**{**form, **extra})

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token)


def register(base: str, redirect_uri: str, name: str = "Raw client") -> RawClient:
    answer = httpx.post(
        base + "/register",
        json={
            "client_name": name,
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none",
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return RawClient(base, answer.json()["client_id"], redirect_uri)


def connect(orch: Orch, base: str, redirect_uri: str) -> tuple[RawClient, dict[str, object]]:
    """Register, consent and redeem: a raw client and its token response."""
    client = register(base, redirect_uri)
    back = Consent(orch).through(client.authorize_url())
    answer = client.redeem(back["code"])
    assert answer.status_code == 200, answer.text
    return client, answer.json()


def mcp_status(url: str, token: str) -> int:
    """The HTTP status of an MCP initialize sent with ``token``."""
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {token}"}
    return httpx.post(url, json=INIT, headers=headers, timeout=10).status_code


def secrets_text(project: Path) -> str:
    return (project / ".mcp" / ".secrets" / "oauth.json").read_text()
