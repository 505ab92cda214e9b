"""The agent registry: ``.mcp/agents.yaml`` read in at start, agents added, changed and removed
while the service runs (AC4.5), and each agent's status and performance as the spec's Agent
Status shows them.

The YAML file wins for the agents it names (source ``yaml``): reading it again replaces their
definitions and drops the YAML agents it no longer names; agents added through the API
(source ``api``) are left alone. Removing an agent puts its tasks back in the queue first.
Performance comes from the events: a task's time is from its assignment (or claim) to its
submission (a reviewer's: to its verdict), its errors the tasks it failed or lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..config import not_yaml
from ..domain import roles
from ..domain.agents import Agent, AgentStatus, Lease
from ..domain.errors import AgentNotFound, InvalidInput
from ..domain.events import Event
from ..domain.model import parse_time
from ..domain.record import Record
from ..inputs import check_agent
from .base import Liveness, coord
from .leases import Sweeper

EDITABLE = ("role", "capabilities", "max_tasks")
YAML_KEYS = frozenset({"name", "role", *EDITABLE})
METRICS_EVENTS = 10_000  # the newest events the metrics are computed from
METRICS_TTL = 1.0  # seconds the metrics are kept before the new events are read
METRICS_BATCHES = 20  # at most this many events_after calls per refresh (the rest: next time)


class Metrics(Record):
    """The spec's ``performance_metrics``."""

    tasks_completed: int = 0
    average_completion_time: float = 0.0  # minutes
    error_rate: float = 0.0  # failed or lost / (completed + failed or lost)


class AgentView(Record):
    """One agent as the spec's Agent Status shows it, with its registry entry."""

    name: str
    role: str
    status: str
    current_tasks: tuple[str, ...]
    capabilities: tuple[str, ...]
    last_heartbeat: str
    max_tasks: int
    source: str
    error: str
    performance_metrics: Metrics


class Registry(Sweeper):
    """``agents``, ``add_agent``, ``update_agent``, ``remove_agent``, ``load_agents_yaml``."""

    _metrics: tuple[float, dict[str, Metrics]] | None = None
    _tally: Tally | None = None  # the events read so far, tallied
    _cursor: int | None = None  # where events_after goes on from

    def agents(self) -> list[AgentView]:
        with self.store.transaction() as tx:
            c = coord(tx)
            registered, leases = c.agents(), c.leases()
        metrics, live = self.metrics(), self.liveness()
        mine: dict[str, list[Lease]] = {}
        for lease in leases:
            mine.setdefault(lease.agent, []).append(lease)
        return [
            self._view(a, mine.get(a.name, ()), metrics.get(a.name, Metrics()), live)
            for a in registered
        ]

    def agent_view(self, name: str) -> AgentView:
        with self.store.transaction() as tx:
            c = coord(tx)
            agent, leases = c.agent(name), c.leases(name)
        if agent is None:
            raise _unknown(name)
        return self._view(agent, leases, self.metrics().get(name, Metrics()))

    def _view(
        self, agent: Agent, leases: Sequence[Lease], metrics: Metrics, live: Liveness | None = None
    ) -> AgentView:
        mine = tuple(x.task_id for x in leases if x.agent == agent.name)
        status = self.due_status(agent, live)
        if status in (AgentStatus.AVAILABLE.value, AgentStatus.BUSY.value):
            full = len(mine) >= agent.max_tasks
            status = (AgentStatus.BUSY if full else AgentStatus.AVAILABLE).value
        return AgentView(
            name=agent.name,
            role=agent.role,
            status=status,
            current_tasks=mine,
            capabilities=agent.capabilities,
            last_heartbeat=agent.last_seen,
            max_tasks=agent.max_tasks,
            source=agent.source,
            error=agent.error if status == AgentStatus.ERROR.value else "",
            performance_metrics=metrics,
        )

    # ------------------------------------------------------------------ changes

    def add_agent(self, agent: Agent) -> Agent:
        """Register a new agent (``InvalidInput`` if the name is taken: update it instead)."""
        fresh = checked(agent)._replace(
            status=AgentStatus.OFFLINE.value, last_seen="", error="", source="api"
        )
        with self.store.transaction() as tx:
            c = coord(tx)
            if c.agent(fresh.name) is not None:
                raise InvalidInput(
                    f"agent {fresh.name} is registered already",
                    "change it with update (role, capabilities, max_tasks) or remove it first",
                )
            c.put_agent(fresh)
        return fresh

    def update_agent(self, name: str, **changes: object) -> Agent:
        """Change an agent's role, capabilities or max_tasks, live."""
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise InvalidInput(
                f"cannot change {', '.join(unknown)} of an agent",
                "editable: " + ", ".join(EDITABLE),
            )
        with self.store.transaction() as tx:
            c = coord(tx)
            agent = c.agent(check_agent(name))
            if agent is None:
                raise _unknown(name)
            fields: dict[str, Any] = {k: getattr(agent, k) for k in ("name", *EDITABLE)}
            fields.update(changes)
            new = agent._replace(**checked_fields(fields, "agent"))
            c.put_agent(new)
        self.kick()  # more room, or a new capability, may take what waits
        return new

    def remove_agent(self, name: str) -> list[str]:
        """Drop an agent from the registry; its tasks go back to the queue (their IDs)."""
        who = check_agent(name)
        with self.store.transaction() as tx:
            c = coord(tx)
            if c.agent(who) is None:
                raise _unknown(who)
            leases = c.leases(who)
            unleased = [t.id for t in tx.held_by(who) if c.lease(t.id) is None]
        why = f"taken from {who}: it was removed from the agent registry"
        back = [x.task_id for x in leases if self.requeue(x, why)]
        back += [tid for tid in unleased if self.take_back(tid, who, None, why)]
        with self.store.transaction() as tx:
            coord(tx).remove_agent(who)
        if back:
            self.kick()
        return back

    def load_agents_yaml(self, path: str) -> list[Agent]:
        """Read ``path`` (``.mcp/agents.yaml``) into the registry; a missing file is none."""
        listed = read_agents_yaml(path)
        names = {a.name for a in listed}
        with self.store.transaction() as tx:
            c = coord(tx)
            old = {a.name: a for a in c.agents()}
            for agent in listed:
                prev = old.get(agent.name)
                kept = (
                    agent
                    if prev is None
                    else agent._replace(
                        status=prev.status, last_seen=prev.last_seen, error=prev.error
                    )
                )
                c.put_agent(kept)
        for name, agent in old.items():
            if agent.source == "yaml" and name not in names:
                self.remove_agent(name)
        self.kick()
        return listed

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> dict[str, Metrics]:
        """Every agent's performance, from the events: at first the newest
        ``METRICS_EVENTS``, then each one recorded since (read at most every ``METRICS_TTL``
        s, only what is new: no request pays for re-reading the whole log)."""
        now = self.clock.monotonic()
        cached = self._metrics
        if cached is not None and now - cached[0] < METRICS_TTL:
            return cached[1]
        with self._metrics_lock:
            cached = self._metrics
            if cached is not None and now - cached[0] < METRICS_TTL:
                return cached[1]  # another request read them meanwhile
            tally, new = self._tally, False
            if tally is None:
                _, self._cursor = self.store.events_after(None)
                tally = self._tally = Tally()
                top = self._cursor
                tally.add(e for e in self.store.events(None, METRICS_EVENTS) if _upto(e, top))
                new = True
            for _ in range(METRICS_BATCHES):
                events, self._cursor = self.store.events_after(self._cursor)
                if not events:
                    break
                tally.add(events)
                new = True
            computed = tally.metrics() if new or cached is None else cached[1]
            self._metrics = (now, computed)
        return computed

    def warm(self) -> None:
        self.metrics()

    def average_minutes(self, agent: str) -> float | None:
        m = self.metrics().get(agent)
        return m.average_completion_time if m is not None and m.tasks_completed else None


def metrics_of(events: Iterable[Event]) -> dict[str, Metrics]:
    """Tasks completed, their average time (minutes) and the error rate, per agent."""
    tally = Tally()
    tally.add(events)
    return tally.metrics()


class Tally:
    """``metrics_of`` kept up to date one event at a time: per agent, the tasks done, the
    sum and count of their (known) times, and the errors."""

    def __init__(self) -> None:
        self.started: dict[tuple[str, str], str] = {}  # (task, agent) -> when it began
        self.done: dict[str, int] = {}
        self.timed: dict[str, tuple[float, int]] = {}  # agent -> (minutes, tasks) known
        self.errors: dict[str, int] = {}

    def add(self, events: Iterable[Event]) -> None:
        for e in events:
            if e.outcome != "ok":
                continue
            if e.op in ("assigned", "claim"):
                self.started[(e.task, e.holder or e.agent)] = e.at
            elif e.op in ("submit", "complete", "feedback"):
                begun = self.started.pop((e.task, e.agent), "")
                self.done[e.agent] = self.done.get(e.agent, 0) + 1
                took = _minutes(begun, e.at)
                if took >= 0:
                    total, count = self.timed.get(e.agent, (0.0, 0))
                    self.timed[e.agent] = (total + took, count + 1)
            elif e.op == "fail":
                self.errors[e.agent] = self.errors.get(e.agent, 0) + 1
            elif e.op == "reassigned" and e.note.startswith("taken from "):
                lost = e.note.split()[2].rstrip(":")
                self.errors[lost] = self.errors.get(lost, 0) + 1

    def metrics(self) -> dict[str, Metrics]:
        result = {}
        for name in {*self.done, *self.errors}:
            count, failed = self.done.get(name, 0), self.errors.get(name, 0)
            total, known = self.timed.get(name, (0.0, 0))
            result[name] = Metrics(
                tasks_completed=count,
                average_completion_time=round(total / known, 2) if known else 0.0,
                error_rate=round(failed / (count + failed), 3) if count + failed else 0.0,
            )
        return result


def _upto(event: Event, cursor: int) -> bool:
    """``event`` (of ``TaskStore.events``) is at or before ``cursor`` (of ``events_after``):
    SQL events carry their row id. The memory store's carry none: an event recorded between
    the two reads may be counted twice there (it is not a store that serves replicas)."""
    return not event.id.isdigit() or int(event.id) <= cursor


def _minutes(start: str, end: str) -> float:
    a, b = parse_time(start) if start else None, parse_time(end)
    return (b - a).total_seconds() / 60 if a is not None and b is not None else -1.0


def _unknown(name: str) -> AgentNotFound:
    return AgentNotFound(
        f"no agent {name!r} in the registry",
        "list them with GET /api/orchestrator/agents (orch agents list); add one in "
        ".mcp/agents.yaml or with orch agents add",
    )


# ---------------------------------------------------------------------- validation


def checked(agent: Agent) -> Agent:
    """``agent`` with its fields validated (name, role, capabilities, max_tasks)."""
    fields = {k: getattr(agent, k) for k in ("name", *EDITABLE)}
    return agent._replace(**checked_fields(fields, f"agent {agent.name!r}"))


def checked_fields(fields: Mapping[str, object], where: str) -> dict[str, Any]:
    """The registry fields of one agent, validated: what is wrong names ``where``."""
    name = fields.get("name")
    if not isinstance(name, str):
        raise InvalidInput(f"{where}: name must be a string", "for example: name: cursor")
    role = fields.get("role")
    if role not in roles.ROLES:
        raise InvalidInput(
            f"{where}: unknown role {role!r}", "a role is one of: " + ", ".join(roles.ROLES)
        )
    caps = fields.get("capabilities", ())
    if isinstance(caps, str):
        caps = [c.strip() for c in caps.split(",")]
    if not isinstance(caps, list | tuple) or not all(isinstance(c, str) and c for c in caps):
        raise InvalidInput(
            f"{where}: capabilities must be a list of names", "for example: [backend, frontend]"
        )
    limit = fields.get("max_tasks", 1)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput(
            f"{where}: max_tasks must be a whole number from 1 to 1000, not {limit!r}",
            "for example: max_tasks: 3",
        )
    clean = check_agent(name)
    if roles.is_person(clean):
        raise InvalidInput(f"{where}: {clean} is a person, not an agent", "give an agent's name")
    return {
        "name": clean,
        "role": role,
        "capabilities": tuple(dict.fromkeys(caps)),
        "max_tasks": limit,
    }


def read_agents_yaml(path: str) -> list[Agent]:
    """The agents of an ``agents.yaml`` (``[]`` if there is none), each validated."""
    import yaml  # deferred: only the serve process reads it

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc}", "check the file and its permissions"
        ) from None
    try:
        data = yaml.safe_load(text)
        lines = _item_lines(yaml.compose(text))
    except yaml.YAMLError as exc:
        raise not_yaml(path, exc, "fix the file (see the README, section agents.yaml)") from None
    return _agents_of(data, path, lines)


def _item_lines(root: object) -> list[int]:
    """The line (from 1) of each item of the ``agents`` list, for the error messages."""
    import yaml

    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "agents" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _agents_of(data: object, path: str, lines: list[int]) -> list[Agent]:
    example = "agents:\n  - name: cursor\n    role: implementer\n    capabilities: [backend]"
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) - {"agents"}:
        raise InvalidInput(f"{path}: expected one key, agents: a list of agents", example)
    items = data.get("agents") or []
    if not isinstance(items, list):
        raise InvalidInput(f"{path}: agents must be a list", example)
    agents: list[Agent] = []
    for n, item in enumerate(items):
        where = f"{path}:{lines[n]}" if n < len(lines) else f"{path}: agents[{n}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}: each agent is a mapping (name, role, ...)", example)
        unknown = sorted(str(k) for k in item if k not in YAML_KEYS)
        if unknown:
            raise InvalidInput(
                f"{where}: unknown key(s) {', '.join(unknown)}",
                "an agent has: " + ", ".join(sorted(YAML_KEYS)),
            )
        fields = checked_fields(item, where)
        if any(a.name == fields["name"] for a in agents):
            raise InvalidInput(f"{where}: agent {fields['name']} is listed twice", "keep one entry")
        agents.append(Agent(source="yaml", **fields))
    return agents


def agents_yaml(root: str) -> str:
    """Where a project keeps its static agent configuration."""
    return os.path.join(root, ".mcp", "agents.yaml")
