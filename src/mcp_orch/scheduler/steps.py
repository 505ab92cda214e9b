"""An agent's steps on a task through the orchestrator: the service's own operations (same
roles, same transition table, same messages), with the lease checked before the change and
settled after it, in the change's one transaction.

Fencing: a write carries the fence of the lease it was made under, or implies it (the agent's
current lease). A write under an old fence, or a holder's step by an agent that no longer
holds the task, raises ``LeaseLost`` and changes nothing: an agent that wakes up after its task
was reassigned cannot complete it. A person (``human``) is not fenced: that is the override.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from ..domain import transitions
from ..domain.agents import Agent, Lease
from ..domain.errors import InvalidInput, LeaseLost, OrchError
from ..domain.ids import normalize_id
from ..domain.model import Status, Task
from ..domain.ops import op
from ..domain.record import Record
from ..domain.roles import is_person
from ..inputs import check_agent, check_text
from ..service import Service
from ..store import Tx
from .assigner import Assigner, Assignment
from .base import coord

R = TypeVar("R")

# Each step and the text arguments it takes (the first, when given, is its note or reason).
STEPS: dict[str, tuple[str, ...]] = {
    "claim": (),
    "submit": ("note",),
    "feedback": ("text",),
    "complete": ("note",),
    "fail": ("reason",),
    "escalate": ("reason",),
    "progress": ("note",),
}
# Steps only the task's holder (in progress) or its assigned reviewer (in review) makes.
HOLDER_STEPS = frozenset({"progress", "submit", "complete", "feedback"})

Check = Callable[[Task, Tx], None]
Settle = Callable[[Task, Task, Tx], Lease | None]


class StepResult(Record):
    """A step's task, whether it changed, the agent's fence on it now (0: no lease) and what
    the step set in motion (the work handed on to the next agent)."""

    task: Task
    changed: bool = True
    fence: int = 0
    assignments: tuple[Assignment, ...] = ()


class GuardedService(Service):
    """The service whose every mutation runs ``check`` before the change and ``settle``
    after it, inside the mutation's transaction (a refusal rolls both back); ``settled`` is
    the task's lease as the last settle left it."""

    def __init__(self, base: Service, check: Check, settle: Settle) -> None:
        super().__init__(base.store, base.config, base.clock)
        self._check, self._settle = check, settle
        self.settled: Lease | None = None

    def _mutate_and(
        self, task_id: str, agent: str, op: str, change: Callable[[Task, Tx], tuple[Task, R]]
    ) -> tuple[Task, R]:
        def guarded(task: Task, tx: Tx) -> tuple[Task, R]:
            self._check(task, tx)
            after, answer = change(task, tx)
            self.settled = self._settle(task, after, tx)
            return after, answer

        return super()._mutate_and(task_id, agent, op, guarded)


class Steps(Assigner):
    """``step``: claim, submit, feedback, complete, fail, escalate, progress."""

    def step(
        self, task_id: str, step: str, *, agent: str, fence: int | None = None, **args: str
    ) -> StepResult:
        """Run ``step`` on the task as ``agent``; ``LeaseLost`` if it no longer holds it.

        One transaction: the sign of life, the registry read, the step with its lease settled
        (a savepoint: a refused step undoes only itself, leaves its one refused event, and
        the agent counts as heard from as before), then what it hands on."""
        who = check_agent(agent)
        texts = _step_args(step, args)
        tid = normalize_id(task_id)
        refused: OrchError | None = None
        given: Assignment | None = None
        self.warm()
        try:
            with self.store.transaction() as tx:
                me = self.touch(who, tx)
                registry = self._registry_for(tx, who, me)
                svc = self._guarded(who, step, fence, registry)
                try:
                    task, changed = self._run_step(svc, step, tid, who, texts)
                except OrchError as exc:
                    refused = exc  # the step's savepoint is undone; the sign of life commits
                else:
                    if step in ("submit", "feedback"):  # the work on to a reviewer, or back
                        every = registry if self.config.enforce_roles else None
                        given = self._assign_after(tx, task, agents=every)
        except BaseException:
            self.untouch(who)  # nothing was committed, the sign of life neither
            raise
        if refused is not None:
            raise refused
        lease = svc.settled  # the step's transaction left it so: no read after it
        fence = lease.fence if lease is not None and lease.agent == who else 0
        handed = self._hand_on(step, given)
        return StepResult(task=task, changed=changed, fence=fence, assignments=handed)

    def _run_step(
        self, svc: GuardedService, step: str, tid: str, who: str, texts: Mapping[str, str]
    ) -> tuple[Task, bool]:
        if step == "claim":
            claimed = svc.claim(tid, agent=who)
            return claimed.task, claimed.changed
        if step == "progress":
            return self._progress(svc, tid, who, texts.get("note", "")), True
        return _run(svc, step, tid, who, texts), True

    def _guarded(
        self, who: str, step: str, fence: int | None, registry: Sequence[Agent]
    ) -> GuardedService:
        def check(task: Task, tx: Tx) -> None:
            if step != "claim":
                check_fence(tx, task, who, fence, step)

        def settle(before: Task, after: Task, tx: Tx) -> Lease | None:
            return self._settle(tx, before, after, renew=step == "progress")

        return GuardedService(self.service(who, registry), check, settle)

    def _registry_for(self, tx: Tx, who: str, me: Agent | None = None) -> tuple[Agent, ...]:
        """What a step's service needs of the registry (read in the step's ``tx``): every
        agent's role when roles are enforced; else (the roles decide nothing) only the agent's
        own entry, its max_tasks (``me``: as the step's sign of life just wrote it)."""
        c = coord(tx)
        if self.config.enforce_roles:
            return c.agents()
        mine = me if me is not None else c.agent(who)
        return (mine,) if mine is not None else ()

    def _settle(self, tx: Tx, before: Task, after: Task, *, renew: bool) -> Lease | None:
        """Make the task's lease agree with where the step left the task: in progress, the
        holder's; in review, a reviewer's if one was given it; anywhere else, none."""
        c = coord(tx)
        lease: Lease | None = c.lease(after.id)
        if after.status is Status.IN_PROGRESS and after.agent:
            if lease is not None and lease.agent == after.agent:
                if renew:
                    expires = self.later(self.ttl(lease.agent))
                    c.renew(after.id, lease.agent, lease.fence, expires)
                    self.note_due(expires)
                return lease
            if lease is not None:
                c.release(after.id, lease.fence)
            granted: Lease = c.grant(
                after.id, after.agent, self.later(self.ttl(after.agent)), self.now()
            )
            self.note_due(granted.expires_at)
            return granted
        if after.status is Status.REVIEW and before.status is Status.REVIEW:
            return lease  # the reviewer keeps the review it was given (an escalation, a check)
        if lease is not None:
            c.release(after.id, lease.fence)
        return None

    def _progress(self, svc: Service, tid: str, who: str, note: str) -> Task:
        """A note on the work in hand: a history line (the progress clock) and a renewed lease."""
        text = check_text(note, "note", required=False, one_line=True)

        def change(task: Task, tx: Tx) -> Task:
            svc._require_holder(task, who, "report progress on")
            return transitions.record(task, "progress", actor=who, now=svc.now(), note=text)

        return svc._mutate(tid, who, "progress", change)

    def _hand_on(self, step: str, given: Assignment | None) -> tuple[Assignment, ...]:
        """What the step set going: the submitted work pushed to a reviewer, or the sent-back
        task to its implementer (``given``, in the step's transaction); what else it freed (an
        agent's room, a dependency done) goes to the assigner (``wake``, else a pass now)."""
        made: list[Assignment] = [given] if given is not None and given.assigned_agent else []
        if step in ("submit", "complete", "fail", "feedback"):
            if self.wake is not None:
                self.wake()
            else:
                made.extend(self.assign_ready())  # in the answer: what the step set going
        return tuple(made)


def check_fence(tx: Tx, task: Task, agent: str, fence: int | None, step: str) -> None:
    """Refuse a write by an agent that lost the task (``LeaseLost``)."""
    if is_person(agent):
        return
    lease: Lease | None = coord(tx).lease(task.id)
    if fence is not None and (lease is None or lease.agent != agent or lease.fence != fence):
        raise _lost(task.id, agent, lease, f"fence {fence}")
    if fence is None and step in HOLDER_STEPS and lease is not None and lease.agent != agent:
        raise _lost(task.id, agent, lease, "")


def _lost(tid: str, agent: str, lease: Lease | None, yours: str) -> LeaseLost:
    mine = f" (you wrote under {yours})" if yours else ""
    now = (
        f"{lease.agent} holds it now under fence {lease.fence}"
        if lease is not None and lease.agent != agent
        else f"your lease on it is {'gone' if lease is None else f'at fence {lease.fence}'}"
    )
    return LeaseLost(
        f"{tid} is no longer yours: {now}{mine}; nothing was changed",
        ("drop it and ask for other work: ", op("next", "", agent)),
    )


def _step_args(step: str, args: Mapping[str, str]) -> dict[str, str]:
    if step not in STEPS:
        raise InvalidInput(f"unknown step {step!r}", "the steps are: " + ", ".join(STEPS))
    extra = sorted(set(args) - set(STEPS[step]))
    if extra:
        takes = ", ".join(STEPS[step]) or "nothing"
        raise InvalidInput(f"{step} does not take {', '.join(extra)}", f"{step} takes {takes}")
    return {k: v for k, v in args.items() if v is not None}


def _run(svc: Service, step: str, tid: str, who: str, texts: Mapping[str, str]) -> Task:
    if step == "submit":
        return svc.submit(tid, agent=who, note=texts.get("note", ""))
    if step == "feedback":
        return svc.request_changes(tid, agent=who, text=texts.get("text", ""))
    if step == "complete":
        return svc.complete(tid, agent=who, note=texts.get("note", ""))
    if step == "fail":
        return svc.fail(tid, agent=who, reason=texts.get("reason", ""))
    return svc.escalate(tid, agent=who, reason=texts.get("reason", ""))
