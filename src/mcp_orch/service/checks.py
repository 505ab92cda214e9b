"""Ticking checklist items (acceptance criteria, Definition of Ready and of Done), so a task
shows what was met. Not a handoff: the task stays where it is, the tick is in its history.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..domain import transitions
from ..domain.errors import InvalidInput
from ..domain.model import CheckItem, Task
from ..inputs import check_agent
from ..store import Tx
from .base import ServiceBase

# The checklists by their short names (the CLI's flags), with the Task field and a label.
CHECKLISTS = {
    "ac": ("acceptance criteria", "AC"),
    "dor": ("Definition of Ready items", "DoR"),
    "dod": ("Definition of Done items", "DoD"),
}


def check(
    service: ServiceBase,
    task_id: str,
    *,
    agent: str | None = None,
    ac: Sequence[str] = (),
    dor: Sequence[str] = (),
    dod: Sequence[str] = (),
    done: bool = True,
) -> Task:
    """Tick (``done=False``: untick) the named items: numbers from 1 ("2", "1,3", "2-4"),
    "all", or an item's exact text. Ticking a ticked item changes nothing; a tick is kept
    through later preps (by its text) and merges. One transaction, one history entry."""
    who = check_agent(agent, required=False)
    wanted = {"ac": list(ac), "dor": list(dor), "dod": list(dod)}
    if not any(wanted.values()):
        raise InvalidInput(
            "no checklist item named",
            "name the items to tick (acceptance criteria, DoR or DoD) by number, or all",
        )

    def change(task: Task, tx: Tx) -> Task:
        lists = {"ac": task.acceptance, "dor": task.ready_def, "dod": task.done_def}
        said: list[str] = []
        for short, given in wanted.items():
            if not given:
                continue
            what, label = CHECKLISTS[short]
            items = lists[short]
            numbers = _select(given, items, f"{task.id} {what}")
            changed = [n for n in numbers if items[n - 1].done is not done]
            if changed:
                lists[short] = tuple(
                    i._replace(done=done) if n in changed else i for n, i in enumerate(items, 1)
                )
                said.append(f"{label} {', '.join(map(str, changed))}")
        if not said:
            return task  # already as asked: nothing to write
        verb = "ticked" if done else "unticked"
        note = f"{verb} " + "; ".join(said)
        ticked = task.evolve(acceptance=lists["ac"], ready_def=lists["dor"], done_def=lists["dod"])
        return transitions.record(ticked, "check", actor=who, now=service.now(), note=note)

    return service._mutate(task_id, who, "check", change)


def _select(given: Sequence[str], items: tuple[CheckItem, ...], what: str) -> list[int]:
    """The 1-based item numbers ``given`` names, in order, each once."""
    numbers: list[int] = []
    for value in given:
        for part in _parts(value):
            numbers += _numbers(part, items, what)
    return list(dict.fromkeys(numbers))


def _parts(value: str) -> list[str]:
    text = value.strip()
    # "1,3" and "2-4" are numbers; anything else is one item's text
    if text and all(c.isdigit() or c in ",- " for c in text):
        return [p.strip() for p in text.split(",") if p.strip()]
    return [text]


def _numbers(part: str, items: tuple[CheckItem, ...], what: str) -> list[int]:
    count = len(items)
    if not count:
        raise InvalidInput(f"{what}: there are none to tick", f"prep the task with {what} first")
    span = f"1-{count}" if count > 1 else "1"
    if part.lower() == "all":
        return list(range(1, count + 1))
    low, sep, high = part.partition("-")
    if low.strip().isdigit() and (not sep or high.strip().isdigit()):
        first, last = int(low), int(high) if sep else int(low)
        if 1 <= first <= last <= count:
            return list(range(first, last + 1))
        raise InvalidInput(
            f"{what}: there is no item {part} (there are {count})",
            f"give a number in {span}, a range like 1-{count}, or all",
        )
    matches = [n for n, i in enumerate(items, 1) if i.text.strip().lower() == part.lower()]
    if matches:
        return matches
    raise InvalidInput(
        f"{what}: no item reads {part!r}",
        f"give its number ({span}; the task lists them in order), or all",
    )
