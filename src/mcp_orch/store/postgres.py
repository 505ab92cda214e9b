"""``PostgresStore``: the orchestrator service's database for teams (several replicas, one DB).

psycopg 3 with a small connection pool (the optional extra ``mcp-orch[postgres]``). What keeps
replicas safe lives in SQL, not in who is leader: writing transactions take turns (a
transaction-scoped advisory lock, from their first statement: each reads a board no other
writer is changing, commits and event ids come in revision order), a task read for a change
is locked (``SELECT ... FOR UPDATE``), every save is a compare-and-swap on the task's
revision, and ``leases.task_id`` is a primary key. A replica killed mid-transaction loses
nothing: PostgreSQL rolls its transaction back and frees its locks. A deadlock or
serialization failure is a ``RevisionConflict``: nothing was changed, run the step again.

Each committed change sends ``NOTIFY orch, '{"revision": N}'`` (from the statement that takes
the revision, see ``sqldialect``); ``listen`` waits for them on a
dedicated connection (a caller falls back to polling ``revision()`` when it returns), and
while it hears them ``change_token`` (what a waiting ``next`` watches) needs no query.
Migrations run at start under ``pg_advisory_lock``, so replicas starting together apply each
once; ``leader(name)`` is a session advisory lock for chores one replica should run.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..domain.errors import OrchError, RevisionConflict, StorageError
from .sqldialect import PostgresDialect
from .sqlschema import POSTGRES
from .sqlstore import SqlStore

CHANNEL = "orch"
# Writing transactions take turns on the revision row from their first statement: every
# transaction then reads a board no other writer is changing, as on SQLite, so rules that span
# tasks (an agent's max_tasks, "nothing ready, so wait") hold across replicas too, and locks
# are always taken in one order (no deadlocks). Reads never wait (MVCC).
# A transaction-scoped advisory lock rather than the row's FOR UPDATE: its waiters queue and
# wake one at a time (a row lock wakes them all to fight again at every commit).
_SERIALIZE = "SELECT pg_advisory_xact_lock(hashtext(%s))"
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql as pg_sql
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - the extra is part of the test install
    psycopg = None  # type: ignore[assignment]


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (standard strings: only quotes are special)."""
    return "'" + text.replace("'", "''") + "'"


def _rollback(conn: Any) -> None:
    """Roll back what the block did; a connection that cannot is dropped by the pool."""
    try:
        conn.rollback()
    except psycopg.Error:
        pass


def masked(url: str) -> str:
    """``url`` without its password (for messages and ``store.url``)."""
    return _PASSWORD.sub(r"\1***@", url)


def _unreachable(url: str, exc: Exception) -> StorageError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageError(
        f"cannot reach PostgreSQL at {masked(url)}: {reason}",
        "start PostgreSQL (e.g. pg_ctlcluster <version> main start) or fix --db / ORCH_DB_URL",
    )


class PostgresStore(SqlStore):
    """The seam's ``TaskStore`` (and coordination) on a PostgreSQL database."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        db_clock: bool | None = None,
        max_size: int = 8,
        serialize: bool = True,
    ) -> None:
        if psycopg is None:
            raise StorageError(
                "PostgreSQL needs the psycopg driver, which is not installed",
                "pip install 'mcp-orch[postgres]'",
            )
        super().__init__()
        self.dsn = url
        self.url = masked(url)
        self.schema = schema
        # The database's clock decides leases unless a test fakes time (ORCH_CLOCK).
        self.db_clock = os.environ.get("ORCH_CLOCK") is None if db_clock is None else db_clock
        self.dialect = PostgresDialect()
        self.serialize = serialize  # see _SERIALIZE; False: per-task locks and CAS only
        # While ``listen`` hears every commit, ``change_token`` counts what it heard instead
        # of asking the database (a waiting agent looks every 50 ms; see ``listen``).
        self._heard = 0
        self._hearing = False
        self._migrate()
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name="mcp-orch",
        )
        try:
            self._pool.open(wait=True, timeout=10)
        except Exception as exc:
            self._pool.close()
            raise _unreachable(url, exc) from exc

    @classmethod
    def open(cls, url: str, root: str | None) -> PostgresStore:
        """The store of a ``postgresql://...`` URL (``root`` plays no part)."""
        return cls(url)

    # ------------------------------------------------------------------ connections

    def connect(self) -> Any:
        """A new connection of its own (autocommit, this store's schema)."""
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise _unreachable(self.dsn, exc) from exc
        self._configure(conn)
        return conn

    def _configure(self, conn: Any) -> None:
        if self.schema:
            conn.execute(pg_sql.SQL("SET search_path TO {}").format(pg_sql.Identifier(self.schema)))

    def _lock_key(self, name: str) -> str:
        return f"mcp-orch:{self.schema or 'public'}:{name}"

    def _migrate(self) -> None:
        from datetime import UTC, datetime

        from ..domain.model import format_time
        from .migrations import migrate

        conn = self.connect()
        try:
            if self.schema:
                conn.execute(
                    pg_sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        pg_sql.Identifier(self.schema)
                    )
                )
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (self._lock_key("migrate"),))
            migrate(
                conn.cursor(),
                conn.transaction,
                POSTGRES,
                where=self.url,
                placeholder="%s",
                now=format_time(datetime.now(UTC)),
            )
        except psycopg.Error as exc:
            raise StorageError(
                f"PostgreSQL at {self.url} refused the schema: {exc}",
                "connect as a user that may create tables (and the schema), or migrate as one",
            ) from exc
        finally:
            conn.close()  # ends the session: the advisory lock goes with it

    def _begin(self, read_only: bool) -> str:
        """What opens a transaction, in one round trip: a reader's snapshot, or a writer's
        BEGIN and its turn (``_SERIALIZE``)."""
        if read_only:
            return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        if not self.serialize:
            return "BEGIN"
        return f"BEGIN; {_SERIALIZE % _literal(self._lock_key('write'))}"  # no parameters

    @contextmanager
    def _session(self, read_only: bool, one: bool = False) -> Iterator[Any]:
        """A cursor in a transaction (``one``: in autocommit, for a single statement, which
        sees one snapshot by itself: no BEGIN and COMMIT round trips)."""
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                if one:
                    yield cur
                    return
                cur.execute(self._begin(read_only))
                try:
                    yield cur
                except BaseException:
                    _rollback(conn)
                    raise
                conn.commit()
        except OrchError:
            raise
        except psycopg.Error as exc:
            raise self._pg_error(exc) from exc

    def _db_error(self, exc: Exception) -> OrchError | None:
        return self._pg_error(exc) if isinstance(exc, psycopg.Error) else None

    def _pg_error(self, exc: Exception) -> OrchError:
        if isinstance(exc, (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)):
            return RevisionConflict(
                "another writer changed the same tasks at the same moment; nothing was changed",
                "run the command again",
            )
        if isinstance(exc, psycopg.OperationalError):
            return _unreachable(self.dsn, exc)
        return StorageError(f"PostgreSQL at {self.url} refused: {exc}", "nothing was changed")

    def _writing(self) -> Any:
        return self._session(read_only=False)

    def _reading(self) -> Any:
        return self._session(read_only=True)

    def _reading_one(self) -> Any:
        return self._session(read_only=True, one=True)

    # ------------------------------------------------------------------ wake-ups and leaders

    def listen(
        self, callback: Callable[[str], None], stop: threading.Event, timeout: float = 1.0
    ) -> None:
        """Call ``callback(payload)`` for each change committed by any process, until
        ``stop`` is set. Blocks: run it in a thread. A lost connection is reconnected, and
        ``callback("")`` then says "something may have changed meanwhile": refresh."""
        while not stop.is_set():
            try:
                conn = self.connect()
            except StorageError:
                stop.wait(timeout)
                continue
            try:
                conn.execute(f"LISTEN {CHANNEL}")
                self._heard += 1  # what was committed while nobody listened: look again
                self._hearing = True
                callback("")
                while not stop.is_set():
                    for note in conn.notifies(timeout=timeout):
                        self._heard += 1
                        callback(note.payload)
            except psycopg.Error:
                self._hearing = False
                stop.wait(timeout)
            finally:
                self._hearing = False
                conn.close()

    def change_token(self) -> object:
        """What changes when anything was committed: while ``listen`` hears every commit
        (NOTIFY is sent at commit, so a commit after a look is heard after it), the count of
        what it heard, no query; else the store's revision (polled)."""
        if self._hearing:
            return ("heard", self._heard)
        return self.revision()

    def leader(self, name: str) -> Leader:
        """Try to become the one replica that runs chore ``name`` (``Leader.held``)."""
        return Leader(self, name)

    def close(self) -> None:
        self._pool.close()


class Leader:
    """A session advisory lock: held while this object's connection lives (PostgreSQL frees
    it when the session ends, so a killed replica's chores pass to another)."""

    def __init__(self, store: PostgresStore, name: str) -> None:
        self._conn = store.connect()
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (store._lock_key(name),)
        ).fetchone()
        self.held = bool(row and row[0])
        if not self.held:
            self.release()

    def alive(self) -> bool:
        """Whether the lock is still held: its session answers (one query)."""
        if not self.held or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        if not self._conn.closed:
            self._conn.close()
