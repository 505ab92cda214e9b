"""One unit of work on a SQL store (seam v2's ``Tx``), written once for SQLite and PostgreSQL.

The store opens the database transaction and hands this class a cursor inside it; leaving the
store's ``with`` block commits or rolls back everything done here (tasks, events,
attachments, agents, leases).

The store revision lives in one row (``meta.revision``). The first write of a transaction
bumps it, and every task the transaction saves carries that revision. On PostgreSQL the bump
locks the row until commit, so writing transactions commit in revision order and event ids are
handed out in commit order: a reader that has seen revision N, or event id E, has seen
everything before it (``events_after`` never skips an event committed late).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime
from typing import Any

from ..domain.agents import Agent, Lease
from ..domain.errors import MalformedTask, RevisionConflict
from ..domain.events import Event
from ..domain.model import Note, Priority, Status, Task, format_time
from ..domain.policy import Summary
from . import Snapshot, Stored, not_found
from .sqldialect import CANONICAL_TIME, Dialect
from .sqlmemo import RowMemo, TaskCache

SUMMARY_COLUMNS = (
    "id, title, status, priority, holder, implementer, depends, created, updated, "
    "open_feedback, escalated, capabilities"
)
TASK_COLUMNS = (
    "id, status, priority, holder, implementer, title, created, updated, depends, "
    "capabilities, open_feedback, escalated, revision, body"
)
AGENT_COLUMNS = "name, role, capabilities, max_tasks, status, source, last_seen, error"
LEASE_COLUMNS = "task_id, agent, fence, expires_at, acquired_at"
EVENT_COLUMNS = "id, type, actor, task_id, agent, payload_json, occurred_at"
_PRIORITIES = tuple(Priority)
_WRITTEN = [c.strip() for c in TASK_COLUMNS.split(",")[1:]]  # what a save writes, in order
_REV = _WRITTEN.index("revision")
_INSERT = (
    f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join('?' * 14)}) ON CONFLICT (id) DO NOTHING"
)
_EVENT_INSERT = (
    "INSERT INTO events (type, actor, task_id, agent, payload_json, occurred_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# After "WITH m AS (<the dialect's touch>) ": the save that also takes the revision (PostgreSQL).
_REV_FROM_M = "(SELECT value FROM m)"
_INSERT_TOUCHING = (
    f"INSERT INTO tasks ({TASK_COLUMNS}) SELECT "
    + ", ".join(_REV_FROM_M if c == "revision" else "?" for c in ["id", *_WRITTEN])
    + " ON CONFLICT (id) DO NOTHING RETURNING revision"
)
_COLUMNS = _WRITTEN[:_REV]  # what a task's columns say of it (then its revision and body)
_GET = f"SELECT revision, body, {', '.join(_COLUMNS)} FROM tasks WHERE id = ?"
_UPDATES: dict[tuple[tuple[int, ...], bool], str] = {}  # (columns set, touching) -> statement


def _update(changed: tuple[int, ...], touching: bool) -> str:
    """The UPDATE of a task's ``changed`` columns (indexes into ``_COLUMNS``), its revision
    (``touching``: taken in the same statement, PostgreSQL's first write) and its body: an
    index on a column left out is not touched (SQLite, and PostgreSQL's HOT updates)."""
    sql = _UPDATES.get((changed, touching))
    if sql is None:
        sets = [f"{_COLUMNS[i]} = ?" for i in changed]
        sets += [f"revision = {_REV_FROM_M if touching else '?'}", "body = ?"]
        back = " RETURNING revision" if touching else ""
        sql = f"UPDATE tasks SET {', '.join(sets)} WHERE id = ? AND revision = ?{back}"
        _UPDATES[(changed, touching)] = sql
    return sql


CHUNK = 500  # ids per IN (...) list: well under SQLite's 32,766 parameters


_STATUSES = {s.value: s for s in Status}


def summary_of(row: Any, d: Dialect) -> Summary:
    """The summary of a row of ``SUMMARY_COLUMNS`` (built positionally: a snapshot builds
    10,000 of these)."""
    unarr = d.unarr
    return Summary(
        row[0],
        row[1],
        _STATUSES[row[2]],
        _PRIORITIES[row[3]],
        row[4] or "",
        row[5] or "",
        unarr(row[6]),
        row[7],
        row[8],
        int(row[9]),
        bool(row[10]),
        unarr(row[11]),
    )


def parse_body(task_id: str, body: str) -> Task:
    from ..board import format as fmt

    try:
        return fmt.parse(body, f"{task_id} (database)")
    except MalformedTask:
        raise
    except ValueError as exc:  # a body no orch wrote: name it rather than crash
        raise MalformedTask(f"task {task_id} in the database cannot be read: {exc}") from exc


def event_row(event: Event, d: Dialect) -> tuple[Any, ...]:
    """(type, actor, task_id, agent, payload_json, occurred_at) of ``event``."""
    data = event._asdict()  # a new dict
    kind, actor, task, at = data.pop("op"), data.pop("agent"), data.pop("task"), data.pop("at")
    holder = data.pop("holder", "")
    data.pop("id", "")  # the row's own id, given by the database
    payload = {k: v for k, v in data.items() if v not in ("", None, ())}
    occurred = d.time(at)
    exact = occurred is not None and CANONICAL_TIME.match(at)  # the column holds it as is
    if not exact and d.untime(occurred) != at:
        payload["at"] = at  # a time the column cannot hold exactly: keep the original too
    return (kind, actor, task or None, holder or None, d.payload(payload), occurred)


def event_of(row: Any, d: Dialect) -> Event:
    payload = d.unpayload(row[5])
    fields: dict[str, Any] = {
        "at": payload.pop("at", "") or d.untime(row[6]),
        "agent": row[2],
        "op": row[1],
        "task": row[3] or "",
        "holder": row[4] or "",
        "id": str(row[0]),
    }
    names = Event._fields
    fields.update({k: str(v) for k, v in payload.items() if k in names})
    return Event(**{k: v for k, v in fields.items() if k in names})


def agent_of(row: Any, d: Dialect) -> Agent:
    return Agent(
        name=row[0],
        role=row[1],
        capabilities=d.unarr(row[2]),
        max_tasks=int(row[3]),
        status=row[4],
        source=row[5],
        last_seen=d.untime(row[6]),
        error=row[7] or "",
    )


def lease_of(row: Any, d: Dialect) -> Lease:
    return Lease(
        task_id=row[0],
        agent=row[1],
        fence=int(row[2]),
        expires_at=d.untime(row[3]),
        acquired_at=d.untime(row[4]),
    )


def agent_key(row: Any) -> Hashable:
    """A PostgreSQL agent row as a dict key (its capabilities come as a list)."""
    return (*row[:2], tuple(row[2]), *row[3:])


class Memos:
    """What a store remembers across its transactions (``sqlmemo``)."""

    def __init__(self, dialect: Dialect) -> None:
        lists = dialect.name == "postgres"  # its arrays come as lists: not hashable
        self.agents: RowMemo[Agent] = RowMemo(agent_of, agent_key if lists else None)
        self.leases: RowMemo[Lease] = RowMemo(lease_of)
        self.tasks = TaskCache()
        # The registry's rows as last read and the agents made of them (one pair: swapped
        # whole, so a reader in another thread sees an old pair or the new one).
        self.registry: tuple[list[Any], tuple[Agent, ...]] | None = None


def current_revision(cur: Any, d: Dialect) -> int:
    cur.execute(d.q("SELECT value FROM meta WHERE key = 'revision'"))
    row = cur.fetchone()
    return int(row[0]) if row else 0


class SqlTx:
    """The seam's ``Tx`` over one open database transaction (see the module docstring)."""

    def __init__(
        self,
        cur: Any,
        dialect: Dialect,
        *,
        db_clock: bool = False,
        writing: bool = True,
        memos: Memos | None = None,
    ) -> None:
        self.cur = cur
        self.memos = memos if memos is not None else Memos(dialect)
        self.d = dialect
        self.lock_row = dialect.lock_row if writing else ""  # a read-only view locks nothing
        self.base: Callable[[], Snapshot | None] | None = None  # the store's last snapshot
        self.keep: Callable[[Snapshot], None] | None = None  # offers the store a fresh one
        self.db_clock = db_clock  # lease times from the database's now() (PostgreSQL)
        self.revision: int | None = None  # this transaction's revision, once it wrote
        self.depth = 0  # open savepoints (nested ``transaction()`` blocks)
        self.lingering: set[int] = set()  # depths whose last savepoint is still established
        self.broken: BaseException | None = None  # a savepoint that could not be undone

        self.saved: list[tuple[int, Task]] = []  # (revision, task) saved here, for the cache
        self.own: dict[str, Task] = {}  # the last task saved here under each ID
        # Task ID -> (revision, its columns as the row holds them): read or written here.
        self.columns: dict[str, tuple[int, tuple[Any, ...]]] = {}
        # Registry entries and leases read here and not written since (what re-reading them
        # in this transaction would return: no other writer commits meanwhile).
        self.agents_read: dict[str, Agent | None] = {}
        self.leases_read: dict[str, Lease | None] = {}
        # The whole registry and agents' lease counts as read here, kept up to date by this
        # transaction's own writes (a batch of POSTs in one group commit reads them once).
        self.registry_read: tuple[Agent, ...] | None = None
        self.counts_read: dict[str, int] = {}
        self.pending: list[tuple[Any, ...]] = []  # events recorded, not yet inserted (``flush``)

    def mark(self) -> tuple[int | None, int, int]:
        """This transaction's own bookkeeping, to go back to when a savepoint rolls back."""
        return (self.revision, len(self.saved), len(self.pending))

    def restore(self, mark: tuple[int | None, int, int]) -> None:
        """Back to ``mark``: the database rolled back to the savepoint taken with it."""
        self.revision, saved, pending = mark
        del self.pending[pending:]
        self.agents_read.clear()  # a write undone: what was read since may be stale
        self.leases_read.clear()
        self.registry_read = None
        self.counts_read.clear()
        self.columns.clear()  # (the rows are read again before a save needs them)
        if saved < len(self.saved):
            del self.saved[saved:]
            self.own = {task.id: task for _, task in self.saved}

    def _x(self, sql: str, params: Iterable[Any] = ()) -> Any:
        self.cur.execute(self.d.q(sql), tuple(params))
        return self.cur

    def _touch(self) -> int:
        """This transaction's revision, taken at its first write (see the module docstring)."""
        if self.revision is None:
            row = self._x(self.d.touch).fetchone()
            self.revision = int(row[0])
        return self.revision

    # ------------------------------------------------------------------ tasks: reads

    def get(self, task_id: str) -> Stored:
        mine = self.own.get(task_id)
        if mine is not None:  # saved here: the row is this transaction's (and locked by it)
            return Stored(task=mine, revision=self._touch())
        row = self._x(_GET + self.lock_row, (task_id,)).fetchone()
        if row is None:
            raise not_found(task_id)
        revision = int(row[0])
        self.columns[task_id] = (revision, tuple(row[2:]))  # what a save needs not write
        if revision == self.revision:  # this transaction's own save: the task it saved
            mine = self.own.get(task_id) or parse_body(task_id, row[1])
            return Stored(task=mine, revision=revision)
        cache = self.memos.tasks
        task = cache.get(task_id, revision)
        if task is None:
            task = parse_body(task_id, row[1])
            cache.put(task_id, revision, task)  # committed: true for good
        return Stored(task=task, revision=revision)

    def load(self, task_id: str) -> Task:
        return self.get(task_id).task

    def exists(self, task_id: str) -> bool:
        return self._x("SELECT 1 FROM tasks WHERE id = ?", (task_id,)).fetchone() is not None

    def statuses(self, ids: Iterable[str]) -> dict[str, Status]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, Status] = {}
        for start in range(0, len(wanted), CHUNK):
            part = wanted[start : start + CHUNK]
            marks = ", ".join("?" * len(part))
            for row in self._x(f"SELECT id, status FROM tasks WHERE id IN ({marks})", part):
                out[row[0]] = Status(row[1])
        return out

    def held_by(self, agent: str) -> tuple[Summary, ...]:
        rows = self._x(
            f"SELECT {SUMMARY_COLUMNS} FROM tasks WHERE holder = ? ORDER BY id", (agent,)
        ).fetchall()
        return tuple(summary_of(row, self.d) for row in rows)

    def graph(self) -> dict[str, tuple[str, ...]]:
        rows = self._x("SELECT id, depends FROM tasks").fetchall()
        return {row[0]: self.d.unarr(row[1]) for row in rows}

    def knows_agent(self, name: str) -> bool:
        self.flush()
        if self._x(
            "SELECT 1 FROM tasks WHERE holder = ? OR implementer = ? LIMIT 1", (name, name)
        ).fetchone():
            return True
        sql = (
            "SELECT 1 FROM events WHERE (actor = ? OR agent = ?) "
            f"AND coalesce({self.d.outcome}, 'ok') <> 'refused' LIMIT 1"
        )
        return self._x(sql, (name, name)).fetchone() is not None

    def open_feedback(self, task_id: str) -> tuple[Note, ...]:
        return self.load(task_id).open_feedback

    def ready(self, limit: int = 1) -> tuple[Summary, ...]:
        """Up to ``limit`` ready tasks, most urgent first (P0 first, then oldest), locked for
        this transaction; on PostgreSQL rows another transaction has locked are skipped
        (``SKIP LOCKED``), so concurrent pickers on several replicas never wait on each other
        nor pick the same task. Dependencies are the caller's to check (``statuses``)."""
        skip = " FOR UPDATE SKIP LOCKED" if self.lock_row else ""
        rows = self._x(
            f"SELECT {SUMMARY_COLUMNS} FROM tasks WHERE status = 'ready' "
            f"ORDER BY priority, created, id LIMIT ?{skip}",
            (limit,),
        ).fetchall()
        return tuple(summary_of(row, self.d) for row in rows)

    def snapshot(self, base: Snapshot | None = None) -> Snapshot:
        """The whole board. Given ``base`` (a committed snapshot), only the tasks saved after
        it are read: a save always gives its task a newer revision, and no task is ever
        deleted, so ``base`` plus those rows is the board (with this transaction's writes)."""
        rev = self.revision if self.revision is not None else current_revision(self.cur, self.d)
        if base is None and self.base is not None:
            base = self.base()
        if base is None or base.revision > rev:
            rows = self._x(f"SELECT {SUMMARY_COLUMNS} FROM tasks").fetchall()
            snap = Snapshot(tasks=tuple(summary_of(row, self.d) for row in rows), revision=rev)
        elif base.revision == rev:
            return base
        else:
            rows = self._x(
                f"SELECT {SUMMARY_COLUMNS} FROM tasks WHERE revision > ?", (base.revision,)
            ).fetchall()
            changed = {row[0]: summary_of(row, self.d) for row in rows}
            kept = tuple(changed.pop(t.id, t) for t in base.tasks)
            snap = Snapshot(tasks=kept + tuple(changed.values()), revision=rev)
        if self.keep is not None and self.revision is None:
            # Nothing written here yet: what was read is committed, so the store may keep it
            # (the assigner's pass then reads only what changed since, not 10,000 rows).
            self.keep(snap)
        return snap

    # ------------------------------------------------------------------ tasks: writes

    def _columns(self, task: Task) -> tuple[Any, ...]:
        """The values of ``_COLUMNS`` for ``task``."""
        d = self.d
        return (
            task.status.value,
            task.priority.rank,
            task.agent or None,
            task.implementer,
            task.title,
            task.created,
            task.updated,
            d.arr(task.depends),
            d.arr(tuple(getattr(task, "capabilities", ()))),
            len(task.open_feedback),
            d.flag(task.escalated),
        )

    def save(self, task: Task, *, expected: int | None) -> int:
        from ..board import format as fmt

        columns, body = self._columns(task), fmt.render(task)
        # PostgreSQL's first write of the transaction takes the revision in the same round
        # trip (the statement reads it from ``m``); else it is taken now and written as given.
        touching = self.revision is None and self.d.name == "postgres"
        rev: tuple[int, ...] = () if touching else (self._touch(),)
        if expected is None:
            sql = _INSERT_TOUCHING if touching else _INSERT
            params: tuple[Any, ...] = (task.id, *columns, *rev, body)
        else:  # only the columns that changed: an index on another is left alone
            known = self.columns.get(task.id)
            old = known[1] if known is not None and known[0] == expected else ()
            changed = tuple(i for i, v in enumerate(columns) if not old or old[i] != v)
            sql = _update(changed, touching)
            params = (*(columns[i] for i in changed), *rev, body, task.id, expected)
        if touching:
            row = self._x(f"WITH m AS ({self.d.touch}) " + sql, params).fetchone()
            if row is None:
                raise self._refusal(task.id, expected)
            self.revision = revision = int(row[0])
        else:
            revision = rev[0]
            if self._x(sql, params).rowcount != 1:
                raise self._refusal(task.id, expected)
        self.saved.append((revision, task))
        self.own[task.id] = task
        self.columns[task.id] = (revision, columns)
        return revision

    def _refusal(self, task_id: str, expected: int | None) -> RevisionConflict:
        if expected is None:
            return RevisionConflict(
                f"a task {task_id} exists already", "create it again: it gets a new ID"
            )
        return self._conflict(task_id)

    def _conflict(self, task_id: str) -> RevisionConflict:
        if not self.exists(task_id):
            return RevisionConflict(
                f"{task_id} is not in the store (any more) to be replaced",
                "create it instead, or check the ID",
            )
        return RevisionConflict(
            f"{task_id} was changed by someone else since it was read",
            "run the command again: it reads the task as it is now",
        )

    def record(self, event: Event) -> None:
        values = event_row(event, self.d)
        if self.revision is None and self.d.name == "postgres":
            # The transaction's first write (a refused step's one event): take the revision
            # in the same round trip.
            sql = f"WITH m AS ({self.d.touch}) {_EVENT_INSERT} RETURNING (SELECT value FROM m)"
            self.revision = int(self._x(sql, values).fetchone()[0])
            return
        self._touch()
        self.pending.append(values)  # inserted with the others before anything reads events

    def flush(self) -> None:
        """Insert the events recorded since the last flush, in one ``executemany`` (on
        PostgreSQL one round trip): before the commit, and before a read of the events."""
        if self.pending:
            rows, self.pending = self.pending, []
            self.cur.executemany(self.d.q(_EVENT_INSERT), rows)

    def attach(self, task_id: str, name: str, text: str) -> str:
        self._touch()
        now = format_time(datetime.now(UTC))  # when it was kept: for people, decides nothing
        row = self._x(
            "INSERT INTO attachments (task_id, name, body, created_at) "
            "VALUES (?, ?, ?, ?) RETURNING id",
            (task_id, name, text, self.d.time(now)),
        ).fetchone()
        return f"attachment:{int(row[0])}"
