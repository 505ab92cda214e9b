"""The operations every interface shares: CLI, MCP, git hooks and (later) HTTP call only these.

Each mutation runs inside one store transaction: re-read the task, check the move against the
domain's transition table, write it, log it. A claim is therefore compare-and-swap: it wins
only if the task is still ready, and a lost race says who holds it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .config import Config
from .domain import transitions
from .domain.errors import (
    AgentBusy,
    AlreadyClaimed,
    DependencyError,
    IllegalTransition,
    InvalidInput,
    OrchError,
)
from .domain.events import Event
from .domain.ids import new_id, normalize_id
from .domain.model import CheckItem, Note, Status, Task, format_time
from .domain.policy import Decision, blocking_deps, check_new_depends, decide, summarize
from .domain.record import Record
from .inputs import (
    check_agent,
    check_ids,
    check_items,
    check_path,
    check_text,
    check_title,
    parse_priority,
    parse_status,
)
from .store import Problem, Snapshot, TaskStore

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class NextAction(Record):
    decision: Decision
    task: Task | None
    # What is wrong on the board (a merge left a task twice, a file cannot be parsed): such a
    # task is offered to nobody, so the answer may be "idle" while work is hidden.
    problems: tuple[Problem, ...] = ()


class ClaimResult(Record):
    task: Task
    changed: bool  # False when the holder claimed again (a no-op success)


class Service:
    """The board's operations. One instance per board; cheap to create."""

    def __init__(
        self,
        store: TaskStore,
        config: Config | None = None,
        clock: Clock = system_clock,
        root: str | None = None,
    ) -> None:
        self.store = store
        self.config = config or Config()
        self.clock = clock
        self.root = root  # the project root (the folder that holds .mcp/), when on files

    def now(self) -> str:
        return format_time(self.clock())

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
            Event(
                at=self.now(),
                agent=agent,
                op=op,
                task=(after or before).id if (after or before) else task_id,  # type: ignore[union-attr]
                from_status=before.status.value if before else "",
                to_status=after.status.value if after else "",
                outcome=outcome,
                note=" ".join(note.split())[:500],
            )
        )

    def _mutate(
        self, task_id: str, agent: str, op: str, change: Callable[[Task, Snapshot], Task]
    ) -> Task:
        """Load, change and save one task under the lock; log the outcome either way."""
        tid = normalize_id(task_id)
        with self.store.transaction():
            try:
                snap = self.store.snapshot()
                before = self.store.load(tid)
                after = change(before, snap)
                if after is not before:
                    self.store.save(after)
            except OrchError as exc:
                self._log(agent, op, None, None, exc.message, outcome="refused", task_id=tid)
                raise
            if after is not before:
                self._log(agent, op, before, after, _last_note(after))
        return after

    # ------------------------------------------------------------------ operations

    def create(
        self,
        title: str,
        *,
        priority: str | None = None,
        depends: Sequence[str] = (),
        agent: str | None = None,
        goal: str = "",
    ) -> Task:
        who = check_agent(agent, required=False)
        name = check_title(title)
        prio = parse_priority(priority)
        deps = check_ids(depends)
        text = check_text(goal, "goal", required=False)
        with self.store.transaction():
            snap = self.store.snapshot()
            graph = {t.id: t.depends for t in snap.tasks}
            task_id = new_id(self.config.id_prefix)
            while task_id in snap.paths:
                task_id = new_id(self.config.id_prefix)  # 1 in a trillion: draw again
            check_new_depends(task_id, deps, graph)
            now = self.now()
            task = Task(
                id=task_id,
                title=name,
                priority=prio,
                depends=deps,
                created=now,
                updated=now,
                goal=text,
            )
            task = transitions.apply(task, "create", agent=who, now=now, note=name)
            self.store.save(task)
            self._log(who, "create", None, task, name)
        return task

    def prep(
        self,
        task_id: str,
        *,
        agent: str | None = None,
        goal: str | None = None,
        acceptance: Sequence[str] = (),
        ready_def: Sequence[str] = (),
        done_def: Sequence[str] = (),
        files: Sequence[str] = (),
        notes: str | None = None,
        depends: Sequence[str] | None = None,
        priority: str | None = None,
    ) -> Task:
        """Flesh out a task (the planner). Only what is given changes; pending -> ready."""
        who = check_agent(agent, required=False)
        new_goal = check_text(goal, "goal", required=False) if goal is not None else None
        new_notes = check_text(notes, "notes", required=False) if notes is not None else None
        file_list = tuple(check_path(f) for f in files)
        checks = {
            "acceptance": check_items(acceptance, "acceptance criterion"),
            "ready_def": check_items(ready_def, "definition of ready item"),
            "done_def": check_items(done_def, "definition of done item"),
        }
        prio = parse_priority(priority) if priority else None
        deps = check_ids(depends) if depends else None

        def change(task: Task, snap: Snapshot) -> Task:
            if deps is not None:
                graph = {t.id: t.depends for t in snap.tasks}
                check_new_depends(task.id, deps, graph)
            updated = task.evolve(
                goal=new_goal if new_goal is not None else task.goal,
                notes=new_notes if new_notes is not None else task.notes,
                **{k: _merge_checks(getattr(task, k), v) for k, v in checks.items()},
                files=file_list or task.files,
                depends=deps if deps is not None else task.depends,
                priority=prio or task.priority,
            )
            if not updated.goal:
                raise InvalidInput(
                    f"{task.id} has no goal yet", "give one with --goal TEXT (what must be done)"
                )
            return transitions.apply(updated, "prep", agent=who, now=self.now())

        return self._mutate(task_id, who, "prep", change)

    def claim(self, task_id: str, *, agent: str | None) -> ClaimResult:
        """ready -> in-progress for ``agent``, exclusively. Claiming again is a no-op success."""
        who = check_agent(agent)
        holder: list[bool] = []

        def change(task: Task, snap: Snapshot) -> Task:
            if task.status is Status.IN_PROGRESS and task.agent:
                if task.agent == who:
                    holder.append(True)
                    return task
                raise AlreadyClaimed(
                    f"{task.id} is already claimed by {task.agent}",
                    f"pick other work: orch next --agent {who}",
                )
            if task.escalated:
                raise IllegalTransition(
                    f"{task.id} is escalated and waits for a person",
                    f"a person resolves it first: orch resolve {task.id}",
                )
            # In progress with no holder (moved there by hand): a claim takes it over.
            op = "adopt" if task.status is Status.IN_PROGRESS else "claim"
            transitions.check(task, op)
            by_id = snap.by_id()
            waiting = blocking_deps(by_id.get(task.id) or summarize(task), by_id)
            if waiting:
                raise DependencyError(
                    f"{task.id} waits on {', '.join(waiting)} (not done yet)",
                    f"finish those first, or take other work: orch next --agent {who}",
                )
            held = [t.id for t in snap.tasks if t.status is Status.IN_PROGRESS and t.agent == who]
            if len(held) >= self.config.max_in_progress:
                raise AgentBusy(
                    f"{who} already holds {', '.join(held)} "
                    f"(max_in_progress: {self.config.max_in_progress})",
                    f"submit it first (orch review {held[0]} --agent {who}) "
                    "or raise max_in_progress in .mcp/config.yaml",
                )
            return transitions.apply(task, op, agent=who, now=self.now())

        task = self._mutate(task_id, who, "claim", change)
        return ClaimResult(task=task, changed=not holder)

    def submit(self, task_id: str, *, agent: str | None, note: str = "") -> Task:
        """in-progress -> review, by the holder. Open review feedback counts as addressed."""
        who = check_agent(agent)
        text = check_text(note, "note", required=False)

        def change(task: Task, snap: Snapshot) -> Task:
            self._require_holder(task, who, "submit")
            now = self.now()
            done = _resolve_all(task.feedback, now, sources=("review", ""))
            return transitions.apply(
                task.evolve(feedback=done), "review", agent=who, now=now, note=text
            )

        return self._mutate(task_id, who, "review", change)

    def request_changes(self, task_id: str, *, agent: str | None, text: str) -> Task:
        """review -> ready with feedback appended; it goes back to the same implementer."""
        who = check_agent(agent)
        body = check_text(text, "feedback text")

        def change(task: Task, snap: Snapshot) -> Task:
            transitions.check(task, "feedback")
            now = self.now()
            return transitions.apply(
                task.add_note("feedback", at=now, author=who, body=body, source="review"),
                "feedback",
                agent=who,
                now=now,
                note=_first_line(body),
            )

        return self._mutate(task_id, who, "feedback", change)

    def complete(self, task_id: str, *, agent: str | None, note: str = "") -> Task:
        """review -> done; every open feedback item is resolved."""
        who = check_agent(agent)
        text = check_text(note, "note", required=False)

        def change(task: Task, snap: Snapshot) -> Task:
            transitions.check(task, "complete")
            now = self.now()
            done = _resolve_all(task.feedback, now)
            return transitions.apply(
                task.evolve(feedback=done), "complete", agent=who, now=now, note=text
            )

        return self._mutate(task_id, who, "complete", change)

    def fail(self, task_id: str, *, agent: str | None, reason: str) -> Task:
        """-> failed, with the reason kept as error context."""
        who = check_agent(agent)
        body = check_text(reason, "reason")

        def change(task: Task, snap: Snapshot) -> Task:
            transitions.check(task, "fail")
            now = self.now()
            return transitions.apply(
                task.add_note("errors", at=now, author=who, body=body, source="fail", open=False),
                "fail",
                agent=who,
                now=now,
                note=_first_line(body),
            )

        return self._mutate(task_id, who, "fail", change)

    def add_error(
        self, task_id: str, *, agent: str | None, text: str, source: str = "manual", ref: str = ""
    ) -> Task:
        """Append error context (a stack trace, a failing command) without moving the task."""
        who = check_agent(agent, required=False)
        body = check_text(text, "error text")

        def change(task: Task, snap: Snapshot) -> Task:
            now = self.now()
            task = task.add_note(
                "errors", at=now, author=who, body=body, source=source, open=False, ref=ref
            )
            return transitions.record(task, "error", agent=who, now=now, note=_first_line(body))

        return self._mutate(task_id, who, "error", change)

    def escalate(self, task_id: str, *, agent: str | None, reason: str) -> Task:
        """Flag the task for a person (AC3.4); it leaves every agent's queue until resolved."""
        who = check_agent(agent, required=False)
        body = check_text(reason, "reason")

        def change(task: Task, snap: Snapshot) -> Task:
            now = self.now()
            task = task.add_note("escalations", at=now, author=who, body=body, source="manual")
            return transitions.record(task, "escalate", agent=who, now=now, note=_first_line(body))

        task = self._mutate(task_id, who, "escalate", change)
        self._sync_escalation(task)
        return task

    def resolve(
        self, task_id: str, *, agent: str | None, to: str | None = None, note: str = ""
    ) -> Task:
        """Close open escalations and optionally put the task where a person says."""
        who = check_agent(agent, required=False)
        text = check_text(note, "note", required=False)
        target = parse_status(to) if to else None

        def change(task: Task, snap: Snapshot) -> Task:
            if target is Status.IN_PROGRESS and not (task.agent or task.implementer):
                raise InvalidInput(
                    f"{task.id} has no implementer who could hold it in progress",
                    f"give --to ready instead; an implementer then claims it: orch claim {task.id}",
                )
            if not task.escalated and target is None:
                raise IllegalTransition(
                    f"{task.id} is not escalated", "to move it anyway, give --to STATUS"
                )
            now = self.now()
            task = task.evolve(escalations=_resolve_all(task.escalations, now))
            if target is None:
                return transitions.record(task, "resolve", agent=who, now=now, note=text)
            return transitions.apply(task, "move", agent=who, now=now, note=text, target=target)

        task = self._mutate(task_id, who, "resolve", change)
        self._sync_escalation(task)
        return task

    # ------------------------------------------------------------------ reading

    def show(self, task_id: str) -> Task:
        return self.store.load(normalize_id(task_id))

    def status(self) -> Snapshot:
        return self.store.snapshot()

    def next_action(self, agent: str | None) -> NextAction:
        who = check_agent(agent)
        snap = self.store.snapshot()
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

        Waking is driven by the store's change token (folder mtimes: every move changes one);
        a full re-check every ``recheck`` seconds also catches edits made in place.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            token = self.store.change_token()
            result = self.next_action(agent)
            if result.decision.action not in ("wait", "idle"):
                return result
            checked = time.monotonic()
            while self.store.change_token() == token and time.monotonic() - checked < recheck:
                if deadline is not None and time.monotonic() >= deadline:
                    return result
                time.sleep(poll)
            if deadline is not None and time.monotonic() >= deadline:
                return self.next_action(agent)

    def log(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        tid = normalize_id(task_id) if task_id else None
        return self.store.events(tid, limit)

    def _require_holder(self, task: Task, who: str, verb: str) -> None:
        if task.status is Status.IN_PROGRESS and not task.agent:
            raise IllegalTransition(
                f"nobody holds {task.id}; only its holder can {verb} it",
                f"claim it first: orch claim {task.id} --agent {who}",
            )
        if task.status is Status.IN_PROGRESS and task.agent != who:
            raise AlreadyClaimed(
                f"{task.id} is held by {task.agent}; only the holder can {verb} it",
                f"ask {task.agent} to hand it off, or pick other work: orch next --agent {who}",
            )
        transitions.check(task, "review")

    # ================================================================== git hooks (issue 4)
    # The operations of the git hooks (mcp_orch.hooks.runner) and of escalation's "one place".
    # Kept together here so that every interface shares them; helpers are at the module's end.

    def test_failed(
        self,
        task_id: str,
        *,
        agent: str | None,
        summary: str,
        detail: str = "",
        ref: str = "",
    ) -> Task:
        """The quality gate failed on a commit of this task (AC3.1).

        Appends Error Context (``detail``) and open test feedback (``summary``), both pointing at
        the feedback file ``ref``; older open test feedback is superseded (resolved), so only
        the newest failure is open. The task goes back to ready for the same implementer; a
        task that cannot move (pending, done, failed) keeps its status and records the failure.
        """
        who = check_agent(agent, required=False)
        head = check_text(summary, "summary")
        body = check_text(f"{head}\n\n{detail}" if detail else head, "error text")

        def change(task: Task, snap: Snapshot) -> Task:
            now = self.now()
            task = task.evolve(feedback=_resolve_all(task.feedback, now, sources=("test",)))
            task = task.add_note(
                "errors", at=now, author=who, body=body, source="test", open=False, ref=ref
            ).add_note("feedback", at=now, author=who, body=head, source="test", ref=ref)
            if task.status in transitions.TRANSITIONS["test-failed"].sources:
                return transitions.apply(task, "test-failed", agent=who, now=now, note=head)
            return transitions.record(task, "test-failed", agent=who, now=now, note=head)

        return self._mutate(task_id, who, "test-failed", change)

    def test_attempt(self, task_id: str) -> int:
        """The number the next failed gate run of this task gets (1 for the first)."""
        task = self.show(task_id)
        return 1 + sum(1 for n in task.errors if n.source == "test")

    def tests_passed(
        self,
        task_id: str,
        *,
        agent: str | None,
        branch: str = "",
        commit: str = "",
        pr: str = "",
        move_to: str | None = None,
    ) -> tuple[Task, str]:
        """A commit of this task passed the gate and exists: record it, close test feedback.

        Open test feedback is resolved (a stale failure must never keep an agent looping), the
        Git Context is updated, and ``move_to`` (a ``Task-Status`` trailer: review, done or
        failed) moves the task when that move is legal. Returns the task and a warning when
        the move was refused; the commit has happened, so refusing must not fail the rest.
        """
        who = check_agent(agent, required=False)
        target = parse_status(move_to) if move_to else None
        warning: list[str] = []

        def change(task: Task, snap: Snapshot) -> Task:
            now = self.now()
            task = task.evolve(
                feedback=_resolve_all(task.feedback, now, sources=("test",)),
                git=task.git._replace(
                    branch=branch or task.git.branch,
                    commit=commit or task.git.commit,
                    pr=pr or task.git.pr,
                ),
            )
            note = f"commit {commit[:12]}" + (f" on {branch}" if branch else "")
            op = _COMMIT_MOVES.get(target) if target is not None else None
            if target is not None and op is None:
                warning.append(f"Task-Status: {target.value} is not a move a commit can make")
            elif op is not None:
                try:
                    transitions.check(task, op)
                except IllegalTransition as exc:
                    warning.append(exc.message)
                else:
                    if op == "review":
                        task = task.evolve(feedback=_resolve_all(task.feedback, now))
                    return transitions.apply(task, op, agent=who, now=now, note=note)
            return transitions.record(task, "commit", agent=who, now=now, note=note)

        task = self._mutate(task_id, who, "commit", change)
        return task, "; ".join(warning)

    def escalation_path(self, task_id: str) -> str | None:
        """Where a person finds what they need about an escalated task (None off the files)."""
        from .board import escalations

        return escalations.path(self.root, normalize_id(task_id)) if self.root else None

    def _sync_escalation(self, task: Task) -> None:
        from .board import escalations  # deferred: it needs the Markdown renderer

        if self.root:
            escalations.sync(self.root, task)

    # ================================================================== end of git hooks section


# ---------------------------------------------------------------------- small pure helpers


def _merge_checks(old: tuple[CheckItem, ...], texts: tuple[str, ...]) -> tuple[CheckItem, ...]:
    """New checklist texts replace the old list; an item kept by text keeps its tick."""
    if not texts:
        return old
    ticked = {i.text for i in old if i.done}
    return tuple(CheckItem(text=t, done=t in ticked) for t in texts)


def _resolve_all(
    notes: tuple[Note, ...], now: str, sources: tuple[str, ...] | None = None
) -> tuple[Note, ...]:
    """Every open note (of one of ``sources``, when given) resolved at ``now``."""
    return tuple(n.resolve(now) if sources is None or n.source in sources else n for n in notes)


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 120 else line[:117] + "..."


def _last_note(task: Task) -> str:
    return task.history[-1].note if task.history else ""


# ====================================================================== git hooks helpers (issue 4)

# The moves a commit's ``Task-Status`` trailer may ask for, as operations of the table.
_COMMIT_MOVES: dict[Status, str] = {
    Status.REVIEW: "review",
    Status.DONE: "complete",
}


def _explain_fix(decision: Decision, task: Task) -> Decision:
    """Say "fix failing tests" when the open feedback came from the quality gate."""
    tests = [n for n in task.open_feedback if n.source == "test"]
    if not tests:
        return decision
    latest = tests[-1]
    where = f"; details: {latest.ref}" if latest.ref else ""
    return decision._replace(
        reason=f"fix failing tests in {task.id} ({task.title}): {_first_line(latest.body)}"
        f"{where}; claim it, fix them, commit again"
    )


# ====================================================================== end of git hooks helpers
