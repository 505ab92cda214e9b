"""The handoff chain: create, prep, claim, submit, request changes, complete, fail, error
context, escalate and resolve. Each is one transaction (``ServiceBase._mutate``): re-read the
task, check the move against the domain's transition table, write it, log it. A claim is
therefore compare-and-swap: it wins only if the task is still free, and a lost race says who
holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..domain import transitions
from ..domain.errors import (
    AgentBusy,
    AlreadyClaimed,
    DependencyError,
    IllegalTransition,
    InvalidInput,
    OrchError,
)
from ..domain.ids import new_id
from ..domain.model import CheckItem, Status, Task
from ..domain.ops import op
from ..domain.policy import check_new_depends
from ..domain.record import Record
from ..inputs import (
    check_agent,
    check_capabilities,
    check_estimate,
    check_ids,
    check_items,
    check_path,
    check_risk,
    check_text,
    check_title,
    parse_priority,
    parse_status,
)
from ..store import Tx
from .base import ServiceBase, first_line, last_note, resolve_all

Change = Callable[[Task, Tx], Task]  # a task as a step leaves it (read and written in ``tx``)


class ClaimResult(Record):
    task: Task
    changed: bool  # False when the holder claimed again (a no-op success)


class HandoffOps(ServiceBase):
    """The operations of the handoff chain (planner, implementer, reviewer, a person)."""

    def create(
        self,
        title: str,
        *,
        priority: str | None = None,
        depends: Sequence[str] = (),
        agent: str | None = None,
        goal: str = "",
        capabilities: Sequence[str] = (),
        risk: str = "",
        estimate: str = "",
        then: Change | None = None,
    ) -> Task:
        """A new task (pending). ``then``: a prep of it (``prep_change``) made in the same
        write, as a planner's create and prep would be (one save, both events; a refused prep
        refuses the create too and leaves its refused event)."""
        who = check_agent(agent, required=False)
        name = check_title(title)
        needs = check_capabilities(capabilities)
        risk, estimate = check_risk(risk), check_estimate(estimate)
        prio = parse_priority(priority)
        deps = check_ids(depends)
        text = check_text(goal, "goal", required=False)
        with self.store.transaction() as tx:
            self._allow(who, "create", None, tx)
            task_id = new_id(self.config.id_prefix)
            while tx.exists(task_id):
                task_id = new_id(self.config.id_prefix)  # 1 in a trillion: draw again
            if deps:
                check_new_depends(task_id, deps, tx.graph())
            now = self.now()
            task = Task(
                id=task_id,
                title=name,
                priority=prio,
                depends=deps,
                capabilities=needs,
                risk=risk,
                estimate=estimate,
                created=now,
                updated=now,
                goal=text,
            )
            task = transitions.apply(task, "create", actor=who, now=now, note=name)
            events = [self._event(who, "create", None, task, name)]
            if then is not None:
                try:
                    ready = then(task, tx)
                except OrchError as exc:
                    self._refused(who, "prep", task_id, exc)
                    raise
                events.append(self._event(who, "prep", task, ready, last_note(ready)))
                task = ready
            tx.save(task, expected=None)
            for event in events:
                tx.record(event)
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
        capabilities: Sequence[str] | None = None,
        risk: str | None = None,
        estimate: str | None = None,
    ) -> Task:
        """Flesh out a task (the planner). Only what is given changes; pending -> ready."""
        who = check_agent(agent, required=False)
        change = self.prep_change(
            who,
            goal=goal,
            acceptance=acceptance,
            ready_def=ready_def,
            done_def=done_def,
            files=files,
            notes=notes,
            depends=depends,
            priority=priority,
            capabilities=capabilities,
            risk=risk,
            estimate=estimate,
        )
        return self._mutate(task_id, who, "prep", change)

    def prep_change(
        self,
        who: str,
        *,
        goal: str | None = None,
        acceptance: Sequence[str] = (),
        ready_def: Sequence[str] = (),
        done_def: Sequence[str] = (),
        files: Sequence[str] = (),
        notes: str | None = None,
        depends: Sequence[str] | None = None,
        priority: str | None = None,
        capabilities: Sequence[str] | None = None,
        risk: str | None = None,
        estimate: str | None = None,
    ) -> Change:
        """``prep``'s change of a task, its input checked now (before any transaction)."""
        new_goal = check_text(goal, "goal", required=False) if goal is not None else None
        new_notes = check_text(notes, "notes", required=False) if notes is not None else None
        file_list = tuple(check_path(f) for f in files)
        new_acceptance = check_items(acceptance, "acceptance criterion")
        new_ready = check_items(ready_def, "definition of ready item")
        new_done = check_items(done_def, "definition of done item")
        prio = parse_priority(priority) if priority else None
        deps = check_ids(depends) if depends else None
        needs = check_capabilities(capabilities) if capabilities is not None else None
        new_risk = check_risk(risk) if risk is not None else None
        new_estimate = check_estimate(estimate) if estimate is not None else None

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "prep", task, tx)
            if deps is not None:
                check_new_depends(task.id, deps, tx.graph())
            updated = task.evolve(
                goal=new_goal if new_goal is not None else task.goal,
                notes=new_notes if new_notes is not None else task.notes,
                acceptance=_merge_checks(task.acceptance, new_acceptance),
                ready_def=_merge_checks(task.ready_def, new_ready),
                done_def=_merge_checks(task.done_def, new_done),
                files=file_list or task.files,
                depends=deps if deps is not None else task.depends,
                priority=prio or task.priority,
                capabilities=needs if needs is not None else task.capabilities,
                risk=new_risk if new_risk is not None else task.risk,
                estimate=new_estimate if new_estimate is not None else task.estimate,
            )
            if not updated.goal:
                raise InvalidInput(
                    f"{task.id} has no goal yet",
                    ("give one (what must be done): ", op("prep", task.id, who, "goal")),
                )
            return transitions.apply(updated, "prep", actor=who, now=self.now())

        return change

    def claim(self, task_id: str, *, agent: str | None) -> ClaimResult:
        """ready -> in-progress for ``agent``, exclusively. Claiming again is a no-op success."""
        who = check_agent(agent)

        def change(task: Task, tx: Tx) -> tuple[Task, bool]:
            """The claimed task, and whether the claim changed it (no: the holder again)."""
            # In progress with no holder (moved there by hand): a claim takes it over.
            op_name = "adopt" if task.status is Status.IN_PROGRESS else "claim"
            self._allow(who, op_name, task, tx)
            if task.status is Status.IN_PROGRESS and task.agent:
                if task.agent == who:
                    return task, False
                raise AlreadyClaimed(
                    f"{task.id} is already claimed by {task.agent}",
                    ("pick other work: ", op("next", "", who)),
                )
            if task.escalated:
                raise IllegalTransition(
                    f"{task.id} is escalated and waits for a person",
                    ("a person resolves it first: ", op("resolve", task.id)),
                )
            transitions.check(task, op_name)
            done = tx.statuses(task.depends)
            waiting = [d for d in task.depends if done.get(d) is not Status.DONE]
            if waiting:
                raise DependencyError(
                    f"{task.id} waits on {', '.join(waiting)} (not done yet)",
                    ("finish those first, or take other work: ", op("next", "", who)),
                )
            held = [t.id for t in tx.held_by(who)]
            if len(held) >= self.config.max_in_progress:
                raise AgentBusy(
                    f"{who} already holds {', '.join(held)} "
                    f"(max_in_progress: {self.config.max_in_progress})",
                    (
                        "submit it first (",
                        op("submit", held[0], who, "note"),
                        ") or raise max_in_progress in .mcp/config.yaml",
                    ),
                )
            return transitions.apply(task, op_name, actor=who, now=self.now()), True

        task, changed = self._mutate_and(task_id, who, "claim", change)
        return ClaimResult(task=task, changed=changed)

    def submit(self, task_id: str, *, agent: str | None, note: str = "") -> Task:
        """in-progress -> review, by the holder. Open review feedback counts as addressed."""
        who = check_agent(agent)
        text = check_text(note, "note", required=False)

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "submit", task, tx)
            self._require_holder(task, who, "submit")
            now = self.now()
            done = resolve_all(task.feedback, now, sources=("review", ""))
            return transitions.apply(
                task.evolve(feedback=done), "submit", actor=who, now=now, note=text
            )

        return self._mutate(task_id, who, "submit", change)

    def request_changes(self, task_id: str, *, agent: str | None, text: str) -> Task:
        """review -> ready with feedback appended; it goes back to the same implementer."""
        who = check_agent(agent)
        body = check_text(text, "feedback text")

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "feedback", task, tx)
            now = self.now()
            return transitions.apply(
                task.add_note("feedback", at=now, author=who, body=body, source="review"),
                "feedback",
                actor=who,
                now=now,
                note=first_line(body),
            )

        return self._mutate(task_id, who, "feedback", change)

    def complete(self, task_id: str, *, agent: str | None, note: str = "") -> Task:
        """review -> done; every open feedback item is resolved."""
        who = check_agent(agent)
        text = check_text(note, "note", required=False)

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "complete", task, tx)
            now = self.now()
            done = resolve_all(task.feedback, now)
            return transitions.apply(
                task.evolve(feedback=done), "complete", actor=who, now=now, note=text
            )

        return self._mutate(task_id, who, "complete", change)

    def fail(self, task_id: str, *, agent: str | None, reason: str) -> Task:
        """-> failed, with the reason kept as error context."""
        who = check_agent(agent)
        body = check_text(reason, "reason")

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "fail", task, tx)
            now = self.now()
            return transitions.apply(
                task.add_note("errors", at=now, author=who, body=body, source="fail", open=False),
                "fail",
                actor=who,
                now=now,
                note=first_line(body),
            )

        return self._mutate(task_id, who, "fail", change)

    def add_error(
        self, task_id: str, *, agent: str | None, text: str, source: str = "manual", ref: str = ""
    ) -> Task:
        """Append error context (a stack trace, a failing command) without moving the task."""
        who = check_agent(agent, required=False)
        body = check_text(text, "error text")

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "error", task, tx)
            now = self.now()
            task = task.add_note(
                "errors", at=now, author=who, body=body, source=source, open=False, ref=ref
            )
            return transitions.record(task, "error", actor=who, now=now, note=first_line(body))

        return self._mutate(task_id, who, "error", change)

    def escalate(self, task_id: str, *, agent: str | None, reason: str) -> Task:
        """Flag the task for a person (AC3.4); it leaves every agent's queue until resolved."""
        who = check_agent(agent, required=False)
        body = check_text(reason, "reason")

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "escalate", task, tx)
            now = self.now()
            task = task.add_note("escalations", at=now, author=who, body=body, source="manual")
            return transitions.record(task, "escalate", actor=who, now=now, note=first_line(body))

        return self._mutate(task_id, who, "escalate", change)

    def resolve(
        self, task_id: str, *, agent: str | None, to: str | None = None, note: str = ""
    ) -> Task:
        """Close open escalations and optionally put the task where a person says."""
        who = check_agent(agent, required=False)
        text = check_text(note, "note", required=False)
        target = parse_status(to) if to else None

        def change(task: Task, tx: Tx) -> Task:
            self._allow(who, "resolve", task, tx, approves=target is Status.DONE)
            if target is Status.IN_PROGRESS and not (task.agent or task.implementer):
                raise InvalidInput(
                    f"{task.id} has no implementer who could hold it in progress",
                    (
                        "move it to ready instead (",
                        op("resolve", task.id, who, to="ready"),
                        "); an implementer then claims it",
                    ),
                )
            if not task.escalated and target is None:
                raise IllegalTransition(
                    f"{task.id} is not escalated",
                    ("to move it anyway, give the status: ", op("resolve", task.id, who, "to")),
                )
            now = self.now()
            task = task.evolve(escalations=resolve_all(task.escalations, now))
            if target is None:
                return transitions.record(task, "resolve", actor=who, now=now, note=text)
            return transitions.apply(task, "move", actor=who, now=now, note=text, target=target)

        return self._mutate(task_id, who, "resolve", change)

    def _require_holder(self, task: Task, who: str, verb: str) -> None:
        if task.status is Status.IN_PROGRESS and not task.agent:
            raise IllegalTransition(
                f"nobody holds {task.id}; only its holder can {verb} it",
                ("claim it first: ", op("claim", task.id, who)),
            )
        if task.status is Status.IN_PROGRESS and task.agent != who:
            raise AlreadyClaimed(
                f"{task.id} is held by {task.agent}; only the holder can {verb} it",
                (f"ask {task.agent} to hand it off, or pick other work: ", op("next", "", who)),
            )
        transitions.check(task, "submit")


def _merge_checks(old: tuple[CheckItem, ...], texts: tuple[str, ...]) -> tuple[CheckItem, ...]:
    """New checklist texts replace the old list; an item kept by text keeps its tick."""
    if not texts:
        return old
    ticked = {i.text for i in old if i.done}
    return tuple(CheckItem(text=t, done=t in ticked) for t in texts)
