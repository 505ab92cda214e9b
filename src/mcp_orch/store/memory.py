"""``MemoryStore``: the whole seam in one process's memory, like procrastinate's
``InMemoryConnector`` and huey's ``MemoryStorage``.

For fast service tests and as the second backend that keeps the seam honest. Thread-safe with
one lock: a transaction holds it from start to end (one writer at a time, as the file board's
lock and a database's row locks make it), and its writes are kept aside until it commits, so
a rollback is discarding them. Tasks are immutable records, so handing them out is a copy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from ..domain.events import Event
from ..domain.model import Note, Status, Task
from ..domain.policy import Summary, summarize
from . import Snapshot, Stored, conflict, knows, no_attachment, not_found
from .coordination import CoordinationMark, CoordinationState, MemoryCoordination
from .eventpage import EventPage, EventQuery, page_of

_ASSIGNABLE = (Status.READY, Status.REVIEW)
MemoryMark = tuple[dict[str, tuple[Task, int]], int, dict[str, str], CoordinationMark]


class MemoryTx(MemoryCoordination):
    """One transaction of a ``MemoryStore``: reads fall through to the committed state (the
    agents and leases of issue 10 are ``MemoryCoordination``'s)."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store._coordination)
        self._store = store
        self.tasks: dict[str, tuple[Task, int]] = {}
        self.events: list[Event] = []
        self.attachments: dict[str, str] = {}

    def _current(self, task_id: str) -> tuple[Task, int] | None:
        return self.tasks.get(task_id) or self._store._tasks.get(task_id)

    def _all(self) -> dict[str, tuple[Task, int]]:
        return {**self._store._tasks, **self.tasks}

    def get(self, task_id: str) -> Stored:
        found = self._current(task_id)
        if found is None:
            raise not_found(task_id)
        return Stored(task=found[0], revision=found[1])

    def load(self, task_id: str) -> Task:
        return self.get(task_id).task

    def exists(self, task_id: str) -> bool:
        return self._current(task_id) is not None

    def statuses(self, ids: Iterable[str]) -> dict[str, Status]:
        found = ((i, self._current(i)) for i in ids)
        return {i: entry[0].status for i, entry in found if entry is not None}

    def held_by(self, agent: str) -> tuple[Summary, ...]:
        return tuple(
            summarize(t)
            for t, _ in self._all().values()
            if t.status is Status.IN_PROGRESS and t.agent == agent
        )

    def unleased_held(self, agents: Iterable[str]) -> dict[str, int]:
        wanted = set(agents)
        out: dict[str, int] = {}
        for t, _ in self._all().values():
            if t.status is Status.IN_PROGRESS and t.agent in wanted and self.lease(t.id) is None:
                out[t.agent] = out.get(t.agent, 0) + 1
        return out

    def graph(self) -> dict[str, tuple[str, ...]]:
        return {tid: t.depends for tid, (t, _) in self._all().items()}

    def knows_agent(self, name: str) -> bool:
        tasks = (summarize(t) for t, _ in self._all().values())
        return knows(name, tasks, [*self._store._events, *self.events])

    def open_feedback(self, task_id: str) -> tuple[Note, ...]:
        return self.load(task_id).open_feedback

    def snapshot(self) -> Snapshot:
        tasks = tuple(summarize(t) for t, _ in self._all().values())
        return Snapshot(tasks=tasks, revision=self._store._revision)

    def save(self, task: Task, *, expected: int | None) -> int:
        found = self._current(task.id)
        current = found[1] if found else None
        if current != expected:
            raise conflict(task.id, expected, current)
        revision = self._store._revision + 1  # what the commit will make it
        self.tasks[task.id] = (task, revision)
        return revision

    def record(self, event: Event) -> None:
        self.events.append(event)

    def assignable(
        self, limit: int | None = None, status: Status | None = None
    ) -> tuple[Summary, ...]:
        wanted = _ASSIGNABLE if status is None else {status} & set(_ASSIGNABLE)
        chosen = sorted(
            (
                summarize(t)
                for t, _ in self._all().values()
                if t.status in wanted and not t.escalated and self.lease(t.id) is None
            ),
            key=Summary.sort_key,
        )
        return tuple(chosen if limit is None else chosen[:limit])

    def mark(self) -> MemoryMark:
        """What this transaction has written so far, to go back to (a savepoint)."""
        tasks, attachments = dict(self.tasks), dict(self.attachments)
        return tasks, len(self.events), attachments, self._coordination_mark()

    def restore(self, mark: MemoryMark) -> None:
        tasks, events, attachments, coordination = mark
        self.tasks, self.attachments = tasks, attachments
        del self.events[events:]
        self._coordination_restore(coordination)

    def attach(self, task_id: str, name: str, text: str) -> str:
        ref = f"attachment:{task_id}/{name}"
        self.attachments[ref] = text
        return ref


class MemoryStore:
    """The ``TaskStore`` of one process's memory."""

    url = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tasks: dict[str, tuple[Task, int]] = {}
        self._events: list[Event] = []
        self._attachments: dict[str, str] = {}
        self._revision = 0
        self._in_tx: MemoryTx | None = None
        self._coordination = CoordinationState()
        self._refused: list[Event] = []  # refused events kept aside until the tx ends

    @contextmanager
    def transaction(self) -> Iterator[MemoryTx]:
        """A unit of work; inside an open one (this thread's: the lock is held), a savepoint
        of it (an exception leaving the inner block undoes what it wrote; only the outermost
        block commits)."""
        with self._lock:
            if self._in_tx is not None:
                inner = self._in_tx
                mark = inner.mark()
                try:
                    yield inner
                except BaseException:
                    inner.restore(mark)
                    raise
                return
            tx = self._in_tx = MemoryTx(self)
            try:
                try:
                    yield tx
                finally:
                    self._in_tx = None
                self._commit(tx)
            finally:
                self._write_refused()

    def _commit(self, tx: MemoryTx) -> None:
        # A heartbeat's renewal is no news: only a change of holder or registry counts.
        changed_hands = tx.commit_coordination()
        if tx.tasks or tx.events or tx.attachments or changed_hands:
            self._revision += 1
        self._tasks.update(tx.tasks)
        self._events.extend(tx.events)
        self._attachments.update(tx.attachments)

    def snapshot(self) -> Snapshot:
        with self._lock:
            tasks = tuple(summarize(t) for t, _ in self._tasks.values())
            return Snapshot(tasks=tasks, revision=self._revision)

    def load(self, task_id: str) -> Task:
        with self._lock:
            found = self._tasks.get(task_id)
        if found is None:
            raise not_found(task_id)
        return found[0]

    def attachment(self, ref: str) -> str:
        with self._lock:
            text = self._attachments.get(ref)
        if text is None:
            raise no_attachment(ref)
        return text

    def record_refused(self, event: Event) -> None:
        """At once; or, inside this thread's transaction, right after it ends (committed or
        not), in a transaction of its own."""
        with self._lock:
            if self._in_tx is not None:
                self._refused.append(event)
                return
            with self.transaction() as tx:
                tx.record(event)

    def _write_refused(self) -> None:
        kept, self._refused = self._refused, []
        for event in kept:
            self.record_refused(event)

    def events(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        with self._lock:
            chosen = [e for e in self._events if task_id is None or e.task == task_id]
        return chosen[-limit:] if limit > 0 else []

    def events_page(self, q: EventQuery) -> EventPage:
        """One page of the events ``q`` matches (the list copied under the lock, read outside)."""
        with self._lock:
            events = self._events[:]
        return page_of(events, q)

    def events_after(self, cursor: int | None) -> tuple[list[Event], int]:
        with self._lock:
            end = len(self._events)
            if cursor is None or cursor > end:
                return [], end
            return self._events[cursor:end], end

    def revision(self) -> int:
        with self._lock:
            return self._revision

    def change_token(self) -> object:
        return self.revision()

    def take_warnings(self) -> list[str]:
        return []  # nothing here can fail after a commit

    def extras(self, capability: str) -> object | None:
        return self if capability == "coordination" else None
