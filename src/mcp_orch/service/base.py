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
from ..store import Problem, Snapshot, TaskStore
from .clock import SYSTEM, Clock

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import at start-up; only the type checker needs it
    from typing import TypeVar

    R = TypeVar("R")


class NextAction(Record):
    decision: Decision
    task: Task | None
    # What is wrong on the board (a merge left a task twice, a file cannot be parsed): such a
    # task is offered to nobody, so the answer may be "idle" while work is hidden.
    problems: tuple[Problem, ...] = ()


class ServiceBase:
    """What every operation stands on. One instance per board; cheap to create."""

    def __init__(
        self,
        store: TaskStore,
        config: Config | None = None,
        clock: Clock = SYSTEM,
        root: str | None = None,
    ) -> None:
        self.store = store
        self.config = config or Config()
        self.clock = clock  # every time the service reads or waits on comes from here
        self.root = root  # the project root (the folder that holds .mcp/), when on files
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

    def _log(
        self,
        agent: str,
        op: str,
        before: Task | None,
        after: Task | None,
        note: str = "",
        outcome: str = "ok",
        task_id: str = "",
    ) -> None:
        self.store.record(
            event_for(
                before,
                after,
                actor=agent,
                op=op,
                at=self.now(),
                note=note,
                outcome=outcome,
                task_id=task_id,
            )
        )

    def _mutate(
        self, task_id: str, agent: str, op: str, change: Callable[[Task, Snapshot], Task]
    ) -> Task:
        """Load, change and save one task under the lock; log the outcome either way.

        ``change`` returns the task unchanged (the same object) when there is nothing to do.
        """
        after, _ = self._mutate_and(task_id, agent, op, lambda t, snap: (change(t, snap), None))
        return after

    def _mutate_and(
        self,
        task_id: str,
        agent: str,
        op: str,
        change: Callable[[Task, Snapshot], tuple[Task, R]],
    ) -> tuple[Task, R]:
        """``_mutate`` for a change that also answers something (why a move was refused,
        whether anything happened): the saved task and that answer."""
        tid = normalize_id(task_id)
        with self.store.transaction():
            try:
                snap = self.store.snapshot()
                before = self.store.load(tid)
                after, answer = change(before, snap)
                if after is not before:
                    self.store.save(after)
            except OrchError as exc:
                self._log(agent, op, None, None, exc.message, outcome="refused", task_id=tid)
                raise
            if after is not before:
                self._log(agent, op, before, after, _last_note(after))
        return after, answer

    def _allow(
        self, agent: str, op: str, task: Task | None, snap: Snapshot, *, approves: bool = False
    ) -> None:
        """Refuse an unknown agent, or a step its role does not allow (``domain.roles``)."""
        enforce = self.config.enforce_roles

        def seen() -> set[str]:
            """Holders and implementers; only when they do not name ``agent``, the whole log."""
            names = {t.agent for t in snap.tasks} | {t.implementer for t in snap.tasks}
            if agent in names:
                return names
            # A refused attempt is logged too, but must not make a typo a known agent.
            events = self.store.events(None, limit=10**9)
            return names | {e.agent for e in events if e.outcome != "refused"}

        roles.check_known(agent, self.config.roles, seen, enforce)
        roles.check_step(op, agent, task, self.config.roles, enforce, approves=approves)

    def ensure_known(self, agent: str) -> None:
        """Refuse an agent in no role that the board has never seen (a token made for a typo
        would be refused on every call it makes)."""
        self._allow(agent, "known", None, self.store.snapshot())

    # ------------------------------------------------------------------ reading

    def show(self, task_id: str) -> Task:
        return self.store.load(normalize_id(task_id))

    def status(self) -> Snapshot:
        return self.store.snapshot()

    def next_action(self, agent: str | None) -> NextAction:
        who = check_agent(agent)
        snap = self.store.snapshot()
        self._allow(who, "next", None, snap)
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

        Waking is driven by the store's change token (folder mtimes: every move changes one),
        looked at every ``poll`` seconds; a full re-check every ``recheck`` seconds also
        catches edits made in place. The time is the service's clock's.
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

    def escalation_path(self, task_id: str) -> str | None:
        """Where a person finds what they need about an escalated task (None off the files)."""
        from ..board import escalations

        return escalations.path(self.root, normalize_id(task_id)) if self.root else None

    def _sync_escalation(self, task: Task) -> None:
        from ..board import escalations  # deferred: it needs the Markdown renderer
        from ..board.fsutil import os_reason

        if not self.root:
            return
        try:
            escalations.sync(self.root, task)
        except (OrchError, OSError) as exc:  # after the commit point: the task says it all
            cause = exc if isinstance(exc, OSError) else exc.__cause__
            why = os_reason(cause)[0] if isinstance(cause, OSError) else str(exc)
            self._warnings.append(
                f"{task.id} is recorded, but {escalations.path('.', task.id)[2:]} could not "
                f"be updated ({why}); 'orch show {task.id}' has everything it would hold"
            )


def resolve_all(
    notes: tuple[Note, ...], now: str, sources: tuple[str, ...] | None = None
) -> tuple[Note, ...]:
    """Every open note (of one of ``sources``, when given) resolved at ``now``."""
    return tuple(n.resolve(now) if sources is None or n.source in sources else n for n in notes)


def first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 120 else line[:117] + "..."


def _last_note(task: Task) -> str:
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
