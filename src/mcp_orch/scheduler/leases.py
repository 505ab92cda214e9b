"""Heartbeats, the sweeper and the sweeper's alarm clock.

A heartbeat renews every lease its agent holds to ``lease_ttl`` from now and says which of the
tasks it named are no longer its own (``lost``: it must drop them) and which it holds without
having named them (``assigned``: work pushed to it since). The sweeper puts the task of every
expired lease back in the queue (out of progress, the fence moves on with the next grant, an
event ``reassigned`` says why), marks its agent ``error`` (``offline`` after
``agent_timeout``), and assigns at once, so with the defaults (heartbeat every 2 s, lease 6 s,
a sweep due at the expiry) a dead agent's task is with another agent ~6 s after its last
heartbeat. ``next_wakeup`` is when the next sweep is due, from what this process knows (it
learns the leases of other replicas at each sweep), capped so an idle service reads the
database no more than every ``IDLE_POLL`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..domain import transitions
from ..domain.agents import Agent, AgentStatus, Lease
from ..domain.errors import InvalidInput, RevisionConflict
from ..domain.events import Event, event_for
from ..domain.ids import normalize_id
from ..domain.model import Status, parse_time
from ..domain.record import Record
from ..domain.roles import is_person
from ..inputs import check_agent
from .assigner import Assignment
from .base import ORCHESTRATOR, Liveness, coord
from .steps import Steps

IDLE_POLL = 5.0  # the longest the sweeper sleeps: an idle service's only database read
BUSY_POLL = 1.0  # with leases about, another replica's grant is seen at least this soon


class HeartbeatResult(Record):
    """What a heartbeat renewed, what its agent lost and what it was given meanwhile."""

    agent: str
    status: str
    expires_at: str  # when the renewed leases run out without another heartbeat
    renewed: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()  # named by the agent, but no longer its own: drop them
    assigned: tuple[str, ...] = ()  # its own, but not named: work given to it since


class Sweeper(Steps):
    """``heartbeat``, ``sweep``, ``next_wakeup``."""

    def heartbeat(
        self, agent: str, tasks: Sequence[tuple[str, int]] | None = None
    ) -> HeartbeatResult:
        """``agent`` is alive; renew its leases (``tasks``: the (id, fence) it works on)."""
        who = check_agent(agent)
        if is_person(who):
            raise InvalidInput(
                f"{who} is a person, not an agent: a person sends no heartbeats",
                "give the agent's name",
            )
        seen = self.seen(who, heartbeat=True)
        named = [(normalize_id(t), int(f)) for t, f in tasks or ()]
        mine = {(x.task_id, x.fence) for x in seen.leases}
        if seen.came_alive:
            self.kick()  # an agent come alive may take what waits
        return HeartbeatResult(
            agent=who,
            status=seen.agent.status,
            expires_at=seen.expires_at,
            renewed=tuple(x.task_id for x in seen.leases),
            lost=tuple(t for t, f in named if (t, f) not in mine) if tasks is not None else (),
            assigned=tuple(x.task_id for x in _unnamed(seen.leases, named))
            if tasks is not None
            else (),
        )

    # ------------------------------------------------------------------ the sweeper

    def sweep(self) -> list[Assignment]:
        """Expired leases back to the queue, agents' statuses aged, the freed work reassigned."""
        now = self.now()
        with self.store.transaction() as tx:
            c = coord(tx)
            leases: tuple[Lease, ...] = c.leases()
            expired = c.expired(now)  # by the store's clock (the database's, on PostgreSQL)
            agents: tuple[Agent, ...] = c.agents()
            statuses = tx.statuses([x.task_id for x in leases])
        # A step taken outside the orchestrator (a git hook's failed tests, a person's
        # resolve on the files) can leave a lease on a task nobody works on: let it go.
        held = (Status.IN_PROGRESS, Status.REVIEW)
        freed = [
            x for x in leases if statuses.get(x.task_id) not in held and self._let_go(x, statuses)
        ]
        by_name = {a.name: a for a in agents}  # as this sweep read them, and then changed them
        requeued = [x for x in expired if self._requeue(x, by_name, statuses.get(x.task_id))]
        self._age(by_name)
        gone = {x.task_id for x in expired}
        live = [x.expires_at for x in leases if x.task_id not in gone]
        ages = self.next_aging(list(by_name.values()))
        with self._lock:
            self._due = min(live) if live else None
            self._any_leases = bool(live)
            self._ages = ages
        return self.assign_ready() if requeued or freed else []

    def requeue(self, lease: Lease, why: str) -> bool:
        """Take ``lease``'s task back from its agent (in progress: back to ready, for anyone)."""
        return self.take_back(lease.task_id, lease.agent, lease.fence, why)

    def take_back(
        self, task_id: str, agent: str, fence: int | None, why: str, *, expired: bool = False
    ) -> bool:
        """Put the task ``agent`` holds (under ``fence``; None: without a lease) back in the
        queue; False if it is no longer that agent's (or, ``expired``: if its lease was
        renewed since the sweeper looked)."""
        now = self.now()
        try:
            with self.store.transaction() as tx:
                c = coord(tx)
                current: Lease | None = c.lease(task_id)
                if (current.fence if current is not None else None) != fence:
                    return False  # released, or re-granted, meanwhile
                if expired and all(x.task_id != task_id for x in c.expired(now)):
                    return False  # a heartbeat came just in time
                stored = tx.get(task_id)
                task = after = stored.task
                if task.status is Status.IN_PROGRESS and task.agent == agent:
                    moved = transitions.apply(
                        task, "move", actor=ORCHESTRATOR, now=now, note=why, target=Status.READY
                    )
                    after = moved.evolve(implementer="")  # anyone capable may take it now
                    tx.save(after, expected=stored.revision)
                elif fence is None:
                    return False
                if fence is not None:
                    c.release(task_id, fence)
                event = event_for(
                    task, after, actor=ORCHESTRATOR, op="reassigned", at=now, note=why
                )
                tx.record(event)
        except RevisionConflict:
            return False  # the holder acted at this very moment: its step stands
        return True

    def _let_go(self, lease: Lease, statuses: Mapping[str, Status]) -> bool:
        status = statuses.get(lease.task_id)
        where = status.value if status is not None else "gone"
        why = f"released from {lease.agent} (fence {lease.fence}): the task is {where}"
        with self.store.transaction() as tx:
            if not coord(tx).release(lease.task_id, lease.fence):
                return False
            event = Event(at=self.now(), agent=ORCHESTRATOR, op="released", note=why)
            tx.record(event._replace(task=lease.task_id))
        return True

    def _requeue(self, lease: Lease, agents: dict[str, Agent], status: Status | None) -> bool:
        """An expired lease: its task back to the queue, its agent in ``error`` (``agents``:
        the registry as the sweep read it, updated). A review stays in review, its lease
        gone: the assigner gives it to another reviewer (never its implementer:
        ``Assigner._still``)."""
        agent = agents.get(lease.agent)
        last = agent.last_seen if agent is not None and agent.last_seen else "never"
        sign = "heartbeat" if self.beats(lease.agent) else "call"
        what = "lease on the review" if status is Status.REVIEW else "lease"
        why = (  # "taken from NAME" first: the metrics count it as that agent's error
            f"taken from {lease.agent} (fence {lease.fence}): its {what} expired at "
            f"{lease.expires_at}, no {sign} since {last}"
        )
        if not self.take_back(lease.task_id, lease.agent, lease.fence, why, expired=True):
            return False
        if agent is not None:
            self._set_status(agents, agent, AgentStatus.ERROR, why)
        return True

    def _age(self, agents: dict[str, Agent]) -> None:
        """Every agent's status as time has made it (silent too long: error, then offline)."""
        live = self.liveness()
        for agent in list(agents.values()):
            due = self.due_status(agent, live)
            if due != agent.status:
                silent = f"not heard from since {agent.last_seen or 'the service started'}"
                self._set_status(agents, agent, AgentStatus(due), silent)

    def due_status(self, agent: Agent, live: Liveness | None = None) -> str:
        """What ``agent``'s status should be now, by the time since it was last heard from
        (``live``: the cutoffs of now, when the caller judges many agents)."""
        if not agent.last_seen or agent.last_seen < self.started:
            return AgentStatus.OFFLINE.value
        if agent.status == AgentStatus.OFFLINE.value:
            # Time alone only ages a status; a sign of life (``seen``) revives it. A replica
            # whose clock runs behind the one that made it offline must not make it error.
            return AgentStatus.OFFLINE.value
        live = live or self.liveness()
        if agent.last_seen < live.call_since:  # silent longer than agent_timeout
            return AgentStatus.OFFLINE.value
        if agent.status == AgentStatus.ERROR.value or agent.last_seen < live.cutoff(agent.name):
            return AgentStatus.ERROR.value
        return agent.status

    def _set_status(
        self, agents: dict[str, Agent], seen: Agent, status: AgentStatus, why: str
    ) -> None:
        """``seen`` (the entry as this sweep read it) to ``status``, with its event, only if
        the entry is still as read: a compare-and-set, so of two replicas aging one agent
        (or a sweep and the agent's heartbeat) one changes it and says why, once."""
        if seen.status == status.value:
            return
        error = why if status is AgentStatus.ERROR else seen.error
        with self.store.transaction() as tx:
            if not coord(tx).set_agent_status(seen, status.value, error):
                return  # changed since this sweep read it: whoever changed it said why
            if seen.last_seen >= self.started:  # the news of a restart is no agent failure
                op = "agent_failed" if status is AgentStatus.ERROR else "agent_offline"
                note = Event(at=self.now(), agent=ORCHESTRATOR, op=op, holder=seen.name, note=why)
                tx.record(note)
        agents[seen.name] = seen._replace(status=status.value, error=error)

    _ages: str | None = None  # the earliest moment an agent's status ages (the last sweep's)

    def next_aging(self, agents: Sequence[Agent]) -> str | None:
        """When the first of ``agents``' statuses changes by time alone (silent past its
        ttl: error; past ``agent_timeout``: offline); None when all are offline. ISO times
        compare as text: one parse per ttl, not per agent."""
        live = self.liveness()
        timeout = self.config.agent_timeout
        earliest: dict[float, str] = {}  # ttl -> the earliest last_seen it applies to
        for agent in agents:
            status = self.due_status(agent, live)
            if status == AgentStatus.OFFLINE.value or not agent.last_seen:
                continue
            ttls = (
                (timeout,)
                if status == AgentStatus.ERROR.value
                else (
                    self.config.lease_ttl if live.beats(agent.name) else timeout,
                    timeout,
                )
            )
            for ttl in ttls:
                if agent.last_seen < earliest.get(ttl, "~"):
                    earliest[ttl] = agent.last_seen
        moments = [
            self.later(ttl, when)
            for ttl, seen in earliest.items()
            if (when := parse_time(seen)) is not None
        ]
        return min(moments) if moments else None

    def due_in(self) -> float | None:
        """Seconds until the sweeper has work by time alone (the earliest lease expiry known
        here, an agent's status to age); None: nothing until the store changes."""
        with self._lock:
            due = min((t for t in (self._due, self._ages) if t), default=None)
        when = parse_time(due) if due else None
        if when is None:
            return None
        return max(0.0, (when - self.clock.now()).total_seconds())

    def next_wakeup(self) -> float:
        """Seconds until the next sweep is due: the earliest known lease expiry, capped."""
        with self._lock:
            due, busy = self._due, self._any_leases or self._due is not None
        cap = BUSY_POLL if busy else IDLE_POLL
        when = parse_time(due) if due else None
        if when is None:
            return cap
        return max(0.0, min(cap, (when - self.clock.now()).total_seconds()))


def _unnamed(leases: Sequence[Lease], named: Sequence[tuple[str, int]]) -> list[Lease]:
    """The leases a heartbeat did not name (work given to the agent since it last looked)."""
    said = set(named)
    return [x for x in leases if (x.task_id, x.fence) not in said]
