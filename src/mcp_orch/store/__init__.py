"""The storage seam: everything the service needs from a place that keeps tasks.

A store is a unit of work: ``with store.transaction() as tx:`` hands out a ``Tx`` whose reads
see its own writes, whose saves are compare-and-swap on the revision that was read, and whose
events commit or roll back with the tasks. Backends: the file board
(``board.files.FileStore``), ``store.memory.MemoryStore``, and the SQL stores; one contract
suite (tests/integration/test_store_contract.py) runs against each. ``store.factory`` opens
one by URL. Nothing here knows about files: what only the file board has (its paths, the
raw files doctor repairs) is reached through ``extras("board")``.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext

from ..domain.errors import InvalidInput, RevisionConflict, TaskNotFound
from ..domain.events import Event
from ..domain.model import Note, Status, Task
from ..domain.ops import op
from ..domain.policy import Summary
from ..domain.record import Record

TYPE_CHECKING = False  # not typing's: importing typing costs every command (see README: CLI)
if TYPE_CHECKING:
    from typing import Protocol
else:  # the protocols are for type checkers; at run time they are plain classes
    Protocol = object


def conflict(task_id: str, expected: int | None, current: int | None) -> RevisionConflict:
    if expected is None:
        return RevisionConflict(
            f"{task_id} exists already", "draw a new ID (another writer created this one)"
        )
    return RevisionConflict(
        f"{task_id} changed since it was read (revision {expected}, now {current or 'gone'})",
        "run the step again: it reads the task as it is now",
    )


def knows(name: str, tasks: Iterable[Summary], events: Iterable[Event]) -> bool:
    """``Tx.knows_agent`` over a board's summaries and its events."""
    if any(name in (t.agent, t.implementer) for t in tasks):
        return True
    return any(e.agent == name and e.outcome != "refused" for e in events)


def no_attachment(ref: str) -> InvalidInput:
    return InvalidInput(f"no attachment {ref!r}", "the task's Error Context names its refs")


def not_found(task_id: str) -> TaskNotFound:
    """The one wording of "no such task", whatever the store."""
    return TaskNotFound(
        f"no task {task_id} on the board",
        ("the board lists them: ", op("status"), "; done ones too: ", op("status", all="")),
    )


class Problem(Record):
    """Something wrong on the board that a command should name rather than guess about; also
    what ``orch doctor`` reports (``fixed``: doctor repaired it)."""

    kind: str  # malformed | duplicate | status-mismatch | filename | unknown-dependency | cycle
    message: str
    hint: str = ""
    path: str = ""
    line: int = 0
    task: str = ""
    fixed: bool = False

    def to_dict(self) -> dict[str, object]:
        """Doctor's JSON shape of a finding."""
        return {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "path": self.path,
            "fixed": self.fixed,
        }


class Snapshot(Record):
    """Every readable task's summary, every problem found while reading, and the store
    revision this reflects."""

    tasks: tuple[Summary, ...]
    problems: tuple[Problem, ...] = ()
    revision: int = 0

    def by_id(self) -> dict[str, Summary]:
        return {t.id: t for t in self.tasks}


class Stored(Record):
    """A task as read in a transaction, with the revision a save must name (``expected``)."""

    task: Task
    revision: int  # > 0; on files a stamp of the task's file, compared for equality only


class Tx(Protocol):
    """A unit of work. Reads see this transaction's own writes. Leaving the ``with`` block
    normally commits; an exception rolls everything back (tasks, events, attachments)."""

    def get(self, task_id: str) -> Stored:
        """The task and its revision: ``TaskNotFound``, ``MalformedTask``, ``BoardConflict``."""
        ...

    def load(self, task_id: str) -> Task:
        """``get(task_id).task``."""
        ...

    def exists(self, task_id: str) -> bool:
        """Whether the ID is taken (even by a task that cannot be read)."""
        ...

    def statuses(self, ids: Iterable[str]) -> dict[str, Status]:
        """The status of each of ``ids`` that exists (unknown IDs are absent)."""
        ...

    def held_by(self, agent: str) -> tuple[Summary, ...]:
        """The in-progress tasks ``agent`` holds."""
        ...

    def graph(self) -> dict[str, tuple[str, ...]]:
        """Every task's dependencies, by ID (for cycle checks)."""
        ...

    def knows_agent(self, name: str) -> bool:
        """``name`` ever held or implemented a task, or acted in an event not refused."""
        ...

    def open_feedback(self, task_id: str) -> tuple[Note, ...]:
        """The task's open feedback notes."""
        ...

    def snapshot(self) -> Snapshot:
        """The whole board: only for ``next`` and claim-next, never for a single-task step."""
        ...

    def save(self, task: Task, *, expected: int | None) -> int:
        """Create (``expected=None``) or replace the task if its revision is still
        ``expected``; ``RevisionConflict`` if not (or if a new task's ID is taken). Returns
        the new store revision."""
        ...

    def record(self, event: Event) -> None:
        """Keep ``event``; committed or rolled back with the transaction."""
        ...

    def attach(self, task_id: str, name: str, text: str) -> str:
        """Keep a text that belongs to a task (the git gate's full output); returns a ref a
        person can open (files: ``.mcp/feedback/<ID>/<name>``; SQL: ``attachment:<id>``)."""
        ...


class TaskStore(Protocol):
    """What the service needs from storage. Writes happen only through ``transaction()``."""

    url: str  # "files", "memory", "sqlite:///...", "postgresql://..."

    def transaction(self) -> AbstractContextManager[Tx]:
        """A unit of work; one writer at a time (the file board's lock, a database's).

        Nested in an open one of the same thread, it yields that same ``Tx`` and is a
        savepoint of it (memory and SQL stores): an exception leaving the inner block undoes
        exactly what the inner block did (tasks, events, attachments, agents, leases, fences,
        the transaction's bookkeeping) and propagates, so the outer block may catch it and go
        on; only the outermost block commits. The file board has no savepoints: there an inner
        block joins the outer one (an exception it lets out is the outer's to handle, and the
        outer's rollback undoes both); the orchestrator, which relies on savepoints, never
        runs on files."""
        ...

    def snapshot(self) -> Snapshot:
        """All task summaries and problems, outside a transaction; cheap."""
        ...

    def load(self, task_id: str) -> Task:
        """The whole task. ``TaskNotFound``, ``MalformedTask`` or ``BoardConflict`` if not."""
        ...

    def attachment(self, ref: str) -> str:
        """The text ``Tx.attach`` kept under ``ref``; ``InvalidInput`` if there is none."""
        ...

    def record_refused(self, event: Event) -> None:
        """Keep the event of a refused step, outside any transaction (never raises: a line
        that could not be kept is a warning). Called while this thread has a transaction
        open (memory and SQL stores), the event is kept aside and written in a short
        transaction of its own right after the outermost block ends, committed or rolled
        back: a refused step inside a bigger unit of work leaves its one event either way."""
        ...

    def events(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        """The newest ``limit`` events, oldest first, optionally of one task."""
        ...

    def events_after(self, cursor: int | None) -> tuple[list[Event], int]:
        """The events recorded since ``cursor`` (a position this method returned; None: from
        now on, none yet) and the position to ask from next time. Cheap when nothing is new."""
        ...

    def revision(self) -> int:
        """Monotonic: at least +1 for every committed transaction that wrote anything."""
        ...

    def change_token(self) -> object:
        """A cheap value that changes when the board changes (for ``next --wait``): the
        revision, plus on files what catches hand edits (folder fingerprints)."""
        ...

    def take_warnings(self) -> list[str]:
        """What could not be written after a change took effect (the change stands: a log
        line, a leftover old copy), each returned once."""
        ...

    def extras(self, capability: str) -> object | None:
        """A declared capability beyond the seam (``"board"``: the file board's files, for
        doctor), or None when this store has none."""
        ...


def joined(store: TaskStore) -> AbstractContextManager[object]:
    """A block whose nested ``transaction()`` blocks need no savepoint: the caller lets
    their failure out of the outermost block, whose rollback undoes them anyway (SQL stores:
    no SAVEPOINT statements; other stores nest as they always do)."""
    join = getattr(store, "joined", None)
    if join is None:
        return nullcontext()
    block: AbstractContextManager[object] = join()
    return block
