"""Bearer tokens for ``orch mcp --http``: each names the agent it acts as.

A token is shown once, when it is created; only its SHA-256 is kept, in
``.mcp/.secrets/tokens.json`` (see ``secretfiles`` for how that folder is kept out of git).
"""

from __future__ import annotations

import secrets

from . import secretfiles
from .domain.errors import InvalidInput, OrchError
from .domain.record import Record

TOKENS_FILE = "tokens.json"
PREFIX = "orch_"
digest = secretfiles.digest


class TokenRecord(Record):
    id: str  # a short public handle for list and revoke
    agent: str
    sha256: str
    created: str
    admin: bool = False  # a person's token (orch token create --admin): any step, any agent

    def to_dict(self) -> dict[str, object]:
        shown: dict[str, object] = {"id": self.id, "agent": self.agent, "created": self.created}
        if self.admin:  # only then: agent tokens keep the shape they always had
            shown["admin"] = True
        return shown


class TokenNotFound(OrchError):
    code = "token_not_found"
    exit_code = 4


def _records(data: dict[str, object]) -> list[TokenRecord]:
    rows = data.get("tokens", [])
    return [
        TokenRecord(
            str(r["id"]),
            str(r["agent"]),
            str(r["sha256"]),
            str(r.get("created", "")),
            r.get("admin") is True,
        )
        for r in (rows if isinstance(rows, list) else [])
        if isinstance(r, dict) and {"id", "agent", "sha256"} <= r.keys()
    ]


def load(board: str) -> list[TokenRecord]:
    """Every token record of the board (an absent file means none)."""
    return _records(secretfiles.read(board, TOKENS_FILE))


def _save(board: str, records: list[TokenRecord]) -> None:
    rows = [{k: v for k, v in r._asdict().items() if k != "admin" or v} for r in records]
    secretfiles.write(board, TOKENS_FILE, {"tokens": rows})


def create(board: str, agent: str, now: str, *, admin: bool = False) -> tuple[str, TokenRecord]:
    """A new token for ``agent`` (``admin``: a person's, see ``TokenRecord``): the token itself
    (shown once) and the record kept."""
    token = PREFIX + secrets.token_urlsafe(32)
    with secretfiles.locked(board):
        records = load(board)
        taken = {r.id for r in records}
        handle = "tk-" + secrets.token_hex(3)
        while handle in taken:
            handle = "tk-" + secrets.token_hex(3)
        record = TokenRecord(handle, agent, digest(token), now, admin)
        _save(board, [*records, record])
    return token, record


def revoke(board: str, which: str) -> list[TokenRecord]:
    """Remove the token with this id, or every token of the agent with this name."""
    key = which.strip()
    if not key:
        raise InvalidInput("which token?", "give its id (orch token list) or an agent name")
    with secretfiles.locked(board):
        records = load(board)
        gone = [r for r in records if key in (r.id, r.agent)]
        if not gone:
            raise TokenNotFound(f"no token {key!r}", "see the tokens with: orch token list")
        _save(board, [r for r in records if r not in gone])
    return gone


class Verifier:
    """Checks a presented token against the stored hashes (re-read when the file changes)."""

    def __init__(self, board: str) -> None:
        self.board = board
        self._by_hash = secretfiles.Watched(
            board, TOKENS_FILE, lambda data: {r.sha256: r for r in _records(data)}
        )

    def agent_of(self, token: str) -> TokenRecord | None:
        if not token.startswith(PREFIX):
            return None
        return self._by_hash.get().get(digest(token))
