"""Bearer tokens for ``orch mcp --http``: each names the agent it acts as.

A token is shown once, when it is created; only its SHA-256 is kept, in
``.mcp/.secrets/tokens.json``. That folder carries its own ``.gitignore`` (``*``), so it is never
committed even on a board whose ``.mcp/.gitignore`` predates it. Tokens are 256 random bits, so
a plain hash (no salt, no slow KDF) is enough: nobody can guess one from its hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets

from .board.fsutil import atomic_write, board_lock, storage_error
from .domain.errors import InvalidInput, OrchError
from .domain.record import Record

SECRETS_DIR = ".secrets"
TOKENS_FILE = "tokens.json"
PREFIX = "orch_"


class TokenRecord(Record):
    id: str  # a short public handle for list and revoke
    agent: str
    sha256: str
    created: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "agent": self.agent, "created": self.created}


class TokenNotFound(OrchError):
    code = "token_not_found"
    exit_code = 4


def digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def _dir(board: str) -> str:
    return os.path.join(board, SECRETS_DIR)


def _path(board: str) -> str:
    return os.path.join(_dir(board), TOKENS_FILE)


def load(board: str) -> list[TokenRecord]:
    """Every token record of the board (an absent file means none)."""
    try:
        with open(_path(board), encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise OrchError(
            f"cannot read {_path(board)}: {exc}",
            "fix the JSON, or delete the file and create the tokens again "
            "(orch token create --agent NAME)",
        ) from None
    rows = data.get("tokens", []) if isinstance(data, dict) else []
    return [
        TokenRecord(str(r["id"]), str(r["agent"]), str(r["sha256"]), str(r.get("created", "")))
        for r in rows
        if isinstance(r, dict) and {"id", "agent", "sha256"} <= r.keys()
    ]


def _save(board: str, records: list[TokenRecord]) -> None:
    folder = _dir(board)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        ignore = os.path.join(folder, ".gitignore")
        if not os.path.exists(ignore):
            atomic_write(ignore, "*\n")
    except OSError as exc:
        raise storage_error(exc, f"create {folder}") from exc
    rows = [r._asdict() for r in records]
    atomic_write(_path(board), json.dumps({"tokens": rows}, indent=2) + "\n")
    try:
        os.chmod(_path(board), 0o600)
    except OSError:
        pass  # a file system without modes (some network shares): the hashes are not secret


def create(board: str, agent: str, now: str) -> tuple[str, TokenRecord]:
    """A new token for ``agent``: the token itself (shown once) and the record kept."""
    token = PREFIX + secrets.token_urlsafe(32)
    with board_lock(os.path.join(board, ".lock")):
        records = load(board)
        taken = {r.id for r in records}
        handle = "tk-" + secrets.token_hex(3)
        while handle in taken:
            handle = "tk-" + secrets.token_hex(3)
        record = TokenRecord(handle, agent, digest(token), now)
        _save(board, [*records, record])
    return token, record


def revoke(board: str, which: str) -> list[TokenRecord]:
    """Remove the token with this id, or every token of the agent with this name."""
    key = which.strip()
    if not key:
        raise InvalidInput("which token?", "give its id (orch token list) or an agent name")
    with board_lock(os.path.join(board, ".lock")):
        records = load(board)
        gone = [r for r in records if key in (r.id, r.agent)]
        if not gone:
            raise TokenNotFound(f"no token {key!r}", "see the tokens with: orch token list")
        _save(board, [r for r in records if r not in gone])
    return gone


class Verifier:
    """Checks a presented token against the stored hashes, re-reading the file only when it
    changed, so a revoke takes effect on the next request without a restart."""

    def __init__(self, board: str) -> None:
        self.board = board
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, TokenRecord] = {}

    def _refresh(self) -> None:
        try:
            st = os.stat(_path(self.board))
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp:
            self._by_hash = {r.sha256: r for r in load(self.board)} if stamp else {}
            self._stamp = stamp

    def agent_of(self, token: str) -> TokenRecord | None:
        if not token.startswith(PREFIX):
            return None
        self._refresh()
        return self._by_hash.get(digest(token))
