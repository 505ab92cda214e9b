"""Every OAuth refusal (issue 11), each with the error its RFC names and nothing granted:
an unregistered redirect URI, a wrong, used or expired approval code, a wrong or missing PKCE
verifier, an expired or replayed authorization code, a replayed refresh token, a token for
another resource. Raw requests against a real ``orch mcp --http --public-url`` process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.acceptance.mcp_support import free_port
from tests.acceptance.oauth_support import (
    Consent,
    RawClient,
    Site,
    approval_code,
    connect,
    local_site,
    mcp_status,
    oauth_server,
    origin,
    register,
    secrets_text,
)
from tests.conftest import Orch

pytestmark = [pytest.mark.server]

T0 = "2026-12-01T09:00:00+00:00"


@pytest.fixture
def site() -> Iterator[Site]:
    with local_site() as s:
        yield s


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _codes(orch: Orch) -> dict[str, object]:
    data = json.loads(secrets_text(orch.cwd))
    return {t: data[t] for t in ("codes", "access", "refresh")}


def test_a_401_points_at_the_metadata_which_points_at_the_authorization_server(
    orch: Orch,
) -> None:
    with oauth_server(orch) as server:
        base = origin(server)
        answer = httpx.post(server.url, json={}, timeout=10)
        assert answer.status_code == 401
        assert (
            f'resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"'
            in (answer.headers["www-authenticate"])
        )
        for path in (
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp",
        ):
            prm = httpx.get(base + path, timeout=10).json()
            assert prm["resource"] == server.url and prm["authorization_servers"] == [base]
        meta = httpx.get(base + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["issuer"] == base  # exactly, no trailing slash (RFC 8414 3.3)
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    assert meta["client_id_metadata_document_supported"] is True
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert "offline_access" in meta["scopes_supported"]
    assert meta["registration_endpoint"] == base + "/register"


def test_without_a_public_url_there_is_no_oauth_and_no_metadata_to_point_to(orch: Orch) -> None:
    from tests.acceptance.mcp_support import http_server, new_token

    new_token(orch, "cursor")
    with http_server(orch.cwd) as server:
        answer = httpx.post(server.url, json={}, timeout=10)
        assert answer.status_code == 401 and "resource_metadata" not in answer.headers.get(
            "www-authenticate", ""
        )
        base = server.url.removesuffix("/mcp")
        assert httpx.get(base + "/.well-known/oauth-authorization-server").status_code == 404


def test_the_rfc_7636_example_verifier_and_challenge_are_accepted(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        example = (
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        back = Consent(orch).through(client.authorize_url(example))
        assert back["state"] == "st-1" and back["iss"] == origin(server)  # RFC 9207
        answer = client.redeem(back["code"])
        assert answer.status_code == 200, answer.text
        token = answer.json()
        assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
        assert answer.headers["cache-control"] == "no-store"  # RFC 6749 5.1
        assert mcp_status(server.url, token["access_token"]) == 200


def test_an_unregistered_redirect_uri_is_refused_without_redirecting(
    orch: Orch, site: Site
) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        client.redirect_uri = "https://attacker.example/steal"
        answer = httpx.get(client.authorize_url(), timeout=10)
    assert answer.status_code == 400 and "location" not in answer.headers  # RFC 6749 4.1.2.1
    assert answer.json()["error"] == "invalid_request"
    assert "not registered" in answer.json()["error_description"]
    assert _codes(orch) == {"codes": {}, "access": {}, "refresh": {}}


def test_a_wrong_approval_code_is_access_denied(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        approval_code(orch)  # one is outstanding; the one typed is not it
        consent = Consent(orch, code="AAAA-AAAA")
        back = consent.approve(consent.open(client.authorize_url()))
    assert back.status_code == 302
    query = _query(back.headers["location"])
    assert query["error"] == "access_denied" and query["state"] == "st-1" and "code" not in query
    assert _codes(orch)["codes"] == {}


def test_a_used_approval_code_is_access_denied(orch: Orch, site: Site) -> None:
    code = approval_code(orch)
    with oauth_server(orch) as server:
        first = register(origin(server), site.url("/callback"))
        assert "code" in Consent(orch, code=code).through(first.authorize_url())
        again = Consent(orch, code=code)
        back = again.approve(again.open(first.authorize_url()))
    assert _query(back.headers["location"])["error"] == "access_denied"


def test_an_expired_approval_code_is_access_denied(orch: Orch, site: Site) -> None:
    code = approval_code(orch, env={"ORCH_CLOCK": T0})  # valid for 10 minutes from T0
    with oauth_server(orch, env={"ORCH_CLOCK": "2026-12-01T09:11:00+00:00"}) as server:
        client = register(origin(server), site.url("/callback"))
        consent = Consent(orch, code=code)
        back = consent.approve(consent.open(client.authorize_url()))
    assert _query(back.headers["location"])["error"] == "access_denied"


def test_guessing_approval_codes_voids_the_real_one(orch: Orch, site: Site) -> None:
    code = approval_code(orch)
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        for _ in range(5):
            guess = Consent(orch, code="ZZZZ-ZZZZ")
            guess.approve(guess.open(client.authorize_url()))
        real = Consent(orch, code=code)
        back = real.approve(real.open(client.authorize_url()))
    assert _query(back.headers["location"])["error"] == "access_denied"


def test_denying_on_the_consent_page_is_access_denied(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        consent = Consent(orch)
        back = consent.approve(consent.open(client.authorize_url()), decision="deny")
    assert _query(back.headers["location"])["error"] == "access_denied"


def test_a_wrong_or_missing_pkce_verifier_is_refused(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        back = Consent(orch).through(client.authorize_url())
        wrong = client.token(
            grant_type="authorization_code",
            code=back["code"],
            redirect_uri=client.redirect_uri,
            code_verifier="x" * 64,
        )
        missing = client.token(
            grant_type="authorization_code", code=back["code"], redirect_uri=client.redirect_uri
        )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"  # RFC 7636 4.6
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert _codes(orch)["access"] == {}


def test_an_expired_authorization_code_is_refused(orch: Orch, site: Site) -> None:
    port = free_port()
    with oauth_server(orch, env={"ORCH_CLOCK": T0}, port=port) as server:
        client = register(origin(server), site.url("/callback"))
        code = approval_code(orch, env={"ORCH_CLOCK": T0})
        back = Consent(orch, code=code).through(client.authorize_url())
    # The same server three minutes later (a code lives two): the code is no longer good.
    with oauth_server(orch, env={"ORCH_CLOCK": "2026-12-01T09:03:00+00:00"}, port=port):
        answer = client.redeem(back["code"])
    assert answer.status_code == 400 and answer.json() == {
        "error": "invalid_grant",
        "error_description": "authorization code has expired",
    }


def test_a_replayed_authorization_code_is_refused_and_ends_what_it_gave(
    orch: Orch, site: Site
) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        back = Consent(orch).through(client.authorize_url())
        first = client.redeem(back["code"]).json()
        assert mcp_status(server.url, first["access_token"]) == 200
        replay = client.redeem(back["code"])
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert mcp_status(server.url, first["access_token"]) == 401  # RFC 6749 4.1.2
        assert client.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_replayed_refresh_token_is_refused_and_ends_the_grant(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        client, first = connect(orch, origin(server), site.url("/callback"))
        rotated = client.refresh(str(first["refresh_token"]))
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert mcp_status(server.url, second["access_token"]) == 200
        replay = client.refresh(str(first["refresh_token"]))
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        # A refresh token used twice has leaked: the whole grant ends (OAuth 2.1 4.3.1).
        assert mcp_status(server.url, second["access_token"]) == 401
        assert client.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_refresh_token_only_comes_with_offline_access(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        back = Consent(orch).through(client.authorize_url(scope="orch"))
        token = client.redeem(back["code"]).json()
    assert token["scope"] == "orch" and "refresh_token" not in token


def test_a_token_for_another_resource_is_refused(orch: Orch, site: Site) -> None:
    other = "https://other.example/mcp"
    with oauth_server(orch) as server, oauth_server(orch) as elsewhere:
        client = register(origin(server), site.url("/callback"))
        # At /authorize: back to the client with invalid_target, no consent page (RFC 8707 2).
        asked = httpx.get(client.authorize_url(resource=other), timeout=10)
        assert asked.status_code == 302
        assert _query(asked.headers["location"])["error"] == "invalid_target"
        # At /token: invalid_target, and the code is not spent.
        back = Consent(orch).through(client.authorize_url())
        refused = client.redeem(back["code"], resource=other)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
        token = client.redeem(back["code"]).json()
        # At /mcp: a token issued for one server's resource does not open another's.
        assert mcp_status(server.url, token["access_token"]) == 200
        assert mcp_status(elsewhere.url, token["access_token"]) == 401


def test_a_metadata_document_that_names_another_client_is_refused(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        url = site.url("/client.json")
        site.documents["/client.json"] = {
            "client_id": "https://someone-else.example/client.json",
            "redirect_uris": [site.url("/callback")],
        }
        client = RawClient(origin(server), url, site.url("/callback"))
        answer = httpx.get(client.authorize_url(), timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "its client_id is not its own URL" in server.log.read_text()


def test_a_confidential_client_must_send_its_secret(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        base = origin(server)
        registered = httpx.post(
            base + "/register",
            json={"redirect_uris": [site.url("/callback")], "client_name": "Secretive"},
            timeout=10,
        ).json()
        secret = registered["client_secret"]
        assert secret and secret not in secrets_text(orch.cwd)  # only its hash is kept
        client = RawClient(base, registered["client_id"], site.url("/callback"))
        back = Consent(orch).through(client.authorize_url())
        without = client.redeem(back["code"])
        assert without.status_code == 401 and without.json()["error"] == "invalid_client"
        assert client.redeem(back["code"], client_secret=secret).status_code == 200


def test_registrations_that_never_got_a_grant_do_not_pile_up(orch: Orch, site: Site) -> None:
    """Anyone may register (RFC 7591): a registration with no grant is dropped after a day."""
    with oauth_server(orch, env={"ORCH_CLOCK": T0}) as server:
        code = approval_code(orch, env={"ORCH_CLOCK": T0})
        client = register(origin(server), site.url("/callback"))
        back = Consent(orch, code=code).through(client.authorize_url())
        assert client.redeem(back["code"]).status_code == 200  # a grant: 30 days
        register(origin(server), site.url("/callback"), name="Drive-by")
    names = [c["name"] for c in orch.json("auth", "list", env={"ORCH_CLOCK": T0})["clients"]]
    assert sorted(names) == ["Drive-by", "Raw client"]
    later = {"ORCH_CLOCK": "2026-12-02T09:00:01+00:00"}
    orch("auth", "approve", env=later)  # any write prunes
    assert [c["name"] for c in orch.json("auth", "list", env=later)["clients"]] == ["Raw client"]


def test_the_agent_is_chosen_on_the_consent_page(orch: Orch, site: Site) -> None:
    with oauth_server(orch) as server:
        client = register(origin(server), site.url("/callback"))
        code = approval_code(orch)
        bad = Consent(orch, code=code, agent="no such agent!")
        refused = bad.approve(bad.open(client.authorize_url()))
        assert refused.status_code == 400 and "not a valid agent name" in refused.text
        chosen = Consent(orch, code=code, agent="planner-2")  # the code was not spent
        back = chosen.through(client.authorize_url())
        token = client.redeem(back["code"]).json()["access_token"]
        assert mcp_status(server.url, token) == 200
    assert orch.json("auth", "list")["clients"][0]["agents"] == ["planner-2"]
