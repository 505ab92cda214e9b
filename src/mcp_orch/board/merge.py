"""Reading through git's conflict markers, and merging copies of one task into one.

When two branches move the same task to different folders, git reports a rename/rename
conflict and leaves a copy in each folder, both holding conflict markers. Each copy is split
into its two sides, every side is parsed, and the versions are merged: histories and notes are
unions (nothing appended on either branch is lost), and the version whose last handoff is the
latest decides the status, the folder and the other fields.
"""

from __future__ import annotations

from ..domain.model import HistoryEntry, Note, Status, Task
from . import format as fmt


def split_conflict(text: str) -> list[str]:
    """The versions a file with conflict markers holds: ours and theirs (base sides dropped).

    A file without markers is one version. Nested markers are not produced by git for text.
    """
    ours: list[str] = []
    theirs: list[str] = []
    state = "both"
    seen = False
    for line in text.split("\n"):
        if line[:1] in "<>=|" and fmt.CONFLICT_RE.match(line):
            seen = True
            if line.startswith("<"):
                state = "ours"
            elif line.startswith("|"):
                state = "base"
            elif line.startswith("="):
                state = "theirs"
            else:
                state = "both"
            continue
        if state in ("both", "ours"):
            ours.append(line)
        if state in ("both", "theirs"):
            theirs.append(line)
    if not seen:
        return [text]
    return ["\n".join(ours), "\n".join(theirs)]


def latest_move(task: Task) -> str:
    """When the task last changed hands: its newest history time, else its update time."""
    stamps = [h.at for h in task.history if h.op] + [task.updated]
    return max(stamps)


def _union_history(versions: list[Task]) -> tuple[HistoryEntry, ...]:
    seen: dict[tuple[str, ...], HistoryEntry] = {}
    for task in versions:
        for entry in task.history:
            key = (entry.at, entry.agent, entry.op, entry.from_status, entry.to_status, entry.note)
            seen.setdefault(key, entry)
    # Hand-written lines (no time) keep their place before the timed ones; timed ones sort.
    entries = list(seen.values())
    return tuple(sorted(entries, key=lambda e: (bool(e.at), e.at)))


def _union_notes(versions: list[Task], attr: str, prefix: str) -> tuple[Note, ...]:
    merged: dict[tuple[str, str, str], Note] = {}
    for task in versions:
        for note in getattr(task, attr):
            ident = (note.at, note.author, note.body)
            known = merged.get(ident)
            if known is None or (known.open and not note.open):
                merged[ident] = note  # a resolution on either side wins: it happened later
    notes = sorted(merged.values(), key=lambda n: (n.at, n.key))
    used: set[str] = set()
    out: list[Note] = []
    for note in notes:
        key = note.key
        if key in used:  # both branches numbered a new note the same: renumber the later one
            number = len(used) + 1
            while f"{prefix}-{number}" in used:
                number += 1
            key = f"{prefix}-{number}"
        used.add(key)
        out.append(
            Note(
                key=key,
                at=note.at,
                author=note.author,
                body=note.body,
                source=note.source,
                open=note.open,
                resolved_at=note.resolved_at,
                ref=note.ref,
            )
        )
    return tuple(out)


def merge_versions(versions: list[Task]) -> Task:
    """One task holding everything the versions hold; the latest version wins the fields."""
    if not versions:
        raise ValueError("nothing to merge")
    ordered = sorted(versions, key=latest_move)
    winner = ordered[-1]
    extras: dict[tuple[str, str, str], None] = {}
    for task in ordered:
        for item in task.extra:
            extras.setdefault(item, None)
    return winner.evolve(
        # git merges a header line changed on one branch only into both sides, so a side may
        # name a holder although its status has none: only an in-progress task is held.
        agent=winner.agent if winner.status is Status.IN_PROGRESS else "",
        history=_union_history(ordered),
        feedback=_union_notes(ordered, "feedback", "FB"),
        errors=_union_notes(ordered, "errors", "E"),
        escalations=_union_notes(ordered, "escalations", "ESC"),
        extra=tuple(extras),
        updated=max(t.updated for t in ordered),
    )


def parse_versions(text: str, path: str) -> list[Task]:
    """Every version of the task in ``text``; ``MalformedTask`` if a side cannot be parsed."""
    return [fmt.parse(side, path) for side in split_conflict(text)]
