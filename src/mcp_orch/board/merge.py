"""Reading through git's conflict markers, and merging copies of one task into one.

When two branches move the same task to different folders, git reports a rename/rename
conflict and leaves a copy in each folder, both holding conflict markers. Each copy is split
into its two sides, every side is parsed, and the versions are merged: histories and notes are
unions (nothing appended on either branch is lost), and the version whose last handoff is the
latest decides the status, the folder and the other fields. Nothing is dropped silently: where
another version's title, goal, criteria, files, notes or git context differ from the winner's,
its text is kept in a ``## Merged from the other side`` section of the merged file.
"""

from __future__ import annotations

from ..domain.model import HistoryEntry, Note, Status, Task
from ..domain.record import Record
from . import format as fmt

OTHER_SIDE = "Merged from the other side"
# The hand-written section of the other side's text follows this section: next to what it is about.
_OTHER_SIDE_AFTER = "implementation notes"
# The sections where the latest version wins (notes and history are unions instead).
_WINNER_TAKES = (
    "goal",
    "acceptance criteria",
    "definition of ready",
    "definition of done",
    "files affected",
    "implementation notes",
    "git context",
)


class Merged(Record):
    """The merged task, and the headings of the other side's text kept under ``OTHER_SIDE``."""

    task: Task
    kept: tuple[str, ...] = ()


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


def _history_key(entry: HistoryEntry) -> tuple[str, ...]:
    return (entry.at, entry.agent, entry.op, entry.from_status, entry.to_status, entry.note)


def _union_history(versions: list[Task]) -> tuple[HistoryEntry, ...]:
    seen: dict[tuple[str, ...], HistoryEntry] = {}
    for task in versions:
        for entry in task.history:
            seen.setdefault(_history_key(entry), entry)
    # Entries without a time keep their place before the timed ones; timed ones sort.
    entries = list(seen.values())
    return tuple(sorted(entries, key=lambda e: (bool(e.at), e.at)))


def _history_lines(task: Task, history: tuple[HistoryEntry, ...], anchor: str) -> str:
    """``anchor`` (lines a person wrote into ``task``'s History) placed in the merged history.

    The lines stay after the entry they followed, wherever the union put that entry.
    """
    where = fmt.inside_position(anchor)
    number = where[1] if where else 0
    if number == 0:
        return anchor
    if number > len(task.history):
        return fmt.inside_anchor("history", len(history))
    index = {_history_key(e): n for n, e in enumerate(history, 1)}
    return fmt.inside_anchor("history", index[_history_key(task.history[number - 1])])


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
        out.append(note._replace(key=key))
    return tuple(out)


def _other_side(winner: Task, other: Task) -> tuple[str, list[str]]:
    """The body of an ``OTHER_SIDE`` section holding what ``other`` says and ``winner`` not."""
    blocks: list[str] = []
    kept: list[str] = []
    for heading, mine, theirs in (
        ("Title", winner.title, other.title),
        ("Priority", winner.priority.value, other.priority.value),
        ("Depends On", ", ".join(winner.depends) or "none", ", ".join(other.depends) or "none"),
    ):
        if mine != theirs:
            blocks.append(f"### {heading}\n{theirs}")
            kept.append(heading)
    for key in _WINNER_TAKES:
        theirs = fmt.section_text(other, key)
        if theirs and theirs != fmt.section_text(winner, key):
            blocks.append(f"### {fmt.SECTIONS[key]}\n{theirs}")
            kept.append(fmt.SECTIONS[key])
    if not blocks:
        return "", []
    last = other.history[-1] if other.history else None
    move = f"{last.at} {last.agent} {last.op} -> {last.to_status}" if last else other.updated
    intro = (
        f"orch doctor merged versions of this task. The one with the latest move gave the "
        f"fields above; this is what another version (last move: {move}) said where they "
        "differ. Settle it, then delete this section."
    )
    return "\n\n".join([intro, *blocks]), kept


def merge(versions: list[Task]) -> Merged:
    """One task holding everything the versions hold; the latest version wins the fields.

    The others' differing text is kept in an ``OTHER_SIDE`` section; ``kept`` names it.
    """
    if not versions:
        raise ValueError("nothing to merge")
    ordered = sorted(versions, key=latest_move)
    winner = ordered[-1]
    history = _union_history(ordered)
    extras: dict[tuple[str, str, str], None] = {}
    for task in ordered:
        for anchor, heading, body in task.extra:
            where = None if heading else fmt.inside_position(anchor)
            if where is None:  # a hand-written section, or text among the header fields
                extras.setdefault((anchor, heading, body), None)
            elif where[0] == "history":
                extras.setdefault((_history_lines(task, history, anchor), heading, body), None)
            elif task is winner:  # the rest belongs to its section: compared as a whole below
                extras.setdefault((anchor, heading, body), None)
    kept: list[str] = []
    for other in ordered[:-1]:
        body, headings = _other_side(winner, other)
        if body:
            extras.setdefault((_OTHER_SIDE_AFTER, OTHER_SIDE, body), None)
            kept += [h for h in headings if h not in kept]
    task = winner.evolve(
        # git merges a header line changed on one branch only into both sides, so a side may
        # name a holder although its status has none: only an in-progress task is held.
        agent=winner.agent if winner.status is Status.IN_PROGRESS else "",
        history=history,
        feedback=_union_notes(ordered, "feedback", "FB"),
        errors=_union_notes(ordered, "errors", "E"),
        escalations=_union_notes(ordered, "escalations", "ESC"),
        extra=tuple(extras),
        updated=max(t.updated for t in ordered),
    )
    return Merged(task=task, kept=tuple(kept))


def merge_versions(versions: list[Task]) -> Task:
    """``merge(versions).task``."""
    return merge(versions).task


def parse_versions(
    text: str, path: str, warnings: list[fmt.ParseWarning] | None = None
) -> list[Task]:
    """Every version of the task in ``text``; ``MalformedTask`` if a side cannot be parsed.

    ``warnings`` receives what is odd in the file (of its first side only: both sides of a
    conflict share most of their lines)."""
    sides = split_conflict(text)
    return [fmt.parse(side, path, warnings if n == 0 else None) for n, side in enumerate(sides)]
