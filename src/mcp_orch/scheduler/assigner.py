"""Assignment: push (the orchestrator gives a ready task, or review work, to a free capable
alive agent) and pull (an agent asks what to do and gets its assigned work first, else claims
the best task it may take).

Every assignment re-reads, in the transaction that makes it, what the plan was made from: the
task still ready (or in review), no lease on it, the agent still alive with room. A lost race
(another request, another replica) is no assignment, never a second holder: the store refuses
a second lease on a task (``AlreadyClaimed``) and a save over a newer revision
(``RevisionConflict``), and the assignment's savepoint rolls back. ``assign_task`` plans and
assigns in one transaction (the request's own, when it has one: ``submit_task``, a step's
hand-on); an ``assign_ready`` pass gives each task in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..domain import assign, transitions
from ..domain.agents import Agent, AgentStatus, Lease
from ..domain.errors import (
    AgentBusy,
    AlreadyClaimed,
    DependencyError,
    IllegalTransition,
    OrchError,
    RevisionConflict,
)
from ..domain.events import event_for
from ..domain.model import Status, Task
from ..domain.policy import Summary, summarize
from ..domain.record import Record
from ..store import Stored, Tx
from .base import ORCHESTRATOR, OrchestratorBase, coord

PAGE = 8  # an assigner pass reads this many assignable tasks per free slot at first


class Assignment(Record):
    """Where a task went: its agent (None: queued, and why), when it should be done, and the
    fence the agent's writes carry."""

    task_id: str
    assigned_agent: str | None
    estimated_completion: str | None
    queued_because: str = ""
    fence: int = 0


class Known(Record):
    """What the transaction making an assignment read for its plan, in that transaction:
    the agent's registry entry, its leases, the task, its dependencies' statuses."""

    agent: Agent
    load: int
    stored: Stored
    statuses: Mapping[str, Status]


class Pick(Record):
    """One assignment to make: ``task_id`` to ``agent``; ``action`` is claim (implement it)
    or review (``domain.assign``'s words)."""

    task_id: str
    agent: str
    action: str


class Assigner(OrchestratorBase):
    """Push and pull, on ``domain.assign``'s rules."""

    def assign_ready(self) -> list[Assignment]:
        """One assigner pass: every assignable task to the best free capable alive agent.
        Each assignment is a transaction of its own (one task locked at a time: a pass never
        holds one task while it waits for another, so passes and steps cannot deadlock)."""
        self.warm()
        with self.store.transaction() as tx:
            c = coord(tx)
            counts = c.lease_counts()
            alive = self.liveness().alive
            free = [a for a in c.agents() if alive(a) and counts.get(a.name, 0) < a.max_tasks]
            if not free:
                return []  # nobody to give anything to: no plan, no writes, no tasks read
            load = self._with_unleased(tx, free, counts)
            free = [a for a in free if load.get(a.name, 0) < a.max_tasks]
            limit = max(PAGE, PAGE * sum(a.max_tasks - load.get(a.name, 0) for a in free))
            page = self._page(tx, free, limit, set())  # the first page in the same reading
        made: list[Assignment] = []
        looked: set[str] = set()
        while page is not None:
            tasks, statuses, more = page
            roles = {a.role for a in free}  # work for a role nobody free plays is not planned
            for task in tasks:
                looked.add(task.id)
                if not free:
                    break  # everyone is full: the rest waits, and planning it costs for nothing
                if assign.WORK[task.status][1] not in roles:
                    continue
                choice = _choose(task, free, load, statuses)
                given = (
                    self._give(Pick(task.id, choice.agent, choice.action)) if choice.agent else None
                )
                if given is not None:
                    made.append(given)
                    load[choice.agent] = load.get(choice.agent, 0) + 1
                    free = [a for a in free if load.get(a.name, 0) < a.max_tasks]
                    roles = {a.role for a in free}
            if not free or not more:
                break  # everyone is full, or every assignable task was looked at
            limit *= 4  # agents still free, and more tasks than planned for: look further
            with self.store.transaction() as tx:
                page = self._page(tx, free, limit, looked)
        return made

    def _page(
        self, tx: Tx, free: Sequence[Agent], limit: int, looked: set[str]
    ) -> tuple[list[Summary], dict[str, Status], bool] | None:
        """The next assignable tasks (up to ``limit``) for the roles ``free`` agents play,
        less those ``looked`` at, their dependencies' statuses, and whether there may be
        more; None when none of them plays a role any work needs (3,000 reviews, no
        reviewer: not even read)."""
        roles = {a.role for a in free}
        wanted = [s for s, (_, role) in assign.WORK.items() if role in roles]
        if not wanted:
            return None
        only = wanted[0] if len(wanted) == 1 else None
        found = coord(tx).assignable(limit, only)  # most urgent first, none leased
        fresh = [t for t in found if t.id not in looked]
        return fresh, tx.statuses(d for t in fresh for d in t.depends), len(found) >= limit

    def assign_task(self, task_id: str, *, prefer: str = "") -> Assignment:
        """Assign one task now if anyone may take it (``prefer``: a person's choice of agent,
        if that agent may); else say why it is queued. One transaction: the plan and the
        assignment (a savepoint of it, which re-checks what the plan read)."""
        self.warm()
        try:  # the transaction is the assignment's own: a lost race rolls it back whole
            with self.store.transaction() as tx:
                return self._assign_in(tx, task_id, prefer, savepoint=False)
        except (AlreadyClaimed, RevisionConflict):
            with self.store.transaction() as tx:
                return self._taken(tx, task_id)  # another replica was first: say whom

    def _assign_after(
        self, tx: Tx, task: Task, prefer: str = "", agents: Sequence[Agent] | None = None
    ) -> Assignment:
        """Assign the task just written, in a savepoint: the write took effect, so whatever
        goes wrong here undoes only the assignment, and the task is queued."""
        try:
            try:
                with self.store.transaction():  # the one savepoint, for a lost race as well
                    return self._assign_in(tx, task.id, prefer, agents, task, savepoint=False)
            except (AlreadyClaimed, RevisionConflict):
                return self._taken(tx, task.id)  # another replica was first: say whom
        except Exception as exc:  # the task stands, and the assigner tries again
            why = f"not assigned yet: {exc}"
            return Assignment(task.id, None, None, queued_because=why)

    def _assign_in(
        self,
        tx: Tx,
        task_id: str,
        prefer: str = "",
        agents: Sequence[Agent] | None = None,
        task: Task | None = None,
        *,
        savepoint: bool = True,
    ) -> Assignment:
        """``assign_task`` inside ``tx`` (``agents``: the registry, ``task``: the task as
        ``tx`` wrote it, if the caller has them; ``savepoint``: see ``_give_in``)."""
        c = coord(tx)
        held = c.lease(task_id)
        if held is not None:  # the assigner loop (or a replica) was first: say to whom
            return self._holder(held)
        stored = tx.get(task_id)  # free for a task ``tx`` wrote
        summary = summarize(task if task is not None else stored.task)
        if summary.status not in assign.WORK:
            return Assignment(task_id, None, None, queued_because=_not_waiting(summary))
        statuses = tx.statuses(summary.depends)
        registry = c.agents() if agents is None else agents
        role, alive = assign.WORK[summary.status][1], self.liveness().alive  # judged once
        players = [a for a in registry if a.role == role]
        load = c.lease_counts([a.name for a in players])  # the only loads the rules look at
        chosen = [a for a in registry if a.name == prefer] if prefer else []
        choice = _choose(summary, _as_seen(chosen, alive), load, statuses) if chosen else None
        if choice is None or not choice.agent:
            choice = _choose_among(summary, registry, players, load, statuses, alive)
        if choice.agent:
            entry = next(a for a in registry if a.name == choice.agent)
            known = Known(entry, load.get(entry.name, 0), stored, statuses)
            made = self._give_in(
                tx, Pick(task_id, choice.agent, choice.action), savepoint=savepoint, known=known
            )
            if made is not None:
                return made
            return self._taken(tx, task_id)
        return Assignment(task_id, None, None, queued_because=choice.queued_because)

    # ------------------------------------------------------------------ one assignment

    def _taken(self, tx: Tx, task_id: str) -> Assignment:
        """A race lost to the assigner loop (or another replica): the task usually went to
        someone all the same, and the caller is told whom, not that it is queued."""
        lease = coord(tx).lease(task_id)
        if lease is None:
            return Assignment(task_id, None, None, queued_because="another request took it first")
        return self._holder(lease)

    def _holder(self, lease: Lease) -> Assignment:
        done = self.estimate(lease.agent, lease.acquired_at)
        return Assignment(lease.task_id, lease.agent, done, fence=lease.fence)

    def _give(self, pick: Pick, actor: str = ORCHESTRATOR) -> Assignment | None:
        """Make ``pick`` in one transaction, or nothing if it no longer holds."""
        try:  # the transaction is the assignment's own: a lost race rolls it back whole
            with self.store.transaction() as tx:
                return self._give_in(tx, pick, actor, savepoint=False)
        except (AlreadyClaimed, RevisionConflict):
            return None  # another request or replica got there first: not an error

    def _give_in(
        self,
        tx: Tx,
        pick: Pick,
        actor: str = ORCHESTRATOR,
        *,
        savepoint: bool = True,
        known: Known | None = None,
    ) -> Assignment | None:
        """Make ``pick`` in a savepoint of ``tx``, or nothing if it no longer holds. Without
        ``savepoint`` (the caller has one around it: each costs PostgreSQL two round trips) a
        lost race (``AlreadyClaimed``, ``RevisionConflict``) is the caller's to undo.
        ``known``: what ``tx`` itself read for the plan (not read again)."""
        if savepoint:
            try:
                with self.store.transaction():  # a lost race undoes only this assignment
                    lease = self._take(tx, pick, actor, known)
            except (AlreadyClaimed, RevisionConflict):
                return None  # another request or replica got there first: not an error
        else:
            lease = self._take(tx, pick, actor, known)
        if lease is None:
            return None
        self.note_due(lease.expires_at)
        with self._lock:
            self._last[pick.agent] = lease.acquired_at
        return Assignment(
            pick.task_id,
            pick.agent,
            self.estimate(pick.agent, lease.acquired_at),
            fence=lease.fence,
        )

    def _take(self, tx: Tx, pick: Pick, actor: str, known: Known | None = None) -> Lease | None:
        """The lease of ``pick``, granted if the pick still holds, else None. What the plan
        read is read again here (the task's lease always), unless ``known``: the plan was
        made in ``tx``, where no other writer changed anything since (writers take turns)."""
        c = coord(tx)
        if c.lease(pick.task_id) is not None:
            return None
        if known is None:
            agent = c.agent(pick.agent)
            if agent is None:
                return None
            load = self._load_in(tx, agent.name)
        else:  # the plan saw this agent and its leases in ``tx``
            agent, load = known.agent, known.load
        if actor == ORCHESTRATOR and not self.alive(agent):
            return None  # pushed only to the living; an agent that asks is alive
        if load >= agent.max_tasks:
            return None
        stored = known.stored if known is not None else tx.get(pick.task_id)
        task, now = stored.task, self.now()
        if not _still(task, pick, lambda: known.statuses if known else tx.statuses(task.depends)):
            return None
        after = task
        if pick.action == "claim":
            after = transitions.apply(task, "claim", actor=actor, holder=agent.name, now=now)
            tx.save(after, expected=stored.revision)
        lease: Lease = c.grant(task.id, agent.name, self.later(self.ttl(agent.name)), now)
        work = "review" if pick.action == "review" else "implementation"
        note = f"{work} by {agent.name} (fence {lease.fence})"
        event = event_for(task, after, actor=actor, op="assigned", at=now, note=note)
        tx.record(event._replace(holder=agent.name))
        return lease

    # ------------------------------------------------------------------ reading

    def _with_unleased(
        self, tx: Tx, agents: Sequence[Agent], counts: Mapping[str, int]
    ) -> dict[str, int]:
        """Tasks per agent of ``agents``: its leases (``counts``), and what it holds on the
        board without one (a board imported with tasks in progress)."""
        load = dict(counts)
        for name, extra in coord(tx).unleased_held(a.name for a in agents).items():
            load[name] = load.get(name, 0) + extra
        return load

    def _load_in(self, tx: Tx, name: str) -> int:
        """The agent's leases: the re-check of room must be cheap (it runs in the assigning
        transaction); what it holds without a lease was counted by the plan."""
        return len(coord(tx).leases(name))

    def _recent(self) -> dict[str, str]:
        with self._lock:
            return dict(self._last)

    def estimate(self, agent: str, start: str) -> str | None:
        """When work given to ``agent`` at ``start`` should be done: its average so far."""
        minutes = self.average_minutes(agent)
        if minutes is None:
            return None
        from ..domain.model import parse_time

        began = parse_time(start)
        return self.later(minutes * 60, began) if began is not None else None

    def average_minutes(self, agent: str) -> float | None:
        """Overridden by the registry (performance metrics); None: no history yet."""
        return None

    def warm(self) -> None:
        """Bring what ``estimate`` reads up to date now, before a transaction opens, so no
        transaction (on PostgreSQL: every writer waiting) waits on reading new events."""


def lost_race(exc: OrchError) -> bool:
    """An error of a pull's claim that means the board moved between the look and the claim:
    another agent or replica took the task (it may even be in review by now), or work was
    pushed to this agent meanwhile and it has no room left. Looking again is the answer."""
    return isinstance(
        exc, AlreadyClaimed | RevisionConflict | DependencyError | IllegalTransition | AgentBusy
    )


def _still(task: Task, pick: Pick, statuses: Callable[[], Mapping[str, Status]]) -> bool:
    """The task still offers the work the pick was made for (``statuses``: of its
    dependencies, asked only for a claim)."""
    if task.escalated:
        return False
    if pick.action == "review":
        return task.status is Status.REVIEW and task.implementer != pick.agent
    if task.status is not Status.READY:
        return False
    done = statuses()
    return all(done.get(d) is Status.DONE for d in task.depends)


def _choose_among(
    task: Summary,
    agents: Sequence[Agent],
    players: Sequence[Agent],
    load: Mapping[str, int],
    statuses: Mapping[str, Status],
    alive: Callable[[Agent], bool],
) -> assign.Choice:
    """``_choose`` over the registry ``agents``, looking first only at those that could take
    the task at all (of ``players``, the agents of its role: with room, alive): the same
    choice, without judging a thousand agents; only when none of them may take it is
    everyone judged, for why."""
    ready = [a for a in players if load.get(a.name, 0) < a.max_tasks and alive(a)]
    choice = _choose(task, ready, load, statuses) if ready else None
    if choice is not None and choice.agent:
        return choice
    return _choose(task, _as_seen(agents, alive), load, statuses)


def _as_seen(agents: Sequence[Agent], alive: Callable[[Agent], bool]) -> list[Agent]:
    """The registry as the rules must see it: alive only if heard from since the service
    started and recently enough (``alive``), whatever the stored status says."""
    dead = AgentStatus.OFFLINE.value
    return [a if alive(a) else a._replace(status=dead if a.alive else a.status) for a in agents]


def _not_waiting(task: Summary) -> str:
    if task.status is Status.PENDING:
        return f"{task.id} is a stub: the planner preps it first (then it is assigned)"
    return f"{task.id} is {task.status.value}: there is nothing to assign"


def _choose(
    task: Summary,
    agents: Sequence[Agent],
    load: Mapping[str, int],
    statuses: Mapping[str, Status],
) -> assign.Choice:
    """``domain.assign.choose``, except that a review needs a reviewer, not the capabilities
    the work needed: codex reviews the frontend task cursor implemented."""
    if task.status is Status.REVIEW:
        task = task._replace(capabilities=())
    return assign.choose(task, agents, load, statuses)
