"""Who may run which step (spec AC4.1, AC4.2, AC5.3: the review step is a quality gate).

Only a planner creates and preps, only an implementer claims and submits, only a reviewer
approves or sends feedback, and nobody approves work they implemented. A person may do
anything. An agent named in no role that never worked on the board is refused (a typo such as
``cusor`` must not become a new implementer); one that did work on it before roles were
enforced stays an implementer. ``roles: {enforce: false}`` in the config turns all of it off.
Pure: the caller passes the roles, the agents the board has seen and the task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from .errors import NotAllowed, UnknownAgent
from .model import Task
from .ops import canonical

PLANNER, IMPLEMENTER, REVIEWER = "planner", "implementer", "reviewer"
ROLES = (PLANNER, IMPLEMENTER, REVIEWER)

PERSON = "human"  # --agent human, or no agent on the CLI: a person, who may do anything
# A commit whose agent is unknown (no ORCH_AGENT, no agent: in the config) is made by whoever
# sits at the terminal: the hooks record it as this name and it counts as a person.
HOOK_AGENT = "git-hook"
PEOPLE = frozenset({PERSON, HOOK_AGENT})

# The role each restricted operation needs (operations of the transition table and resolve).
NEEDS: dict[str, str] = {
    "create": PLANNER,
    "prep": PLANNER,
    "claim": IMPLEMENTER,
    "adopt": IMPLEMENTER,
    "submit": IMPLEMENTER,
    "feedback": REVIEWER,
    "complete": REVIEWER,
    "resolve": PLANNER,  # a person's decision; the planner is the agent that handles escalations
}
_A = {PLANNER: "a planner", IMPLEMENTER: "an implementer", REVIEWER: "a reviewer"}


def is_person(agent: str) -> bool:
    return agent in PEOPLE


def roles_of(agent: str, roles: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The roles an agent plays: a person plays them all; an agent named in no role works as
    an implementer (whether it may act at all is ``check_known``'s question)."""
    if is_person(agent):
        return ROLES
    mine = tuple(role for role in ROLES if agent in roles.get(role, ()))
    return mine or (IMPLEMENTER,)


def known_agents(roles: Mapping[str, Sequence[str]], seen: Iterable[str]) -> list[str]:
    names = {a for role in ROLES for a in roles.get(role, ())} | set(seen)
    return sorted(names - PEOPLE - {"", "-"})


def check_known(
    agent: str,
    roles: Mapping[str, Sequence[str]],
    seen: Callable[[], Iterable[str]],
    enforce: bool = True,
) -> None:
    """Refuse an agent in no role that the board has never seen, naming the known ones.
    ``seen`` is called only for an agent in no role (it may have to read the whole log)."""
    if not enforce or is_person(agent) or any(agent in roles.get(r, ()) for r in ROLES):
        return
    names = set(seen())
    if agent in names:
        return
    known = ", ".join(known_agents(roles, names)) or "none"
    example = ", ".join([*roles.get(IMPLEMENTER, ()), agent])
    raise UnknownAgent(
        f"unknown agent {agent!r}: it is in no role in .mcp/config.yaml and has never worked "
        "on this board",
        f"known agents: {known}; check the spelling, or add it to a role in .mcp/config.yaml "
        f"(e.g. roles: implementer: [{example}])",
    )


def check_step(
    op: str,
    agent: str,
    task: Task | None,
    roles: Mapping[str, Sequence[str]],
    enforce: bool = True,
    *,
    approves: bool = False,
) -> None:
    """Refuse ``op`` by ``agent`` when its role does not allow it, saying who may do it.
    ``approves``: the step ends in done (complete, a move to done), which its implementer may
    never make."""
    op = canonical(op)  # an old name ("review") must not slip past its role
    role = NEEDS.get(op)
    if not enforce or role is None or is_person(agent):
        return
    verb = "claim" if op == "adopt" else op
    allowed = [a for a in roles.get(role, ()) if not is_person(a)]
    subject = f" {task.id}" if task is not None else ""
    mine = roles_of(agent, roles)
    own = (approves or op == "complete") and task is not None and task.implementer == agent
    if role not in mine:
        why = f"implemented{subject}" if own else "is " + " and ".join(_A[r] for r in mine)
        raise NotAllowed(
            f"{verb}{subject} needs {_A[role]} ({', '.join(allowed) or 'none configured'}); "
            f"{agent} {why}",
            _who_may(role, allowed),
        )
    if own and task is not None:
        others = [a for a in roles.get(REVIEWER, ()) if a != agent and not is_person(a)]
        raise NotAllowed(
            f"{verb} {task.id} needs a reviewer who did not implement it "
            f"({', '.join(others) or 'no other reviewer configured'}); "
            f"{agent} implemented {task.id}",
            _who_may(REVIEWER, others),
        )


def _who_may(role: str, allowed: Sequence[str]) -> str:
    ask = f"ask {' or '.join(allowed)} to do it" if allowed else f"add a {role} to the config"
    # The person override is documented, not advertised: an agent reading this refusal must
    # not learn from it how to step around the quality gate.
    return f"{ask}; who plays which role is set under roles: in .mcp/config.yaml"
