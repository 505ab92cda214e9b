"""Agents of the orchestrator service and the leases by which they hold tasks (issue 10).

An ``Agent`` is one entry of the registry (``.mcp/agents.yaml`` or the API); a ``Lease`` says
who holds a task now and under which fence. The fence is a per-task counter that goes up on
every change of holder and never goes back, so a write that carries an old fence comes from an
agent that lost the task (it was reassigned while that agent was away). Pure records: the
stores keep them, the scheduler decides with them.
"""

from __future__ import annotations

from enum import StrEnum

from .record import Record


class AgentStatus(StrEnum):
    """The spec's agent status."""

    AVAILABLE = "available"  # alive, with room under max_tasks
    BUSY = "busy"  # alive, holding as many tasks as max_tasks allows
    ERROR = "error"  # its heartbeats stopped: its tasks went back to the queue
    OFFLINE = "offline"  # not heard from since the service started, or for agent_timeout

    def __str__(self) -> str:
        return self.value


AGENT_STATUSES: tuple[str, ...] = tuple(s.value for s in AgentStatus)
ALIVE_STATUSES = frozenset({AgentStatus.AVAILABLE.value, AgentStatus.BUSY.value})
AGENT_SOURCES = ("yaml", "api")


class Agent(Record):
    """One agent of the registry: what it may do (role, capabilities), how much at once
    (``max_tasks``) and how it is doing (``status``, ``last_seen``, ``error``)."""

    name: str
    role: str
    capabilities: tuple[str, ...] = ()
    max_tasks: int = 1
    status: str = "offline"  # one of AGENT_STATUSES
    source: str = "yaml"  # yaml | api: where the registry entry came from
    last_seen: str = ""  # ISO time of the last heartbeat or call ("" = never since start)
    error: str = ""  # why it is in error (its heartbeats stopped at ...)

    @property
    def alive(self) -> bool:
        """Heard from since the service started and not given up on: work may be pushed."""
        return self.status in ALIVE_STATUSES and bool(self.last_seen)

    def can(self, needs: tuple[str, ...]) -> bool:
        """The agent has every capability a task names."""
        return all(c in self.capabilities for c in needs)


class Lease(Record):
    """Who holds a task now, under which fence, until when (times are ISO strings)."""

    task_id: str
    agent: str
    fence: int
    expires_at: str
    acquired_at: str

    def expired(self, now: str) -> bool:
        """The lease ran out at ``now`` (the board's timestamps sort as text)."""
        return self.expires_at <= now
