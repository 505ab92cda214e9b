"""The coordination part of the seam (issue 10): agents and the leases by which they hold tasks.

A store whose ``extras("coordination")`` is not None gives its transactions these methods as
well (``CoordinatedTx``); the orchestrator (``mcp_orch.scheduler``) uses them. Invariants every
backend keeps, the SQL ones in the schema itself:

- at most one lease per task (a second ``grant`` is ``AlreadyClaimed``);
- a task's fence only goes up: a grant takes the previous fence of that task + 1, kept after
  the lease ends, so a writer holding an old fence can always be told it lost the task;
- ``renew`` and ``release`` given a fence act only on the lease of that fence.

``MemoryCoordination`` is the in-memory implementation ``MemoryStore`` mixes into its
transactions: writes are kept aside and applied by ``commit_coordination`` (a rollback is not
applying them), under the store's one lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.agents import Agent, Lease
from ..domain.errors import AlreadyClaimed
from ..domain.model import Status
from ..domain.ops import op
from ..domain.policy import Summary
from . import Tx

TYPE_CHECKING = False  # as in store/__init__: the protocol is for type checkers only
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object


class CoordinatedTx(Tx, Protocol):
    """A transaction of a store that keeps agents and leases (seam.md, "Coordination")."""

    def agents(self) -> tuple[Agent, ...]:
        """Every registered agent, by name."""
        ...

    def agent(self, name: str) -> Agent | None: ...

    def put_agent(self, agent: Agent) -> None:
        """Register ``agent`` or replace its entry."""
        ...

    def set_agent_status(self, seen: Agent, status: str, error: str) -> bool:
        """Set the entry's ``status`` and ``error`` if its status and ``last_seen`` are still
        those of ``seen`` (a compare-and-set); False: it changed since it was read (another
        replica aged it, the agent was heard from), or is gone, and nothing was written."""
        ...

    def remove_agent(self, name: str) -> None:
        """Drop the entry (its leases are the caller's to release first)."""
        ...

    def lease(self, task_id: str) -> Lease | None: ...

    def leases(self, agent: str | None = None) -> tuple[Lease, ...]:
        """Every lease (of ``agent``), soonest to expire first."""
        ...

    def grant(self, task_id: str, agent: str, expires_at: str, now: str) -> Lease:
        """A new lease under the next fence; ``AlreadyClaimed`` if the task has one."""
        ...

    def renew(self, task_id: str, agent: str, fence: int, expires_at: str) -> bool:
        """Move the expiry of ``agent``'s lease of that fence; False: the lease is lost."""
        ...

    def renew_all(self, agent: str, expires_at: str) -> tuple[Lease, ...]:
        """Move the expiry of every lease ``agent`` holds (one statement: a heartbeat's);
        the leases as renewed, by task ID."""
        ...

    def release(self, task_id: str, fence: int | None = None) -> bool:
        """End the task's lease (only the one of ``fence``, when given); False: none."""
        ...

    def expired(self, now: str) -> tuple[Lease, ...]:
        """The leases whose expiry is at or before ``now``, soonest first."""
        ...

    def fence(self, task_id: str) -> int:
        """The task's fence: that of its lease, or of its last one (0: never leased)."""
        ...

    def lease_counts(self, agents: Iterable[str] | None = None) -> dict[str, int]:
        """Agent name (of ``agents``; None: every agent) -> how many leases it holds (agents
        holding none are absent)."""
        ...

    def unleased_held(self, agents: Iterable[str]) -> dict[str, int]:
        """Agent name (of ``agents``) -> how many tasks it holds on the board (``held_by``)
        with no lease on them (a board imported with work in progress); none: absent."""
        ...

    def assignable(
        self, limit: int | None = None, status: Status | None = None
    ) -> tuple[Summary, ...]:
        """The tasks an assigner may hand out: ready or in review (only ``status``, when
        given), not escalated, with no lease, most urgent first (``Summary.sort_key``), at
        most ``limit`` (None: all)."""
        ...


def taken(task_id: str, holder: str) -> AlreadyClaimed:
    return AlreadyClaimed(
        f"{task_id} is already held by {holder}", ("pick other work: ", op("next"))
    )


class CoordinationState:
    """The committed agents, leases and fences of a ``MemoryStore``."""

    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}
        self.leases: dict[str, Lease] = {}
        self.fences: dict[str, int] = {}


CoordinationMark = tuple[dict[str, Agent | None], dict[str, Lease | None], dict[str, int], bool]


class MemoryCoordination:
    """The coordination methods of one ``MemoryStore`` transaction."""

    def __init__(self, state: CoordinationState) -> None:
        self._state = state
        self._agents: dict[str, Agent | None] = {}  # None: removed in this transaction
        self._leases: dict[str, Lease | None] = {}  # None: released in this transaction
        self._fences: dict[str, int] = {}
        self.ownership_changed = False  # a grant, a release, an agent added or removed

    def _coordination_mark(self) -> CoordinationMark:
        """This transaction's pending coordination writes, to go back to (a savepoint)."""
        return (dict(self._agents), dict(self._leases), dict(self._fences), self.ownership_changed)

    def _coordination_restore(self, mark: CoordinationMark) -> None:
        agents, leases, fences, self.ownership_changed = mark
        self._agents, self._leases, self._fences = dict(agents), dict(leases), dict(fences)

    def agents(self) -> tuple[Agent, ...]:
        merged = {**self._state.agents, **self._agents}
        return tuple(a for _, a in sorted(merged.items()) if a is not None)

    def agent(self, name: str) -> Agent | None:
        return self._agents[name] if name in self._agents else self._state.agents.get(name)

    def put_agent(self, agent: Agent) -> None:
        before = self.agent(agent.name)
        if before is None or _definition(before) != _definition(agent):
            self.ownership_changed = True  # a heartbeat's refresh is no news to a waiter
        self._agents[agent.name] = agent

    def set_agent_status(self, seen: Agent, status: str, error: str) -> bool:
        now = self.agent(seen.name)
        if now is None or (now.status, now.last_seen) != (seen.status, seen.last_seen):
            return False
        self._agents[seen.name] = now._replace(status=status, error=error)
        return True

    def remove_agent(self, name: str) -> None:
        if self.agent(name) is not None:
            self._agents[name] = None
            self.ownership_changed = True

    def lease(self, task_id: str) -> Lease | None:
        if task_id in self._leases:
            return self._leases[task_id]
        return self._state.leases.get(task_id)

    def leases(self, agent: str | None = None) -> tuple[Lease, ...]:
        merged = {**self._state.leases, **self._leases}
        chosen = (x for x in merged.values() if x is not None and agent in (None, x.agent))
        return tuple(sorted(chosen, key=lambda x: (x.expires_at, x.task_id)))

    def grant(self, task_id: str, agent: str, expires_at: str, now: str) -> Lease:
        current = self.lease(task_id)
        if current is not None:
            raise taken(task_id, current.agent)
        fence = self.fence(task_id) + 1
        lease = Lease(
            task_id=task_id, agent=agent, fence=fence, expires_at=expires_at, acquired_at=now
        )
        self._leases[task_id] = lease
        self._fences[task_id] = fence
        self.ownership_changed = True
        return lease

    def renew(self, task_id: str, agent: str, fence: int, expires_at: str) -> bool:
        current = self.lease(task_id)
        if current is None or current.agent != agent or current.fence != fence:
            return False
        self._leases[task_id] = current._replace(expires_at=expires_at)
        return True

    def renew_all(self, agent: str, expires_at: str) -> tuple[Lease, ...]:
        renewed = tuple(x._replace(expires_at=expires_at) for x in self.leases(agent))
        for lease in renewed:
            self._leases[lease.task_id] = lease
        return tuple(sorted(renewed, key=lambda x: x.task_id))

    def release(self, task_id: str, fence: int | None = None) -> bool:
        current = self.lease(task_id)
        if current is None or (fence is not None and current.fence != fence):
            return False
        self._leases[task_id] = None
        self.ownership_changed = True
        return True

    def expired(self, now: str) -> tuple[Lease, ...]:
        return tuple(x for x in self.leases() if x.expires_at <= now)

    def lease_counts(self, agents: Iterable[str] | None = None) -> dict[str, int]:
        wanted = None if agents is None else set(agents)
        counts: dict[str, int] = {}
        for lease in {**self._state.leases, **self._leases}.values():
            if lease is not None and (wanted is None or lease.agent in wanted):
                counts[lease.agent] = counts.get(lease.agent, 0) + 1
        return counts

    def fence(self, task_id: str) -> int:
        return self._fences.get(task_id, self._state.fences.get(task_id, 0))

    def commit_coordination(self) -> bool:
        """Apply this transaction's writes; True if any was made (for the revision)."""
        state = self._state
        for name, agent in self._agents.items():
            if agent is None:
                state.agents.pop(name, None)
            else:
                state.agents[name] = agent
        for task_id, lease in self._leases.items():
            if lease is None:
                state.leases.pop(task_id, None)
            else:
                state.leases[task_id] = lease
        state.fences.update(self._fences)
        return self.ownership_changed


def _definition(agent: Agent) -> tuple[object, ...]:
    """What an agent *is* (not how it is doing): a change here is news for ``next --wait``."""
    return (agent.role, agent.capabilities, agent.max_tasks, agent.source)
