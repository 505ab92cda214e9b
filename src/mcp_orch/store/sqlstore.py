"""What the SQLite and PostgreSQL stores share: the seam's ``TaskStore`` over a ``SqlTx``.

A backend says how to open a read and a write transaction (``_reading`` / ``_writing``: each
yields a cursor and commits or rolls back when the block ends); everything else is here.
``transaction()`` nests within a thread: an inner block is a savepoint of the outer one,
which alone commits. The store's ``Memos`` (``sqlmemo``: converted agent and lease rows, parsed
committed tasks) are shared by all its transactions; every call still reads its rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ..domain.errors import OrchError, StorageError
from ..domain.events import Event
from ..domain.model import Task
from . import Snapshot, no_attachment
from .eventpage import EventPage, EventQuery
from .sqlcoord import CoordinationTx
from .sqldialect import Dialect
from .sqltx import EVENT_COLUMNS, Memos, current_revision, event_of

EVENTS_AFTER_BATCH = 1000  # one call's worth of new events; the next call reads the rest


class SqlStore:
    """The seam's ``TaskStore`` for a SQL database (a backend adds how to connect)."""

    url: str = ""
    dialect: Dialect
    db_clock = False

    def __init__(self) -> None:
        self._local = threading.local()
        self._cache: Snapshot | None = None
        self._cache_lock = threading.Lock()
        self._warnings: list[str] = []
        self._memos_made: Memos | None = None

    # ------------------------------------------------------------------ a backend's part

    def _reading(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _writing(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    # ------------------------------------------------------------------ transactions

    @property
    def _memos(self) -> Memos:
        """Rows already converted, tasks already parsed (``sqlmemo``), for every transaction
        (made at first use: a backend sets its dialect after this class's ``__init__``)."""
        made = self._memos_made
        if made is None:
            with self._cache_lock:
                if self._memos_made is None:
                    self._memos_made = Memos(self.dialect)
                made = self._memos_made
        return made

    def _db_error(self, exc: Exception) -> OrchError | None:
        """The ``OrchError`` a driver's error means (None: not the driver's), so an outer
        block can catch what rolled back a savepoint as it would a whole transaction."""
        return None

    @contextmanager
    def transaction(self) -> Iterator[CoordinationTx]:
        """A unit of work. Inside an open one (this thread's), a savepoint of it: an exception
        leaving the inner block undoes what the inner block did and propagates; only the
        outermost block commits. Refused events kept aside meanwhile (``record_refused``) are
        written once the outermost block has ended, committed or not."""
        outer: CoordinationTx | None = getattr(self._local, "tx", None)
        if outer is not None:
            if getattr(self._local, "joined", 0):  # see ``joined``
                yield outer
                return
            with self._savepoint(outer):
                yield outer
            return
        try:
            with self._writing() as cur:
                tx = CoordinationTx(cur, self.dialect, db_clock=self.db_clock, memos=self._memos)
                tx.base, tx.keep = self._cached, self._keep
                self._local.tx = tx
                try:
                    yield tx
                    tx.flush()  # the events kept aside go in before the commit
                finally:
                    self._local.tx = None
                if tx.broken is not None:  # a savepoint left half undone: commit nothing
                    raise StorageError(
                        f"a part of the transaction could not be undone: {tx.broken}",
                        "nothing was changed; run the command again",
                    ) from tx.broken
            cache = self._memos.tasks  # committed: what it saved is true for good now
            for revision, task in tx.saved:
                cache.put(task.id, revision, task)
        finally:
            self._write_refused()

    @contextmanager
    def joined(self) -> Iterator[None]:
        """Inside, this thread's nested ``transaction()`` blocks join the open transaction
        with no savepoint of their own: for a caller that lets their failure propagate out of
        the outermost block (which then rolls everything back), a savepoint would be two
        statements (on PostgreSQL, round trips) for nothing."""
        self._local.joined = getattr(self._local, "joined", 0) + 1
        try:
            yield
        finally:
            self._local.joined -= 1

    @contextmanager
    def _savepoint(self, tx: CoordinationTx) -> Iterator[CoordinationTx]:
        # The events recorded before the savepoint go in before it: if an inner read flushed
        # them after it and the inner block then rolled back, the database would undo their
        # insert while the mark (which keeps only what is still pending) could not restore
        # them, and the outer transaction would commit its writes without their events.
        tx.flush()
        tx.depth += 1
        depth, release = tx.depth, self.dialect.release_savepoints
        name = f"orch_{depth}"
        mark = tx.mark()
        try:
            if depth in tx.lingering:  # the last one of this depth goes in the same round trip
                self._run(tx, f"RELEASE SAVEPOINT {name}; SAVEPOINT {name}")
            else:
                self._run(tx, f"SAVEPOINT {name}")
            tx.lingering = {d for d in tx.lingering if d < depth}  # released with it
            try:
                yield tx
            except BaseException:
                try:
                    tx._x(f"ROLLBACK TO SAVEPOINT {name}")
                    if release:
                        tx._x(f"RELEASE SAVEPOINT {name}")
                except Exception as undo:
                    tx.broken = undo  # the outermost block will not commit
                tx.restore(mark)
                raise
            finally:
                if not release:  # left established (``Dialect.release_savepoints``)
                    tx.lingering = {d for d in tx.lingering if d < depth} | {depth}
            if release:
                self._run(tx, f"RELEASE SAVEPOINT {name}")
        except Exception as exc:
            mapped = self._db_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            tx.depth -= 1

    @staticmethod
    def _run(tx: CoordinationTx, sql: str) -> None:
        try:
            tx._x(sql)
        except Exception as exc:
            tx.broken = exc  # the outermost block will not commit
            raise

    def record_refused(self, event: Event) -> None:
        """Record a refused step's one event in a short transaction of its own: at once, or,
        while this thread has a transaction open, right after its outermost block ends
        (whether it commits or not). Never raises: the step was refused whatever happens
        here, and that is what its caller reports."""
        if getattr(self._local, "tx", None) is not None:
            self._refused().append(event)
            return
        try:
            with self.transaction() as tx:
                tx.record(event)
        except OrchError as exc:
            self._warnings.append(f"{event.op} refused, but its event was not kept: {exc}")

    def _refused(self) -> list[Event]:
        kept: list[Event] | None = getattr(self._local, "refused", None)
        if kept is None:
            kept = self._local.refused = []
        return kept

    def _write_refused(self) -> None:
        kept: list[Event] | None = getattr(self._local, "refused", None)
        if kept:
            self._local.refused = []
            for event in kept:
                self.record_refused(event)

    def _reading_one(self) -> AbstractContextManager[Any]:
        """A cursor for one statement, which is consistent by itself (no BEGIN / COMMIT
        round trips); a backend without one reads in a transaction."""
        return self._reading()

    @contextmanager
    def _read_tx(self, one: bool = False) -> Iterator[CoordinationTx]:
        """A read-only view (``one``: for a single statement); inside a transaction, that
        transaction (reads see its own writes)."""
        outer: CoordinationTx | None = getattr(self._local, "tx", None)
        if outer is not None:
            outer.flush()  # a read of the events sees those the transaction recorded
            yield outer
            return
        with self._reading_one() if one else self._reading() as cur:
            yield CoordinationTx(
                cur, self.dialect, db_clock=self.db_clock, writing=False, memos=self._memos
            )

    # ------------------------------------------------------------------ reads

    def revision(self) -> int:
        with self._read_tx(one=True) as tx:
            if tx.revision is not None:
                return tx.revision
            return current_revision(tx.cur, self.dialect)

    def change_token(self) -> object:
        return self.revision()

    def _cached(self) -> Snapshot | None:
        return self._cache

    def snapshot(self) -> Snapshot:
        """The whole board: one query for the revision when nothing changed since the last
        snapshot, else that snapshot plus the tasks saved since (see ``SqlTx.snapshot``)."""
        with self._read_tx() as tx:
            if tx.revision is not None:
                return tx.snapshot(self._cache)
            snap = tx.snapshot(self._cache)
        self._keep(snap)
        return snap

    def _keep(self, snap: Snapshot) -> None:
        """Keep ``snap`` (committed) as the base of later snapshots, unless one as new is."""
        with self._cache_lock:
            if self._cache is None or self._cache.revision <= snap.revision:
                self._cache = snap

    def load(self, task_id: str) -> Task:
        with self._read_tx(one=True) as tx:
            return tx.load(task_id)

    def attachment(self, ref: str) -> str:
        """The text ``attach`` kept under ``ref`` ("attachment:<id>"); ``InvalidInput`` if none."""
        head, _, num = ref.partition(":")
        row = None
        if head == "attachment" and num.isdigit():
            with self._read_tx(one=True) as tx:
                row = tx._x("SELECT body FROM attachments WHERE id = ?", (int(num),)).fetchone()
        if row is None:
            raise no_attachment(ref)
        return str(row[0])

    def events(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        """The newest ``limit`` events, oldest first, optionally of one task."""
        if limit <= 0:
            return []
        where, params = ("WHERE task_id = ? ", (task_id,)) if task_id is not None else ("", ())
        with self._read_tx(one=True) as tx:
            rows = tx._x(
                f"SELECT {EVENT_COLUMNS} FROM events {where}ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [event_of(row, self.dialect) for row in reversed(rows)]

    def events_page(self, q: EventQuery) -> EventPage:
        """One page of the events ``q`` matches (oldest first) and how many match, filtered,
        counted and paged by the database (``store.eventpage``)."""
        where, params = _event_filter(q, self.dialect)
        with self._read_tx() as tx:
            total = int(tx._x(f"SELECT count(*) FROM events{where}", params).fetchone()[0])
            rows = tx._x(
                f"SELECT {EVENT_COLUMNS} FROM events{where} ORDER BY id LIMIT ? OFFSET ?",
                (*params, q.limit, q.offset),
            ).fetchall()
        return EventPage(tuple(event_of(row, self.dialect) for row in rows), total)

    def events_after(self, cursor: int | None) -> tuple[list[Event], int]:
        """Events with an id above ``cursor`` (None: none, from now on) and the next cursor.
        Each statement on its own (``one``): the second only bounds a foreign cursor."""
        with self._read_tx(one=True) as tx:
            if cursor is None:
                row = tx._x("SELECT coalesce(max(id), 0) FROM events").fetchone()
                return [], int(row[0])
            rows = tx._x(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (cursor, EVENTS_AFTER_BATCH),
            ).fetchall()
            if not rows:  # nothing new; or a cursor of another database: from its end on
                top = int(tx._x("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])
                return [], min(cursor, top)
        return [event_of(row, self.dialect) for row in rows], int(rows[-1][0])

    def take_warnings(self) -> list[str]:
        """Refusals whose event could not be kept. (A change commits whole or not at all:
        nothing is ever left half written.)"""
        warnings, self._warnings = self._warnings, []
        return warnings

    def extras(self, capability: str) -> object | None:
        """``coordination``: this store (its transactions have the coordination methods)."""
        return self if capability == "coordination" else None


def _event_filter(q: EventQuery, d: Dialect) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause of ``q`` and its parameters."""
    terms: list[tuple[str, Any]] = []
    if q.task_id is not None:
        terms.append(("task_id = ?", q.task_id))
    if q.type:
        terms.append(("type = ?", q.type))
    if q.since:
        terms.append(("occurred_at >= ?", d.time(q.since)))
    if q.since_id:
        terms.append(("id > ?", q.since_id))
    if not terms:
        return "", ()
    return " WHERE " + " AND ".join(t for t, _ in terms), tuple(v for _, v in terms)
