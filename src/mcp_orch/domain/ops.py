"""Operations as data: what an agent (or a person) can do next, with its arguments.

The service and the domain never write a command line or a tool call. A hint after a step, a
decision of ``next`` and the advice of an error carry an ``Op`` instead, and each interface
words it in its own terms: the CLI as ``orch claim T-7k3m9q2x --agent cursor``, MCP as "call
claim_task with task_id=T-7k3m9q2x", HTTP (later) as a route. A ChatGPT planner has no shell,
so it must never be told to run one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .record import Record

# The operations a hint may name. Each interface has a word for every one of them.
OPS = (
    "create",  # a new task stub (planner)
    "prep",  # define a task: goal, criteria, DoR, DoD (planner)
    "next",  # ask what to do now (args: wait)
    "claim",  # take a ready task (implementer)
    "submit",  # hand the held task to review (implementer)
    "complete",  # approve it (reviewer)
    "feedback",  # send it back with what to change (reviewer)
    "show",  # read one task
    "status",  # read the board (args: all)
    "error",  # keep error context on a task
    "fail",  # give a task up
    "escalate",  # flag a task for a person
    "resolve",  # a person returns a task to the flow (args: to)
    "doctor",  # a person repairs the board (args: fix)
)

# Operations renamed since: an old history entry or log line says the old word.
RENAMED = {"review": "submit"}


def canonical(name: str) -> str:
    """The operation's name today (``review``, written by older versions, is ``submit``)."""
    return RENAMED.get(name, name)


class Op(Record):
    """One operation to run: its name (one of ``OPS``), the task, who runs it, the argument
    values already known (``args``) and the ones the caller must fill in (``needs``)."""

    name: str
    task_id: str = ""
    agent: str = ""
    args: tuple[tuple[str, str], ...] = ()
    needs: tuple[str, ...] = ()


def op(name: str, task_id: str = "", agent: str = "", *needs: str, **args: str) -> Op:
    """An ``Op`` in one line: ``op("prep", tid, who, "goal", "acceptance")``."""
    assert name in OPS, name
    return Op(name, task_id, agent, tuple(args.items()), needs)


# A hint: text with operations in it, e.g. ("pick other work: ", op("next", agent=who)).
Hint = tuple[str | Op, ...]


def hint_of(text: str | Sequence[str | Op]) -> Hint:
    return (text,) if isinstance(text, str) else tuple(text)


def word(hint: Hint, say: Callable[[Op], str]) -> str:
    """The hint as one interface says it: each operation worded by ``say``."""
    return "".join(part if isinstance(part, str) else say(part) for part in hint)


def plain(o: Op) -> str:
    """A wording of no interface, for logs and places that have none: 'claim T-7k3m9q2x'."""
    return " ".join(p for p in (o.name, o.task_id) if p)


def ops_in(hint: Hint) -> list[Op]:
    return [part for part in hint if isinstance(part, Op)]
