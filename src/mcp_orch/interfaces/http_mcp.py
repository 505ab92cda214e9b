"""The MCP tools of ``orch serve``: the service of ``orch mcp`` with its handoff steps and
``next`` run by the orchestrator, so an agent working over MCP holds leases, is fenced, counts
as alive on every call and is pushed work exactly as one working over the HTTP API.

The tools call these methods with the signatures of ``Service``; reads, ``prep``, ``create``,
error context and checks stay the service's own (they take no lease).
"""

from __future__ import annotations

from typing import Any

from ..domain.model import Task
from ..inputs import check_agent
from ..service import ClaimResult, NextAction, Service


class Orchestrated(Service):
    """``Service`` whose steps go through the orchestrator facade (``scheduler``).

    ``shared``: the MCP tools use this one instance for every call instead of building a
    Service (and a store) of their own per call: the serve process has one store, the only
    writer of its database, and the orchestrator's leases live with it."""

    shared = True

    def __init__(self, base: Service, orchestrator: Any) -> None:
        super().__init__(base.store, base.config, base.clock)
        self.orchestrator = orchestrator

    def _step(self, task_id: str, step: str, agent: str | None, **args: str) -> Any:
        return self.orchestrator.step(task_id, step, agent=check_agent(agent), **args)

    @staticmethod
    def _task(done: Any) -> Task:
        """The task a step left (the facade answers a ``StepResult``, as does the file
        board's stand-in, ``http_board.BoardOrchestrator``)."""
        task: Task = done.task
        return task

    def claim(self, task_id: str, *, agent: str | None) -> ClaimResult:
        done = self._step(task_id, "claim", agent)
        return ClaimResult(task=done.task, changed=done.changed)

    def submit(self, task_id: str, *, agent: str | None, note: str = "") -> Task:
        return self._task(self._step(task_id, "submit", agent, note=note))

    def request_changes(self, task_id: str, *, agent: str | None, text: str) -> Task:
        return self._task(self._step(task_id, "feedback", agent, text=text))

    def complete(self, task_id: str, *, agent: str | None, note: str = "") -> Task:
        return self._task(self._step(task_id, "complete", agent, note=note))

    def fail(self, task_id: str, *, agent: str | None, reason: str) -> Task:
        return self._task(self._step(task_id, "fail", agent, reason=reason))

    def escalate(self, task_id: str, *, agent: str | None, reason: str) -> Task:
        return self._task(self._step(task_id, "escalate", agent, reason=reason))

    def next_action(self, agent: str | None) -> NextAction:
        if not agent:  # a server without an agent asks as a person: no leases to take
            return super().next_action(agent)
        return self.orchestrator.next_for(agent)  # type: ignore[no-any-return]

    def wait_next(
        self,
        agent: str | None,
        *,
        timeout: float | None = None,
        poll: float = 0.05,
        recheck: float = 1.0,
    ) -> NextAction:
        """Wait as the plain service waits (no lease is taken while nothing is there; every
        look counts as the agent's call, so it stays alive and may be pushed work), then ask
        the orchestrator once, which claims what the wait found."""
        plain = _Waiting(self.store, self.config, self.clock)
        plain.touch = self.orchestrator.touch
        waited = plain.wait_next(agent, timeout=timeout, poll=poll, recheck=recheck)
        if not agent or waited.decision.action in ("wait", "idle"):
            return waited
        return self.next_action(agent)


class _Waiting(Service):
    """The plain service whose every look (``next_action``) counts as the agent's call."""

    touch: Any = None

    def next_action(self, agent: str | None) -> NextAction:
        if agent and self.touch is not None:
            self.touch(agent)
        return super().next_action(agent)
