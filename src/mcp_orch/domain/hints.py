"""What happens after a step, and who runs it: the hint each interface words after a step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .model import Task
from .ops import Op, op
from .roles import IMPLEMENTER, REVIEWER, is_person


def after(
    step: str, task: Task, agent: str, roles: Mapping[str, Sequence[str]]
) -> tuple[str | Op, ...]:
    """What happens after ``step`` (an operation of ``domain.ops``) on ``task``, and who runs
    it, as a hint each interface words (every operation in it can be run as it is worded)."""
    tid = task.id

    def one(role: str, fallback: str = "") -> tuple[str, str]:
        names = [n for n in roles.get(role, ()) if not is_person(n)]
        return (f" ({', '.join(names)})" if names else "", names[0] if names else fallback)

    if step == "create":
        return ("define it: ", op("prep", tid, agent, "goal", "acceptance", "done_def"))
    if step == "prep":
        who, first_one = one(IMPLEMENTER)
        return (f"an implementer{who} claims it: ", op("claim", tid, first_one))
    if step == "claim":
        return ("when done: ", op("submit", tid, agent, "note"))
    if step == "submit":
        who, first_one = one(REVIEWER)
        return (
            f"a reviewer{who} approves it or sends feedback; it is offered by ",
            op("next", "", first_one),
        )
    if step == "feedback":
        implementer = task.implementer or one(IMPLEMENTER)[1]
        return (
            f"back to {implementer or 'the implementer'} with feedback, offered by ",
            op("next", "", implementer),
        )
    if step == "fail":
        return ("a person decides: ", op("resolve", tid, to="ready"))
    if step == "escalate":
        return (
            "a person looks at it (",
            op("show", tid),
            "), then ",
            op("resolve", tid, "", "to"),
        )
    if step == "resolve":
        return ("back in the flow: ", op("next", "", agent))
    if step == "error":
        return ("the error context is kept in the task",)
    return ("done; nothing left to do on it",)
