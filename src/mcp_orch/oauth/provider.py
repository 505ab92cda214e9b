"""The MCP SDK's authorization-server provider over the board's OAuth store.

The SDK's handlers parse and check each request (client, redirect URI, scope, code expiry,
redirect URI match, PKCE S256) and call this provider; the provider decides what orch
decides: the resource (RFC 8707), the consent (a one-time approval code from
``orch auth approve``, and the agent the client will act as), and what is stored.
"""

from __future__ import annotations

import hmac
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import ValidationError
from starlette.requests import Request

from .. import secretfiles
from ..domain.errors import InvalidInput
from ..domain.record import Record
from . import store
from .cimd import Documents, Network, is_document_url
from .urls import PublicUrl, same_resource

PENDING_S = 600  # how long a consent page stays open
MAX_PENDING = 1000
CHATGPT_HOSTS = ("chatgpt.com", "chat.openai.com")


class Pending(Record):
    """An authorization request waiting on the consent page."""

    client: OAuthClientInformationFull
    params: AuthorizationParams
    expires: float


class BoardOAuth:
    """``OAuthAuthorizationServerProvider`` for one board (see the module's docstring)."""

    def __init__(
        self,
        board: str,
        public: PublicUrl,
        clock: Callable[[], float],
        agents: list[str],
        networks: Sequence[Network] = (),
    ) -> None:
        self.board = board
        self.public = public
        self.clock = clock
        self.agents = agents  # the agents offered on the consent page; the first is the default
        # Metadata documents: from public addresses only (and loopback when this server is
        # on loopback), or the networks the config opens (``cimd.networks_setting``).
        self.documents = Documents(loopback=public.loopback, networks=networks)
        self.pending: dict[str, Pending] = {}

    # ------------------------------------------------------------------ clients

    async def _get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if is_document_url(client_id, allow_loopback_http=self.public.loopback):
            document = await self.documents.get(client_id)
            if document is None:
                return None
            # Kept on file too, so that orch auth list names it and revoke finds it by name.
            record = {**document, "kind": "cimd", "scope": " ".join(store.SCOPES)}
            old = store.client(self.board, client_id)
            record["registered"] = old.get("registered", 0) if old else int(self.clock())
            if old != record:
                store.save_client(self.board, client_id, record, self.clock())
            return _client(record)
        found = store.client(self.board, client_id)
        return _client(found) if found else None

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        try:
            return await self._get_client(client_id)
        except ValidationError as exc:  # a metadata document with a malformed field
            sys.stderr.write(f"orch mcp: client {client_id} refused: {exc.errors()[0]['msg']}\n")
            return None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        record = client_info.model_dump(mode="json", exclude_none=True)
        secret = record.pop("client_secret", None)
        if secret:
            record["secret_sha256"] = secretfiles.digest(secret)
        record.update(kind="dcr", registered=int(self.clock()))
        store.save_client(self.board, client_info.client_id, record, self.clock())

    # ------------------------------------------------------------------ consent

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        if params.resource is not None and not same_resource(params.resource, self.public.resource):
            raise AuthorizeError("invalid_target", f"this server is {self.public.resource}")
        now = self.clock()
        self.pending = {k: p for k, p in self.pending.items() if p.expires > now}
        while len(self.pending) >= MAX_PENDING:  # requests cost nothing to make: bound them
            self.pending.pop(next(iter(self.pending)))
        request_id = secrets.token_urlsafe(24)
        self.pending[request_id] = Pending(client, params, now + PENDING_S)
        return f"{self.public.issuer}/consent?request={request_id}"

    def waiting(self, request_id: str) -> Pending | None:
        found = self.pending.get(request_id)
        return found if found and found.expires > self.clock() else None

    def default_agent(self, pending: Pending) -> str:
        if urlsplit(str(pending.params.redirect_uri)).hostname in CHATGPT_HOSTS:
            return "chatgpt"
        return self.agents[0]

    def decide(self, request_id: str, approval: str, agent: str, allow: bool) -> str:
        """Where the consent page sends the browser: back to the client with a code, or with
        ``access_denied`` (denied, or a wrong, used or expired approval code). Raises
        InvalidInput for an unknown or expired request (nowhere safe to redirect to)."""
        from ..inputs import check_agent

        if request_id not in self.pending or self.pending[request_id].expires <= self.clock():
            raise InvalidInput("this authorization request is unknown or expired")
        acting = check_agent(agent) if allow else ""  # before anything is spent or granted
        pending = self.pending.pop(request_id)
        params = pending.params
        if not allow:
            return self._back(params, error="access_denied", why="the owner denied access")
        if not store.use_approval(self.board, approval, self.clock()):
            return self._back(params, error="access_denied", why="wrong or used approval code")
        scopes = [s for s in (params.scopes or store.SCOPES) if s in store.SCOPES]
        grant = {
            "client_id": pending.client.client_id,
            "agent": acting,
            "scopes": scopes or ["orch"],
            "resource": self.public.resource,
        }
        pkce = {
            "code_challenge": params.code_challenge,
            "redirect_uri": str(params.redirect_uri),
            "explicit": params.redirect_uri_provided_explicitly,
        }
        code = store.issue_code(self.board, grant, pkce, self.clock())
        return construct_redirect_uri(
            str(params.redirect_uri), code=code, state=params.state, iss=self.public.issuer
        )

    def _back(self, params: AuthorizationParams, *, error: str, why: str) -> str:
        return construct_redirect_uri(
            str(params.redirect_uri),
            error=error,
            error_description=why,
            state=params.state,
            iss=self.public.issuer,
        )

    # ------------------------------------------------------------------ codes and tokens

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        found = store.find_code(self.board, authorization_code, self.clock())
        if found is None:
            return None
        code, grant = found
        return AuthorizationCode(
            code=authorization_code,
            scopes=grant["scopes"],
            # The SDK compares this with the system clock; shift it by ORCH_CLOCK's offset.
            expires_at=code["expires_at"] + _skew(self.clock),
            client_id=grant["client_id"],
            code_challenge=code["code_challenge"],
            redirect_uri=code["redirect_uri"],
            redirect_uri_provided_explicitly=code["explicit"],
            resource=grant["resource"],
            subject=grant["agent"],
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        try:
            issued = store.redeem_code(self.board, authorization_code.code, self.clock())
        except InvalidInput as exc:
            raise TokenError("invalid_grant", exc.message) from None
        return _token(issued)

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        found = store.find_refresh(self.board, refresh_token, self.clock())
        if found is None:
            return None
        row, grant = found
        return RefreshToken(
            token=refresh_token,
            client_id=grant["client_id"],
            scopes=grant["scopes"],
            expires_at=int(row["expires_at"] + _skew(self.clock)),
            resource=grant["resource"],
            subject=grant["agent"],
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        try:
            issued = store.rotate_refresh(self.board, refresh_token.token, scopes, self.clock())
        except InvalidInput as exc:
            raise TokenError("invalid_grant", exc.message) from None
        return _token(issued)

    async def load_access_token(self, token: str) -> AccessToken | None:
        """For the revocation endpoint (requests to /mcp go through ``BoardAccess``)."""
        found = store.AccessVerifier(self.board).check(token, self.clock())
        if found is None:
            return None
        return AccessToken(
            token=token, client_id=found.client_id, scopes=list(found.scopes), subject=found.agent
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        store.revoke_token(self.board, token.token, self.clock())

    async def exchange_identity_assertion(self, client: Any, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "only authorization_code and refresh_token")


def _skew(clock: Callable[[], float]) -> float:
    return time.time() - clock()


def _client(record: dict[str, Any]) -> OAuthClientInformationFull:
    shown = {k: v for k, v in record.items() if k not in ("kind", "registered", "secret_sha256")}
    if record.get("secret_sha256"):
        shown["client_secret"] = record["secret_sha256"]  # compared by HashedSecrets, below
    return OAuthClientInformationFull.model_validate(shown)


def _token(issued: store.Issued) -> OAuthToken:
    return OAuthToken(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        scope=" ".join(issued.scopes),
        refresh_token=issued.refresh_token,
    )


class HashedSecrets(ClientAuthenticator):
    """The SDK's client authentication at /token and /revoke, against the stored hash of the
    client secret (the SDK's own compares the secret itself, which orch does not keep)."""

    async def authenticate_request(self, request: Request) -> OAuthClientInformationFull:
        form = await request.form()
        client_id = str(form.get("client_id") or "")
        client = await self.provider.get_client(client_id) if client_id else None
        if client is None:
            raise AuthenticationError("Invalid client_id")
        method = client.token_endpoint_auth_method or "client_secret_post"
        given = form.get("client_secret")
        if method == "client_secret_basic":
            given = _basic_secret(request.headers.get("Authorization", ""), client_id)
        if method == "none":
            return client
        if not client.client_secret or not isinstance(given, str) or not given:
            raise AuthenticationError("Client secret is required")
        if not hmac.compare_digest(client.client_secret, secretfiles.digest(given)):
            raise AuthenticationError("Invalid client_secret")
        return client


def _basic_secret(header: str, client_id: str) -> str | None:
    import base64
    import binascii
    from urllib.parse import unquote

    if not header.startswith("Basic "):
        raise AuthenticationError("Missing or invalid Basic authentication in Authorization header")
    try:
        user, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise AuthenticationError("Invalid Basic authentication header") from None
    if unquote(user) != client_id:
        raise AuthenticationError("Client ID mismatch in Basic auth")
    return unquote(secret)
