"""The task file: the spec's Markdown schema, parsed and rendered deterministically.

Rendering is a pure function of the ``Task``: the same task always gives the same bytes, fields
in a fixed order, so git diffs stay small and merges stay clean. Whatever a person or agent
adds by hand survives every rewrite, byte for byte: ``render(parse(text))`` gives back each
such line as written, and ``parse(render(task)) == task`` for every task read from a file.

- A line is read as structure (a criterion, a file, a history entry, a Git Context field, a
  note's header) only in a form the renderer itself writes or one close to it; a structured
  line is data and is written back in its one canonical form (``* [X] a`` -> ``- [x] a``).
- Every other line in a section is kept as written, where it was. The ``Task`` record has no
  field for such lines, so they ride in ``Task.extra`` (see ``inside_anchor``); a line under a
  checklist item is the exception (see ``_parse_checks``).
- Unknown ``## Sections`` are kept after the section they followed.
"""

from __future__ import annotations

import re

from ..domain.errors import MalformedTask
from ..domain.model import (
    CheckItem,
    GitContext,
    HistoryEntry,
    Note,
    Priority,
    Status,
    Task,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time on every write: for the type checker only
    from collections.abc import Callable
    from typing import TypeVar

    _T = TypeVar("_T")

# Git writes 7 marker characters, more (8+) in rename conflicts; a bare "=======" line is one too.
CONFLICT_RE = re.compile(r"^(?:<{7,}|>{7,}|\|{7,})(?: |$)|^={7,}$")

# Header fields ("## Key: value"), in the order they are rendered.
_FIELDS = ("status", "priority", "agent", "created", "last updated", "implementer", "depends on")

# Body sections, in the order they are rendered: canonical key -> heading.
SECTIONS: dict[str, str] = {
    "goal": "Goal",
    "acceptance criteria": "Acceptance Criteria",
    "definition of ready": "Definition of Ready",
    "definition of done": "Definition of Done",
    "files affected": "Files Affected",
    "implementation notes": "Implementation Notes",
    "review feedback": "Review Feedback",
    "error context": "Error Context",
    "escalation": "Escalation",
    "git context": "Git Context",
    "history": "History",
}
# The ``Task`` field each section is read into (Git Context: ``git``).
_FIELD_OF = {
    "goal": "goal",
    "acceptance criteria": "acceptance",
    "definition of ready": "ready_def",
    "definition of done": "done_def",
    "files affected": "files",
    "implementation notes": "notes",
    "review feedback": "feedback",
    "error context": "errors",
    "escalation": "escalations",
    "git context": "git",
    "history": "history",
}
_CHECKLISTS = ("acceptance criteria", "definition of ready", "definition of done")
_NOTES = {"review feedback": "FB", "error context": "E", "escalation": "ESC"}  # key prefixes

_TITLE_RE = re.compile(r"^# Task:\s*(\S+)\s+[-–—]\s+(.*?)\s*$")
_TITLE_ONLY_ID_RE = re.compile(r"^# Task:\s*(\S+)\s*$")
_FIELD_RE = re.compile(r"^##\s+([A-Za-z][A-Za-z ]*?):\s*(.*?)\s*$")
_HEADING_RE = re.compile(r"^##\s+(.+?)\s*$")
# Structured lines start in the first column: an indented line continues the one above it.
_CHECK_RE = re.compile(r"^[-*][ \t]+\[([ xX])\](?:[ \t]+(.*))?$")
_BULLET_RE = re.compile(r"^[-*][ \t]+(.*)$")  # greedy: a lazy group is 3x slower
# A note's key is PREFIX-N and its time a timestamp (or "-"): "### Step one done" is text.
_NOTE_RE = re.compile(
    r"^###\s+([A-Za-z]+-\d+)(?:\s+\[(open|resolved)(?:\s+(\S+))?\])?\s+(-|\d\S*)\s+(\S+)"
    r"(?:\s+\((\S+)\))?\s*$"
)
_REF_PREFIX = "Details: "
_HIST_SEP = " | "


def inside_anchor(key: str, position: int) -> str:
    """The ``Task.extra`` anchor of hand-written lines inside section ``key``.

    Such an entry is ``(inside_anchor(key, n), "", text)``: ``text`` stands after the ``n``-th
    entry of the section (criterion, file, history entry, Git Context line; 0: before the
    first). The empty heading tells it from a hand-written ``## Section``.
    """
    return f"{key}@{position}"


def inside_position(anchor: str) -> tuple[str, int] | None:
    """``(key, n)`` of an anchor made by ``inside_anchor``; None for any other anchor."""
    key, sep, number = anchor.rpartition("@")
    return (key, int(number)) if sep and key in SECTIONS and number.isdigit() else None


# --------------------------------------------------------------------------- rendering


def render(task: Task) -> str:
    """The file's bytes (as text) for ``task``; a pure function."""
    out: list[str] = [
        f"# Task: {task.id} - {_one_line(task.title)}",
        "",
        f"## Status: {task.status.value}",
        "",
        f"## Priority: {task.priority.value}",
        "",
        f"## Agent: {task.agent or 'unassigned'}",
        "",
        f"## Created: {task.created}",
        f"## Last Updated: {task.updated}",
        f"## Implementer: {task.implementer or 'none'}",
        f"## Depends On: {', '.join(task.depends) or 'none'}",
        "",
    ]
    headed, inside = _split_extra(task)
    _render_extras(out, headed.get("", []))
    for key, heading in SECTIONS.items():
        out.append(f"## {heading}")
        body = _render_section(task, key, inside.get(key, {}))
        if body:
            out.append(body)
        out.append("")
        _render_extras(out, headed.get(key, []))
    return "\n".join(out).rstrip("\n") + "\n"


def section_text(task: Task, key: str) -> str:
    """The body of section ``key`` as ``render`` writes it, hand-written lines included."""
    return _render_section(task, key, _split_extra(task)[1].get(key, {}))


def _split_extra(
    task: Task,
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, dict[int, str]]]:
    headed: dict[str, list[tuple[str, str]]] = {}
    inside: dict[str, dict[int, str]] = {}
    for anchor, heading, body in task.extra:
        where = None if heading else inside_position(anchor)
        if where is None:
            headed.setdefault(anchor, []).append((heading, body))
        else:
            blocks = inside.setdefault(where[0], {})
            blocks[where[1]] = f"{blocks[where[1]]}\n{body}" if where[1] in blocks else body
    return headed, inside


def _render_extras(out: list[str], items: list[tuple[str, str]]) -> None:
    for heading, body in items:
        if heading:
            out.append(f"## {heading}")
        if body:
            out.append(body)
        out.append("")


def _render_section(task: Task, key: str, inside: dict[int, str]) -> str:
    if key == "goal":
        return _escape(task.goal)
    if key == "implementation notes":
        return _escape(task.notes)
    if key in _NOTES:
        return _render_notes(getattr(task, _FIELD_OF[key]), stateful=key != "error context")
    entries: list[str]
    if key in _CHECKLISTS:
        entries = [_render_check(i) for i in getattr(task, _FIELD_OF[key])]
    elif key == "files affected":
        entries = [f"- {f}" for f in task.files]
    elif key == "git context":
        git = task.git
        entries = [f"- Branch: {git.branch}", f"- Commit: {git.commit}", f"- PR: {git.pr}"]
        entries = [e.rstrip() for e in entries]
        entries[-1] = "\n".join([entries[-1], *git.other])
    elif key == "history":
        entries = [_render_history(h) for h in task.history]
    else:
        raise KeyError(key)
    if not inside:
        return "\n".join(entries)
    lines: list[str] = []
    for number, entry in enumerate(entries):
        if number in inside:
            lines.append(inside[number])
        lines.append(entry)
    lines += [inside[n] for n in sorted(inside) if n >= len(entries)]
    return _trim("\n".join(lines))  # hand-written blank lines never end a section


def _render_check(item: CheckItem) -> str:
    first, sep, more = item.text.partition("\n")
    line = f"- [{'x' if item.done else ' '}] {first}".rstrip()
    if not sep:
        return line
    # Lines under an item are kept as written; one that would read as an item, a heading or a
    # conflict marker (only in text not read from a file) is indented to stay part of the item.
    rest = (
        " " + ln if _CHECK_RE.match(ln) or _is_heading(ln) or _is_marker(ln) else ln
        for ln in more.split("\n")
    )
    return "\n".join([line, *rest])


def _render_notes(notes: tuple[Note, ...], *, stateful: bool) -> str:
    blocks = []
    for n in notes:
        head = f"### {n.key}"
        if stateful:
            head += " [open]" if n.open else f" [resolved {n.resolved_at or '-'}]"
        head += f" {n.at or '-'} {_token(n.author)}"
        if n.source:
            head += f" ({_token(n.source)})"
        lines = _escape(n.body, note=True).split("\n") if n.body else []
        if lines and not n.ref and _is_ref(lines[0]):
            lines[0] = " " + lines[0]  # would be read back as the note's reference
        if n.ref:
            lines.insert(0, f"{_REF_PREFIX}{n.ref}")
        blocks.append("\n".join([head, *lines]))
    return "\n\n".join(blocks)


def _render_history(h: HistoryEntry) -> str:
    if not h.op:  # built in code without an operation: written as its note
        return f"- {h.note}"
    parts = [h.at, h.agent, h.op, f"{h.from_status or '-'} -> {h.to_status}"]
    if h.note:
        # The note is the rest of the line, so a "|" in it reads back as written.
        parts.append(_one_line(h.note) if "\n" in h.note else h.note)
    return "- " + _HIST_SEP.join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _token(text: str) -> str:
    return "-".join(text.split()) or "-"


def _trim(text: str) -> str:
    """``text`` without blank lines at either end (indentation and inner lines kept)."""
    lines = text.split("\n")
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def _is_heading(line: str) -> bool:
    """A line that starts a section ("## " and a name; a bare "## " is text)."""
    return line.startswith("## ") and bool(line[3:].strip())


def _is_ref(line: str) -> bool:
    """The first line of a note that names a file holding more ("Details: PATH")."""
    return line.startswith(_REF_PREFIX) and bool(line[len(_REF_PREFIX) :].strip())


def _is_marker(line: str) -> bool:
    """A line git could have written: a file holding one is refused as unmerged."""
    return line[:1] in "<>=|" and CONFLICT_RE.match(line) is not None


def _escape(text: str, *, note: bool = False) -> str:
    # Only a line that would be read back as structure is changed: a "## " line would end the
    # section, a note header line would start a new note, a "=======" line (a Markdown
    # underline) would make the file look unmerged. Indenting it by one space keeps the words
    # and the structure; text read from a file never holds such a line, so it is kept.
    return "\n".join(
        " " + ln if _is_heading(ln) or _is_marker(ln) or (note and _NOTE_RE.match(ln)) else ln
        for ln in _trim(text).split("\n")
    )


def escape_text(text: str) -> str:
    """Free text as it will be stored: no line in it can break the file's structure."""
    return "\n".join(
        " " + ln if ln.startswith("##") or _is_marker(ln) else ln for ln in text.strip().split("\n")
    )


# --------------------------------------------------------------------------- parsing


def parse(text: str, path: str = "") -> Task:
    """Read a task file; ``MalformedTask`` names the file and line of the first problem."""
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if line[:1] in "<>=|" and CONFLICT_RE.match(line):
            raise MalformedTask(
                f"{path or 'task file'}:{number}: unresolved git conflict marker",
                "run 'orch doctor --fix' to merge both sides, or resolve it by hand",
                path=path,
                line=number,
            )
    task_id, title, start = _parse_title(lines, path)
    fields: dict[str, tuple[str, int]] = {}
    sections: list[tuple[str, str, int]] = []  # (heading, body, line number)
    current: tuple[str, list[str], int] | None = None
    stray: list[str] = []
    for number, line in enumerate(lines[start:], start + 1):
        if _is_heading(line):
            field = _FIELD_RE.match(line)
            # Header fields count only before the first body section.
            if field and field.group(1).lower() in _FIELDS and current is None:
                fields[field.group(1).lower()] = (field.group(2), number)
                continue
            if current is not None:
                sections.append((current[0], "\n".join(current[1]), current[2]))
            current = (_HEADING_RE.match(line).group(1), [], number)  # type: ignore[union-attr]
        elif current is not None:
            current[1].append(line)
        elif line.strip() or stray:
            stray.append(line)  # text between the header fields: kept as written
    if stray and "\n".join(stray).strip():
        sections.insert(0, ("", "\n".join(stray).strip("\n"), start + 1))
    if current is not None:
        sections.append((current[0], "\n".join(current[1]), current[2]))
    return _build(task_id, title, fields, sections, path)


def _parse_title(lines: list[str], path: str) -> tuple[str, str, int]:
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        match = _TITLE_RE.match(line) or _TITLE_ONLY_ID_RE.match(line)
        if not match:
            break
        title = match.group(2) if match.re is _TITLE_RE else ""
        return match.group(1), title, index + 1
    raise MalformedTask(
        f"{path or 'task file'}:1: the first line must be '# Task: ID - Title'",
        "fix the title line by hand; the file is left as it is",
        path=path,
        line=1,
    )


def _field(fields: dict[str, tuple[str, int]], name: str) -> str:
    return fields.get(name, ("", 0))[0]


def _build(
    task_id: str,
    title: str,
    fields: dict[str, tuple[str, int]],
    sections: list[tuple[str, str, int]],
    path: str,
) -> Task:
    where = path or "task file"
    status_text, status_line = fields.get("status", ("", 1))
    try:
        status = Status(status_text.strip().lower())
    except ValueError:
        raise MalformedTask(
            f"{where}:{status_line}: unknown status {status_text!r}",
            "use one of: " + ", ".join(s.value for s in Status),
            path=path,
            line=status_line,
        ) from None
    prio_text, prio_line = fields.get("priority", ("P1", 0))
    try:
        priority = Priority(prio_text.strip().upper() or "P1")
    except ValueError:
        raise MalformedTask(
            f"{where}:{prio_line}: unknown priority {prio_text!r}",
            "use P0, P1 or P2",
            path=path,
            line=prio_line,
        ) from None
    agent = _field(fields, "agent").strip()
    implementer = _field(fields, "implementer").strip()
    depends_text = _field(fields, "depends on").strip()
    values: dict[str, object] = {}  # section key -> value; a missing section: the default
    extra: list[tuple[str, str, str]] = []
    anchor = ""
    for heading, body, _number in sections:
        key = heading.lower()
        if key in SECTIONS and key not in values:
            values[key], inside = _parse_section(key, _trim(body))
            extra += [(inside_anchor(key, n), "", text) for n, text in inside]
            anchor = key
        else:
            extra.append((anchor, heading, body.strip("\n")))
    return Task(
        id=task_id,
        title=title,
        status=status,
        priority=priority,
        agent="" if agent.lower() in ("", "unassigned", "none", "-") else agent,
        implementer="" if implementer.lower() in ("", "none", "-") else implementer,
        depends=tuple(
            d.strip()
            for d in depends_text.split(",")
            if d.strip() and depends_text.lower() not in ("none", "-")
        ),
        created=_field(fields, "created").strip(),
        updated=_field(fields, "last updated").strip(),
        **{_FIELD_OF[key]: value for key, value in values.items()},  # type: ignore[arg-type]
        extra=tuple(extra),
    )


def _parse_section(key: str, body: str) -> tuple[object, list[tuple[int, str]]]:
    """The section's value, and its hand-written lines as (position, text) blocks."""
    if key in ("goal", "implementation notes"):
        return body, []
    if key in _NOTES:
        return _parse_notes(body, _NOTES[key], stateful=key != "error context"), []
    if key in _CHECKLISTS:
        return _parse_checks(body)
    if key == "git context":
        return _parse_git(body)
    if key == "files affected":
        files, rest = _entries(body, _read_file)
        return tuple(files), _blocks(rest)
    if key == "history":
        entries, rest = _entries(body, _read_history)
        return tuple(entries), _blocks(rest)
    raise KeyError(key)


def _entries(body: str, read: Callable[[str], _T | None]) -> tuple[list[_T], list[list[str]]]:
    """The lines ``read`` understands, and the others: ``rest[n]`` follows the n-th entry."""
    found: list[_T] = []
    rest: list[list[str]] = [[]]
    for line in body.split("\n") if body else ():
        entry = read(line)
        if entry is None:
            rest[-1].append(line)
        else:
            found.append(entry)
            rest.append([])
    return found, rest


def _blocks(rest: list[list[str]]) -> list[tuple[int, str]]:
    return [(n, "\n".join(lines)) for n, lines in enumerate(rest) if lines]


def _read_file(line: str) -> str | None:
    match = _BULLET_RE.match(line)
    name = match.group(1).strip(" \t`") if match else ""  # "- `src/a.py`" names src/a.py
    return name or None


def _read_history(line: str) -> HistoryEntry | None:
    bullet = _BULLET_RE.match(line)
    parts = bullet.group(1).rstrip().split(_HIST_SEP) if bullet else []
    if len(parts) < 4 or " -> " not in parts[3]:
        return None  # a line a person wrote: kept as written, never a history entry
    src, _, dst = parts[3].partition(" -> ")
    return HistoryEntry(
        at=parts[0].strip(),
        agent=parts[1].strip(),
        op=parts[2].strip(),
        from_status="" if src.strip() == "-" else src.strip(),
        to_status=dst.strip(),
        note=_HIST_SEP.join(parts[4:]).strip(),
    )


def _read_check(line: str) -> CheckItem | None:
    match = _CHECK_RE.match(line)
    if match is None:
        return None
    return CheckItem(text=(match.group(2) or "").rstrip(), done=match.group(1) != " ")


def _parse_checks(body: str) -> tuple[tuple[CheckItem, ...], list[tuple[int, str]]]:
    # A line under an item (prose, a plain bullet, an indented line) most often explains that
    # item, and agents read the items, not the file: so it becomes part of the item's text, its
    # line break kept ("a1\nplain prose line"), and is written back exactly as it was. Lines
    # before the first item and blank lines between items have no item to belong to: they are
    # kept in ``Task.extra`` like hand-written lines of other sections.
    items, rest = _entries(body, _read_check)
    inside = _blocks(rest[:1])
    for number, lines in enumerate(rest[1:], 1):
        kept = next((n for n in range(len(lines), 0, -1) if lines[n - 1].strip()), 0)
        if kept:
            item = items[number - 1]
            items[number - 1] = item._replace(text="\n".join([item.text, *lines[:kept]]))
        if lines[kept:]:
            inside.append((number, "\n".join(lines[kept:])))
    return tuple(items), inside


def _parse_git(body: str) -> tuple[GitContext, list[tuple[int, str]]]:
    found: dict[str, str] = {}

    def read(line: str) -> str | None:
        bullet = _BULLET_RE.match(line)
        name, sep, value = (bullet.group(1) if bullet else "").partition(":")
        name = name.strip().lower()
        if not sep or name not in ("branch", "commit", "pr") or name in found:
            return None  # a second "- Branch:" line is a person's, kept as written
        found[name] = value.strip()
        return name

    _, rest = _entries(body, read)
    # Lines after the last field are the section's own "other" lines; lines before it are kept
    # in place like those of any other section.
    return (
        GitContext(
            branch=found.get("branch", ""),
            commit=found.get("commit", ""),
            pr=found.get("pr", ""),
            other=tuple(rest[-1]) if len(rest) > 1 else (),
        ),
        _blocks(rest[:-1] if len(rest) > 1 else rest),
    )


def _parse_notes(body: str, prefix: str, *, stateful: bool) -> tuple[Note, ...]:
    notes: list[Note] = []
    head: re.Match[str] | None = None
    lines: list[str] = []
    loose: list[str] = []

    def flush() -> None:
        if head is not None:
            notes.append(_make_note(head, lines, stateful))
        else:
            loose.extend(lines)

    for line in body.split("\n"):
        match = _NOTE_RE.match(line)
        if match:
            flush()
            head, lines = match, []
        else:
            lines.append(line)
    flush()
    if _trim("\n".join(loose)):
        # Text written by hand above the first entry header becomes an entry of its own (an
        # open one where entries have a state): who writes under "Review Feedback" gives feedback.
        key = f"{prefix}-01"
        while key in {n.key for n in notes}:
            key += "0"
        text, ref = _body_and_ref(loose)
        notes.insert(0, Note(key=key, at="", author="-", body=text, open=stateful, ref=ref))
    return tuple(notes)


def _body_and_ref(lines: list[str]) -> tuple[str, str]:
    body = _trim("\n".join(lines)).split("\n")
    if _is_ref(body[0]):
        return _trim("\n".join(body[1:])), body[0][len(_REF_PREFIX) :].strip()
    return "\n".join(body), ""


def _make_note(head: re.Match[str], lines: list[str], stateful: bool) -> Note:
    body, ref = _body_and_ref(lines)
    state = head.group(2) or "open"
    return Note(
        key=head.group(1),
        at="" if head.group(4) == "-" else head.group(4),
        author=head.group(5),
        body=body,
        source=head.group(6) or "",
        open=stateful and state == "open",
        resolved_at="" if (head.group(3) or "-") == "-" else head.group(3),
        ref=ref,
    )
