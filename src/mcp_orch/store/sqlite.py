"""``SqliteStore``: the orchestrator service's embedded database (the default, ``.mcp/orch.db``).

One connection, guarded by one lock: the serve process is the database's only writer (with
several writing processes SQLite's busy handler stalls for seconds and starves some of them,
design notes D2), and its threads take turns. WAL lets readers outside the process (a backup,
``sqlite3`` by hand) read while it writes; ``synchronous=FULL`` makes each commit durable
(the audit trail survives a power cut; ~0.2 ms per commit). Each transaction is
``BEGIN IMMEDIATE``: it takes the write lock at its start, so a read-then-write never finds
the database changed underneath it. Stdlib ``sqlite3`` only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..domain.errors import OrchError, StorageError
from .sqldialect import Dialect
from .sqlschema import SQLITE
from .sqlstore import SqlStore


def _storage_error(exc: sqlite3.Error, path: str, doing: str) -> StorageError:
    return StorageError(
        f"the database {path} refused to {doing}: {exc}",
        "check the disk and the file's permissions; the change was not made",
    )


class SqliteStore(SqlStore):
    """The seam's ``TaskStore`` (and coordination) on one SQLite file."""

    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        super().__init__()
        self.path = path if path == ":memory:" else os.path.abspath(path)
        self.url = f"sqlite:///{self.path}"
        self.dialect = Dialect()
        self._lock = threading.RLock()
        self._conn = self._connect(synchronous)
        self._migrate()

    @classmethod
    def open(cls, url: str, root: str | None) -> SqliteStore:
        """The store of a ``sqlite:///PATH`` URL (relative paths beside ``.mcp``)."""
        from .factory import sqlite_path

        return cls(sqlite_path(url, root))

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        try:
            if self.path != ":memory:":
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            return conn
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"cannot open the database {self.path}: {exc}",
                "check that the folder exists and is writable, or pass another --db",
            ) from exc

    def _migrate(self) -> None:
        from datetime import UTC, datetime

        from ..domain.model import format_time
        from .migrations import migrate

        with self._lock:
            cur = self._conn.cursor()
            try:
                migrate(
                    cur,
                    lambda: self._atomic(cur),
                    SQLITE,
                    where=self.path,
                    placeholder="?",
                    now=format_time(datetime.now(UTC)),
                )
            except sqlite3.Error as exc:
                raise _storage_error(exc, self.path, "take the schema") from exc

    @contextmanager
    def _atomic(self, cur: sqlite3.Cursor, begin: str = "BEGIN IMMEDIATE") -> Iterator[Any]:
        try:
            cur.execute(begin)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path, "start a transaction") from exc
        try:
            yield cur
        except BaseException:
            self._conn.rollback()
            raise
        try:
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            self._conn.rollback()
            raise _storage_error(exc, self.path, "commit") from exc

    @contextmanager
    def _guarded(self, begin: str) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                with self._atomic(cur, begin):
                    yield cur
            except OrchError:
                raise
            except sqlite3.Error as exc:
                raise _storage_error(exc, self.path, "run a query") from exc

    def _db_error(self, exc: Exception) -> OrchError | None:
        if isinstance(exc, sqlite3.Error):
            return _storage_error(exc, self.path, "run a query")
        return None

    def _writing(self) -> Any:
        return self._guarded("BEGIN IMMEDIATE")

    def _reading(self) -> Any:
        # A deferred transaction: a consistent view over several statements, no write lock.
        return self._guarded("BEGIN")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
