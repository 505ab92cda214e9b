"""Which agent gets which waiting task: the orchestrator's assignment rules. Pure.

``plan`` looks at the work waiting for an agent (ready tasks to implement, tasks in review)
and the registry's agents with what each holds now, and chooses, most urgent task first
(P0 > P1 > P2, then oldest): an agent that plays the step's role, has every capability the task
names, is alive, has room under ``max_tasks`` and, for a review, did not implement the task;
among those the least loaded. A task nobody can take says why (``queued_because``). The
rules of what may be taken at all are ``policy``'s, shared with ``next``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .agents import Agent
from .model import Status
from .policy import Summary, may_review, sent_back_to, waiting_on
from .record import Record
from .roles import IMPLEMENTER, REVIEWER

# The role each kind of waiting work needs, by the task's status.
WORK = {Status.READY: ("claim", IMPLEMENTER), Status.REVIEW: ("review", REVIEWER)}


_Keeps = Callable[[Agent, Summary, Mapping[str, int]], bool]
_Why = Callable[[Summary, Sequence[Agent], Mapping[str, int], str], str]


class Choice(Record):
    """One waiting task and the agent chosen for it ("" when nobody could take it, and why)."""

    task_id: str
    agent: str
    action: str  # claim (implement it) | review
    queued_because: str = ""


def plan(
    tasks: Sequence[Summary],
    agents: Sequence[Agent],
    load: Mapping[str, int],
    statuses: Mapping[str, Status] | None = None,
) -> list[Choice]:
    """A choice for each of ``tasks`` that waits for an agent (ready or in review, not
    escalated), most urgent first; ``load`` is what each agent holds now (absent: nothing),
    ``statuses`` the status of each dependency (default: those among ``tasks``; an unknown
    dependency counts as not done). Each assignment adds to its agent's load."""
    known = statuses if statuses is not None else {t.id: t.status for t in tasks}
    held = dict(load)
    choices = []
    for task in sorted((t for t in tasks if t.status in WORK), key=Summary.sort_key):
        choice = choose(task, agents, held, known)
        if choice.agent:
            held[choice.agent] = held.get(choice.agent, 0) + 1
        choices.append(choice)
    return choices


def choose(
    task: Summary, agents: Sequence[Agent], load: Mapping[str, int], statuses: Mapping[str, Status]
) -> Choice:
    """The agent for one waiting task, or nobody and why."""
    action, role = WORK[task.status]
    why = _not_now(task, statuses)
    if why:
        return Choice(task.id, "", action, why)
    fit = [a for a in agents if a.role == role]
    for test in _TESTS:
        kept = [a for a in fit if test.keeps(a, task, load)]
        if not kept:
            return Choice(task.id, "", action, test.why(task, fit, load, role))
        fit = kept
    best = min(fit, key=lambda a: (load.get(a.name, 0) / a.max_tasks, load.get(a.name, 0), a.name))
    return Choice(task.id, best.name, action)


def _not_now(task: Summary, statuses: Mapping[str, Status]) -> str:
    """Why a task waits whoever is free: escalated, or dependencies not done."""
    if task.escalated:
        return "escalated: it waits for a person (orch resolve)"
    blocked = waiting_on(task, statuses)
    if blocked:
        return "waiting for " + ", ".join(
            f"{dep} ({statuses[dep].value})" if dep in statuses else f"{dep} (unknown)"
            for dep in blocked
        )
    return ""


class _Test(Record):
    """One condition an agent must meet, and what to say when no agent left meets it."""

    keeps: _Keeps
    why: _Why


def _none_with_role(task: Summary, fit: Sequence[Agent], load: Mapping[str, int], role: str) -> str:
    return f"no {role} in the agent registry"


def _back_to(task: Summary, fit: Sequence[Agent], load: Mapping[str, int], role: str) -> str:
    return f"sent back to {sent_back_to(task)} with feedback; it is theirs to fix"


def _own_work(task: Summary, fit: Sequence[Agent], load: Mapping[str, int], role: str) -> str:
    return f"its only {role}s implemented it ({task.implementer}); another reviewer must review it"


def _lacking(task: Summary, fit: Sequence[Agent], load: Mapping[str, int], role: str) -> str:
    missing = [c for c in task.capabilities if not any(c in a.capabilities for a in fit)]
    if missing:
        return f"no agent with capability {', '.join(missing)}"
    return f"no single agent with every capability {', '.join(task.capabilities)}"


def _dead(task: Summary, fit: Sequence[Agent], load: Mapping[str, int], role: str) -> str:
    states = ", ".join(f"{a.name}: {a.status if a.last_seen else 'not seen yet'}" for a in fit)
    return f"no capable agent is alive ({states})"


def _full(task: Summary, fit: Sequence[Agent], load: Mapping[str, int], role: str) -> str:
    return (
        "all capable agents are at max_tasks ("
        + ", ".join(f"{a.name}: {load.get(a.name, 0)}/{a.max_tasks}" for a in fit)
        + ")"
    )


def _theirs(agent: Agent, task: Summary, load: Mapping[str, int]) -> bool:
    back = sent_back_to(task)
    return not back or agent.name == back


def _room(agent: Agent, task: Summary, load: Mapping[str, int]) -> bool:
    return load.get(agent.name, 0) < agent.max_tasks


# In this order, so the reason names the first condition no agent meets.
_TESTS: tuple[_Test, ...] = (
    _Test(lambda a, t, load: True, _none_with_role),
    _Test(_theirs, _back_to),
    _Test(lambda a, t, load: t.status is not Status.REVIEW or may_review(t, a.name), _own_work),
    _Test(lambda a, t, load: a.can(t.capabilities), _lacking),
    _Test(lambda a, t, load: a.alive, _dead),
    _Test(_room, _full),
)
