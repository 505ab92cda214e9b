"""The file mirror: a SQL (or in-memory) store projected onto the board's Markdown files.

While ``orch serve`` runs, the database is the board's writer of record for who holds what;
people, agents that read files, and git still read ``.mcp/tasks/<status>/``. ``Mirror``
keeps those files true: after each committed change the task's file is re-rendered
(``board.format``) and written atomically, moved between status folders under the board's
lock and move journal (the same protocol as ``FileStore``, so ``orch`` reading the files never
sees a task twice or not at all), and the change's event is appended to the board's operation
log. Re-rendering is a fixpoint: a file already right is not touched.

Order and crashes: the mirror follows the store's events in ``events_after`` order (each names
its task; the task is then rendered as the store has it now, so a burst of changes is one
write). What it wrote is kept in ``.mcp/.cache/mirror.log`` (the file's hash and stat, and the
event cursor); a mirror that was killed starts from the cursor it last kept and, at start,
compares every task with its file, so no change is lost.

A file that differs from what the mirror last wrote was edited by hand: ``board_import``
takes the definition in (goal, criteria, files, dependencies, priority, title, capabilities)
and reports a hand-edited status as a problem, never applying it. A new file (a task a person
wrote) is imported.

``Mirror(store, board).sync()`` projects what changed; ``start()`` / ``stop()`` run it in a
thread that wakes on ``notify()`` (the serve process calls it after a commit), at the latest
every ``poll`` seconds (one query when nothing changed), and scans the files for hand edits
every ``scan_every`` seconds (stats only: no query; ``BUSY_SCAN`` times that while changes keep
coming). A pass writes its files under one hold of the board's lock, its state in two appends
(the intents before the writes, the stats after), and a file the mirror wrote and nobody
touched since is known unchanged by its stat, without reading it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from typing import NamedTuple

from ..board.fsutil import (
    append_line,
    atomic_write,
    board_lock,
    open_append,
    remove_if_present,
)
from ..domain.errors import OrchError
from ..domain.events import Event
from ..domain.model import ALL_STATUSES, Task
from . import Problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from . import Snapshot
    from .board_import import ImportStore

    class MirroredStore(ImportStore, Protocol):
        """What the mirror reads of a store (the seam's ``TaskStore`` v2 has it all)."""

        def revision(self) -> int: ...
        def snapshot(self) -> Snapshot: ...
        def load(self, task_id: str) -> Task: ...
        def events_after(self, cursor: int | None) -> tuple[list[Event], int]: ...


STATE = os.path.join(".cache", "mirror.log")
CHUNK = 500  # task IDs per query of the rows' Markdown
RECONCILE_BATCH = 2000  # tasks read at once when every file is compared with the store
FAST_POLL = 0.5  # seconds between looks while the board is busy (a change in the last BUSY_FOR)
BUSY_FOR = 10.0
GATHER = 0.25  # seconds: the shortest gap between two passes woken by changes
BUSY_SCAN = 3  # while busy, the scan for hand edits runs every BUSY_SCAN * scan_every seconds


# One encoder for the board log's lines (``json.dumps`` with options builds one per call).
_LOG_LINE = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


class Rendered(NamedTuple):
    """A task as its file shows it: where it goes (status folder, title for a new file's
    name) and its Markdown."""

    id: str
    status: str
    title: str
    text: str


class _Plan(NamedTuple):
    """A file to write: the task, the files that hold it now (``old`` the first), where it
    goes (``new``, relative to the tasks folder) and its bytes."""

    id: str
    old: str | None
    olds: list[str]
    new: str
    data: bytes
    hash: str


class FileRecord:
    """What the mirror knows of one task's file: where, the hashes it wrote, the stat after."""

    __slots__ = ("hashes", "rel", "stat")

    def __init__(self, rel: str, hashes: tuple[str, ...], stat: tuple[int, int, int]) -> None:
        self.rel, self.hashes, self.stat = rel, hashes, stat


class Mirror:
    """Projects ``store`` onto the board at ``board`` (the ``.mcp`` folder)."""

    def __init__(
        self, store: MirroredStore, board: str, *, poll: float = 5.0, scan_every: float = 5.0
    ) -> None:
        self.store = store
        self.board = board
        self.tasks_dir = os.path.join(board, "tasks")
        self.poll = poll
        self.scan_every = scan_every
        self.records: dict[str, FileRecord] = {}
        self.problems: dict[str, Problem] = {}  # task ID -> what is wrong with its file
        self.cursor: int | None = None
        self.log_size: int | None = None  # the board log's size after the mirror's last line
        self._revision: object = -1
        self._state_path = os.path.join(board, STATE)
        self._state_fd: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._files: dict[str, list[str]] = {}  # task ID -> the files that hold it (rel)
        # Who hears of a hand edit that was not (all) taken: the serve process says it on stderr.
        self.on_problem: Callable[[Problem], None] = lambda problem: None
        # Who hears that a background start's files are all current (the count written).
        self.on_current: Callable[[int], None] = lambda written: None
        self.current = threading.Event()  # every task has been compared with its file

    # ------------------------------------------------------------------ state

    def _load_state(self) -> None:
        """Read ``mirror.log`` (the last line of each task wins) and compact it."""
        try:
            with open(self._state_path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                self._apply_state(json.loads(line))
            except (ValueError, KeyError, TypeError, IndexError):
                continue  # a torn last line of a killed mirror
        compact = [json.dumps({"c": self.cursor})] if self.cursor is not None else []
        if self.log_size is not None:
            compact.append(json.dumps({"l": self.log_size}))
        for tid, rec in self.records.items():
            compact.append(json.dumps({"t": tid, "r": rec.rel, "h": rec.hashes, "s": rec.stat}))
        os.makedirs(os.path.dirname(self._state_path), exist_ok=True)
        atomic_write(self._state_path, "".join(f"{x}\n" for x in compact), durable=False)
        self._state_fd = open_append(self._state_path)

    def _apply_state(self, entry: dict[str, object]) -> None:
        if "c" in entry:
            self.cursor = int(str(entry["c"]))
            return
        if "l" in entry:
            self.log_size = int(str(entry["l"]))
            return
        tid, hashes = str(entry["t"]), tuple(str(h) for h in entry["h"])  # type: ignore[attr-defined]
        old = self.records.get(tid)
        known = hashes if old is None else tuple(dict.fromkeys((*hashes, *old.hashes)))[:2]
        stat = tuple(int(x) for x in entry.get("s") or (0, 0, 0))  # type: ignore[attr-defined]
        self.records[tid] = FileRecord(str(entry["r"]), known, stat)  # type: ignore[arg-type]

    def _note(self, entry: dict[str, object]) -> None:
        """Keep one line of state (appended: a kill loses at most this line)."""
        self._note_many([entry])

    def _note_many(self, entries: list[dict[str, object]]) -> None:
        """Keep lines of state in one append (whole lines: a kill loses at most the last)."""
        for entry in entries:
            self._apply_state(entry)
        if self._state_fd is not None and entries:
            append_line(self._state_fd, "\n".join(map(json.dumps, entries)))

    # ------------------------------------------------------------------ projecting

    def _list_files(self) -> dict[str, list[str]]:
        """Every task file on the board by task ID (``status/name``)."""
        found: dict[str, list[str]] = {}
        for status in ALL_STATUSES:
            folder = os.path.join(self.tasks_dir, status.value)
            try:
                names = sorted(os.listdir(folder))
            except FileNotFoundError:
                continue
            for name in names:
                if name.endswith(".md") and not name.startswith(".") and "-" in name:
                    tid = "-".join(name.split("-", 2)[:2]).removesuffix(".md")
                    found.setdefault(tid, []).append(f"{status.value}/{name}")
        return found

    def project(self, task: Task) -> bool:
        """Write ``task``'s file if it is not already what the store says; True if written."""
        from ..board import format as fmt

        return self._write(Rendered(task.id, task.status.value, task.title, fmt.render(task)))

    def _write(self, task: Rendered) -> bool:
        """Write the task's file (its Markdown ``text``) unless it is already that; True if
        written."""
        return bool(self._write_many([task]))

    def _plan(self, task: Rendered) -> _Plan | None:
        """Where the task's file goes and its bytes; None when the file is already that (a
        file the mirror wrote and nobody touched since is known by its stat: no read)."""
        from ..board.files import _styled, slug

        olds = [r for r in self._files.get(task.id, []) if os.path.isfile(self._path(r))]
        old = olds[0] if olds else None
        name = os.path.basename(old) if old else f"{task.id}-{slug(task.title)}.md"
        new = f"{task.status}/{name}"
        data = _styled(task.text, self._path(old) if old else None).encode("utf-8")
        hashed = digest(data)
        if old == new and len(olds) == 1:
            rec = self.records.get(task.id)
            path = self._path(new)
            ours = rec is not None and rec.rel == new and rec.hashes[:1] == (hashed,)
            if ours and rec is not None and _stat(path) == rec.stat:
                return None  # the mirror's own last write, untouched: it is this
            if _read(path) == data:
                self._remember(task.id, new, data)
                return None
        return _Plan(task.id, old, olds, new, data, hashed)

    def _write_many(self, tasks: list[Rendered]) -> list[str]:
        """Write the files of ``tasks`` that differ from what they hold: the intents kept in
        one append first (a kill between them and the writes leaves files the next start
        knows as the mirror's), the files under one hold of the board's lock, then what was
        written (hash and stat) in one append. The IDs written."""
        plans = [plan for plan in map(self._plan, tasks) if plan is not None]
        if not plans:
            return []
        self._note_many([{"t": p.id, "r": p.new, "h": [p.hash]} for p in plans])
        with board_lock(os.path.join(self.board, ".lock")):
            for p in plans:
                if p.old is None or p.old == p.new:
                    atomic_write(self._path(p.new), p.data, durable=False)
                else:
                    self._move(p.old, p.new, p.data)
                for extra in p.olds[1:]:  # a copy a merge or a person left: the store has it
                    if extra != p.new:
                        os.unlink(self._path(extra))
        kept: list[dict[str, object]] = []
        for p in plans:
            self._files[p.id] = [p.new]
            st = os.stat(self._path(p.new))
            kept.append(
                {"t": p.id, "r": p.new, "h": [p.hash], "s": [st.st_ino, st.st_mtime_ns, st.st_size]}
            )
        self._note_many(kept)
        return [p.id for p in plans]

    def _rendered(self, ids: list[str]) -> list[Rendered]:
        """The files of the tasks ``ids`` as the store has them now (the ones it has): on a
        SQL store the rows' Markdown (``tasks.body`` is ``board.format.render``'s text), read
        in one query per ``CHUNK`` tasks; else each task loaded and rendered."""
        read = getattr(self.store, "_read_tx", None)
        if read is None:
            from ..board import format as fmt

            found = []
            for tid in ids:
                try:
                    task = self.store.load(tid)
                except OrchError:
                    continue  # gone from the store, or unreadable there: nothing to write
                found.append(Rendered(tid, task.status.value, task.title, fmt.render(task)))
            return found
        rows: dict[str, Rendered] = {}
        with read() as tx:
            for start in range(0, len(ids), CHUNK):
                part = ids[start : start + CHUNK]
                marks = ", ".join("?" * len(part))
                for row in tx._x(
                    f"SELECT id, status, title, body FROM tasks WHERE id IN ({marks})", part
                ):
                    rows[row[0]] = Rendered(*row)
        return [rows[tid] for tid in ids if tid in rows]

    def _write_all(self, ids: list[str]) -> list[str]:
        """Write the files of ``ids`` that differ from the store (each once); which were."""
        return self._write_many(self._rendered(list(dict.fromkeys(ids))))

    def _move(self, old: str, new: str, data: bytes) -> None:
        """The board's move protocol (see board/files.py): journal, new copy, unlink, done.

        The mirror's writes are atomic (a reader sees the old file or the new one whole) but
        not fsynced: the database is the truth, and a start compares every task with its file
        and rewrites what a power cut took, so an fsync per file (which on SQLite waits behind
        the commits' own) would buy nothing."""
        journal = os.path.join(self.board, ".journal")
        atomic_write(journal, json.dumps({"old": old, "new": new}), durable=False)
        atomic_write(self._path(new), data, durable=False)
        os.unlink(self._path(old))
        remove_if_present(journal)

    def _remember(self, tid: str, rel: str, data: bytes) -> None:
        st = os.stat(self._path(rel))
        stat = (st.st_ino, st.st_mtime_ns, st.st_size)
        rec = self.records.get(tid)
        if rec is not None and rec.rel == rel and rec.stat == stat and digest(data) in rec.hashes:
            return
        self._note({"t": tid, "r": rel, "h": [digest(data)], "s": list(stat)})

    def _path(self, rel: str) -> str:
        return os.path.join(self.tasks_dir, rel)

    def _log(self, events: list[Event]) -> None:
        """Append the service's events to the board's log, so ``orch log`` on the files (after
        the service stops) shows them too."""
        if not events:
            return
        lines = [_LOG_LINE(event._replace(id="").to_dict()) for event in events]  # no row id
        try:
            fd = os.open(self._log_path(), os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            fd = open_append(self._log_path())  # its folder too
        try:
            append_line(fd, "\n".join(lines))  # one write: whole lines, or none of them
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        self._note({"l": size})

    def _log_path(self) -> str:
        return os.path.join(self.board, "log", "orch.jsonl")

    def _offline(self) -> list[str]:
        """Take in what ``orch`` did on the files while no service ran (the rollback, and
        back): the board log grew past the mirror's last line, and names the tasks. Their
        files are the truth; the events go into the store."""
        from ..board.files import FileStore
        from .board_import import take_whole

        size = _size(self._log_path())
        if self.log_size is None or size <= self.log_size:
            self._note({"l": size})
            return []
        events, _ = FileStore(self.board).events_after(self.log_size)
        ids = list(dict.fromkeys(e.task for e in events if e.task and e.outcome == "ok"))
        while True:  # what the service did that its mirror never logged (it was killed)
            pending, cursor = self.store.events_after(self.cursor)
            self._log(pending)
            if cursor == self.cursor:
                break
            self.cursor = cursor
        take_whole(self.store, self.board, ids, events)
        self.cursor = self.store.events_after(None)[1]  # the events just taken: logged already
        self._note({"c": self.cursor})
        self._note({"l": _size(self._log_path())})
        self._files = self._list_files()
        for tid in ids:
            for rel in self._files.get(tid, [])[:1]:
                self._remember(tid, rel, _read(self._path(rel)))
        return ids

    # ------------------------------------------------------------------ the passes

    def open(self, *, compare: bool = True) -> list[Problem]:
        """At start: read the state, take hand edits in, project every task that differs
        (``compare=False``: the caller does that, ``reconcile`` then ``sync``, later)."""
        self._load_state()
        if self.cursor is None:
            _, self.cursor = self.store.events_after(None)
            self._note({"c": self.cursor})
        self._offline()
        self.scan()
        if compare:
            self.reconcile()
            self.sync()  # the events since the kept cursor into the log (their files are right)
        return list(self.problems.values())

    def reconcile(self) -> list[str]:
        """Compare every task of the store with its file; write the ones that differ."""
        self._files = self._list_files()
        ids = [summary.id for summary in self.store.snapshot().tasks]
        written: list[str] = []
        for start in range(0, len(ids), RECONCILE_BATCH):
            written += self._write_all(ids[start : start + RECONCILE_BATCH])
        return written

    def sync(self) -> list[str]:
        """Project what changed since the last pass (the store's events, in order). What
        changed is asked first, cheaply: the store's ``change_token`` (no query on PostgreSQL
        while its notifications are heard), else its revision."""
        token = getattr(self.store, "change_token", None)
        revision = token() if token is not None else self.store.revision()
        if revision == self._revision:
            return []
        written: list[str] = []
        while True:
            events, cursor = self.store.events_after(self.cursor)
            written += self._write_all([e.task for e in events if e.task and e.outcome == "ok"])
            self._log(events)
            if cursor == self.cursor:
                break
            self.cursor = cursor
            self._note({"c": cursor})
        self._revision = revision
        return written

    def _project_id(self, tid: str) -> bool:
        return bool(self._write_all([tid]))

    def scan(self) -> list[str]:
        """Take in what was edited by hand in the files since the mirror wrote them."""
        from .board_import import take_in

        self._files = self._list_files()
        changed = []
        for tid, rels in self._files.items():
            rec = self.records.get(tid)
            if rec is not None and rels == [rec.rel] and _stat(self._path(rec.rel)) == rec.stat:
                continue
            if rec is None and self._project_id(tid):
                continue  # no record of it (a first start, a lost state): the store wins
            data = _read(self._path(rels[0]))
            if rec is None and self.records.get(tid) is not None:
                continue  # the file was already the store's
            if rec is not None and rels == [rec.rel] and digest(data) in rec.hashes:
                self._remember(tid, rec.rel, data)  # touched, not changed
                continue
            changed.append(tid)
            problem = take_in(self.store, self.tasks_dir, tid, rels, data)
            if problem is None:
                self.problems.pop(tid, None)
            else:
                if self.problems.get(tid) != problem:
                    self.on_problem(problem)
                self.problems[tid] = problem
            self._project_id(tid)
        return changed

    # ------------------------------------------------------------------ the loop

    def notify(self) -> None:
        """Something was committed: project it now (safe from any thread)."""
        self._wake.set()

    def start(self, *, background: bool = False) -> list[Problem]:
        """``open()``, then keep the files current in a thread until ``stop()``.
        ``background``: the thread compares every task with its file first (``reconcile``:
        on a first start on a big database, every file is written), so the caller goes on at
        once; ``on_current`` is called with the count written when that is done."""
        problems = self.open(compare=not background)
        if not background:
            self.current.set()
        self._thread = threading.Thread(
            target=self._run, args=(background,), name="orch-mirror", daemon=True
        )
        self._thread.start()
        return problems

    def stop(self) -> None:
        """Finish: one last pass, so the board is current when the service is gone."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.sync()
        if self._state_fd is not None:
            os.close(self._state_fd)
            self._state_fd = None

    def _run(self, compare: bool = False) -> None:
        if compare:
            try:
                written = self.reconcile()
                self.sync()
            except (OrchError, OSError) as exc:
                self._failed(exc)  # the loop's passes try again; the next start compares all
            else:
                self.current.set()
                self.on_current(len(written))
        next_scan = time.monotonic() + self.scan_every
        busy_until = 0.0  # after a change, look again soon: an assignment follows a request
        last_pass = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            poll = FAST_POLL if now < busy_until else self.poll
            if self._wake.wait(max(0.0, min(poll, next_scan - now))):
                busy_until = time.monotonic() + BUSY_FOR
                # The wake-ups of a busy service are gathered: one pass per GATHER seconds
                # reads the events and rows of every task changed meanwhile, at once.
                self._stop.wait(max(0.0, last_pass + GATHER - time.monotonic()))
            self._wake.clear()
            last_pass = time.monotonic()
            try:
                if self.sync():
                    busy_until = time.monotonic() + BUSY_FOR
                if time.monotonic() >= next_scan:
                    self.scan()
                    # A busy board's scans are spaced out: each stats every file (10,000 on
                    # a big board), and hand edits are rare while agents write 200 a second.
                    busy = time.monotonic() < busy_until
                    next_scan = time.monotonic() + self.scan_every * (BUSY_SCAN if busy else 1)
            except (OrchError, OSError) as exc:  # a full disk, a locked board: try again
                self._failed(exc)
            else:
                self.problems.pop("-", None)

    def _failed(self, exc: Exception) -> None:
        self.problems["-"] = Problem(
            kind="mirror",
            message=f"the board's files could not be updated: {exc}",
            hint="free the disk or the lock; the service keeps the truth meanwhile",
        )


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _stat(path: str) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)
