"""What every part of the orchestrator stands on: the store and its coordination methods, the
config and its timers, the clock, who is alive, and the service an agent's step runs through.

Liveness has two kinds of evidence. A heartbeat (HTTP, or the MCP session of ``orch mcp``)
promises the next one within ``heartbeat_every``, so such an agent holds its tasks for
``lease_ttl`` past its last heartbeat and loses them soon after it dies. A call (the CLI, a
route) promises nothing, so an agent that has sent no heartbeat to this process holds its
tasks for ``agent_timeout`` past its last call: a CLI agent that works twenty minutes between
``claim`` and ``submit`` keeps its task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from ..config import Config
from ..domain import roles
from ..domain.agents import Agent, AgentStatus, Lease
from ..domain.errors import OrchError
from ..domain.model import format_time, parse_time
from ..domain.record import Record
from ..inputs import check_agent
from ..service import Service
from ..service.clock import Clock
from ..store import TaskStore
from ..store.coordination import CoordinatedTx

ORCHESTRATOR = "orchestrator"  # the actor of what the service does by itself
# A call refreshes ``last_seen`` at most this often: agents call constantly, and a registry
# write per call would double the database's work for no news.
TOUCH_EVERY = 1.0


class Seen(Record):
    """An agent just heard from: its entry now, the leases renewed, until when, and whether
    it was not alive before (then it may take what waits)."""

    agent: Agent
    leases: tuple[Lease, ...]
    expires_at: str
    came_alive: bool


class NoCoordination(OrchError):
    """The store keeps tasks but not agents and leases (the file board)."""

    code = "no_coordination"
    exit_code = 10


class OrchestratorBase:
    """The store, config and clock, and the in-process view of who sends heartbeats."""

    def __init__(self, store: TaskStore, config: Config, clock: Clock) -> None:
        if store.extras("coordination") is None:
            raise NoCoordination(
                f"the orchestrator needs a store that keeps agents and leases; {store.url} "
                "does not",
                "run orch serve with the default SQLite database or --db postgresql://...",
            )
        self.store = store
        self.config = config
        self.clock = clock
        self.started = self.now()  # an agent not heard from since then is not alive
        self._lock = threading.Lock()  # guards the small dicts below (requests run in threads)
        self._metrics_lock = threading.Lock()  # one request at a time reads new events
        self._beats: dict[str, str] = {}  # agent -> its last heartbeat to this process
        self._touched: dict[str, float] = {}  # agent -> monotonic time of its last registry write
        self._last: dict[str, str] = {}  # agent -> when it was last given work (take turns)
        self._due: str | None = None  # the earliest lease expiry known here (next_wakeup)
        self._any_leases = False  # the last sweep saw leases (another replica's, maybe)
        self._roles_memo: tuple[object, object, dict[str, tuple[str, ...]]] | None = None
        self._config_memo: (
            tuple[object, dict[str, tuple[str, ...]], dict[str, frozenset[str]]] | None
        ) = None

    # ------------------------------------------------------------------ time

    def now(self) -> str:
        return format_time(self.clock.now())

    def later(self, seconds: float, start: datetime | None = None) -> str:
        return format_time((start or self.clock.now()) + timedelta(seconds=seconds))

    def seconds_since(self, moment: str) -> float:
        then = parse_time(moment) if moment else None
        return float("inf") if then is None else (self.clock.now() - then).total_seconds()

    # ------------------------------------------------------------------ liveness

    def beats(self, agent: str) -> bool:
        """``agent`` has sent this process a heartbeat within ``agent_timeout``."""
        return self.liveness().beats(agent)

    def ttl(self, agent: str) -> float:
        """How long a lease of ``agent`` lasts past its latest sign of life."""
        return self.config.lease_ttl if self.beats(agent) else self.config.agent_timeout

    def alive(self, agent: Agent) -> bool:
        """Work may be pushed to ``agent``: heard from since start, and not for too long."""
        return self.liveness().alive(agent)

    def liveness(self) -> Liveness:
        """``alive`` and ``beats`` as of now, for many agents (the cutoffs computed once)."""
        now = self.clock.now()
        return Liveness(
            self.started,
            since(now, self.config.lease_ttl),
            since(now, self.config.agent_timeout),
            self._beats,
        )

    def note_due(self, expires_at: str) -> None:
        """Remember a lease expiry so the sweeper wakes for it (``next_wakeup``)."""
        with self._lock:
            if self._due is None or expires_at < self._due:
                self._due = expires_at

    # ------------------------------------------------------------------ roles and services

    def roles_with(self, agents: Sequence[Agent]) -> dict[str, tuple[str, ...]]:
        """The config's roles, with every registered agent added under its own role (the
        last answer again for the same ``agents``: the store hands out one tuple per
        registry state)."""
        memo = self._roles_memo
        if memo is not None and memo[0] is agents and memo[1] is self.config.roles:
            return memo[2]
        config, known = self._config_roles()
        news = [
            a
            for a in agents
            if a.role in roles.ROLES and a.name not in known.get(a.role, frozenset())
        ]
        found = config
        if news:  # some agent its config role does not name: added after the config's names
            merged = {role: list(names) for role, names in config.items()}
            seen = {role: set(names) for role, names in config.items()}
            for agent in news:
                if agent.name not in seen.setdefault(agent.role, set()):
                    seen[agent.role].add(agent.name)
                    merged.setdefault(agent.role, []).append(agent.name)
            found = {role: tuple(names) for role, names in merged.items()}
        self._roles_memo = (agents, self.config.roles, found)
        return found

    def _config_roles(
        self,
    ) -> tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]]:
        """The config's roles, and their names as sets (made once per config)."""
        made = self._config_memo
        if made is None or made[0] is not self.config.roles:
            names = {role: tuple(names) for role, names in self.config.roles.items()}
            made = (self.config.roles, names, {r: frozenset(n) for r, n in names.items()})
            self._config_memo = made
        return made[1], made[2]

    def service(self, name: str | None = None, agents: Sequence[Agent] | None = None) -> Service:
        """The service as agent ``name`` sees it: the registry's roles, and its own
        ``max_tasks`` when it is registered (one read of the registry, unless the caller
        read it already: ``agents``)."""
        if agents is None:
            with self.store.transaction() as tx:
                agents = coord(tx).agents()
        config = self.config._replace(roles=self.roles_with(agents))
        mine = next((a for a in agents if a.name == name), None) if name else None
        if mine is not None:
            config = config._replace(max_in_progress=mine.max_tasks)
        return Service(self.store, config, self.clock)

    def registered(self, name: str) -> Agent | None:
        with self.store.transaction() as tx:
            return coord(tx).agent(name)

    # ------------------------------------------------------------------ calls

    wake: Callable[[], None] | None = None  # set by the serve process: its assigner loop

    def kick(self) -> None:
        """Something became assignable: wake the assigner loop, or run a pass now."""
        if self.wake is not None:
            self.wake()
        else:
            self.assign_ready()

    def assign_ready(self) -> list[Any]:
        raise NotImplementedError  # the assigner's (scheduler.assigner)

    def touch(self, agent: str, tx: object = None) -> Agent | None:
        """Any call by ``agent`` counts as alive (persons are not agents: nothing to do);
        ``tx``: the caller's open transaction, to write in (no savepoint of its own: if it
        does not commit, the caller says so with ``untouch``). The registry entry written,
        if one was (at most every ``TOUCH_EVERY`` s per agent)."""
        name = check_agent(agent)
        if roles.is_person(name):
            return None
        clock = self.clock.monotonic()
        with self._lock:
            if clock - self._touched.get(name, float("-inf")) < TOUCH_EVERY:
                return None
            self._touched[name] = clock
        seen = self.seen(name, tx=tx)
        if seen.came_alive:
            self.kick()  # come alive: it may take what waits
        return seen.agent

    def untouch(self, agent: str) -> None:
        """The transaction ``touch`` wrote in rolled back: the next call writes again."""
        with self._lock:
            self._touched.pop(agent, None)

    def seen(self, name: str, *, heartbeat: bool = False, tx: object = None) -> Seen:
        """Mark ``name`` alive now (registering an agent the config's roles name) and renew
        its leases: a sign of life is what a lease waits for, a heartbeat or a call. In a
        transaction of its own, or in ``tx`` (the caller's, open)."""
        now = self.now()
        if heartbeat:
            with self._lock:
                self._beats[name] = now
        expires = self.later(self.ttl(name))
        if tx is None:
            with self.store.transaction() as own:
                before, fresh, held = self._seen_in(own, name, now, expires)
        else:
            before, fresh, held = self._seen_in(tx, name, now, expires)
        if held:
            self.note_due(expires)
        woke = before is None or not self.alive(before)
        return Seen(agent=fresh, leases=held, expires_at=expires, came_alive=woke)

    def _seen_in(
        self, tx: object, name: str, now: str, expires: str
    ) -> tuple[Agent | None, Agent, tuple[Lease, ...]]:
        c = coord(tx)
        before = c.agent(name)
        agent = before or self._newcomer(name, tx)
        held = c.renew_all(name, expires)  # one statement, however many it holds
        full = len(held) >= agent.max_tasks
        status = AgentStatus.BUSY if full else AgentStatus.AVAILABLE
        fresh = agent._replace(last_seen=now, status=status.value, error="")
        c.put_agent(fresh)
        return before, fresh, held

    def _newcomer(self, name: str, tx: object) -> Agent:
        """The registry entry of an agent heard from but not registered: its config role (an
        agent the board knows from before works as an implementer), or ``UnknownAgent``."""
        from ..store import Tx

        known = cast(Tx, tx).knows_agent
        roles.check_known(name, self.config.roles, lambda: [name] if known(name) else [])
        mine = roles.roles_of(name, self.config.roles)
        return Agent(name=name, role=mine[0], max_tasks=self.config.max_in_progress, source="api")


class Liveness:
    """Who is alive, as of one moment: ISO times compare as text (``format_time``: UTC,
    milliseconds), so each agent costs two string comparisons, not a parse."""

    def __init__(self, started: str, lease_since: str, call_since: str, beats: dict[str, str]):
        self.started = started
        self.lease_since = lease_since  # heard from at or after this: within lease_ttl
        self.call_since = call_since  # within agent_timeout
        self._beats = beats  # read without the lock: a dict's get is atomic

    def beats(self, agent: str) -> bool:
        return self._beats.get(agent, "") >= self.call_since

    def cutoff(self, agent: str) -> str:
        """Heard from at or after this, ``agent`` is within its ``ttl``."""
        return self.lease_since if self.beats(agent) else self.call_since

    def alive(self, agent: Agent) -> bool:
        if not agent.alive or agent.last_seen < self.started:
            return False
        return agent.last_seen >= self.cutoff(agent.name)


def since(now: datetime, seconds: float) -> str:
    """The earliest time (as ``format_time`` writes it) no more than ``seconds`` before
    ``now``: ``now - seconds`` rounded up to the millisecond, so that a time written in
    milliseconds is at or after it exactly when it is at most ``seconds`` old."""
    moment = now - timedelta(seconds=seconds)
    extra = moment.microsecond % 1000
    return format_time(moment + timedelta(microseconds=1000 - extra) if extra else moment)


def coord(tx: object) -> CoordinatedTx:
    """The coordination methods of a transaction (seam.md: present when the store's
    ``extras("coordination")`` is not None, checked when the orchestrator is made)."""
    return cast(CoordinatedTx, tx)
