"""The board's index: each task file's parsed summary, keyed by (inode, mtime, size).

``.mcp/.cache/index-<python>.marshal`` maps ``status/name`` to ``[key, "ok", summary row]``,
``[key, "warn", summary row, [[kind, message, hint, line], ...]]`` (readable, with oddities
to report, such as a section written twice) or ``[key, "error", [kind, message, hint, line]]``.
``scan`` lists the folders, stats every file and re-parses only those whose key changed, so a
hand edit or a ``git checkout`` is always seen and a 1,000-task board is listed without
reading 1,000 files. The cache is an optimisation: a
missing or damaged one is rebuilt from the files, which stay the truth.
"""

from __future__ import annotations

import os
import re
import sys

from ..domain.errors import MalformedTask
from ..domain.model import ALL_STATUSES, Priority, Status
from ..domain.policy import Summary, summarize
from ..store import Problem, Snapshot
from .fsutil import load_cache, save_cache, storage_error

TYPE_CHECKING = False  # not typing's (see store/__init__.py): read on every command
if TYPE_CHECKING:
    from typing import Any

# marshal's format depends on the Python version, so the version is part of the file's name.
INDEX_VERSION = 5
INDEX_NAME = f"index-{sys.implementation.cache_tag}.marshal"
_NAME_ID_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,7}-[0-9a-z]{3,16})(?=[-_.])")

Index = dict[str, list[object]]
"""``status/name`` -> ``[[inode, mtime_ns, size], "ok" | "error", row]``."""

STATUS_BY_VALUE = {s.value: s for s in Status}  # a dict lookup is ~5x faster than Status(value)
_PRIORITY = {p.value: p for p in Priority}


def encode(s: Summary) -> list[object]:
    """A summary as the index stores it (``_decode`` reads this order back)."""
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
        list(s.capabilities),
    ]


def _decode(row: list[Any]) -> Summary:
    """The summary ``encode`` stored (this runs once per task on every command): the named
    tuple made by ``tuple.__new__`` from the fields in order, as its own ``__new__`` would
    (which is a Python function: a frame per task)."""
    (
        tid,
        title,
        status,
        priority,
        agent,
        implementer,
        depends,
        created,
        updated,
        feedback,
        escalated,
        capabilities,
    ) = row
    fields = (
        tid,
        title,
        STATUS_BY_VALUE[status],
        _PRIORITY[priority],
        agent,
        implementer,
        tuple(depends),
        created,
        updated,
        feedback,
        escalated,
        tuple(capabilities),
    )
    return _tuple_new(Summary, fields)


_tuple_new = tuple.__new__


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


# ---------------------------------------------------------------------- the cache file


def load_index(path: str) -> Index:
    """The index saved at ``path``; empty if it is missing, damaged or of another version."""
    data = load_cache(path)
    files = data.get("files")
    return files if data.get("version") == INDEX_VERSION and isinstance(files, dict) else {}


def save_index(path: str, index: Index) -> bool:
    """Write the index (it can always be rebuilt from the files); False if that failed."""
    return save_cache(path, {"version": INDEX_VERSION, "files": index})


# ---------------------------------------------------------------------- the scan


Paths = dict[str, tuple[str, ...]]  # task ID -> where it is kept (two or more: a duplicate)


def scan(tasks_dir: str, old: Index, moving_from: str) -> tuple[Snapshot, Paths, Index, bool]:
    """List every folder into a snapshot, parsing only files whose (inode, mtime, size) changed.

    ``moving_from`` is the old half of a move under way (skipped: the new copy is the task).
    Returns the snapshot, where each task is kept, the new index and whether it differs from
    ``old``.
    """
    index: Index = {}
    found: dict[str, list[tuple[str, Summary]]] = {}
    problems: list[Problem] = []
    dirty = _scan_folders(tasks_dir, old, moving_from, index, found, problems)
    tasks, paths = _one_copy_each(found, problems)
    snap = Snapshot(tasks=tuple(tasks), problems=tuple(problems))
    return snap, paths, index, dirty or len(index) != len(old)


def _scan_folders(
    tasks_dir: str,
    old: Index,
    moving_from: str,
    index: Index,
    found: dict[str, list[tuple[str, Summary]]],
    problems: list[Problem],
) -> bool:
    """Fill ``index``, ``found`` and ``problems``; True if any file had to be re-read."""
    # This loop runs once per task on every command: keep it tight (locals; only the rare
    # cases, a changed file, a moved one, a bad one, call out to helpers).
    dirty = False
    old_get = old.get
    for status in ALL_STATUSES:
        folder = os.path.join(tasks_dir, status.value)
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
                if name[-4:] == ".tmp":
                    problems.append(leftover(prefix + name))  # a killed write's
                continue
            rel = prefix + name
            if rel == moving_from:
                continue  # half of an interrupted move: the new copy is the task
            if not entry.is_file(follow_symlinks=False):
                if entry.is_dir(follow_symlinks=False):
                    problems.append(_folder(rel))
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
                record = [key, *_read_record(entry.path, rel)]
                dirty = True
            index[rel] = record
            if record[1] == "ok":
                row: list[object] = record[2]  # type: ignore[assignment]
                summary = _decode(row)
                if summary.status is not status:
                    summary = _moved_by_hand(rel, row, status, problems)
                found.setdefault(summary.id, []).append((rel, summary))
            elif record[1] == "warn":
                _with_warnings(rel, record, status, found, problems)
            else:
                problems.append(_problem(rel, record[2]))  # type: ignore[arg-type]
    return dirty


def _with_warnings(
    rel: str,
    record: list[object],
    status: Status,
    found: dict[str, list[tuple[str, Summary]]],
    problems: list[Problem],
) -> None:
    """A readable file with oddities: listed like any task, its oddities named as problems."""
    row: list[object] = record[2]  # type: ignore[assignment]
    summary = _decode(row)
    if summary.status is not status:
        summary = _moved_by_hand(rel, row, status, problems)
    found.setdefault(summary.id, []).append((rel, summary))
    for warning in record[3]:  # type: ignore[attr-defined]
        problems.append(_problem(rel, warning)._replace(task=summary.id))


def _folder(rel: str) -> Problem:
    return Problem(
        kind="malformed",
        message=f"{rel}: a folder named like a task file (only files hold tasks)",
        hint="move what it holds out of .mcp/tasks/ and remove the folder",
        path=rel,
    )


def leftover(rel: str, shown: str = "") -> Problem:
    """A temp file of a write that was killed before it finished (``kill -9``, a power cut);
    ``rel`` is its path in the tasks folder, ``shown`` how to name it (default: under .mcp)."""
    return Problem(
        kind="leftover",
        message=f"{shown or '.mcp/tasks/' + rel}: temp file of an interrupted write "
        "(the task itself is intact)",
        hint="'orch doctor --fix' removes it",
        path=rel,
    )


def _moved_by_hand(rel: str, row: list[object], status: Status, problems: list[Problem]) -> Summary:
    """The summary of a file whose status line disagrees with its folder: the folder wins."""
    summary = _decode(row)
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
    # the holder as in_folder() gives it
    holder = (summary.agent or summary.implementer) if status is Status.IN_PROGRESS else ""
    return summary._replace(status=status, agent=holder)


def _problem(rel: str, err: list[object]) -> Problem:
    """The problem an index error record stands for."""
    return Problem(
        kind=str(err[0]),
        message=str(err[1]),
        hint=str(err[2]),
        path=rel,
        line=int(err[3]),  # type: ignore[call-overload]
    )


def _one_copy_each(
    found: dict[str, list[tuple[str, Summary]]], problems: list[Problem]
) -> tuple[list[Summary], Paths]:
    """The tasks found exactly once, and every task's paths (all its copies)."""
    tasks: list[Summary] = []
    paths: Paths = {}
    for task_id, copies in found.items():
        if len(copies) == 1:  # every task but a duplicate: no generator made for it
            rel, summary = copies[0]
            paths[task_id] = (rel,)
            tasks.append(summary)
        else:
            paths[task_id] = tuple(rel for rel, _ in copies)
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
    return tasks, paths


# ---------------------------------------------------------------------- one file


def not_utf8(rel: str, exc: UnicodeDecodeError) -> str:
    """The message for a task file that is not UTF-8, with the line of the first bad byte."""
    line = exc.object[: exc.start].count(b"\n") + 1
    return f"{rel}: line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})"


def _error(kind: str, message: str, hint: str, line: int) -> list[object]:
    return ["error", [kind, message, hint, line]]


def _read_record(path: str, rel: str) -> list[object]:
    """``["ok", row]`` or ``["error", [kind, message, hint, line]]`` for one task file."""
    from . import format as fmt  # deferred: a warm index needs no parsing at all

    warnings: list[tuple[str, str, str, int]] = []
    try:
        task = fmt.parse(read_text(path), rel, warnings)
    except MalformedTask as exc:
        kind = "conflict" if "conflict marker" in exc.message else "malformed"
        return _error(kind, exc.message, exc.hint, exc.line)
    except UnicodeDecodeError as exc:
        return _error(
            "malformed",
            not_utf8(rel, exc),
            "fix or remove the file by hand; orch leaves it as it is",
            exc.object[: exc.start].count(b"\n") + 1,
        )
    except OSError as exc:
        return _error("unreadable", f"{rel}: {exc.strerror}", "check the file's permissions", 0)
    match = _NAME_ID_RE.match(os.path.basename(path))
    if match and match.group(1).lower() != task.id.lower():
        return _error(
            "filename",
            f"{rel}: the file is named for {match.group(1)} but holds {task.id}",
            "run 'orch doctor' for what to do",
            1,
        )
    if warnings:
        return ["warn", encode(summarize(task)), [list(w) for w in warnings]]
    return ["ok", encode(summarize(task))]
