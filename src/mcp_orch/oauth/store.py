"""OAuth state of a board, in ``.mcp/.secrets/oauth.json``: clients, grants, codes, tokens.

Only SHA-256 hashes of codes, tokens, client secrets and approval codes are kept (see
``secretfiles``). A *grant* is one consent: a client acting as one orch agent with some scopes
for one resource; its authorization code, access tokens and refresh token point at it, and
revoking a grant drops them all. Every change is one read-change-write under the board's lock,
so ``orch auth revoke`` in a terminal and the server's token endpoint never lose each other's
writes. Times are Unix seconds from the caller's clock (``ORCH_CLOCK`` pins it in tests).

Pure Python: ``orch auth`` imports this without the MCP SDK.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import secretfiles
from ..domain.errors import InvalidInput, OrchError
from ..domain.record import Record

FILE = "oauth.json"
ACCESS_PREFIX = "orcha_"  # distinct from static tokens (orch_), so a verifier knows which to ask
REFRESH_PREFIX = "orchr_"
CODE_PREFIX = "orchc_"
SCOPES = ("orch", "offline_access")  # orch: the board's tools; offline_access: refresh tokens
ACCESS_TTL = 3600
REFRESH_TTL = 30 * 86400
CODE_TTL = 120  # RFC 6749 10.5: short-lived; the client redeems it at once
APPROVAL_TTL = 600
CLIENT_IDLE_S = 86400
MAX_WRONG_APPROVALS = 5  # then every outstanding approval code is void: no guessing
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a terminal, typed in

Data = dict[str, Any]


class ClientNotFound(OrchError):
    code = "client_not_found"
    exit_code = 4


class Access(Record):
    """What an access token may do: act as ``agent`` for ``client_id`` on ``resource``."""

    client_id: str
    agent: str
    scopes: tuple[str, ...]
    resource: str
    expires_at: int
    grant: str


class Issued(Record):
    access_token: str
    refresh_token: str | None
    expires_in: int
    scopes: tuple[str, ...]


def _empty() -> Data:
    return {
        "clients": {},
        "grants": {},
        "codes": {},
        "access": {},
        "refresh": {},
        "approvals": {},
        "wrong": 0,
    }


def load(board: str) -> Data:
    data = _empty()
    data.update(secretfiles.read(board, FILE))
    return data


def _prune(data: Data, now: float) -> None:
    """Drop what has expired, grants nothing points at any more, and registrations that have
    had no grant for a day (anyone may register, so they must not pile up)."""
    for table in ("codes", "access", "refresh", "approvals"):
        data[table] = {k: v for k, v in data[table].items() if v["expires_at"] > now}
    live = {v["grant"] for t in ("codes", "access", "refresh") for v in data[t].values()}
    data["grants"] = {k: v for k, v in data["grants"].items() if k in live}
    granted = {g["client_id"] for g in data["grants"].values()}
    data["clients"] = {
        k: v
        for k, v in data["clients"].items()
        if k in granted or float(v.get("registered", now)) > now - CLIENT_IDLE_S
    }


@contextmanager
def change(board: str, now: float) -> Iterator[Data]:
    """The state, to change in place; written back (pruned) when the block ends normally."""
    with secretfiles.locked(board):
        data = load(board)
        yield data
        _prune(data, now)
        secretfiles.write(board, FILE, data)


def _drop_grant(data: Data, grant: str) -> None:
    for table in ("codes", "access", "refresh"):
        data[table] = {k: v for k, v in data[table].items() if v["grant"] != grant}
    data["grants"].pop(grant, None)


# ---------------------------------------------------------------------- approval codes


def approve(board: str, now: float, ttl: int = APPROVAL_TTL) -> tuple[str, int]:
    """A one-time approval code for the consent page, and when it expires."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    code = f"{raw[:4]}-{raw[4:]}"
    expires = int(now) + ttl
    with change(board, now) as data:
        data["approvals"][secretfiles.digest(_normal(code))] = {"expires_at": expires}
        data["wrong"] = 0
    return code, expires


def _normal(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def use_approval(board: str, code: str, now: float) -> bool:
    """Consume a valid approval code. A wrong one counts; too many void them all."""
    key = secretfiles.digest(_normal(code)) if _normal(code) else ""
    with change(board, now) as data:
        found = data["approvals"].pop(key, None)
        if found is not None and found["expires_at"] > now:
            data["wrong"] = 0
            return True
        data["wrong"] = int(data.get("wrong", 0)) + 1
        if data["wrong"] >= MAX_WRONG_APPROVALS:
            data["approvals"] = {}
        return False


# ---------------------------------------------------------------------- clients


def save_client(board: str, client_id: str, record: Data, now: float) -> None:
    """Register (or, for a metadata document fetched again, refresh) a client's record."""
    with change(board, now) as data:
        data["clients"][client_id] = record


def client(board: str, client_id: str) -> Data | None:
    found = load(board)["clients"].get(client_id)
    return found if isinstance(found, dict) else None


# ---------------------------------------------------------------------- codes and tokens


def issue_code(board: str, grant: Data, pkce: Data, now: float) -> str:
    """A new authorization code for a consent (``grant``: client_id, agent, scopes, resource;
    ``pkce``: code_challenge, redirect_uri, explicit)."""
    code = CODE_PREFIX + secrets.token_urlsafe(32)
    grant_id = "gr-" + secrets.token_hex(8)
    with change(board, now) as data:
        data["grants"][grant_id] = {**grant, "created": int(now)}
        data["codes"][secretfiles.digest(code)] = {
            **pkce,
            "grant": grant_id,
            "expires_at": int(now) + CODE_TTL,
            "used": False,
        }
    return code


def find_code(board: str, code: str, now: float) -> tuple[Data, Data] | None:
    """The code's record and its grant. A code presented again after it was redeemed is a
    replay: its grant (every token issued from it) is revoked (RFC 6749 4.1.2)."""
    return _find_once(board, "codes", code, now)


def redeem_code(board: str, code: str, now: float) -> Issued:
    """Tokens for a code checked by the caller (expiry, redirect URI, PKCE); the code is spent."""
    key = secretfiles.digest(code)
    with change(board, now) as data:
        found = data["codes"].get(key)
        if found is None or found["used"] or found["grant"] not in data["grants"]:
            raise InvalidInput("the authorization code was already used or revoked")
        found["used"] = True
        return _issue(data, found["grant"], now)


def _issue(data: Data, grant_id: str, now: float) -> Issued:
    grant = data["grants"][grant_id]
    scopes = tuple(grant["scopes"])
    access = ACCESS_PREFIX + secrets.token_urlsafe(32)
    data["access"][secretfiles.digest(access)] = {
        "grant": grant_id,
        "expires_at": int(now) + ACCESS_TTL,
    }
    refresh = None
    if "offline_access" in scopes:
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        data["refresh"][secretfiles.digest(refresh)] = {
            "grant": grant_id,
            "expires_at": int(now) + REFRESH_TTL,
            "used": False,
        }
    return Issued(access, refresh, ACCESS_TTL, scopes)


def find_refresh(board: str, token: str, now: float) -> tuple[Data, Data] | None:
    """The refresh token's record and grant. A rotated-out refresh token presented again
    means it leaked: the whole grant is revoked (OAuth 2.1, section 4.3.1)."""
    return _find_once(board, "refresh", token, now)


def _find_once(board: str, kind: str, secret: str, now: float) -> tuple[Data, Data] | None:
    """A one-time secret's record (``kind``: codes or refresh) and its grant; one presented
    again after it was spent revokes the grant."""
    data = load(board)
    found = data[kind].get(secretfiles.digest(secret))
    if found is None:
        return None
    if found["used"]:
        with change(board, now) as fresh:
            _drop_grant(fresh, found["grant"])
        return None
    grant = data["grants"].get(found["grant"])
    return (found, grant) if grant else None


def rotate_refresh(board: str, token: str, scopes: list[str], now: float) -> Issued:
    """New tokens for a refresh token, which is spent (rotation); its old access tokens end."""
    key = secretfiles.digest(token)
    with change(board, now) as data:
        found = data["refresh"].get(key)
        if found is None or found["used"] or found["grant"] not in data["grants"]:
            raise InvalidInput("the refresh token was already used or revoked")
        found["used"] = True
        grant_id = found["grant"]
        data["access"] = {k: v for k, v in data["access"].items() if v["grant"] != grant_id}
        grant = data["grants"][grant_id]
        grant["scopes"] = [s for s in grant["scopes"] if s in scopes] or grant["scopes"]
        return _issue(data, grant_id, now)


def revoke_token(board: str, token: str, now: float) -> None:
    """RFC 7009: end the grant of this access or refresh token (nothing if unknown)."""
    key = secretfiles.digest(token)
    with change(board, now) as data:
        for table in ("access", "refresh"):
            if key in data[table]:
                _drop_grant(data, data[table][key]["grant"])
                return


def accesses(data: dict[str, object]) -> dict[str, Access]:
    """Every live access token by hash, with its grant folded in (the verifier's view)."""
    grants = data.get("grants", {})
    table = data.get("access", {})
    out: dict[str, Access] = {}
    if not isinstance(grants, dict) or not isinstance(table, dict):
        return out
    for key, row in table.items():
        grant = grants.get(row.get("grant")) if isinstance(row, dict) else None
        if isinstance(grant, dict):
            out[key] = Access(
                str(grant["client_id"]),
                str(grant["agent"]),
                tuple(grant.get("scopes", ())),
                str(grant.get("resource", "")),
                int(row["expires_at"]),
                str(row["grant"]),
            )
    return out


class AccessVerifier:
    """Checks an OAuth access token: one ``stat`` per request, the file re-read on change."""

    def __init__(self, board: str) -> None:
        self._table = secretfiles.Watched(board, FILE, accesses)

    def check(self, token: str, now: float) -> Access | None:
        if not token.startswith(ACCESS_PREFIX):
            return None
        found = self._table.get().get(secretfiles.digest(token))
        return found if found and found.expires_at > now else None


# ---------------------------------------------------------------------- orch auth list/revoke


def connections(board: str, now: float) -> list[Data]:
    """Every registered client: who it is, where it redirects, the agents it acts as now."""
    data = load(board)
    _prune(data, now)
    rows = []
    for client_id, rec in sorted(
        data["clients"].items(), key=lambda kv: kv[1].get("registered", 0)
    ):
        grants = [g for g in data["grants"].values() if g["client_id"] == client_id]
        live = {g for g, v in data["grants"].items() if v["client_id"] == client_id}
        tokens = sum(
            1 for t in ("access", "refresh") for v in data[t].values() if v["grant"] in live
        )
        rows.append(
            {
                "client_id": client_id,
                "name": rec.get("client_name") or "",
                "kind": rec.get("kind", "dcr"),
                "redirect_hosts": sorted({_host(u) for u in rec.get("redirect_uris") or []}),
                "agents": sorted({str(g["agent"]) for g in grants}),
                "connected": tokens > 0,
            }
        )
    return rows


def _host(uri: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(uri).netloc or uri


def revoke_client(board: str, which: str, now: float) -> list[Data]:
    """End every grant of the client with this id or name, or of every client acting as this
    agent: its access and refresh tokens stop working at their next request."""
    key = which.strip()
    if not key:
        raise InvalidInput(
            "which client?", "give its client id or name, or an agent (orch auth list)"
        )
    with change(board, now) as data:
        hit = {
            cid
            for cid, rec in data["clients"].items()
            if key == cid or key.lower() == str(rec.get("client_name") or "").lower()
        }
        hit |= {g["client_id"] for g in data["grants"].values() if g["agent"] == key}
        if not hit:
            raise ClientNotFound(f"no client {key!r}", "see the clients with: orch auth list")
        for grant_id, grant in list(data["grants"].items()):
            if grant["client_id"] in hit:
                _drop_grant(data, grant_id)
    return [r for r in connections(board, now) if r["client_id"] in hit]
