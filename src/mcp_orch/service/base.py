"""The core of the service: the store, the clock, one mutation as one transaction, reading
the board and deciding what an agent should do next. The operations are in ``handoff`` and
``gates``; ``Service`` (in ``__init__``) puts them together.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from ..domain import roles
from ..domain.errors import OrchError
from ..domain.events import Event, event_for
from ..domain.ids import normalize_id
from ..domain.model import Note, Task, format_time
from ..domain.policy import Decision, decide
from ..domain.record import Record
from ..inputs import check_agent
from ..store import Problem, Snapshot, TaskStore, Tx
from .clock import SYSTEM, Clock

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import at start-up; only the type checker needs it
    from typing import Protocol, TypeVar

    R = TypeVar("R")
else:
    Protocol = object


class NextAction(Record):
    decision: Decision
    task: Task | None
    # What is wrong on the board (a merge left a task twice, a file cannot be parsed): such a
    # task is offered to nobody, so the answer may be "idle" while work is hidden.
    problems: tuple[Problem, ...] = ()


class ServiceBase:
    """What every operation stands on. Cheap to create (one per request is fine) and holding
    no state shared between requests: the store keeps everything."""

    # True for a service every MCP call may use as is (orch serve's: one store, one writer);
    # otherwise each call builds its own from the board's config as it is now.
    shared = False

    def around(self, fresh: ServiceBase) -> ServiceBase:
        """``fresh`` (a service built for one call) as this one would run it: a stand-in that
        sends writes elsewhere (interfaces/remote.py) wraps it; a plain service is ``fresh``."""
        return fresh

    def __init__(
        self, store: TaskStore, config: Config | None = None, clock: Clock = SYSTEM
    ) -> None:
        self.store = store
        self.config = config or Config()
        self.clock = clock  # every time the service reads or waits on comes from here
        self._warnings: list[str] = []

    def now(self) -> str:
        return format_time(self.clock.now())

    def take_warnings(self) -> list[str]:
        """What could not be written after an operation took effect, each returned once.

        An operation's commit point is its task file: once that is written the operation has
        happened and is reported as done, whatever fails after it (the log line, the
        escalation file); those failures are these warnings, never errors, so no caller is
        told to run again (and duplicate) what was already done.
        """
        warnings = [*self._warnings, *self.store.take_warnings()]
        self._warnings = []
        return warnings

    # ------------------------------------------------------------------ helpers

    def _event(
        self,
        agent: str,
        op: str,
        before: Task | None,
        after: Task | None,
        note: str = "",
        outcome: str = "ok",
        task_id: str = "",
    ) -> Event:
        """The event of one step (``refused``: of one that was refused)."""
        return event_for(
            before,
            after,
            actor=agent,
            op=op,
            at=self.now(),
            note=note,
            outcome=outcome,
            task_id=task_id,
        )

    def _mutate(
        self, task_id: str, agent: str, op: str, change: Callable[[Task, Tx], Task]
    ) -> Task:
        """Load, change and save one task in one transaction; log the outcome either way.

        ``change`` returns the task unchanged (the same object) when there is nothing to do.
        """
        after, _ = self._mutate_and(task_id, agent, op, lambda t, tx: (change(t, tx), None))
        return after

    def _mutate_and(
        self, task_id: str, agent: str, op: str, change: Callable[[Task, Tx], tuple[Task, R]]
    ) -> tuple[Task, R]:
        """``_mutate`` for a change that also answers something (why a move was refused,
        whether anything happened): the saved task and that answer.

        The save is compare-and-swap on the revision read, and the event commits with it. A
        refused step (any ``OrchError`` once the transaction has begun) is rolled back and
        leaves exactly one ``refused`` event, recorded after the rollback."""
        tid = normalize_id(task_id)
        begun = False
        try:
            with self.store.transaction() as tx:
                begun = True  # before this, the store could not even begin: nothing to log
                stored = tx.get(tid)
                after, answer = change(stored.task, tx)
                if after is not stored.task:
                    tx.save(after, expected=stored.revision)
                    tx.record(self._event(agent, op, stored.task, after, last_note(after)))
        except OrchError as exc:
            if begun:
                self._refused(agent, op, tid, exc)
            raise
        return after, answer

    def _refused(self, agent: str, op: str, task_id: str, exc: OrchError) -> None:
        event = self._event(agent, op, None, None, exc.message, "refused", task_id)
        self.store.record_refused(event)

    def _allow(
        self, agent: str, op: str, task: Task | None, reads: Reads, *, approves: bool = False
    ) -> None:
        """Refuse an unknown agent, or a step its role does not allow (``domain.roles``)."""
        enforce = self.config.enforce_roles

        def seen() -> set[str]:
            """``agent`` if the board knows it; else (to name the known ones when refusing)
            every holder, implementer and actor of the board."""
            if reads.knows_agent(agent):
                return {agent}
            snap = reads.snapshot()
            names = {t.agent for t in snap.tasks} | {t.implementer for t in snap.tasks}
            events = self.store.events(None, limit=10**9)
            return names | {e.agent for e in events if e.outcome != "refused"}

        roles.check_known(agent, self.config.roles, seen, enforce)
        roles.check_step(op, agent, task, self.config.roles, enforce, approves=approves)

    def ensure_known(self, agent: str) -> None:
        """Refuse an agent in no role that the board has never seen (a token made for a typo
        would be refused on every call it makes)."""
        self._allow(agent, "known", None, SnapshotReads(self.store, self.store.snapshot()))

    # ------------------------------------------------------------------ reading

    def show(self, task_id: str) -> Task:
        return self.store.load(normalize_id(task_id))

    def status(self) -> Snapshot:
        return self.store.snapshot()

    def next_action(self, agent: str | None) -> NextAction:
        who = check_agent(agent)
        snap = self.store.snapshot()
        self._allow(who, "next", None, SnapshotReads(self.store, snap))
        decision = decide(snap.tasks, who, self.config.roles, self.config.max_in_progress)
        task = self.store.load(decision.task_id) if decision.task_id else None
        if task is not None and decision.action == "fix":
            decision = _explain_fix(decision, task)
        return NextAction(decision=decision, task=task, problems=snap.problems)

    def wait_next(
        self,
        agent: str | None,
        *,
        timeout: float | None = None,
        poll: float = 0.05,
        recheck: float = 1.0,
    ) -> NextAction:
        """Block until ``agent`` has something to do (or ``timeout`` seconds pass).

        Waking is driven by the store's change token (its revision; on files also the folder
        mtimes, which every move changes), looked at every ``poll`` seconds; a full re-check
        every ``recheck`` seconds also catches edits made in place. The time is the service's
        clock's.
        """
        clock = self.clock
        deadline = None if timeout is None else clock.monotonic() + timeout
        while True:
            token = self.store.change_token()
            result = self.next_action(agent)
            if result.decision.action not in ("wait", "idle"):
                return result
            checked = clock.monotonic()
            while self.store.change_token() == token and clock.monotonic() - checked < recheck:
                if deadline is not None and clock.monotonic() >= deadline:
                    return result
                clock.sleep(poll)
            if deadline is not None and clock.monotonic() >= deadline:
                return self.next_action(agent)

    def log(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        tid = normalize_id(task_id) if task_id else None
        return self.store.events(tid, limit)


class Reads(Protocol):
    """The reads ``_allow`` needs: a transaction's, or a snapshot's (``SnapshotReads``)."""

    def knows_agent(self, name: str) -> bool: ...

    def snapshot(self) -> Snapshot: ...


class SnapshotReads:
    """``Reads`` outside a transaction, from a snapshot just taken (``next``, a token check)."""

    def __init__(self, store: TaskStore, snap: Snapshot) -> None:
        self._store = store
        self._snap = snap

    def snapshot(self) -> Snapshot:
        return self._snap

    def knows_agent(self, name: str) -> bool:
        from ..store import knows

        if knows(name, self._snap.tasks, ()):
            return True
        return knows(name, (), self._store.events(None, limit=10**9))


def resolve_all(
    notes: tuple[Note, ...], now: str, sources: tuple[str, ...] | None = None
) -> tuple[Note, ...]:
    """Every open note (of one of ``sources``, when given) resolved at ``now``."""
    return tuple(n.resolve(now) if sources is None or n.source in sources else n for n in notes)


def first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 120 else line[:117] + "..."


def last_note(task: Task) -> str:
    return task.history[-1].note if task.history else ""


def _explain_fix(decision: Decision, task: Task) -> Decision:
    """Say "fix failing tests" when the open feedback came from the quality gate."""
    tests = [n for n in task.open_feedback if n.source == "test"]
    if not tests:
        return decision
    latest = tests[-1]
    where = f"; details: {latest.ref}" if latest.ref else ""
    return decision._replace(
        reason=f"fix failing tests in {task.id} ({task.title}): {first_line(latest.body)}"
        f"{where}; claim it, fix them, commit again"
    )
