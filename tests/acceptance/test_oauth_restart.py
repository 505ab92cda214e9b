"""What a restart of an OAuth-enabled server keeps (everything issued: clients, codes, grants,
tokens, in ``.mcp/.secrets/oauth.json``) and loses (only a consent page left open), and what
it refuses to fetch or to start with. Real ``orch mcp --http --public-url`` processes, one
after the other on one port (the issuer is the same URL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.acceptance.mcp_support import free_port
from tests.acceptance.oauth_support import (
    Consent,
    RawClient,
    Site,
    approval_code,
    local_site,
    mcp_status,
    oauth_server,
    origin,
    register,
)
from tests.conftest import Orch

pytestmark = [pytest.mark.server]


@pytest.fixture
def site() -> Iterator[Site]:
    with local_site() as s:
        yield s


def test_a_code_issued_before_a_restart_is_exchanged_after_it(orch: Orch, site: Site) -> None:
    port = free_port()
    with oauth_server(orch, port=port) as server:
        client = register(origin(server), site.url("/callback"))
        back = Consent(orch).through(client.authorize_url())
    with oauth_server(orch, port=port) as again:
        answer = client.redeem(back["code"])
        assert answer.status_code == 200, answer.text
        assert mcp_status(again.url, answer.json()["access_token"]) == 200


def test_a_consent_page_open_across_a_restart_starts_again_and_its_approval_code_still_works(
    orch: Orch, site: Site
) -> None:
    port = free_port()
    code = approval_code(orch)
    with oauth_server(orch, port=port) as server:
        client = register(origin(server), site.url("/callback"))
        consent = Consent(orch, code=code)
        page = consent.open(client.authorize_url())
        assert page.status_code == 200 and "Approve" in page.text
    with oauth_server(orch, port=port):
        lost = consent.approve(page)  # the person clicks Approve on the old page
        assert lost.status_code == 400 and "location" not in lost.headers
        assert "unknown or has expired. Start again from your client" in lost.text
        back = Consent(orch, code=code).through(client.authorize_url())  # the same code
        assert client.redeem(back["code"]).status_code == 200


def test_a_metadata_document_on_a_private_address_is_refused_unfetched(orch: Orch) -> None:
    with oauth_server(orch) as server:
        url = "https://10.255.255.1/oauth/client.json"
        client = RawClient(origin(server), url, "https://client.example/callback")
        answer = httpx.get(client.authorize_url(), timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert f"client metadata document {url} refused: 10.255.255.1, a private address" in (
        server.log.read_text()
    )


def test_a_bad_network_in_the_oauth_setting_stops_the_server_at_start(orch: Orch) -> None:
    config = orch.cwd / ".mcp" / "config.yaml"
    config.write_text(config.read_text() + "oauth:\n  allow_document_networks: [10.0.0.0/33]\n")
    port = free_port()
    res = orch(
        "mcp", "--http", "--port", str(port), "--public-url", f"http://127.0.0.1:{port}",
        check=False,
        timeout=30,
    )  # fmt: skip
    assert res.code == 2 and "Traceback" not in res.err
    assert res.err.strip().splitlines() == [
        "orch: .mcp/config.yaml: oauth.allow_document_networks: '10.0.0.0/33' is not an IP "
        "network (for example: oauth: {allow_document_networks: [10.20.0.0/16]})"
    ]
