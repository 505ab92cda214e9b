"""Who may take which task: the assignment rules, as pure functions of the board's summaries,
the registry's agents, their loads and the roles.

A ready task goes to an implementer, work in review to a reviewer who did not implement it.
The agent must be alive, have every capability the task names and room under ``max_tasks``;
a task sent back with feedback waits for the implementer it was sent back to; a task whose
dependencies are not all done, that is escalated, or that someone holds goes to nobody. Among
the agents that may take a task, the least loaded first, then the one assigned to least
recently (so equal agents take turns), then by name. Tasks in order: P0 before P1 before P2,
then oldest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from ..domain.agents import Agent
from ..domain.model import Status
from ..domain.policy import Summary
from ..domain.record import Record

IMPLEMENT, REVIEW = "implement", "review"
# The step whose role rule decides who may take each kind of work (domain.roles).
STEP = {IMPLEMENT: "claim", REVIEW: "complete"}

May = Callable[[str, str, Summary], bool]  # (agent, step, task) -> its roles allow it


class Pick(Record):
    """One assignment to make: ``task_id`` to ``agent`` as ``kind`` of work."""

    task_id: str
    agent: str
    kind: str


def kind_of(task: Summary) -> str | None:
    """The kind of work a task offers now (None: nothing to assign)."""
    if task.status is Status.READY:
        return IMPLEMENT
    if task.status is Status.REVIEW:
        return REVIEW
    return None


def takers(
    task: Summary,
    kind: str,
    agents: Sequence[Agent],
    load: Mapping[str, int],
    may: May,
    recent: Mapping[str, str] | None = None,
) -> list[Agent]:
    """The alive agents (``agents`` are those) that may take ``task`` now, best first."""
    chosen = [
        a
        for a in agents
        if load.get(a.name, 0) < a.max_tasks
        and _fits(task, kind, a)
        and may(a.name, STEP[kind], task)
    ]
    last = recent or {}
    return sorted(chosen, key=lambda a: (load.get(a.name, 0), last.get(a.name, ""), a.name))


def _fits(task: Summary, kind: str, agent: Agent) -> bool:
    if kind == REVIEW:
        return agent.name != task.implementer  # AC5.3: nobody reviews their own work
    if task.open_feedback and task.implementer and agent.name != task.implementer:
        return False  # sent back: it goes to the implementer it was sent back to
    return agent.can(task.capabilities)


def waiting(task: Summary, statuses: Mapping[str, Status], held: Collection[str]) -> str:
    """Why ``task`` cannot go to anyone whoever is free ("" if it could); ``statuses`` holds
    (at least) the status of each of its dependencies that exists."""
    if kind_of(task) is None:
        return f"{task.id} is {task.status.value}: there is nothing to assign"
    if task.escalated:
        return f"{task.id} is escalated and waits for a person"
    if task.id in held:
        return f"{task.id} is held already"
    blocked = [d for d in task.depends if statuses.get(d) is not Status.DONE]
    if task.status is Status.READY and blocked:
        said = (f"{d} ({statuses[d].value})" if d in statuses else f"{d} (unknown)" for d in blocked)
        return "waiting for " + ", ".join(said)
    return ""


def plan(
    tasks: Sequence[Summary],
    agents: Sequence[Agent],
    load: Mapping[str, int],
    held: Collection[str],
    may: May,
    recent: Mapping[str, str] | None = None,
) -> list[Pick]:
    """One pass: every assignable task, most urgent first, to the best free alive agent;
    each pick counts against that agent's room for the next."""
    statuses = {t.id: t.status for t in tasks}
    loads = dict(load)
    last = dict(recent or {})
    picks: list[Pick] = []
    for task in sorted(tasks, key=Summary.sort_key):
        kind = kind_of(task)
        if kind is None or waiting(task, statuses, held):
            continue
        best = takers(task, kind, agents, loads, may, last)
        if best:
            name = best[0].name
            picks.append(Pick(task_id=task.id, agent=name, kind=kind))
            loads[name] = loads.get(name, 0) + 1
            last[name] = f"~{len(picks):09d}"  # after every real time: the latest pick
    return picks


def why_queued(
    task: Summary,
    kind: str,
    registered: Sequence[Agent],
    alive: Collection[str],
    load: Mapping[str, int],
    may: May,
) -> str:
    """Why nobody could take ``task`` (the answer's ``queued_because``), most telling first."""
    if kind == IMPLEMENT and task.open_feedback and task.implementer:
        back = task.implementer
        return f"sent back to {back} with feedback; it waits for {back} ({_state(back, registered, alive, load)})"
    role_ok = [a for a in registered if may(a.name, STEP[kind], task) and _fits(task, kind, a)]
    role = "reviewer" if kind == REVIEW else "implementer"
    if not role_ok:
        needs = f" with {', '.join(task.capabilities)}" if kind == IMPLEMENT and task.capabilities else ""
        other = " other than its implementer" if kind == REVIEW and task.implementer else ""
        return f"no registered {role}{needs}{other}"
    living = [a for a in role_ok if a.name in alive]
    if not living:
        names = ", ".join(a.name for a in role_ok)
        return f"no capable {role} is alive ({names}: not heard from since the service started, or too long ago)"
    full = ", ".join(f"{a.name} {load.get(a.name, 0)}/{a.max_tasks}" for a in living)
    return f"every capable {role} is at max_tasks ({full})"


def _state(name: str, registered: Sequence[Agent], alive: Collection[str], load: Mapping[str, int]) -> str:
    agent = next((a for a in registered if a.name == name), None)
    if agent is None:
        return "not registered"
    if name not in alive:
        return "not alive"
    return f"at max_tasks {load.get(name, 0)}/{agent.max_tasks}"
