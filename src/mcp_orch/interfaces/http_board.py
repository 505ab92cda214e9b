"""The orchestrator facade over the plain service, for a store without coordination.

``orch serve`` runs the scheduler's ``Orchestrator`` (push assignment, leases, fences, the
registry) when the store can coordinate; on the file board (``--db files``) there are no leases
to keep, so this stand-in answers the same calls with the service alone: agents pull work
(``next``), every step is the service's own, and the registry is the roles of
``.mcp/config.yaml`` (read-only). Nothing here decides anything the service does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..domain.errors import AgentNotFound, InvalidInput
from ..domain.record import Record
from ..service import NextAction, Service


class BoardAssignment(Record):
    task_id: str
    assigned_agent: str | None = None
    estimated_completion: str | None = None
    queued_because: str = "the file board has no assigner: an agent claims it through next"
    fence: int = 0


class BoardAgent(Record):
    name: str
    role: str
    status: str = "offline"
    current_tasks: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    last_heartbeat: str | None = None
    performance_metrics: dict[str, float] = {}  # noqa: RUF012 (never mutated)


class Heartbeat(Record):
    lost: tuple[str, ...] = ()


READ_ONLY = InvalidInput(
    "the agent registry needs a database (this service runs on the file board)",
    "start orch serve with --db sqlite:///.mcp/orch.db, or edit roles: in .mcp/config.yaml",
)


class BoardOrchestrator:
    """``scheduler.Orchestrator``'s calls, answered by the service on the file board."""

    wake: Callable[[], None] | None = None  # nothing is pushed here, so nothing to wake

    def __init__(self, service: Service) -> None:
        self.service = service

    def submit_task(
        self, fields: Any, *, actor: str, priority_override: int | None = None
    ) -> BoardAssignment:
        s = self.service
        prio = f"P{priority_override}" if priority_override is not None else None
        priority = prio or (fields.priority.value if fields.priority else None)
        if fields.id:
            task = s.prep(fields.id, agent=actor, goal=fields.goal or None, priority=priority)
        else:
            task = s.create(
                fields.title,
                priority=priority,
                depends=fields.dependencies or (),
                agent=actor,
                goal=fields.goal,
            )
            if fields.acceptance or fields.files or fields.status == "ready":
                task = s.prep(
                    task.id,
                    agent=actor,
                    acceptance=fields.acceptance or (),
                    files=fields.files or (),
                )
        return BoardAssignment(task_id=task.id)

    def next_for(self, agent: str) -> NextAction:
        return self.service.next_action(agent)

    def step(
        self, task_id: str, step: str, *, agent: str, fence: int | None = None, **args: Any
    ) -> Any:
        from ..scheduler.steps import StepResult

        s = self.service
        note = args.get("note") or ""
        if step == "claim":  # the orchestrator's answer, without a lease (fence 0)
            claimed = s.claim(task_id, agent=agent)
            return StepResult(task=claimed.task, changed=claimed.changed)
        task = None
        if step == "submit":
            task = s.submit(task_id, agent=agent, note=note)
        elif step == "feedback":
            task = s.request_changes(task_id, agent=agent, text=args.get("text") or "")
        elif step == "complete":
            task = s.complete(task_id, agent=agent, note=note)
        elif step == "fail":
            task = s.fail(task_id, agent=agent, reason=args.get("reason") or "")
        elif step == "escalate":
            task = s.escalate(task_id, agent=agent, reason=args.get("reason") or "")
        if task is not None:
            return StepResult(task=task)
        raise InvalidInput(
            f"{step} needs the orchestrator's leases (this service runs on the file board)",
            "start orch serve with --db sqlite:///.mcp/orch.db",
        )

    def heartbeat(self, agent: str, tasks: Sequence[tuple[str, int]] | None = None) -> Heartbeat:
        return Heartbeat()

    def touch(self, agent: str) -> None:
        return None

    def agents(self) -> list[BoardAgent]:
        snap = self.service.status()
        held: dict[str, list[str]] = {}
        for t in snap.tasks:
            if t.agent:
                held.setdefault(t.agent, []).append(t.id)
        roles = self.service.config.roles
        return [
            BoardAgent(name=name, role=role, current_tasks=tuple(held.get(name, ())))
            for role, names in sorted(roles.items())
            for name in names
        ]

    def agent_view(self, name: str) -> BoardAgent:
        for agent in self.agents():
            if agent.name == name:
                return agent
        raise AgentNotFound(f"no agent {name!r} in the roles", "see GET /api/orchestrator/agents")

    def add_agent(self, agent: Any) -> Any:
        raise READ_ONLY

    def update_agent(self, name: str, **changes: Any) -> Any:
        raise READ_ONLY

    def remove_agent(self, name: str) -> list[str]:
        raise READ_ONLY

    def assign_ready(self) -> list[BoardAssignment]:
        return []

    def sweep(self) -> list[BoardAssignment]:
        return []

    def next_wakeup(self) -> float:
        return 5.0

    def due_in(self) -> float | None:
        return None  # no leases, no statuses that age
