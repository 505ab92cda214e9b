"""OAuth over HTTP (``--public-url``): the discovery documents, the SDK's OAuth endpoints over
the board's provider, and orch's consent page. Thin: the decisions are in ``mcp_orch.oauth``.

Routes: ``/.well-known/oauth-protected-resource`` (and ``.../mcp``, RFC 9728),
``/.well-known/oauth-authorization-server`` (RFC 8414), ``/authorize``, ``/consent``,
``/token`` (RFC 8707 ``resource`` checked first), ``/register`` (RFC 7591), ``/revoke``
(RFC 7009). Static bearer tokens (``orch token``) keep working beside OAuth access tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_metadata
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    RequestBodyLimitMiddleware,
)
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, request_response

from .. import config
from ..domain.errors import OrchError
from ..oauth import store
from ..oauth.provider import BoardOAuth, HashedSecrets, Pending
from ..oauth.urls import PublicUrl, same_resource
from .mcp_http import BoardTokens

AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"]


class BoardAccess:
    """The SDK's ``TokenVerifier`` for /mcp: OAuth access tokens and static bearer tokens."""

    def __init__(self, board: str, public: PublicUrl, clock: Callable[[], float]) -> None:
        self.static = BoardTokens(board)
        self.oauth = store.AccessVerifier(board)
        self.public = public
        self.clock = clock

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token.startswith(store.ACCESS_PREFIX):
            found: AccessToken | None = await self.static.verify_token(token)
            # A static token is made for this board's server, whatever its URL.
            return found.model_copy(update={"resource": self.public.resource}) if found else None
        try:
            access = self.oauth.check(token, self.clock())
        except OrchError:
            return None  # an unreadable file admits nobody
        if access is None:
            return None
        # client_id is the agent: the tools act as the token's agent (mcp_server.Identity).
        return AccessToken(
            token=token,
            client_id=access.agent,
            scopes=list(access.scopes),
            resource=access.resource,
            subject=access.client_id,
        )


def oauth(
    board: str, public: PublicUrl, clock: Callable[[], float]
) -> tuple[Any, Any, list[Route]]:
    """The token verifier, auth settings and routes of an OAuth-enabled server."""
    from ..oauth.cimd import networks_setting

    loaded = config.load(board)
    networks = networks_setting(loaded.raw.get("oauth"))  # a bad one: an error at start
    provider = BoardOAuth(board, public, clock, _agents(loaded), networks)
    settings = AuthSettings.model_validate(
        {
            "issuer_url": public.issuer,
            "resource_server_url": public.resource,
            "validate_token_resource": True,  # a token for another resource is refused (401)
        }
    )
    return BoardAccess(board, public, clock), settings, routes(provider)


def _agents(loaded: config.Config) -> list[str]:
    """The agents the consent page offers: planners first (ChatGPT plans), then the rest."""
    roles = loaded.roles
    names = [*roles.get("planner", ()), "chatgpt", *(n for ns in roles.values() for n in ns)]
    return list(dict.fromkeys(names))


def routes(provider: BoardOAuth) -> list[Route]:
    public = provider.public
    authenticator = HashedSecrets(provider)
    registration = ClientRegistrationOptions(enabled=True, default_scopes=list(store.SCOPES))
    sdk = build_metadata(
        AnyHttpUrl(public.issuer), None, registration, RevocationOptions(enabled=True)
    )
    # Validated again from strings: the models keep an empty path, so the issuer stays
    # exactly ``--public-url`` (RFC 8414 and 9207 compare issuers as strings; no trailing "/").
    metadata = OAuthMetadata.model_validate(
        {
            **sdk.model_dump(mode="json", exclude_none=True),
            "issuer": public.issuer,
            "scopes_supported": list(store.SCOPES),
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
        }
    )
    resource = ProtectedResourceMetadata.model_validate(
        {
            "resource": public.resource,
            "authorization_servers": [public.issuer],
            "scopes_supported": ["orch"],
            "resource_name": "orch task board",
        }
    )
    tokens = TokenHandler(provider, authenticator)

    async def token(request: Request) -> Response:
        given = (await request.form()).get("resource")  # the form is cached for the handler
        if isinstance(given, str) and not same_resource(given, public.resource):
            return _oauth_error("invalid_target", f"this server is {public.resource}")
        answer: Response = await tokens.handle(request)
        return answer

    prm = _open(ProtectedResourceMetadataHandler(resource).handle, ["GET", "OPTIONS"])
    return [
        Route("/.well-known/oauth-protected-resource", prm, methods=["GET", "OPTIONS"]),
        Route("/.well-known/oauth-protected-resource/mcp", prm, methods=["GET", "OPTIONS"]),
        Route(
            "/.well-known/oauth-authorization-server",
            _open(MetadataHandler(metadata).handle, ["GET", "OPTIONS"]),
            methods=["GET", "OPTIONS"],
        ),
        Route(
            "/authorize",
            _limited(request_response(AuthorizationHandler(provider).handle)),
            methods=["GET", "POST"],
        ),
        Route("/consent", _consent(provider), methods=["GET", "POST"]),
        Route("/token", _open(token, ["POST", "OPTIONS"]), methods=["POST", "OPTIONS"]),
        Route(
            "/register",
            _open(RegistrationHandler(provider, registration).handle, ["POST", "OPTIONS"]),
            methods=["POST", "OPTIONS"],
        ),
        Route(
            "/revoke",
            _open(RevocationHandler(provider, authenticator).handle, ["POST", "OPTIONS"]),
            methods=["POST", "OPTIONS"],
        ),
    ]


def _limited(app: Any) -> Any:
    return RequestBodyLimitMiddleware(app, DEFAULT_MAX_REQUEST_BODY_SIZE)


def _open(handler: Callable[..., Any], methods: list[str]) -> Any:
    """An endpoint a browser-based client may call (CORS), with a bounded body."""
    return CORSMiddleware(
        _limited(request_response(handler)),
        allow_origins="*",
        allow_methods=methods,
        allow_headers=["mcp-protocol-version"],
    )


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=400,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


# ---------------------------------------------------------------------- the consent page


def _consent(provider: BoardOAuth) -> Any:
    async def consent(request: Request) -> Response:
        if request.method == "GET":
            request_id = request.query_params.get("request", "")
            pending = provider.waiting(request_id)
            if pending is None:
                return _page(_GONE, 400)
            return _page(_form(provider, request_id, pending), 200)
        form = await request.form()
        try:
            target = provider.decide(
                str(form.get("request", "")),
                str(form.get("approval", "")),
                str(form.get("agent", "")),
                form.get("decision") == "allow",
            )
        except OrchError as exc:
            return _page(_GONE if "request" in exc.message else escape(exc.message), 400)
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})

    return consent


_GONE = "<p>This authorization request is unknown or has expired. Start again from your client.</p>"


def _form(provider: BoardOAuth, request_id: str, pending: Pending) -> str:
    client = pending.client
    name = client.client_name or client.client_id
    redirect = urlsplit(str(pending.params.redirect_uri)).netloc
    default = provider.default_agent(pending)
    agents = list(dict.fromkeys([default, *provider.agents]))
    options = "".join(f"<option>{escape(a)}</option>" for a in agents)
    return f"""<h1>Connect {escape(name)} to this orch board?</h1>
<p><b>{escape(name)}</b> (client <code>{escape(client.client_id)}</code>) asks to use the task
board served at <code>{escape(provider.public.resource)}</code>. After you approve, your browser
goes back to <b>{escape(redirect)}</b>.</p>
<form method="post" action="/consent">
<input type="hidden" name="request" value="{escape(request_id)}">
<p><label>It will act as agent <select name="agent">{options}</select></label></p>
<p><label>Approval code <input name="approval" autocomplete="off" autofocus
 placeholder="ABCD-EFGH"></label></p>
<p>Get a code by running <code>orch auth approve</code> in a terminal in the repository
(valid for 10 minutes, once). Only someone who can run orch on this board can approve.</p>
<button name="decision" value="allow">Approve</button>
<button name="decision" value="deny">Deny</button>
</form>"""


def _page(body: str, status: int) -> HTMLResponse:
    html = (
        '<!doctype html><html><head><meta charset="utf-8"><title>orch: connect a client</title>'
        '<meta name="viewport" content="width=device-width"><style>body{font:16px sans-serif;'
        "max-width:40em;margin:2em auto;padding:0 1em}code{background:#eee}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",  # no clickjacking the Approve button
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "frame-ancestors 'none'",
            "Referrer-Policy": "no-referrer",
        },
    )
