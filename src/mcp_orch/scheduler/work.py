"""Work coming in (``submit_task``: create or update a task and assign it at once) and work
asked for (``next_for``: an agent's assigned work first, else the best task it may take,
claimed for it there and then).
"""

from __future__ import annotations

from ..domain.errors import InvalidInput, OrchError, TaskNotFound
from ..domain.ids import normalize_id
from ..domain.model import Priority, Status, Task
from ..domain.ops import op
from ..domain.policy import Decision, Summary, decide
from ..domain.roles import is_person
from ..inputs import (
    check_agent,
    check_capabilities,
    check_ids,
    check_items,
    check_path,
    check_title,
)
from ..service import NextAction, Service
from ..store import Tx, joined
from .assigner import Assignment, Pick, lost_race
from .base import coord
from .registry import Registry
from .tasks import TaskInput, priority_of

PULL_TRIES = 3  # a pull that loses its race to another agent looks again, this often


class Work(Registry):
    """``submit_task`` and ``next_for``."""

    def submit_task(
        self, fields: TaskInput, *, actor: str, priority_override: int | None = None
    ) -> Assignment:
        """Create the task (or update it, when ``fields.id`` names one) and assign it now.

        One transaction (one commit): the registry read once, the create and prep (one write;
        a refusal undoes both), and the assignment in a savepoint of it: should that fail, the task
        stands all the same and the answer says it is queued."""
        who = check_agent(actor)
        _precheck(fields)
        prio = (
            priority_of(priority_override, "priority_override")
            if priority_override is not None
            else fields.priority
        )
        self.touch(who)
        self.warm()
        with self.store.transaction() as tx:
            agents = coord(tx).agents()
            svc = self.service(who, agents)
            if fields.id:
                task = self._update(svc, normalize_id(fields.id), fields, who, prio)
            else:
                ready = fields.goal.strip() and fields.status != "pending"
                then = (
                    svc.prep_change(
                        who, acceptance=fields.acceptance or (), files=fields.files or ()
                    )
                    if ready
                    else None
                )
                with joined(self.store):  # a refusal undoes the whole request: no savepoint
                    task = svc.create(
                        check_title(fields.title),
                        priority=prio.value if prio else None,
                        depends=fields.dependencies or (),
                        agent=who,
                        goal=fields.goal,
                        capabilities=fields.capabilities or (),
                        risk=fields.risk,
                        estimate=_estimate(fields),
                        then=then,  # created and prepped in one write
                    )
            given = self._assign_after(tx, task, fields.assigned_agent, agents)
        if given.assigned_agent and fields.estimated_minutes:  # the planner's estimate wins
            done = self.later(fields.estimated_minutes * 60)
            given = given._replace(estimated_completion=done)
        return given

    def _update(
        self, service: Service, tid: str, fields: TaskInput, who: str, prio: Priority | None
    ) -> Task:
        try:
            current = self.store.load(tid)
        except TaskNotFound:
            raise InvalidInput(
                f"task.id {tid} is not on the board",
                "leave id out to create a task (the service draws its ID), or give an existing one",
            ) from None
        if fields.title and check_title(fields.title) != current.title:
            raise InvalidInput(
                f"the title of {tid} cannot be changed here", "leave title out, or give it as it is"
            )
        return service.prep(
            tid,
            agent=who,
            goal=fields.goal or None,
            acceptance=fields.acceptance or (),
            files=fields.files or (),
            depends=fields.dependencies,
            priority=prio.value if prio else None,
            capabilities=fields.capabilities,
            risk=fields.risk or None,
            estimate=_estimate(fields) or None,
        )

    # ------------------------------------------------------------------ pull

    def next_for(self, agent: str) -> NextAction:
        """What ``agent`` should do now: its assigned work first, else it claims (or is given
        for review) the best task it may take; the same shape as ``Service.next_action``."""
        who = check_agent(agent)
        if is_person(who):
            return self.service().next_action(who)  # a person holds no leases
        refused: OrchError | None = None
        self.warm()
        try:
            with self.store.transaction() as tx:  # one commit: the sign of life, the claim
                try:
                    return self._pull(who, tx)
                except OrchError as exc:
                    refused = exc  # what it tried is undone; the sign of life stands
        except BaseException:
            self.untouch(who)  # nothing was committed, the sign of life neither
            raise
        raise refused

    def _pull(self, who: str, tx: Tx) -> NextAction:
        self.touch(who, tx)
        answer = self._decide(who)
        for _ in range(PULL_TRIES):
            decision = answer.decision
            if decision.task_id is None or decision.action not in ("claim", "fix", "review"):
                return answer
            if decision.action == "review":
                if self._give(Pick(decision.task_id, who, "review"), actor=who) is not None:
                    return self._decide(who)
            else:
                try:
                    self.step(decision.task_id, "claim", agent=who)
                    return self._decide(who)
                except OrchError as exc:
                    if not lost_race(exc):
                        raise
            answer = self._decide(who)  # another agent was faster: look again
        return answer

    def _decide(self, who: str) -> NextAction:
        """The decision for ``who`` on the board as leases show it: review work given to it
        first; review work given to another is not offered."""
        with self.store.transaction() as tx:
            c = coord(tx)
            snap, leases, me = tx.snapshot(), c.leases(), c.agent(who)
            merged = self.roles_with(c.agents())
            by_id = snap.by_id()
            given = sorted(
                (by_id[x.task_id] for x in leases if x.agent == who and x.task_id in by_id),
                key=Summary.sort_key,
            )
            reviews = [t for t in given if t.status is Status.REVIEW]
            if reviews:
                decision = _review(reviews[0], who)
            else:
                others = {x.task_id for x in leases if x.agent != who}
                visible = [
                    t for t in snap.tasks if not (t.status is Status.REVIEW and t.id in others)
                ]
                limit = me.max_tasks if me is not None else self.config.max_in_progress
                decision = decide(visible, who, merged, limit)
            task = tx.load(decision.task_id) if decision.task_id else None
        return NextAction(decision=decision, task=task, problems=snap.problems)


def _review(task: Summary, who: str) -> Decision:
    by = f" (implemented by {task.implementer})" if task.implementer else ""
    return Decision(
        action="review",
        task_id=task.id,
        reason=f"{task.id} ({task.title}) was given to you for review{by}",
        ops=(op("complete", task.id, who), op("feedback", task.id, who, "text")),
    )


def _estimate(fields: TaskInput) -> str:
    """The planner's ``metadata.estimated_duration`` (minutes) as the task's estimate."""
    from ..domain.durations import format_duration

    minutes = fields.estimated_minutes
    return format_duration(minutes * 60) if minutes else ""


def _precheck(fields: TaskInput) -> None:
    """Everything the service would refuse after the task is created, refused before it is
    (a create that took effect must never be reported as a failure)."""
    if not fields.id and not fields.title.strip():
        raise InvalidInput("task.title is missing", "a new task needs a title")
    check_ids(fields.dependencies or ())
    check_capabilities(fields.capabilities or ())
    check_items(fields.acceptance or (), "acceptance criterion")
    for path in fields.files or ():
        check_path(path)
    if fields.assigned_agent:
        check_agent(fields.assigned_agent)
