"""The file board: one Markdown file per task under ``.mcp/tasks/<status>/``.

The files are the source of truth. Reads go through the index (``index.py``: each file's
parsed summary in ``.mcp/.cache/``, validated by one ``stat`` per file); ``FileStore`` adds
the board's layout, its lock, transactions, writes and the operation log.

Moving a task between folders is two steps (write the new file, remove the old one), so it is
framed by a journal: ``.mcp/.journal`` names the old path while the move is under way. A reader
that finds the journal ignores the old path; the next writer finishes or rolls back the move.
A killed process therefore leaves every task present exactly once.

One write, in order: open the log (before anything changes, so a log that cannot even be opened
stops the command while "nothing was changed" is true); for a move, the journal; the task file
(temp file, fsync, rename: **the commit point**); for a move, remove the old file and the
journal; append the event to the log; save the index cache. A failure before the rename is an
error and nothing changed. Anything that fails after it does not undo the change and is not
raised: the log line and a leftover old copy become warnings (``take_warnings``), the cache is
rebuilt from the files by the next command.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ..domain.errors import (
    BoardConflict,
    MalformedTask,
    StorageError,
)
from ..domain.model import (
    ALL_STATUSES,
    HistoryEntry,
    Status,
    Task,
    format_time,
    parse_time,
)
from ..domain.ops import op
from ..domain.policy import summarize
from ..store import Problem, Snapshot, no_attachment, not_found
from .eventlog import EventLog
from .fsutil import (
    atomic_write,
    board_lock,
    fsync_dir,
    open_append,
    os_reason,
    remove_if_present,
    storage_error,
)
from .index import (
    INDEX_NAME,
    STATUS_BY_VALUE,
    Paths,
    encode,
    leftover,
    load_index,
    read_text,
    save_index,
    scan,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # FileTx is imported by ``transaction``: a command that only reads skips it
    from .filetx import FileTx

# ``*.tmp``: what a killed write leaves behind (``..journal.PID.tmp``, ``.NAME.md.PID.tmp``);
# service.json: a running service's address and token; orch.db*: its default SQLite database.
GITIGNORE = ".cache/\n.journal\n.lock\nlog/\n.secrets/\n*.tmp\nservice.json\norch.db*\n"
_SLUG_RE = re.compile(r"[^a-z0-9]+")


def slug(title: str, limit: int = 40) -> str:
    return _SLUG_RE.sub("-", title.lower()).strip("-")[:limit].strip("-") or "task"


def in_folder(task: Task, folder: Status) -> Task:
    """The task as its folder says: a file moved by hand is a status change."""
    if task.status is folder:
        return task
    holder = task.agent or task.implementer if folder is Status.IN_PROGRESS else ""
    return task.evolve(status=folder, agent=holder)


def noticed_at(now: str, task: Task) -> str:
    """``now``, or the time of the task's last history entry if that is later (a clock that
    is behind, a hand-written time): the history stays in order."""
    last = task.history[-1].at if task.history else ""
    if not last:
        return now
    moment, then = parse_time(now), parse_time(last)
    if moment is not None and then is not None and then > moment:
        return format_time(then)
    return now


def _complete_gitignore(path: str) -> bool:
    """Add the lines of ``GITIGNORE`` an older board's ``.gitignore`` lacks; True if it did."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    have = {line.strip() for line in text.splitlines()}
    missing = [line for line in GITIGNORE.splitlines() if line not in have]
    if not missing:
        return False
    atomic_write(
        path, text + ("" if text.endswith("\n") or not text else "\n") + "\n".join(missing) + "\n"
    )
    return True


def _styled(text: str, old: str | None) -> str:
    """``text`` in the line ending and byte-order mark of the file at ``old`` (if any).

    A file written with CRLF or a BOM (a Windows editor) stays that way after orch rewrites
    it, as ``orch init`` does for ``package.json``: the file's own style wins.
    """
    if old is None:
        return text
    try:
        with open(old, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return text
    bom = head.startswith(b"\xef\xbb\xbf")
    first = head.find(b"\n")
    if first > 0 and head[first - 1 : first] == b"\r":
        text = text.replace("\n", "\r\n")
    return "\ufeff" + text if bom else text


def leftovers(root: str) -> list[str]:
    """Temp files a killed write left in ``root`` itself (the move journal's), by name."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(".") and n.endswith(".tmp"))


class FileStore(EventLog):
    """The ``TaskStore`` of a ``.mcp/`` directory. ``extras("board")`` is the store itself:
    its files, paths and raw repairs, for doctor."""

    url = "files"

    def __init__(self, root: str, clock: Callable[[], datetime] | None = None) -> None:
        self.root = str(root)
        # When a hand move is noticed (the service's clock, so ORCH_CLOCK pins it too).
        self.clock = clock or (lambda: datetime.now(UTC))
        join = os.path.join
        self.tasks_dir = join(self.root, "tasks")
        self.cache_dir = join(self.root, ".cache")
        self.index_path = join(self.cache_dir, INDEX_NAME)
        self.journal_path = join(self.root, ".journal")
        self.lock_path = join(self.root, ".lock")
        self.log_path = join(self.root, "log", "orch.jsonl")
        # The store revision: a counter bumped under the lock by every transaction that wrote.
        self.revision_path = join(self.root, "log", "revision")
        self._tx: FileTx | None = None
        self._snap: Snapshot | None = None
        self._last: Snapshot | None = None
        self._paths: Paths = {}
        self._index: dict[str, list[object]] = {}
        self._index_dirty = False
        self._log_fd: int | None = None
        self._warnings: list[str] = []

    # ------------------------------------------------------------------ layout

    @classmethod
    def initialize(cls, root: str) -> tuple[FileStore, list[str]]:
        """Create the board's folders (idempotent); returns the store and what was created."""
        made: list[str] = []
        base = os.path.basename(root)
        try:
            for sub in [*(f"tasks/{s.value}" for s in ALL_STATUSES), "log", ".cache", "feedback"]:
                path = os.path.join(root, sub)
                if not os.path.isdir(path):
                    os.makedirs(path, exist_ok=True)
                    made.append(f"{base}/{sub}/")
                keep = os.path.join(path, ".gitkeep")
                if sub.startswith(("tasks/", "feedback")) and not os.path.exists(keep):
                    open(keep, "a").close()  # so git keeps the empty folder
            ignore = os.path.join(root, ".gitignore")
            if not os.path.exists(ignore):
                atomic_write(ignore, GITIGNORE)
                made.append(f"{base}/.gitignore")
            elif _complete_gitignore(ignore):
                made.append(f"{base}/.gitignore (added what a killed write leaves: *.tmp)")
        except OSError as exc:
            raise storage_error(exc, f"create the board in {root}") from exc
        return cls(root), made

    def folder(self, status: Status) -> str:
        return os.path.join(self.tasks_dir, status.value)

    def path(self, rel: str) -> str:
        """The absolute path of ``status/name`` inside the tasks folder."""
        return os.path.join(self.tasks_dir, rel)

    def extras(self, capability: str) -> object | None:
        return self if capability == "board" else None

    # ------------------------------------------------------------------ reading

    def _save_index(self) -> None:
        if self._index_dirty and save_index(self.index_path, self._index):
            self._index_dirty = False

    def _journal(self) -> dict[str, str]:
        try:
            with open(self.journal_path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            return {}  # the usual case: no move under way
        import json  # only here and on writes: json costs ~1 ms to import

        try:
            return json.loads(text)  # type: ignore[no-any-return]
        except ValueError:
            return {}

    def snapshot(self) -> Snapshot:
        if self._tx is not None:
            return self._snap if self._snap is not None else self._scan()
        with board_lock(self.lock_path, shared=True):
            return self._scan()

    def paths(self) -> Paths:
        """Where each task of the last snapshot is kept (``status/name``; two or more: the
        same ID in several files, a duplicate)."""
        if self._last is None:
            self.snapshot()
        return self._paths

    def _scan(self) -> Snapshot:
        old = self._index or load_index(self.index_path)
        snap, self._paths, self._index, changed = scan(self.tasks_dir, old, self._moving_from())
        stray = leftovers(self.root)
        if stray:  # rare: a write killed while it wrote the move journal
            found = tuple(leftover(f"../{name}", f".mcp/{name}") for name in stray)
            snap = snap._replace(problems=(*snap.problems, *found))
        snap = snap._replace(revision=self.revision())
        if changed:
            self._index_dirty = True
        self._last = snap
        if self._tx is not None:
            self._snap = snap
        else:
            self._save_index()
        return snap

    def _moving_from(self) -> str:
        """The old path of a move under way, which readers skip ("" if none)."""
        journal = self._journal()
        moving_from = journal.get("old", "")
        if moving_from and not os.path.isfile(self.path(journal.get("new", ""))):
            # Killed before the new copy was renamed into place: the move never happened and
            # the old file is still the task (the next writer rolls the journal back).
            return ""
        return moving_from

    def rel_of(self, task_id: str, *, missing_ok: bool = False) -> str:
        """Where ``task_id`` is kept (``status/name``); names the problem instead of guessing.
        ``missing_ok``: "" for an ID no file holds (rather than ``TaskNotFound``)."""
        if self._last is not None and self._tx is None:
            # The snapshot this process just took is good enough if the file is still there:
            # one stat instead of re-listing the board (a command often lists, then loads).
            known = self._paths.get(task_id, ())
            if len(known) == 1 and os.path.isfile(self.path(known[0])):
                return known[0]
        snap = self.snapshot()
        rels = self._paths.get(task_id)
        if rels is None:
            problem = _problem_of(snap, task_id)
            if problem is not None:
                raise MalformedTask(
                    problem.message, problem.hint, path=problem.path, line=problem.line
                )
            if missing_ok:
                return ""
            raise not_found(task_id)
        if len(rels) > 1:
            raise BoardConflict(
                f"{task_id} exists in more than one folder: " + ", ".join(rels),
                (op("doctor", fix=""), " merges the copies (a git merge can cause this)"),
            )
        return rels[0]

    def path_of(self, task_id: str) -> str:
        return self.path(self.rel_of(task_id))

    def read(self, task_id: str) -> tuple[Task, int]:
        """The task and the stamp of its file (its revision on this store)."""
        from . import format as fmt

        rel = self.rel_of(task_id)
        path = self.path(rel)
        try:
            stamp = file_stamp(path)  # before reading: an edit after it fails the save's CAS
            text = read_text(path)
        except OSError as exc:
            raise storage_error(exc, f"read {rel}") from exc
        task = fmt.parse(text, rel)
        folder = STATUS_BY_VALUE[rel.split("/", 1)[0]]
        if task.status is folder:
            return task, stamp
        # Moved by hand (git mv, a file manager): the folder is the status, and the move goes
        # into the history like any other, stamped with the time it was noticed (the file's
        # mtime is the checkout's, not the move's), never before the entry it follows.
        moved = in_folder(task, folder)
        entry = HistoryEntry(
            at=noticed_at(format_time(self.clock()), task),
            agent="-",
            op="move",
            from_status=task.status.value,
            to_status=folder.value,
            note=f"moved by hand into {folder.value}/",
        )
        return moved.evolve(history=(*moved.history, entry)), stamp

    def load(self, task_id: str) -> Task:
        return self.read(task_id)[0]

    def task_files(self) -> Iterator[str]:
        """``status/name`` of every task file (no temp files, no symlinks), sorted."""
        for status in ALL_STATUSES:
            try:
                names = sorted(os.listdir(self.folder(status)))
            except FileNotFoundError:
                continue
            for name in names:
                rel = f"{status.value}/{name}"
                if (
                    name.endswith(".md")
                    and not name.startswith(".")
                    and not os.path.islink(self.path(rel))
                ):
                    yield rel

    def iter_tasks(self) -> Iterator[tuple[str, Task | Exception]]:
        """Every task file read in full, or the error that stopped it (for doctor)."""
        from . import format as fmt

        for rel in self.task_files():
            try:
                yield rel, fmt.parse(read_text(self.path(rel)), rel)
            except (MalformedTask, OSError, UnicodeDecodeError) as exc:
                yield rel, exc

    def attachment(self, ref: str) -> str:
        rel = ref.removeprefix(".mcp/")
        parts = rel.split("/")
        if parts[0] != "feedback" or len(parts) != 3 or ".." in parts:
            raise no_attachment(ref)
        try:
            return read_text(os.path.join(self.root, *parts))
        except OSError as exc:
            raise no_attachment(ref) from exc

    def revision(self) -> int:
        try:
            with open(self.revision_path, encoding="ascii") as handle:
                return int(handle.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def change_token(self) -> object:
        stamps: list[int] = [self.revision()]
        for status in ALL_STATUSES:
            try:
                stamps.append(os.stat(self.folder(status)).st_mtime_ns)
            except OSError:
                stamps.append(0)
        try:
            stamps.append(os.stat(self.journal_path).st_mtime_ns)
        except OSError:
            stamps.append(0)
        return tuple(stamps)

    # ------------------------------------------------------------------ writing

    @contextmanager
    def transaction(self) -> Iterator[FileTx]:
        """Hold the board's lock; what the transaction saved is written when it ends
        (``FileTx.commit``), nothing of it if it ends in an exception."""
        if self._tx is not None:
            yield self._tx  # nested: part of the outer unit of work
            return
        with board_lock(self.lock_path):
            # The log is opened before anything changes: a log that cannot be written stops
            # the command while "nothing was changed" is still true.
            self._log_fd = open_append(self.log_path)
            from .filetx import FileTx

            tx = self._tx = FileTx(self)
            self._snap = None
            try:
                self._recover()
                yield tx
                tx.commit()
            finally:
                self._tx = None
                self._snap = None
                os.close(self._log_fd)
                self._log_fd = None
                self._save_index()

    def save(self, task: Task) -> None:
        """Replace (or create) ``task`` whatever its revision, in the open transaction: for
        tools and tests that edit a task by hand; the service saves through ``Tx.save``."""
        tx = self._tx
        if tx is None:
            raise RuntimeError("FileStore.save outside a transaction")
        tx.save(task, expected=tx.revision_of(task.id))

    def _recover(self) -> None:
        """Finish or roll back a move that a killed process left half done."""
        journal = self._journal()
        if not journal:
            return
        old = self.path(journal.get("old", ""))
        new = self.path(journal.get("new", ""))
        if os.path.isfile(new) and os.path.isfile(old) and old != new:
            os.unlink(old)  # the new copy was complete (it was renamed into place whole)
            fsync_dir(os.path.dirname(old))
        remove_if_present(self.journal_path)

    def write_task(self, task: Task) -> None:
        """Write ``task`` under its status (the commit point of its save); under the lock."""
        from . import format as fmt

        rel = self.rel_of(task.id, missing_ok=True)
        old = self.path(rel) if rel else None
        name = os.path.basename(old) if old else f"{task.id}-{slug(task.title)}.md"
        new = os.path.join(self.folder(task.status), name)
        text = _styled(fmt.render(task), old)
        if old is None or old == new:
            atomic_write(new, text)
        else:
            self._move(old, new, text)
        self._note_saved(task, new, old)

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.tasks_dir).replace(os.sep, "/")

    def _move(self, old: str, new: str, text: str) -> None:
        import json  # deferred, as on every write: a read needs no json

        journal = {"old": self._rel(old), "new": self._rel(new)}
        atomic_write(self.journal_path, json.dumps(journal))
        atomic_write(new, text)  # from here on the move has happened
        try:
            os.unlink(old)
        except OSError as exc:
            # The journal stays: readers skip the old copy and the next writer removes it.
            reason, _ = os_reason(exc)
            self._warnings.append(
                f"{self._rel(old)} could not be removed after the move to {self._rel(new)} "
                f"({reason}); the move stands, and the next orch command removes it"
            )
            return
        fsync_dir(os.path.dirname(old))
        remove_if_present(self.journal_path)

    def _note_saved(self, task: Task, new: str, old: str | None) -> None:
        """Keep the snapshot and index of this transaction true without re-reading the board."""
        st = os.stat(new)
        rel = self._rel(new)
        if old is not None:
            self._index.pop(self._rel(old), None)
        from .schema import SECTIONS  # loaded already: the save rendered the file

        if any(h.lower() in SECTIONS for _, h, _ in task.extra):
            self._index.pop(rel, None)  # a section written twice: the next scan names it again
        else:
            key = [st.st_ino, st.st_mtime_ns, st.st_size]
            self._index[rel] = [key, "ok", encode(summarize(task))]
        self._index_dirty = True
        self._paths = {**self._paths, task.id: (rel,)}
        snap = self._snap
        if snap is not None:
            tasks = (*tuple(t for t in snap.tasks if t.id != task.id), summarize(task))
            self._snap = snap._replace(tasks=tasks)

    def bump_revision(self) -> int:
        """One more store revision (under the lock); the counter is local, like the log."""
        revision = self.revision() + 1
        try:
            atomic_write(self.revision_path, f"{revision}\n", durable=False)
        except StorageError as exc:
            self._warnings.append(f"the board's revision could not be kept ({exc.message})")
        return revision

    def write_raw(self, rel: str, text: str, like: str | None = None) -> None:
        """Write a file (doctor's repairs), in the line ending and BOM of the file ``like``
        names (default: the file itself, if it exists). Only inside a transaction."""
        path = self.path(rel)
        model = self.path(like) if like else path
        atomic_write(path, _styled(text, model if os.path.exists(model) else None))
        self._snap = None

    def remove_raw(self, rel: str) -> None:
        path = self.path(rel)
        try:
            os.unlink(path)
        except OSError as exc:
            raise storage_error(exc, f"remove {rel}") from exc
        fsync_dir(os.path.dirname(path))
        self._snap = None


def file_stamp(path: str) -> int:
    """A task's revision on the file board: a stamp of its file that changes with every
    write, by orch or by hand (a new inode, mtime or size); compared for equality only."""
    st = os.stat(path)
    return (hash((st.st_ino, st.st_mtime_ns, st.st_size)) & ((1 << 62) - 1)) or 1


def _problem_of(snap: Snapshot, task_id: str) -> Problem | None:
    """The problem of a file named for ``task_id`` that could not be read (None: no file)."""
    for problem in snap.problems:
        name = os.path.basename(problem.path).lower()
        if problem.path and problem.kind != "duplicate" and name.startswith(task_id.lower()):
            return problem
    return None
