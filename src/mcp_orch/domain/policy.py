"""What each agent should do next, and the dependency rules behind it. Pure functions.

The board hands this module light summaries (see ``Summary``), so deciding is cheap even on a
board of 10,000 tasks; only the chosen task is read in full afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from .errors import DependencyError
from .model import Priority, Status, Task
from .ops import Op, op
from .record import Record
from .roles import IMPLEMENTER, PLANNER, REVIEWER, is_person, roles_of


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
    capabilities: tuple[str, ...] = ()

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
        capabilities=task.capabilities,
    )


class Decision(Record):
    """The answer to "what should I do now?": an action, a task (or none), why, and the
    operations to run (the first is the one to run; the others are alternatives)."""

    action: str  # continue | fix | review | claim | prep | escalation | wait | idle
    task_id: str | None
    reason: str
    ops: tuple[Op, ...]


def blocking_deps(task: Summary, by_id: Mapping[str, Summary]) -> list[str]:
    """The dependencies of ``task`` that are not done (unknown ones count as not done)."""
    return [dep for dep in task.depends if dep not in by_id or by_id[dep].status is not Status.DONE]


def waiting_on(task: Summary, statuses: Mapping[str, Status]) -> list[str]:
    """``blocking_deps`` from the statuses of the dependencies alone (a store's narrow read)."""
    return [dep for dep in task.depends if statuses.get(dep) is not Status.DONE]


def sent_back_to(task: Summary) -> str:
    """The implementer a ready task went back to with open feedback ("" for new work): it is
    that agent's to fix, offered to and assigned to nobody else."""
    return task.implementer if task.status is Status.READY and task.open_feedback else ""


def may_review(task: Summary, agent: str) -> bool:
    """Nobody reviews work they implemented (a person may look at anything)."""
    return is_person(agent) or task.implementer != agent


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
            raise DependencyError(
                f"{task_id} cannot depend on itself", "drop it from the dependencies"
            )
        if dep not in depends:
            raise DependencyError(
                f"unknown dependency {dep}",
                ("create it first, or check the ID on the board: ", op("status")),
            )
    graph = {**{k: list(v) for k, v in depends.items()}, task_id: new}
    cycle = find_cycle(task_id, graph)
    if cycle:
        raise DependencyError(
            "that dependency would make a cycle: " + " -> ".join(cycle),
            "a task cannot (indirectly) wait for itself; drop one of these dependencies",
        )


class Context(Record):
    """What a rule of ``decide`` looks at: the board, who asks, the roles it plays."""

    tasks: Sequence[Summary]
    agent: str
    mine: tuple[str, ...]
    by_id: Mapping[str, Summary]
    live: Sequence[Summary]  # not escalated, most urgent first
    max_in_progress: int
    # Tasks an orchestrator assigned (task ID -> agent), a review most of all: such a task is
    # its agent's to do first and offered to nobody else. Empty without a service.
    assigned: Mapping[str, str] = {}

    def first(self, status: Status, test: Callable[[Summary], object]) -> Summary | None:
        """The most urgent live task in ``status`` that passes ``test`` and that is assigned
        to nobody else."""
        mine, assigned = self.agent, self.assigned
        return next(
            (
                t
                for t in self.live
                if t.status is status and assigned.get(t.id, mine) == mine and test(t)
            ),
            None,
        )

    def held(self) -> int:
        return _held(self.tasks, self.agent)


Rule = Callable[[Context], "Decision | None"]
"""One precedence step of ``decide``: the decision it makes, or None to ask the next rule."""


def _continue(ctx: Context) -> Decision | None:
    """(implementer) Finish the task you hold before anything else."""
    if IMPLEMENTER not in ctx.mine:
        return None
    t = ctx.first(Status.IN_PROGRESS, lambda t: t.agent == ctx.agent)
    if t is None:
        return None
    return Decision(
        action="continue",
        task_id=t.id,
        reason=f"you hold {t.id} ({t.title}); finish it, then submit it for review",
        ops=(op("submit", t.id, ctx.agent, "note"),),
    )


def _assigned_review(ctx: Context) -> Decision | None:
    """(reviewer) A review an orchestrator assigned to you comes before other reviews."""
    if REVIEWER not in ctx.mine or not ctx.assigned:
        return None
    t = ctx.first(Status.REVIEW, lambda t: ctx.assigned.get(t.id) == ctx.agent)
    return _review_of(t, ctx.agent) if t is not None else None


def _escalation(ctx: Context) -> Decision | None:
    """(planner) An escalated task waits for a decision; only the planner is offered it."""
    if PLANNER not in ctx.mine:
        return None
    flagged = sorted((t for t in ctx.tasks if t.escalated), key=Summary.sort_key)
    if not flagged:
        return None
    esc = flagged[0]
    return Decision(
        action="escalation",
        task_id=esc.id,
        reason=f"{esc.id} ({esc.title}) was escalated and waits for a decision: read "
        "it, decide, and return it to the flow (resolve, with the status it goes to)",
        ops=(op("show", esc.id), op("resolve", esc.id, ctx.agent, "to")),
    )


def _fix(ctx: Context) -> Decision | None:
    """(implementer) A task sent back to you with feedback comes before new work."""
    if IMPLEMENTER not in ctx.mine:
        return None
    t = ctx.first(
        Status.READY,
        lambda t: sent_back_to(t) == ctx.agent and not blocking_deps(t, ctx.by_id),
    )
    if t is None:
        return None
    return Decision(
        action="fix",
        task_id=t.id,
        reason=(
            f"{t.id} ({t.title}) came back to you with {t.open_feedback} open "
            "feedback item(s) (they come with the task); claim it and fix them"
        ),
        ops=(op("claim", t.id, ctx.agent),),
    )


def _review(ctx: Context) -> Decision | None:
    """(reviewer) Waiting work you did not implement."""
    if REVIEWER not in ctx.mine:
        return None
    t = ctx.first(Status.REVIEW, lambda t: may_review(t, ctx.agent))
    return _review_of(t, ctx.agent) if t is not None else None


def _review_of(t: Summary, agent: str) -> Decision:
    return Decision(
        action="review",
        task_id=t.id,
        reason=f"{t.id} ({t.title}) waits for review"
        + (f" (implemented by {t.implementer})" if t.implementer else ""),
        ops=(op("complete", t.id, agent), op("feedback", t.id, agent, "text")),
    )


def _adopt(ctx: Context) -> Decision | None:
    """(implementer, with room) An in-progress task nobody holds (moved there by hand)."""
    if IMPLEMENTER not in ctx.mine or ctx.held() >= ctx.max_in_progress:
        return None
    t = ctx.first(Status.IN_PROGRESS, lambda t: not t.agent and not blocking_deps(t, ctx.by_id))
    if t is None:
        return None
    return Decision(
        action="claim",
        task_id=t.id,
        reason=f"{t.id} ({t.title}) is in progress but nobody holds it "
        "(moved there by hand); take it over",
        ops=(op("claim", t.id, ctx.agent),),
    )


def claimable(task: Summary, agent: str, by_id: Mapping[str, Summary]) -> bool:
    """New ready work ``agent`` may claim: its dependencies done, not sent back to another."""
    back = sent_back_to(task)
    return not blocking_deps(task, by_id) and back in ("", agent)


def _claim(ctx: Context) -> Decision | None:
    """(implementer, with room) The most urgent ready task: P0 > P1 > P2, then oldest."""
    if IMPLEMENTER not in ctx.mine or ctx.held() >= ctx.max_in_progress:
        return None
    t = ctx.first(Status.READY, lambda t: claimable(t, ctx.agent, ctx.by_id))
    if t is None:
        return None
    return Decision(
        action="claim",
        task_id=t.id,
        reason=f"{t.id} ({t.title}) is the most urgent ready task ({t.priority.value})",
        ops=(op("claim", t.id, ctx.agent),),
    )


def _prep(ctx: Context) -> Decision | None:
    """(planner) A stub to define."""
    if PLANNER not in ctx.mine:
        return None
    t = ctx.first(Status.PENDING, bool)
    if t is None:
        return None
    return Decision(
        action="prep",
        task_id=t.id,
        reason=f"{t.id} ({t.title}) is a stub; define its goal, criteria, DoR and DoD",
        ops=(op("prep", t.id, ctx.agent, "goal", "acceptance", "done_def"),),
    )


# Work in hand before new work. The first rule that decides wins; then idle or wait.
RULES: tuple[Rule, ...] = (
    _continue,
    _assigned_review,
    _escalation,
    _fix,
    _review,
    _adopt,
    _claim,
    _prep,
)


def decide(
    tasks: Sequence[Summary],
    agent: str,
    roles: Mapping[str, Sequence[str]],
    max_in_progress: int = 1,
    rules: Sequence[Rule] = RULES,
    assigned: Mapping[str, str] | None = None,
) -> Decision:
    """The next action for ``agent``: the decision of the first of ``rules`` that makes one.

    Work in hand before new work: continue a held task, handle escalations (planner), fix a task
    sent back to you, review waiting work (not your own), claim new ready work, prep stubs.
    Escalated tasks wait for a person and are offered to nobody but the planner. A task an
    orchestrator ``assigned`` (task ID -> agent) is offered to that agent only, a review first.
    """
    ctx = Context(
        tasks=tasks,
        agent=agent,
        mine=roles_of(agent, roles),
        by_id={t.id: t for t in tasks},
        live=sorted((t for t in tasks if not t.escalated), key=Summary.sort_key),
        max_in_progress=max_in_progress,
        assigned=assigned or {},
    )
    for rule in rules:
        decision = rule(ctx)
        if decision is not None:
            return decision
    return _nothing(tasks, agent, ctx.mine, max_in_progress)


def _held(tasks: Sequence[Summary], agent: str) -> int:
    return sum(1 for t in tasks if t.status is Status.IN_PROGRESS and t.agent == agent)


def _nothing(
    tasks: Sequence[Summary], agent: str, mine: tuple[str, ...], max_in_progress: int
) -> Decision:
    """Idle (an empty board) or wait, saying what each of the agent's roles waits for."""
    active = [t for t in tasks if t.status not in (Status.DONE, Status.FAILED)]
    if not active:
        if PLANNER in mine:
            return Decision(
                action="idle",
                task_id=None,
                reason="no active tasks on the board; create the first one",
                ops=(op("create", "", agent, "title", priority="P1"),),
            )
        return Decision(
            action="idle",
            task_id=None,
            reason="no active tasks on the board; the planner creates them",
            ops=(op("next", "", agent, wait=""),),
        )
    waits = [_awaited(role, active, tasks, agent, max_in_progress) for role in mine]
    flagged = sum(1 for t in active if t.escalated)
    if flagged:
        waits.append(f"{flagged} escalated task(s) wait for a person")
    return Decision(
        action="wait",
        task_id=None,
        reason=f"nothing for you ({', '.join(mine)}) right now: " + "; ".join(waits),
        ops=(op("next", "", agent, wait=""),),
    )


def _awaited(
    role: str,
    active: Sequence[Summary],
    tasks: Sequence[Summary],
    agent: str,
    max_in_progress: int,
) -> str:
    """What ``role`` waits for on a board where it has nothing to do."""
    live = [t for t in active if not t.escalated]
    count = {s: sum(1 for t in live if t.status is s) for s in Status}
    if role == REVIEWER:
        own = [t.id for t in live if t.status is Status.REVIEW and t.implementer == agent]
        text = "waiting for work to be submitted for review"
        if count[Status.IN_PROGRESS]:
            text += f" ({count[Status.IN_PROGRESS]} in progress)"
        if own:
            text += f"; {', '.join(own)} wait(s) for another reviewer (you implemented it)"
        return text
    if role == PLANNER:
        return "waiting for new work to plan (no stub to prep)"
    held = _held(tasks, agent)
    if held >= max_in_progress:
        return (
            f"you hold {held} in-progress task(s), as many as max_in_progress ({max_in_progress})"
            " allows; they wait for a person"
        )
    by_id = {t.id: t for t in tasks}
    ready = [t for t in live if t.status is Status.READY]
    blocked = sum(1 for t in ready if blocking_deps(t, by_id))
    theirs = sum(1 for t in ready if not blocking_deps(t, by_id) and t.implementer != agent)
    parts = [
        f"{n} {what}"
        for n, what in (
            (count[Status.PENDING], "pending (the planner preps them)"),
            (blocked, "ready but waiting on dependencies"),
            (theirs, "ready but sent back to their implementer"),
            (count[Status.IN_PROGRESS], "in progress with other agents"),
            (count[Status.REVIEW], "in review"),
        )
        if n
    ]
    return "waiting for a ready task to claim" + (f" ({'; '.join(parts)})" if parts else "")
