"""The storage seam: everything the service needs from a place that keeps tasks.

The file board (``mcp_orch.board.files.FileStore``) implements it today; the SQL stores of the
orchestrator service will implement the same protocol, and one contract test suite runs
against every implementation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager

from ..domain.policy import Summary
from ..domain.record import Record

TYPE_CHECKING = False  # not typing's: importing typing costs ~2 ms on every command

if TYPE_CHECKING:
    from typing import Protocol

    from ..domain.events import Event
    from ..domain.model import Task
else:  # the protocol is for type checkers; at run time it costs an import for nothing
    Protocol = object


class Problem(Record):
    """Something wrong on the board that a command should name rather than guess about."""

    kind: str  # malformed | duplicate | status-mismatch | filename | unknown-dependency | cycle
    message: str
    hint: str
    path: str = ""
    line: int = 0
    task: str = ""


class Snapshot(Record):
    """Every readable task's summary, and every problem found while reading."""

    tasks: tuple[Summary, ...]
    problems: tuple[Problem, ...] = ()
    paths: dict[str, str] = {}  # task ID -> where it is kept (never mutated)  # noqa: RUF012
    revision: int = 0  # TEMP (sql): until seam v2 is merged

    def by_id(self) -> dict[str, Summary]:
        return {t.id: t for t in self.tasks}


class Stored(Record):  # TEMP (sql): until seam v2 is merged
    task: Task
    revision: int


class TaskStore(Protocol):
    """What the service needs from storage. Writes happen only inside ``transaction()``."""

    def snapshot(self) -> Snapshot:
        """All task summaries and problems; cheap (an index validated against the source)."""
        ...

    def load(self, task_id: str) -> Task:
        """The whole task. ``TaskNotFound``, ``MalformedTask`` or ``BoardConflict`` if not."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """An exclusive section: read, check and write without another writer in between."""
        ...

    def save(self, task: Task) -> None:
        """Create or replace ``task`` atomically, under its status. Only inside a transaction."""
        ...

    def record(self, event: Event) -> None:
        """Append one event to the operation log. It records a change already made (or
        refused), so it never raises: a line it could not write is a warning."""
        ...

    def take_warnings(self) -> list[str]:
        """What could not be written after a change took effect (the change stands: a log
        line, a leftover old copy), each returned once."""
        ...

    def events(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        """The newest ``limit`` events, oldest first, optionally of one task."""
        ...

    def events_after(self, cursor: int | None) -> tuple[list[Event], int]:
        """The events recorded since ``cursor`` (a position this method returned; None: from
        now on, none yet) and the position to ask from next time. Cheap when nothing is new."""
        ...

    def change_token(self) -> object:
        """A cheap value that changes when the board changes (for ``next --wait``)."""
        ...

    def iter_tasks(self) -> Iterator[tuple[str, Task | Exception]]:
        """Every task file read in full, or the error that stopped it (for doctor)."""
        ...
