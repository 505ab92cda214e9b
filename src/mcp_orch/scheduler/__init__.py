"""The orchestrator (issue 10): assignment, leases, heartbeats, fencing, the sweeper and the
agent registry, behind one facade, ``Orchestrator``, that the HTTP routes, the MCP tools of
``orch serve`` and the CLI bridge call.

It stands on the service layer (``mcp_orch.service``: roles, the transition table, the
messages) and on the coordination part of the store (``store.coordination``: agents, leases,
fences). Built in layers, each a module:

- ``base``: the store, config and clock; who is alive; the service as an agent sees it;
- ``assigner``: push (``assign_ready``, ``assign_task``) on ``domain.assign``'s rules;
- ``steps``: an agent's steps through the service, fenced (``step``, ``LeaseLost``);
- ``leases``: ``heartbeat``, ``sweep``, ``next_wakeup``;
- ``registry``: agents.yaml and the live registry, statuses and performance metrics;
- ``work``: ``submit_task`` (create and assign at once) and ``next_for`` (pull);
- ``tasks``: ``TaskInput``, the spec's Post-MVP Task as the API receives it;
- ``orphans``: ``adopt_orphans``, leases for work in progress that nobody handed out.

Time comes only from the clock it is given: a test drives leases, heartbeats and the sweeper
with a ``ManualClock`` and never sleeps. The serve process runs ``sweep`` whenever
``next_wakeup()`` says, and may set ``wake`` to its assigner loop's trigger so a step hands
the global pass to that loop instead of running it in the request.
"""

from __future__ import annotations

from ..config import Config
from ..service.clock import Clock
from ..store import TaskStore
from .assigner import Assignment
from .base import ORCHESTRATOR, NoCoordination
from .leases import HeartbeatResult
from .orphans import adopt_orphans
from .registry import AgentView, Metrics, agents_yaml, read_agents_yaml
from .steps import STEPS, StepResult
from .tasks import TaskInput
from .work import Work

AgentStatus = AgentView  # the facade's name for the spec's Agent Status shape


class Orchestrator(Work):
    """The orchestrator service's operations. One per serve process (it keeps who sent
    heartbeats, and when the next lease runs out); safe to call from several threads."""

    def __init__(self, store: TaskStore, config: Config, clock: Clock) -> None:
        super().__init__(store, config, clock)


__all__ = [
    "ORCHESTRATOR",
    "STEPS",
    "AgentStatus",
    "AgentView",
    "Assignment",
    "HeartbeatResult",
    "Metrics",
    "NoCoordination",
    "Orchestrator",
    "StepResult",
    "TaskInput",
    "adopt_orphans",
    "agents_yaml",
    "read_agents_yaml",
]
