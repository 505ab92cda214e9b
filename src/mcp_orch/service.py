"""The operations every interface shares: CLI, MCP, git hooks and (later) HTTP call only these.

Each mutation runs inside one store transaction: re-read the task, check the move against the
domain's transition table, write it, log it. A claim is therefore compare-and-swap: it wins
only if the task is still ready, and a lost race says who holds it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from .board.fsutil import atomic_write
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
from .domain.model import CheckItem, Note, Priority, Status, Task, format_time, next_key
from .domain.policy import Decision, blocking_deps, check_new_depends, decide, summarize
from .domain.record import Record
from .store import Snapshot, TaskStore

Clock = Callable[[], datetime]
_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
MAX_TEXT = 100_000
# Control characters (but tab and newline) are dropped from text: an ANSI escape in a title
# would repaint the terminal of everyone who runs 'orch status'.
_CONTROL = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0D, 0x20), 0x7F])


def system_clock() -> datetime:
    return datetime.now(UTC)


def check_agent(agent: str | None, *, required: bool = True) -> str:
    """A valid agent name, or a clear error saying how to give one."""
    name = (agent or "").strip()
    if not name:
        if required:
            raise InvalidInput(
                "who is acting? no agent given",
                "pass --agent NAME (e.g. --agent cursor) or set ORCH_AGENT in the environment",
            )
        return "human"
    if not _AGENT_RE.match(name):
        raise InvalidInput(
            f"{name!r} is not a valid agent name",
            "use letters, digits, '.', '_' or '-' (at most 40), e.g. cursor or claude-code",
        )
    return name


def check_text(text: str | None, what: str, *, required: bool = True) -> str:
    """Free text as the board stores it: UTF-8, no control characters, at most ``MAX_TEXT``."""
    value = (text or "").translate(_CONTROL).strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{what} is not valid UTF-8 text (it holds bytes that could not be decoded)",
            "give the text in UTF-8; check the encoding of the terminal or the calling program",
        ) from None
    if required and not value:
        raise InvalidInput(f"{what} is empty", f"give the {what} as text")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} is too long ({len(value)} characters)", "keep it under 100k")
    from .board.format import escape_text  # deferred: reads need no parser

    return escape_text(value)


def parse_priority(text: str | None) -> Priority:
    try:
        return Priority((text or "P1").strip().upper())
    except ValueError:
        raise InvalidInput(f"unknown priority {text!r}", "use P0, P1 or P2") from None


class NextAction(Record):
    decision: Decision
    task: Task | None


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
        name = " ".join(check_text(title, "title").split())
        if len(name) > 200:
            raise InvalidInput("the title is too long", "keep it under 200 characters")
        prio = parse_priority(priority)
        deps = tuple(dict.fromkeys(normalize_id(d) for d in depends))
        with self.store.transaction():
            snap = self.store.snapshot()
            graph = {t.id: t.depends for t in snap.tasks}
            task_id = new_id(self.config.id_prefix)
            while task_id in snap.paths:
                task_id = new_id(self.config.id_prefix)  # 1 in a billion: draw again
            check_new_depends(task_id, deps, graph)
            now = self.now()
            task = Task(
                id=task_id,
                title=name,
                priority=prio,
                depends=deps,
                created=now,
                updated=now,
                goal=check_text(goal, "goal", required=False),
            )
            task = transitions.apply(task, "create", agent=who, now=now)
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
        file_list = tuple(_check_path(f) for f in files)
        prio = parse_priority(priority) if priority else None
        deps = tuple(dict.fromkeys(normalize_id(d) for d in depends)) if depends else None

        def change(task: Task, snap: Snapshot) -> Task:
            if deps is not None:
                graph = {t.id: t.depends for t in snap.tasks}
                check_new_depends(task.id, deps, graph)
            updated = task.evolve(
                goal=new_goal if new_goal is not None else task.goal,
                notes=new_notes if new_notes is not None else task.notes,
                acceptance=_merge_checks(task.acceptance, acceptance),
                ready_def=_merge_checks(task.ready_def, ready_def),
                done_def=_merge_checks(task.done_def, done_def),
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
            if task.status is Status.IN_PROGRESS:
                if task.agent == who:
                    holder.append(True)
                    return task
                raise AlreadyClaimed(
                    f"{task.id} is already claimed by {task.agent or 'another agent'}",
                    f"pick other work: orch next --agent {who}",
                )
            if task.escalated:
                raise IllegalTransition(
                    f"{task.id} is escalated and waits for a person",
                    f"a person resolves it first: orch resolve {task.id}",
                )
            transitions.check(task, "claim")
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
            return transitions.apply(task, "claim", agent=who, now=self.now())

        task = self._mutate(task_id, who, "claim", change)
        return ClaimResult(task=task, changed=not holder)

    def submit(self, task_id: str, *, agent: str | None, note: str = "") -> Task:
        """in-progress -> review, by the holder. Open review feedback counts as addressed."""
        who = check_agent(agent)
        text = check_text(note, "note", required=False)

        def change(task: Task, snap: Snapshot) -> Task:
            self._require_holder(task, who, "submit")
            now = self.now()
            done = tuple(
                _resolve(n, now) if n.open and n.source in ("review", "") else n
                for n in task.feedback
            )
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
            note = Note(
                key=next_key("FB", task.feedback), at=now, author=who, body=body, source="review"
            )
            return transitions.apply(
                task.evolve(feedback=(*task.feedback, note)),
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
            done = tuple(_resolve(n, now) if n.open else n for n in task.feedback)
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
            note = Note(
                key=next_key("E", task.errors),
                at=now,
                author=who,
                body=body,
                source="fail",
                open=False,
            )
            return transitions.apply(
                task.evolve(errors=(*task.errors, note)),
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
            note = Note(
                key=next_key("E", task.errors),
                at=now,
                author=who,
                body=body,
                source=source,
                open=False,
                ref=ref,
            )
            task = task.evolve(errors=(*task.errors, note))
            return transitions.record(task, "error", agent=who, now=now, note=_first_line(body))

        return self._mutate(task_id, who, "error", change)

    def escalate(self, task_id: str, *, agent: str | None, reason: str) -> Task:
        """Flag the task for a person (AC3.4); it leaves every agent's queue until resolved."""
        who = check_agent(agent, required=False)
        body = check_text(reason, "reason")

        def change(task: Task, snap: Snapshot) -> Task:
            now = self.now()
            note = Note(
                key=next_key("ESC", task.escalations),
                at=now,
                author=who,
                body=body,
                source="manual",
            )
            task = task.evolve(escalations=(*task.escalations, note))
            return transitions.record(task, "escalate", agent=who, now=now, note=_first_line(body))

        task = self._mutate(task_id, who, "escalate", change)
        self._write_escalation(task)
        return task

    def resolve(
        self, task_id: str, *, agent: str | None, to: str | None = None, note: str = ""
    ) -> Task:
        """Close open escalations and optionally put the task where a person says."""
        who = check_agent(agent, required=False)
        text = check_text(note, "note", required=False)
        target = _parse_status(to) if to else None

        def change(task: Task, snap: Snapshot) -> Task:
            if not task.escalated and target is None:
                raise IllegalTransition(
                    f"{task.id} is not escalated", "to move it anyway, give --to STATUS"
                )
            now = self.now()
            task = task.evolve(
                escalations=tuple(_resolve(n, now) if n.open else n for n in task.escalations)
            )
            if target is None:
                return transitions.record(task, "resolve", agent=who, now=now, note=text)
            return transitions.apply(task, "move", agent=who, now=now, note=text, target=target)

        task = self._mutate(task_id, who, "resolve", change)
        self._clear_escalation(task)
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
        return NextAction(decision=decision, task=task)

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
        if task.status is Status.IN_PROGRESS and task.agent and task.agent != who:
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
            error = Note(
                key=next_key("E", task.errors),
                at=now,
                author=who,
                body=body,
                source="test",
                open=False,
                ref=ref,
            )
            older = tuple(
                _resolve(n, now) if n.open and n.source == "test" else n for n in task.feedback
            )
            fb = Note(
                key=next_key("FB", older), at=now, author=who, body=head, source="test", ref=ref
            )
            task = task.evolve(errors=(*task.errors, error), feedback=(*older, fb))
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
        target = _parse_status(move_to) if move_to else None
        warning: list[str] = []

        def change(task: Task, snap: Snapshot) -> Task:
            now = self.now()
            task = task.evolve(
                feedback=tuple(
                    _resolve(n, now) if n.open and n.source == "test" else n for n in task.feedback
                ),
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
                        task = task.evolve(
                            feedback=tuple(_resolve(n, now) if n.open else n for n in task.feedback)
                        )
                    return transitions.apply(task, op, agent=who, now=now, note=note)
            return transitions.record(task, "commit", agent=who, now=now, note=note)

        task = self._mutate(task_id, who, "commit", change)
        return task, "; ".join(warning)

    def escalation_path(self, task_id: str) -> str | None:
        """Where a person finds what they need about an escalated task (None off the files)."""
        if not self.root:
            return None
        return os.path.join(self.root, ".mcp", "escalations", f"{normalize_id(task_id)}.md")

    def _write_escalation(self, task: Task) -> None:
        """Put what a person needs (the task, last error, open feedback, history) in one file."""
        path = self.escalation_path(task.id)
        if path is None:
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, _escalation_text(task))

    def _clear_escalation(self, task: Task) -> None:
        path = self.escalation_path(task.id)
        if path is not None and not task.escalated:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    # ================================================================== end of git hooks section


# ---------------------------------------------------------------------- small pure helpers


def _merge_checks(old: tuple[CheckItem, ...], new: Iterable[str]) -> tuple[CheckItem, ...]:
    """New checklist texts replace the old list; an item kept by text keeps its tick."""
    texts = [" ".join(check_text(t, "checklist item", required=False).split()) for t in new]
    texts = [t for t in texts if t]
    if not texts:
        return old
    ticked = {i.text for i in old if i.done}
    return tuple(CheckItem(text=t, done=t in ticked) for t in texts)


def _resolve(note: Note, now: str) -> Note:
    return Note(
        key=note.key,
        at=note.at,
        author=note.author,
        body=note.body,
        source=note.source,
        open=False,
        resolved_at=now,
        ref=note.ref,
    )


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 120 else line[:117] + "..."


def _last_note(task: Task) -> str:
    return task.history[-1].note if task.history else ""


def _parse_status(text: str) -> Status:
    try:
        return Status(text.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown status {text!r}", "use one of: " + ", ".join(s.value for s in Status)
        ) from None


def _check_path(path: str) -> str:
    """A repo-relative path for "Files Affected": no absolute paths, no escaping with '..'."""
    clean = check_text(path, "path", required=False).replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if not clean or clean.startswith("/") or ".." in parts or "\n" in clean:
        raise InvalidInput(
            f"{path!r} is not a path inside the repository",
            "give paths relative to the repo root, e.g. src/app/login.py",
        )
    return "/".join(parts)


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


def _escalation_text(task: Task) -> str:
    from .board.format import render

    reasons = "\n".join(f"- {n.at} {n.author}: {n.body}" for n in task.open_escalations)
    last_error = task.errors[-1] if task.errors else None
    error = (
        f"{last_error.key} {last_error.at} ({last_error.source or 'manual'})"
        + (f"\nDetails: {last_error.ref}" if last_error.ref else "")
        + f"\n\n{last_error.body}"
        if last_error
        else "(none recorded)"
    )
    feedback = "\n".join(
        f"- {n.key} ({n.source or 'review'}): {n.body}" for n in task.open_feedback
    )
    history = "\n".join(
        f"- {h.at} {h.agent} {h.op} {h.from_status or '-'} -> {h.to_status}"
        + (f": {h.note}" if h.note else "")
        for h in task.history
    )
    return (
        f"# Escalated: {task.id} - {task.title}\n\n"
        f"Status: {task.status.value}; implementer: {task.implementer or 'none'}\n"
        f"Decide, then return it to the flow: orch resolve {task.id} [--to STATUS] --note ...\n\n"
        f"## Why\n{reasons}\n\n## Last error context\n{error}\n\n"
        f"## Open feedback\n{feedback or '(none)'}\n\n## History\n{history}\n\n"
        f"## The task file as it is\n\n{render(task)}"
    )


# ====================================================================== end of git hooks helpers
