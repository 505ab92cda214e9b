"""The file board into a SQL (or in-memory) store: the import on start, and hand edits.

``import_board(board, store)`` brings an existing board into a store: every task it does not
have yet (a file moved between folders by hand counts as moved, as ``orch`` reads it), and the
operation log as events when the store has none. Re-running it is a no-op.

``take_in`` is what the mirror does with a file edited by hand while the service runs: the
task's definition (title, priority, dependencies, goal, criteria, DoR, DoD, files, notes,
capabilities, hand-written sections) is taken into the store as one ``edit`` step; a status
that differs from the store's (the ``## Status`` line, or the file moved to another folder) is
a problem for a person, never applied: the store's status stands and the file shows it again.
"""

from __future__ import annotations

import os

from ..domain.errors import DependencyError, MalformedTask, OrchError
from ..domain.events import Event, event_for
from ..domain.model import ALL_STATUSES, HistoryEntry, Status, Task, format_time
from ..domain.record import Record
from . import Problem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from datetime import datetime
    from typing import Protocol

    from . import Stored

    class ImportTx(Protocol):
        """The part of the seam's ``Tx`` the import and the hand edits use."""

        def exists(self, task_id: str) -> bool: ...
        def get(self, task_id: str) -> Stored: ...
        def graph(self) -> dict[str, tuple[str, ...]]: ...
        def save(self, task: Task, *, expected: int | None) -> int: ...
        def record(self, event: Event) -> None: ...

    class ImportStore(Protocol):
        """The part of the seam's ``TaskStore`` they use (any store v2 has it)."""

        def transaction(self) -> AbstractContextManager[ImportTx]: ...
        def events(self, task_id: str | None = None, limit: int = 100) -> list[Event]: ...


# What a person may change in a task's file while the service runs (the rest is the service's).
DEFINITION = (
    "title",
    "priority",
    "depends",
    "goal",
    "acceptance",
    "ready_def",
    "done_def",
    "files",
    "notes",
    "capabilities",
    "risk",
    "estimate",
    "extra",
)
HAND = "-"  # the actor of a change noticed in the files (as for a file moved by hand)


class Imported(Record):
    tasks: tuple[str, ...]  # the IDs brought in
    events: int  # log lines brought in as events
    problems: tuple[Problem, ...] = ()  # files that could not be read (left as they are)


def _now(clock: Callable[[], datetime] | None) -> str:
    from datetime import UTC
    from datetime import datetime as dt

    return format_time(clock() if clock is not None else dt.now(UTC))


def read_board(board: str) -> tuple[list[Task], list[Problem]]:
    """Every task on the board as ``orch`` reads it (the folder is the status), and problems."""
    from ..board import format as fmt
    from ..board.files import FileStore

    files = FileStore(board)
    tasks: dict[str, Task] = {}
    problems: list[Problem] = []
    for status in ALL_STATUSES:
        for rel in _task_files(files.folder(status), status):
            try:
                with open(files.path(rel), encoding="utf-8") as handle:
                    task = fmt.parse(handle.read(), rel)
                if task.status is not status:
                    task = files.load(task.id)  # moved by hand: the folder wins, as in orch
            except (MalformedTask, OSError, UnicodeDecodeError, OrchError) as exc:
                problems.append(_unreadable(rel, exc))
                continue
            if task.id in tasks:
                problems.append(
                    Problem(
                        kind="duplicate",
                        message=f"{task.id} is in more than one folder; {rel} was not imported",
                        hint="orch doctor --fix merges the copies (stop the service first)",
                        path=rel,
                        task=task.id,
                    )
                )
                continue
            tasks[task.id] = task
    return list(tasks.values()), problems


def _task_files(folder: str, status: Status) -> list[str]:
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    return [f"{status.value}/{n}" for n in names if n.endswith(".md") and not n.startswith(".")]


def _unreadable(rel: str, exc: BaseException) -> Problem:
    message = getattr(exc, "message", None) or str(exc)
    return Problem(
        kind="malformed",
        message=f"{rel} could not be read: {message}",
        hint="fix the file; the service takes it in once it reads",
        path=rel,
        line=int(getattr(exc, "line", 0) or 0),
    )


def import_board(board: str, store: ImportStore) -> Imported:
    """Bring the board at ``board`` (the ``.mcp`` folder) into ``store``; a no-op the second
    time (tasks the store has are left alone; the log only goes into a store with no events)."""
    from ..board.files import FileStore

    tasks, problems = read_board(board)
    events = FileStore(board).events(None, limit=1 << 62) if not store.events(None, 1) else []
    brought: list[str] = []
    with store.transaction() as tx:
        for task in tasks:
            if not tx.exists(task.id):
                tx.save(task, expected=None)
                brought.append(task.id)
        for event in events:
            tx.record(event)
    return Imported(tasks=tuple(brought), events=len(events), problems=tuple(problems))


def take_in(
    store: ImportStore,
    tasks_dir: str,
    task_id: str,
    rels: list[str],
    data: bytes,
    clock: Callable[[], datetime] | None = None,
) -> Problem | None:
    """Take a hand edit of ``task_id``'s file (``rels[0]``, holding ``data``) into ``store``.

    Returns the problem to report (a status edited by hand, an unreadable file, a dependency
    that cannot be), or None when all is taken in (or there was nothing to take).
    """
    from ..board import format as fmt

    rel = rels[0]
    folder = rel.split("/", 1)[0]
    try:
        edited = fmt.parse(data.decode("utf-8"), rel)
    except (MalformedTask, UnicodeDecodeError) as exc:
        return _unreadable(rel, exc)
    with store.transaction() as tx:
        if not tx.exists(task_id):  # a task a person wrote while the service ran
            _new_task(tx, edited, folder, clock)
            return None
        stored = tx.get(task_id)
        before = stored.task
        problem = _status_problem(before, edited, folder, rel)
        changes = {
            f: getattr(edited, f) for f in DEFINITION if getattr(edited, f) != getattr(before, f)
        }
        if "depends" in changes:
            problem = _check_depends(tx, task_id, changes) or problem
        if not changes:
            return problem
        now = _now(clock)
        note = "edited by hand in its file: " + ", ".join(changes)
        entry = HistoryEntry(
            at=now,
            agent=HAND,
            op="edit",
            from_status=before.status.value,
            to_status=before.status.value,
            note=note,
        )
        after = before._replace(**changes, updated=now, history=(*before.history, entry))
        tx.save(after, expected=stored.revision)
        tx.record(event_for(before, after, actor=HAND, op="edit", at=now, note=note))
    return problem


def _new_task(tx: ImportTx, task: Task, folder: str, clock: Callable[[], datetime] | None) -> None:
    from ..board.files import in_folder

    status = next((s for s in ALL_STATUSES if s.value == folder), task.status)
    task = in_folder(task, status)
    now = _now(clock)
    tx.save(task, expected=None)
    note = "a task file written by hand, taken in"
    tx.record(event_for(None, task, actor=HAND, op="import", at=now, note=note))


def _status_problem(before: Task, edited: Task, folder: str, rel: str) -> Problem | None:
    said = folder if folder != before.status.value else edited.status.value
    if said == before.status.value:
        return None
    return Problem(
        kind="status-mismatch",
        message=(
            f"{before.id}: its file says {said} ({rel}), the service says "
            f"{before.status.value}; the service's status stands and the file shows it again"
        ),
        hint=f"to move it, run the step: orch resolve {before.id} --to {said}",
        path=rel,
        task=before.id,
    )


def _check_depends(tx: ImportTx, task_id: str, changes: dict[str, object]) -> Problem | None:
    """Keep a hand-edited dependency list only if every ID exists and it makes no cycle."""
    from ..domain.policy import check_new_depends

    try:
        check_new_depends(task_id, changes["depends"], tx.graph())  # type: ignore[arg-type]
    except DependencyError as exc:
        del changes["depends"]
        return Problem(
            kind="unknown-dependency",
            message=f"{task_id}: the dependencies edited by hand were not taken: {exc.message}",
            hint="fix the Depends On line; the rest of the edit was taken",
            task=task_id,
        )
    return None


def take_whole(
    store: ImportStore, board: str, task_ids: list[str], events: list[Event]
) -> list[str]:
    """Tasks changed with ``orch`` on the files while no service ran: each file as it is now
    (status and holder included) replaces the store's copy, and ``events`` (what the board's
    log says was done) go into the store. Returns the IDs taken."""
    from ..board.files import FileStore

    files = FileStore(board)
    taken = []
    with store.transaction() as tx:
        for tid in task_ids:
            try:
                task = files.load(tid)
            except OrchError:
                continue  # gone or unreadable: the store keeps what it has
            expected = tx.get(tid).revision if tx.exists(tid) else None
            tx.save(task, expected=expected)
            taken.append(tid)
        for event in events:
            tx.record(event)
    return taken
