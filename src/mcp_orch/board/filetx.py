"""``FileTx``: one transaction of the file board.

It runs under the board's exclusive lock (``FileStore.transaction``). Reads go to the files
(through the index) and see this transaction's own saves, which are kept aside until the
transaction ends: then ``commit`` writes them in the order the file board's guarantees need
(attachments, the task files - each its commit point -, the escalation mirrors, the revision,
the log). An exception before the end writes nothing, so a refused step leaves no trace but
its ``refused`` event.

Compare-and-swap: a task's revision here is the stamp of its file (``files.file_stamp``), so a
save over a file changed since it was read (by another command, by hand) is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from ..domain.errors import InvalidInput, OrchError
from ..domain.events import Event
from ..domain.model import Note, Status, Task
from ..domain.policy import Summary, summarize
from ..store import Snapshot, Stored
from .fsutil import atomic_write, os_reason

TYPE_CHECKING = False
if TYPE_CHECKING:  # the store imports this module; only the type checker needs the reverse
    from .files import FileStore

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class FileTx:
    """A unit of work on a ``FileStore`` (see the module's docstring)."""

    def __init__(self, store: FileStore) -> None:
        self._store = store
        self._tasks: dict[str, tuple[Task, int]] = {}
        self._events: list[Event] = []
        self._attachments: list[tuple[str, str]] = []  # (path, text)

    # ------------------------------------------------------------------ reads

    def get(self, task_id: str) -> Stored:
        pending = self._tasks.get(task_id)
        if pending is not None:
            return Stored(task=pending[0], revision=pending[1])
        task, stamp = self._store.read(task_id)
        return Stored(task=task, revision=stamp)

    def load(self, task_id: str) -> Task:
        return self.get(task_id).task

    def revision_of(self, task_id: str) -> int | None:
        """The revision a save of ``task_id`` must name now (None: no such task)."""
        pending = self._tasks.get(task_id)
        if pending is not None:
            return pending[1]
        from .files import file_stamp

        rel = self._store.rel_of(task_id, missing_ok=True)
        try:
            return file_stamp(self._store.path(rel)) if rel else None
        except FileNotFoundError:
            return None

    def exists(self, task_id: str) -> bool:
        if task_id in self._tasks:
            return True
        try:
            return bool(self._store.rel_of(task_id, missing_ok=True))
        except OrchError:
            return True  # malformed or duplicated: the ID is taken all the same

    def snapshot(self) -> Snapshot:
        snap = self._store.snapshot()
        if not self._tasks:
            return snap
        mine = {tid: summarize(t) for tid, (t, _) in self._tasks.items()}
        kept = tuple(t for t in snap.tasks if t.id not in mine)
        return snap._replace(tasks=(*kept, *mine.values()))

    def statuses(self, ids: Iterable[str]) -> dict[str, Status]:
        by_id = self.snapshot().by_id()
        return {i: by_id[i].status for i in ids if i in by_id}

    def held_by(self, agent: str) -> tuple[Summary, ...]:
        return tuple(
            t for t in self.snapshot().tasks if t.status is Status.IN_PROGRESS and t.agent == agent
        )

    def graph(self) -> dict[str, tuple[str, ...]]:
        return {t.id: t.depends for t in self.snapshot().tasks}

    def knows_agent(self, name: str) -> bool:
        from ..store.memory import knows

        if knows(name, self.snapshot().tasks, self._events):
            return True
        # Only for a name no task carries: the whole log (a refused attempt is logged too,
        # but must not make a typo a known agent).
        return knows(name, (), self._store.events(None, limit=10**9))

    def open_feedback(self, task_id: str) -> tuple[Note, ...]:
        return self.load(task_id).open_feedback

    # ------------------------------------------------------------------ writes

    def save(self, task: Task, *, expected: int | None) -> int:
        current = self.revision_of(task.id)
        if current != expected:
            from ..store.memory import conflict

            raise conflict(task.id, expected, current)
        revision = self._store.revision() + 1  # what the commit makes it
        self._tasks[task.id] = (task, revision)
        return revision

    def record(self, event: Event) -> None:
        self._events.append(event)

    def attach(self, task_id: str, name: str, text: str) -> str:
        if not _NAME_RE.match(name) or not _NAME_RE.match(task_id):
            raise InvalidInput(
                f"attachment name {name!r} is not a plain file name",
                "use letters, digits, '.', '-' and '_'",
            )
        self._attachments.append((os.path.join("feedback", task_id, name), text))
        return f".mcp/feedback/{task_id}/{name}"

    # ------------------------------------------------------------------ commit

    def commit(self) -> None:
        """Write what the transaction kept aside (see the module's docstring)."""
        store = self._store
        for rel, text in self._attachments:
            path = os.path.join(store.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, text)
        for task, _ in self._tasks.values():
            store.write_task(task)
            self._mirror(task)
        if self._tasks or self._attachments or self._events:
            store.bump_revision()
        for event in self._events:
            store.append_event(event)

    def _mirror(self, task: Task) -> None:
        """The escalation file of ``task`` as the task now says (after its commit point: a
        failure is a warning, the task file holds everything the mirror would)."""
        from . import escalations

        try:
            escalations.sync(self._store.root, task)
        except (OrchError, OSError) as exc:
            cause = exc if isinstance(exc, OSError) else exc.__cause__
            why = os_reason(cause)[0] if isinstance(cause, OSError) else str(exc)
            self._store.warn(
                f"{task.id} is recorded, but .mcp/escalations/{task.id}.md could not be "
                f"updated ({why}); 'orch show {task.id}' has everything it would hold"
            )
