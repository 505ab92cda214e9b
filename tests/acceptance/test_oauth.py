"""OAuth 2.1 for remote clients (issue 11): the official SDK's own ``OAuthClientProvider``
connects to a real ``orch mcp --http --public-url`` process, discovers everything from a 401,
registers (DCR, or a Client ID Metadata Document served by a local site), is sent through
orch's consent page with a code from a real ``orch auth approve``, gets tokens, works as
``chatgpt``, refreshes, and is cut off by ``orch auth revoke``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from pydantic import AnyUrl

from tests.acceptance.mcp_support import call, new_token
from tests.acceptance.oauth_support import (
    Consent,
    MemoryStorage,
    Site,
    local_site,
    mcp_status,
    oauth_server,
    origin,
    secrets_text,
)
from tests.conftest import Orch

pytestmark = [pytest.mark.server]


class Browser:
    """The SDK's redirect and callback handlers, played by a test acting as the person."""

    def __init__(self, orch: Orch, site: Site) -> None:
        self.consent = Consent(orch)
        self.site = site
        self.visits = 0

    async def redirect(self, authorize_url: str) -> None:
        self.visits += 1
        self.consent.through(authorize_url)

    async def callback(self) -> AuthorizationCodeResult:
        query = self.site.callbacks[-1]
        return AuthorizationCodeResult(code=query["code"], state=query["state"], iss=query["iss"])


def sdk_oauth(
    server_url: str, browser: Browser, storage: MemoryStorage, **kw: str
) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        client_name="ChatGPT test client",
        redirect_uris=[AnyUrl(browser.site.url("/callback"))],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
    )
    return OAuthClientProvider(
        server_url,
        metadata,
        storage,
        browser.redirect,
        browser.callback,
        **kw,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def session(url: str, auth: OAuthClientProvider) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http_client:
        transport = streamable_http_client(url, http_client=http_client)
        async with Client(transport, mode="legacy", cache=None) as client:
            yield client


def test_the_sdks_oauth_client_connects_works_as_chatgpt_refreshes_and_is_revoked(
    orch: Orch,
) -> None:
    storage = MemoryStorage()
    with local_site() as site, oauth_server(orch) as server:
        browser = Browser(orch, site)
        auth = sdk_oauth(server.url, browser, storage)

        async def main() -> None:
            async with session(server.url, auth) as client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert {"next_task", "create_task", "claim_task"} <= names
                created = await call(client, "create_task", title="From ChatGPT")
                assert orch.json("show", str(created["id"]))["history"][0]["agent"] == "chatgpt"
                first = storage.tokens
                assert first and first.refresh_token and first.access_token.startswith("orcha_")
                # The client's clock says the access token is spent: the SDK refreshes it.
                auth.context.token_expiry_time = time.time() - 1
                # A planner's step (chatgpt plays the planner): prep the stub it created.
                prepped = await call(
                    client,
                    "prep_task",
                    task_id=str(created["id"]),
                    goal="planned over OAuth",
                    acceptance_criteria=["it works"],
                    definition_of_done=["tests pass"],
                )
                assert prepped["status"] == "ready"
                assert orch.json("show", str(created["id"]))["history"][-1]["agent"] == "chatgpt"
                second = storage.tokens
                assert second and second.access_token != first.access_token
                assert second.refresh_token != first.refresh_token  # rotated
                assert mcp_status(server.url, first.access_token) == 401
                assert mcp_status(server.url, second.access_token) == 200

        anyio.run(main)
        assert browser.visits == 1
        page = browser.consent.pages[0]
        assert "ChatGPT test client" in page and f"127.0.0.1:{site.base.rsplit(':', 1)[1]}" in page
        assert "<option>chatgpt</option>" in page and "orch auth approve" in page

        listed = orch.json("auth", "list")["clients"]
        assert [(c["name"], c["agents"], c["connected"], c["kind"]) for c in listed] == [
            ("ChatGPT test client", ["chatgpt"], True, "dcr")
        ]
        stored = secrets_text(orch.cwd)
        assert storage.tokens and storage.tokens.access_token not in stored
        assert storage.tokens.refresh_token not in stored
        assert storage.client and storage.client.client_secret not in stored  # hash only

        revoked = orch.json("auth", "revoke", "chatgpt")["revoked"]
        assert [r["connected"] for r in revoked] == [False]
        assert mcp_status(server.url, storage.tokens.access_token) == 401
        refused = httpx.post(
            origin(server) + "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": storage.tokens.refresh_token,
                "client_id": storage.client.client_id,
                "client_secret": storage.client.client_secret or "",
            },
            timeout=10,
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_client_registered_by_its_metadata_document_connects(orch: Orch) -> None:
    """ChatGPT's preferred registration: the client_id is the URL of its own metadata."""
    storage = MemoryStorage()
    with local_site() as site, oauth_server(orch) as server:
        document_url = site.url("/oauth/client.json")
        site.documents["/oauth/client.json"] = {
            "client_id": document_url,
            "client_name": "Metadata client",
            "redirect_uris": [site.url("/callback")],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        browser = Browser(orch, site)
        auth = sdk_oauth(server.url, browser, storage, client_metadata_url="https://x.test/c")
        # The SDK's client only accepts an https document URL; the server accepts loopback
        # http when it runs on loopback itself (a test cannot serve a trusted certificate).
        auth.context.client_metadata_url = document_url

        async def main() -> None:
            async with session(server.url, auth) as client:
                created = await call(client, "create_task", title="Via a metadata document")
                assert orch.json("show", str(created["id"]))["history"][0]["agent"] == "chatgpt"

        anyio.run(main)
    assert storage.client and storage.client.client_id == document_url
    assert "Metadata client" in browser.consent.pages[0]
    listed = orch.json("auth", "list")["clients"]
    assert [(c["client_id"], c["kind"], c["agents"]) for c in listed] == [
        (document_url, "cimd", ["chatgpt"])
    ]


def test_static_tokens_keep_working_beside_oauth(orch: Orch) -> None:
    token = new_token(orch, "codex")
    with oauth_server(orch) as server:
        assert mcp_status(server.url, token) == 200
        assert mcp_status(server.url, token + "x") == 401
