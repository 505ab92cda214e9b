"""The files under ``.mcp/.secrets/``: JSON documents of hashed credentials.

Bearer tokens (``tokens.py``) and OAuth grants (``oauth/store.py``) are kept here, only as
SHA-256 hashes. The folder carries its own ``.gitignore`` (``*``), so it is never committed even
on a board whose ``.mcp/.gitignore`` predates it; files are mode 0600. Credentials are 256
random bits, so a plain hash (no salt, no slow KDF) is enough: nobody can guess one from it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from .board.fsutil import atomic_write, board_lock, storage_error
from .domain.errors import OrchError

SECRETS_DIR = ".secrets"

T = TypeVar("T")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode("utf-8")).hexdigest()


def path(board: str, name: str) -> str:
    return os.path.join(board, SECRETS_DIR, name)


def read(board: str, name: str) -> dict[str, object]:
    """The document ``name`` (an absent file is an empty one)."""
    where = path(board, name)
    try:
        with open(where, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise OrchError(
            f"cannot read {where}: {exc}",
            "fix the JSON, or delete the file and create the credentials again "
            "(tokens: orch token create --agent NAME; OAuth clients connect again)",
        ) from None
    return data if isinstance(data, dict) else {}


def write(board: str, name: str, data: dict[str, object]) -> None:
    """Replace the document ``name`` atomically, mode 0600, in the git-ignored folder."""
    folder = os.path.join(board, SECRETS_DIR)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        ignore = os.path.join(folder, ".gitignore")
        if not os.path.exists(ignore):
            atomic_write(ignore, "*\n")
    except OSError as exc:
        raise storage_error(exc, f"create {folder}") from exc
    target = path(board, name)
    atomic_write(target, json.dumps(data, indent=2, sort_keys=True) + "\n")
    try:
        os.chmod(target, 0o600)
    except OSError:
        pass  # a file system without modes (some network shares): the hashes are not secret


@contextmanager
def locked(board: str) -> Iterator[None]:
    """The board's lock, held for a whole read-change-write of a secrets file."""
    with board_lock(os.path.join(board, ".lock")):
        yield


class Watched(Generic[T]):
    """A parsed view of one secrets file, re-read only when the file changed, so a revoke by
    another process takes effect on the next request without a restart, and a request that
    changes nothing costs one ``stat``."""

    def __init__(self, board: str, name: str, parse: Callable[[dict[str, object]], T]) -> None:
        self.board = board
        self.name = name
        self.parse = parse
        self._stamp: tuple[int, int, int, int] | None = None
        self._value: T = parse({})

    def get(self) -> T:
        try:
            st = os.stat(path(self.board, self.name))
            # The inode and ctime too: every write replaces the file, and two writes of the same
            # size within one tick of the file system's coarse clock would share mtime and size.
            stamp: tuple[int, int, int, int] | None = (
                st.st_ino,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_size,
            )
        except OSError:
            stamp = None
        if stamp != self._stamp:
            self._value = self.parse(read(self.board, self.name) if stamp else {})
            self._stamp = stamp
        return self._value
