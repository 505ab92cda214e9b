"""What each agent should do next, and the dependency rules behind it. Pure functions.

The board hands this module light summaries (see ``Summary``), so deciding is cheap even on a
board of 10,000 tasks; only the chosen task is read in full afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from .errors import DependencyError
from .model import Priority, Status, Task
from .record import Record

PLANNER, IMPLEMENTER, REVIEWER = "planner", "implementer", "reviewer"
ROLES = (PLANNER, IMPLEMENTER, REVIEWER)


class Summary(Record):
    """The fields of a task that scheduling and listing need."""

    id: str
    title: str
    status: Status
    priority: Priority
    agent: str
    implementer: str
    depends: tuple[str, ...]
    created: str
    updated: str
    open_feedback: int
    escalated: bool

    def sort_key(self) -> tuple[int, str, str]:
        return (self.priority.rank, self.created, self.id)


def summarize(task: Task) -> Summary:
    """The scheduling fields of a whole task."""
    return Summary(
        id=task.id,
        title=task.title,
        status=task.status,
        priority=task.priority,
        agent=task.agent,
        implementer=task.implementer,
        depends=task.depends,
        created=task.created,
        updated=task.updated,
        open_feedback=len(task.open_feedback),
        escalated=task.escalated,
    )


class Decision(Record):
    """The answer to "what should I do now?": an action, a task (or none), why, and a command."""

    action: str  # continue | fix | review | claim | prep | escalation | wait | idle
    task_id: str | None
    reason: str
    command: str


def roles_of(agent: str, roles: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The roles an agent plays; an agent not named in the config works as an implementer."""
    mine = tuple(role for role in ROLES if agent in roles.get(role, ()))
    return mine or (IMPLEMENTER,)


def blocking_deps(task: Summary, by_id: Mapping[str, Summary]) -> list[str]:
    """The dependencies of ``task`` that are not done (unknown ones count as not done)."""
    return [dep for dep in task.depends if dep not in by_id or by_id[dep].status is not Status.DONE]


def find_cycle(start: str, depends: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency path from ``start`` back to itself, or None. Iterative DFS, any size."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for dep in depends.get(node, ()):
            if dep == start:
                return [*path, dep]
            if dep not in seen:
                seen.add(dep)
                stack.append((dep, [*path, dep]))
    return None


def check_new_depends(
    task_id: str, new_depends: Iterable[str], depends: Mapping[str, Iterable[str]]
) -> None:
    """Refuse unknown dependencies and any dependency that would close a cycle."""
    new = list(new_depends)
    for dep in new:
        if dep == task_id:
            raise DependencyError(f"{task_id} cannot depend on itself", "drop that --depends")
        if dep not in depends:
            raise DependencyError(
                f"unknown dependency {dep}", "create it first, or check the ID with 'orch status'"
            )
    graph = {**{k: list(v) for k, v in depends.items()}, task_id: new}
    cycle = find_cycle(task_id, graph)
    if cycle:
        raise DependencyError(
            "that dependency would make a cycle: " + " -> ".join(cycle),
            "a task cannot (indirectly) wait for itself; drop one of these dependencies",
        )


def _cmd(verb: str, task_id: str, agent: str, tail: str = "") -> str:
    return f"orch {verb} {task_id} --agent {agent}{tail}"


def decide(
    tasks: Sequence[Summary],
    agent: str,
    roles: Mapping[str, Sequence[str]],
    max_in_progress: int = 1,
) -> Decision:
    """The next action for ``agent``, in a fixed order of precedence.

    Work in hand before new work: continue a held task, handle escalations (planner), fix a task
    sent back to you, review waiting work, claim new ready work, prep stubs. Escalated tasks wait
    for a person and are offered to nobody but the planner.
    """
    mine = roles_of(agent, roles)
    by_id = {t.id: t for t in tasks}
    live = sorted((t for t in tasks if not t.escalated), key=Summary.sort_key)

    def first(status: Status, extra: Callable[[Summary], object] | None = None) -> Summary | None:
        for t in live:
            if t.status is status and (extra is None or extra(t)):
                return t
        return None

    if IMPLEMENTER in mine:
        held = [t for t in live if t.status is Status.IN_PROGRESS and t.agent == agent]
        if held:
            t: Summary | None = held[0]
            assert t is not None
            return Decision(
                action="continue",
                task_id=t.id,
                reason=f"you hold {t.id} ({t.title}); finish it, then submit it for review",
                command=_cmd("review", t.id, agent, ' --note "what you did"'),
            )
    if PLANNER in mine:
        flagged = sorted((t for t in tasks if t.escalated), key=Summary.sort_key)
        if flagged:
            esc = flagged[0]
            return Decision(
                action="escalation",
                task_id=esc.id,
                reason=f"{esc.id} ({esc.title}) was escalated and waits for a decision",
                command=f"orch show {esc.id}  # then: orch resolve {esc.id} [--to STATUS]",
            )
    if IMPLEMENTER in mine:
        t = first(
            Status.READY,
            lambda t: t.open_feedback and t.implementer == agent and not blocking_deps(t, by_id),
        )
        if t:
            return Decision(
                action="fix",
                task_id=t.id,
                reason=(
                    f"{t.id} ({t.title}) came back to you with {t.open_feedback} open "
                    "feedback item(s); read them (orch show), claim it and fix them"
                ),
                command=_cmd("claim", t.id, agent),
            )
    if REVIEWER in mine:
        t = first(Status.REVIEW)
        if t:
            return Decision(
                action="review",
                task_id=t.id,
                reason=f"{t.id} ({t.title}) waits for review"
                + (f" (implemented by {t.implementer})" if t.implementer else ""),
                command=_cmd("complete", t.id, agent)
                + f'  # or: orch feedback {t.id} --agent {agent} --text "what to change"',
            )
    if IMPLEMENTER in mine:
        held_count = sum(1 for t in tasks if t.status is Status.IN_PROGRESS and t.agent == agent)
        t = first(
            Status.READY,
            lambda t: (
                not blocking_deps(t, by_id)
                and not (t.open_feedback and t.implementer and t.implementer != agent)
            ),
        )
        orphan = first(Status.IN_PROGRESS, lambda t: not t.agent and not blocking_deps(t, by_id))
        if orphan and held_count < max_in_progress:
            return Decision(
                action="claim",
                task_id=orphan.id,
                reason=f"{orphan.id} ({orphan.title}) is in progress but nobody holds it "
                "(moved there by hand); take it over",
                command=_cmd("claim", orphan.id, agent),
            )
        if t and held_count < max_in_progress:
            return Decision(
                action="claim",
                task_id=t.id,
                reason=f"{t.id} ({t.title}) is the most urgent ready task ({t.priority.value})",
                command=_cmd("claim", t.id, agent),
            )
    if PLANNER in mine:
        t = first(Status.PENDING)
        if t:
            return Decision(
                action="prep",
                task_id=t.id,
                reason=f"{t.id} ({t.title}) is a stub; define its goal, criteria, DoR and DoD",
                command=_cmd("prep", t.id, agent, ' --goal "..." --ac "..." --dod "..."'),
            )
    return _nothing(tasks, agent, mine)


def _nothing(tasks: Sequence[Summary], agent: str, mine: tuple[str, ...]) -> Decision:
    active = [t for t in tasks if t.status not in (Status.DONE, Status.FAILED)]
    if not active:
        return Decision(
            action="idle",
            task_id=None,
            reason="no active tasks on the board",
            command='orch create "TITLE" --priority P1',
        )
    by_id = {t.id: t for t in tasks}
    groups = {
        "escalated (a person decides)": [t for t in active if t.escalated],
        "pending (the planner preps them)": [
            t for t in active if t.status is Status.PENDING and not t.escalated
        ],
        "in progress with other agents": [
            t for t in active if t.status is Status.IN_PROGRESS and not t.escalated
        ],
        "in review": [t for t in active if t.status is Status.REVIEW and not t.escalated],
        "ready but waiting on dependencies": [
            t
            for t in active
            if t.status is Status.READY and not t.escalated and blocking_deps(t, by_id)
        ],
    }
    ready = [t for t in active if t.status is Status.READY and not t.escalated]
    groups["ready, but you hold as many tasks as allowed or they wait for their implementer"] = [
        t for t in ready if not blocking_deps(t, by_id)
    ]
    parts = [f"{len(ts)} {label}" for label, ts in groups.items() if ts]
    why = f"nothing for you ({', '.join(mine)}) right now: " + "; ".join(parts)
    return Decision(
        action="wait",
        task_id=None,
        reason=why,
        command=f"orch next --agent {agent} --wait",
    )
