"""The file board: one Markdown file per task under ``.mcp/tasks/<status>/``.

The files are the source of truth. A JSON index in ``.mcp/.cache/`` keeps each file's parsed
summary keyed by (inode, mtime, size); every read stats every file and re-parses only those
that changed, so a hand edit or a ``git checkout`` is always seen and a 1,000-task board is
listed without reading 1,000 files.

Moving a task between folders is two steps (write the new file, remove the old one), so it is
framed by a journal: ``.mcp/.journal`` names the old path while the move is under way. A reader
that finds the journal ignores the old path; the next writer finishes or rolls back the move.
A killed process therefore leaves every task present exactly once.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ..domain.errors import (
    BoardConflict,
    MalformedTask,
    StorageError,
    TaskNotFound,
)
from ..domain.events import Event
from ..domain.model import ALL_STATUSES, HistoryEntry, Priority, Status, Task, format_time
from ..domain.policy import Summary, summarize
from ..store import Problem, Snapshot
from .fsutil import (
    append_line,
    atomic_write,
    board_lock,
    flat_json,
    fsync_dir,
    open_append,
    os_reason,
    storage_error,
)

# marshal, not JSON: it loads a 10,000-task index ~5x faster and is built in (no import). Its
# format depends on the Python version, so the version is part of the cache's file name.
INDEX_VERSION = 3
INDEX_NAME = f"index-{sys.implementation.cache_tag}.marshal"
_NAME_ID_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,7}-[0-9a-z]{3,16})(?=[-_.])")
_SLUG_RE = re.compile(r"[^a-z0-9]+")

GITIGNORE = ".cache/\n.journal\n.lock\nlog/\n.secrets/\n"


def slug(title: str, limit: int = 40) -> str:
    return _SLUG_RE.sub("-", title.lower()).strip("-")[:limit].strip("-") or "task"


def _encode(s: Summary) -> list[object]:
    return [
        s.id,
        s.title,
        s.status.value,
        s.priority.value,
        s.agent,
        s.implementer,
        list(s.depends),
        s.created,
        s.updated,
        s.open_feedback,
        s.escalated,
    ]


_STATUS = {s.value: s for s in Status}  # a dict lookup is ~5x faster than Status(value)
_PRIORITY = {p.value: p for p in Priority}


_new_tuple = tuple.__new__


def _decode(row: list[object]) -> Summary:
    # This runs once per task on every command, so it builds the tuple directly (the named
    # tuple's generated __new__ costs twice as much); the order is _encode's.
    return _new_tuple(
        Summary,
        (
            row[0],
            row[1],
            _STATUS[row[2]],  # type: ignore[index]
            _PRIORITY[row[3]],  # type: ignore[index]
            row[4],
            row[5],
            tuple(row[6]),  # type: ignore[arg-type]
            row[7],
            row[8],
            row[9],
            row[10],
        ),
    )


def in_folder(task: Task, folder: Status) -> Task:
    """The task as its folder says: a file moved by hand is a status change."""
    if task.status is folder:
        return task
    holder = task.agent or task.implementer if folder is Status.IN_PROGRESS else ""
    return task.evolve(status=folder, agent=holder)


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class FileStore:
    """The ``TaskStore`` of a ``.mcp/`` directory."""

    def __init__(self, root: str) -> None:
        self.root = str(root)
        join = os.path.join
        self.tasks_dir = join(self.root, "tasks")
        self.cache_dir = join(self.root, ".cache")
        self.index_path = join(self.cache_dir, INDEX_NAME)
        self.journal_path = join(self.root, ".journal")
        self.lock_path = join(self.root, ".lock")
        self.log_path = join(self.root, "log", "orch.jsonl")
        self._in_tx = False
        self._snap: Snapshot | None = None
        self._last: Snapshot | None = None
        self._index: dict[str, list[object]] = {}
        self._index_dirty = False
        self._log_fd: int | None = None

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
        except OSError as exc:
            raise storage_error(exc, f"create the board in {root}") from exc
        return cls(root), made

    def folder(self, status: Status) -> str:
        return os.path.join(self.tasks_dir, status.value)

    def path(self, rel: str) -> str:
        """The absolute path of ``status/name`` inside the tasks folder."""
        return os.path.join(self.tasks_dir, rel)

    # ------------------------------------------------------------------ reading

    def _load_index(self) -> dict[str, list[object]]:
        try:
            with open(self.index_path, "rb") as handle:
                data = marshal.loads(handle.read())
            if data.get("version") == INDEX_VERSION:
                return data["files"]  # type: ignore[no-any-return]
        except (OSError, ValueError, EOFError, TypeError, KeyError, AttributeError):
            pass  # a missing or damaged cache is rebuilt from the files
        return {}

    def _save_index(self) -> None:
        if not self._index_dirty:
            return
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            data = {"version": INDEX_VERSION, "files": self._index}
            atomic_write(self.index_path, marshal.dumps(data), durable=False)
            self._index_dirty = False
        except (OSError, StorageError):
            pass  # the cache is an optimisation; the files stay the truth

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
        if self._in_tx:
            return self._snap if self._snap is not None else self._scan()
        with board_lock(self.lock_path, shared=True):
            return self._scan()

    def _scan(self) -> Snapshot:
        old = self._index or self._load_index()
        index: dict[str, list[object]] = {}
        journal = self._journal()
        moving_from = journal.get("old", "")
        if moving_from and not os.path.isfile(self.path(journal.get("new", ""))):
            # Killed before the new copy was renamed into place: the move never happened and
            # the old file is still the task (the next writer rolls the journal back).
            moving_from = ""
        found: dict[str, list[tuple[str, Summary]]] = {}
        problems: list[Problem] = []
        dirty = False
        old_get = old.get  # this loop runs once per task on every command: keep it tight
        for status in ALL_STATUSES:
            folder = self.folder(status)
            prefix = status.value + "/"
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise storage_error(exc, f"read {folder}") from exc
            for entry in entries:
                name = entry.name
                if name[-3:] != ".md" or name[0] == ".":
                    continue
                rel = prefix + name
                if rel == moving_from:
                    continue  # half of an interrupted move: the new copy is the task
                if not entry.is_file(follow_symlinks=False):
                    continue  # a symlink could point outside the board: never followed
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # removed while we listed it
                key = [st.st_ino, st.st_mtime_ns, st.st_size]
                cached = old_get(rel)
                if cached is not None and cached[0] == key:
                    record = cached
                else:
                    record = [key, *self._read_record(entry.path, rel)]
                    dirty = True
                index[rel] = record
                if record[1] == "ok":
                    summary = _decode(record[2])  # type: ignore[arg-type]
                    if summary.status is not status:
                        problems.append(
                            Problem(
                                kind="status-mismatch",
                                message=f"{rel} says '{summary.status.value}' but lies in "
                                f"{status.value}/ (moved by hand: taken as {status.value})",
                                hint="the next write updates it; 'orch doctor --fix' does it now",
                                path=rel,
                                task=summary.id,
                            )
                        )
                        summary = _decode(
                            [
                                *record[2][:2],  # type: ignore[index]
                                status.value,
                                record[2][3],  # type: ignore[index]
                                # the holder as in_folder() gives it
                                (record[2][4] or record[2][5])  # type: ignore[index]
                                if status is Status.IN_PROGRESS
                                else "",
                                *record[2][5:],  # type: ignore[index]
                            ]
                        )
                    found.setdefault(summary.id, []).append((rel, summary))
                else:
                    err = record[2]
                    problems.append(
                        Problem(
                            kind=str(err[0]),  # type: ignore[index]
                            message=str(err[1]),  # type: ignore[index]
                            hint=str(err[2]),  # type: ignore[index]
                            path=rel,
                            line=int(err[3]),  # type: ignore[index]
                        )
                    )
        if dirty or len(index) != len(old):
            self._index_dirty = True
        self._index = index
        tasks: list[Summary] = []
        paths: dict[str, str] = {}
        for task_id, copies in found.items():
            if len(copies) == 1:
                tasks.append(copies[0][1])
                paths[task_id] = copies[0][0]
            else:
                where = " and ".join(rel for rel, _ in copies)
                problems.append(
                    Problem(
                        kind="duplicate",
                        message=f"{task_id} exists twice: {where} (a git merge can do this)",
                        hint="run 'orch doctor --fix' to merge both copies into one",
                        path=copies[0][0],
                        task=task_id,
                    )
                )
                paths[task_id] = "\n".join(rel for rel, _ in copies)
        snap = Snapshot(tasks=tuple(tasks), problems=tuple(problems), paths=paths)
        self._last = snap
        if self._in_tx:
            self._snap = snap
        else:
            self._save_index()
        return snap

    def _read_record(self, path: str, rel: str) -> list[object]:
        from . import format as fmt  # deferred: a warm index needs no parsing at all

        try:
            task = fmt.parse(_read_text(path), rel)
        except MalformedTask as exc:
            kind = "conflict" if "conflict marker" in exc.message else "malformed"
            return ["error", [kind, exc.message, exc.hint, exc.line]]
        except UnicodeDecodeError as exc:
            return [
                "error",
                [
                    "malformed",
                    f"{rel}: not UTF-8 text ({exc.reason})",
                    "fix or remove the file by hand; orch leaves it as it is",
                    0,
                ],
            ]
        except OSError as exc:
            return [
                "error",
                ["unreadable", f"{rel}: {exc.strerror}", "check the file's permissions", 0],
            ]
        match = _NAME_ID_RE.match(os.path.basename(path))
        if match and match.group(1).lower() != task.id.lower():
            return [
                "error",
                [
                    "filename",
                    f"{rel}: the file is named for {match.group(1)} but holds {task.id}",
                    "run 'orch doctor' for what to do",
                    1,
                ],
            ]
        return ["ok", _encode(summarize(task))]

    def path_of(self, task_id: str) -> str:
        """Where ``task_id`` is kept; names the problem instead of guessing."""
        last = self._last
        if last is not None and not self._in_tx:
            # The snapshot this process just took is good enough if the file is still there:
            # one stat instead of re-listing the board (a command often lists, then loads).
            known = last.paths.get(task_id, "")
            if known and "\n" not in known and os.path.isfile(self.path(known)):
                return self.path(known)
        snap = self.snapshot()
        rel = snap.paths.get(task_id)
        if rel is None:
            for problem in snap.problems:
                name = os.path.basename(problem.path).lower()
                if problem.path and name.startswith(task_id.lower()):
                    raise MalformedTask(
                        problem.message, problem.hint, path=problem.path, line=problem.line
                    )
            raise TaskNotFound(
                f"no task {task_id} on the board",
                "run 'orch status' to list the tasks (done ones: 'orch status --all')",
            )
        if "\n" in rel:
            raise BoardConflict(
                f"{task_id} exists in more than one folder: " + ", ".join(rel.split("\n")),
                "run 'orch doctor --fix' to merge the copies (a git merge can cause this)",
            )
        return self.path(rel)

    def load(self, task_id: str) -> Task:
        from . import format as fmt

        path = self.path_of(task_id)
        rel = os.path.relpath(path, self.tasks_dir)
        try:
            text = _read_text(path)
        except OSError as exc:
            raise storage_error(exc, f"read {rel}") from exc
        task = fmt.parse(text, rel)
        folder = _STATUS[rel.split(os.sep, 1)[0]]
        if task.status is folder:
            return task
        # Moved by hand (git mv, a file manager): the folder is the status, and the move goes
        # into the history like any other, stamped with the time the file last changed.
        moved = in_folder(task, folder)
        entry = HistoryEntry(
            at=format_time(datetime.fromtimestamp(os.stat(path).st_mtime, UTC)),
            agent="-",
            op="move",
            from_status=task.status.value,
            to_status=folder.value,
            note=f"moved by hand into {folder.value}/",
        )
        return moved.evolve(history=(*moved.history, entry))

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
        from . import format as fmt

        for rel in self.task_files():
            try:
                yield rel, fmt.parse(_read_text(self.path(rel)), rel)
            except (MalformedTask, OSError, UnicodeDecodeError) as exc:
                yield rel, exc

    # ------------------------------------------------------------------ writing

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        with board_lock(self.lock_path):
            # The log is opened before anything changes: a log that cannot be written stops
            # the command while "nothing was changed" is still true.
            self._log_fd = open_append(self.log_path)
            self._in_tx = True
            self._snap = None
            try:
                self._recover()
                yield
            finally:
                self._in_tx = False
                self._snap = None
                os.close(self._log_fd)
                self._log_fd = None
                self._save_index()

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
        _unlink(self.journal_path)

    def save(self, task: Task) -> None:
        from . import format as fmt

        if not self._in_tx:
            raise RuntimeError("FileStore.save outside a transaction")
        snap = self.snapshot()
        rel = snap.paths.get(task.id)
        if rel is not None and "\n" in rel:
            self.path_of(task.id)  # raises BoardConflict
        old = self.path(rel) if rel else None
        name = os.path.basename(old) if old else f"{task.id}-{slug(task.title)}.md"
        new = os.path.join(self.folder(task.status), name)
        text = fmt.render(task)
        if old is None or old == new:
            atomic_write(new, text)
        else:
            self._move(old, new, text)
        self._note_saved(task, new, old)

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.tasks_dir).replace(os.sep, "/")

    def _move(self, old: str, new: str, text: str) -> None:
        journal = {"old": self._rel(old), "new": self._rel(new)}
        atomic_write(self.journal_path, flat_json(journal))
        atomic_write(new, text)  # from here on the move has happened
        try:
            os.unlink(old)
        except OSError as exc:
            raise storage_error(exc, f"remove {os.path.basename(old)} after moving it") from exc
        fsync_dir(os.path.dirname(old))
        _unlink(self.journal_path)

    def _note_saved(self, task: Task, new: str, old: str | None) -> None:
        """Keep the snapshot and index of this transaction true without re-reading the board."""
        st = os.stat(new)
        rel = self._rel(new)
        if old is not None:
            self._index.pop(self._rel(old), None)
        self._index[rel] = [[st.st_ino, st.st_mtime_ns, st.st_size], "ok", _encode(summarize(task))]
        self._index_dirty = True
        snap = self._snap
        if snap is not None:
            tasks = (*tuple(t for t in snap.tasks if t.id != task.id), summarize(task))
            self._snap = Snapshot(
                tasks=tasks, problems=snap.problems, paths={**snap.paths, task.id: rel}
            )

    def write_raw(self, rel: str, text: str) -> None:
        """Replace a file's bytes as given (doctor's repairs). Only inside a transaction."""
        atomic_write(self.path(rel), text)
        self._snap = None

    def remove_raw(self, rel: str) -> None:
        path = self.path(rel)
        try:
            os.unlink(path)
        except OSError as exc:
            raise storage_error(exc, f"remove {rel}") from exc
        fsync_dir(os.path.dirname(path))
        self._snap = None

    # ------------------------------------------------------------------ the log

    def record(self, event: Event) -> None:
        fd = self._log_fd if self._log_fd is not None else open_append(self.log_path)
        try:
            append_line(fd, flat_json(event.to_dict()))
        except OSError as exc:
            reason, hint = os_reason(exc)
            raise StorageError(
                f"{event.op} {event.task} was done, but its line in the operation log "
                f"could not be written: {reason}",
                f"the board itself is right; {hint}",
            ) from exc
        finally:
            if fd != self._log_fd:
                os.close(fd)

    def events(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        import json

        try:
            with open(self.log_path, encoding="utf-8") as handle:
                lines = handle.readlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise storage_error(exc, "read the log") from exc
        out: list[Event] = []
        for line in reversed(lines):
            try:
                event = Event.from_dict(json.loads(line))
            except (ValueError, TypeError):
                continue  # a torn last line of a killed writer
            if task_id is None or event.task == task_id:
                out.append(event)
                if len(out) >= limit:
                    break
        return out[::-1]

    def change_token(self) -> object:
        stamps: list[int] = []
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
