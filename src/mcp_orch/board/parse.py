"""Reading a task file into a ``Task``: the inverse of ``format.render``.

The line forms read as structure come from ``schema``, which the renderer shares. A line is
structure only in a form the renderer writes or one close to it; every other line is kept as
written, in ``Task.extra`` (see ``inside_anchor``) or, under a checklist item, in the item's
text (see ``_parse_checks``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
from .schema import (
    CHECK_RE,
    CHECKLISTS,
    CONFLICT_RE,
    FIELD_OF,
    HIST_SEP,
    NOTE_PREFIXES,
    NOTE_RE,
    REF_PREFIX,
    SECTIONS,
    closes,
    fence_of,
    inside_anchor,
    is_heading,
    is_ref,
    is_section_heading,
    item_line,
    note_line,
    trim,
    unescape_lines,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time on every write: for the type checker only
    from typing import TypeVar

    _T = TypeVar("_T")

# Header fields ("## Key: value"), in the order they are rendered.
_FIELDS = (
    "status",
    "priority",
    "agent",
    "created",
    "last updated",
    "implementer",
    "depends on",
    "capabilities",
    "risk",
    "estimate",
)

_TITLE_RE = re.compile(r"^# Task:\s*(\S+)\s+[-–—]\s+(.*?)\s*$")
_TITLE_ONLY_ID_RE = re.compile(r"^# Task:\s*(\S+)\s*$")
_FIELD_RE = re.compile(r"^##\s+([A-Za-z][A-Za-z ]*?):\s*(.*?)\s*$")
_HEADING_RE = re.compile(r"^##\s+(.+?)\s*$")
_FENCE_START = ("`", "~", " ")
# Not "capabilities": a file from before that field may have a "## Capabilities" section.
_FIELD_LIKE_RE = re.compile(
    r"^##\s+(status|priority|agent|created|last updated|implementer|depends on)"
    r"(?![\w:])\s*([^:]*)$",
    re.IGNORECASE,
)
# Like a checklist item, a bullet starts in the first column.
_BULLET_RE = re.compile(r"^[-*][ \t]+(.*)$")  # greedy: a lazy group is 3x slower


ParseWarning = tuple[str, str, str, int]
"""Something odd in a file that is still read: (kind, message, hint, line)."""


def parse(text: str, path: str = "", warnings: list[ParseWarning] | None = None) -> Task:
    """Read a task file; ``MalformedTask`` names the file and line of the first problem.

    A UTF-8 byte-order mark is skipped (the store writes it back). ``warnings``, when given,
    receives what is odd but readable, such as a section written twice.
    """
    if text[:1] == "\ufeff":
        text = text[1:]
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
    seen: set[str] = set()
    fence = ""  # the fence of the code block the line is in (see schema.fenced)
    delimits: Callable[[str], bool] = is_section_heading
    for number, line in enumerate(lines[start:], start + 1):
        if fence:
            if closes(line, fence):
                fence = ""
                current[1].append(line)  # type: ignore[index]
                continue
            if not delimits(line):
                current[1].append(line)  # type: ignore[index]
                continue
            fence = ""
        if is_heading(line):
            field = _FIELD_RE.match(line)
            # Header fields count only before the first body section.
            if field and field.group(1).lower() in _FIELDS and current is None:
                fields[field.group(1).lower()] = (field.group(2), number)
                continue
            if current is None:
                _check_field_like(line, number, path)
            else:
                sections.append((current[0], "\n".join(current[1]), current[2]))
            heading = _HEADING_RE.match(line).group(1)  # type: ignore[union-attr]
            key = heading.lower()
            first = key not in seen
            delimits = _DELIMITS.get(key, is_section_heading) if first else is_section_heading
            seen.add(key)
            current = (heading, [], number)
        elif current is not None:
            current[1].append(line)
            if line[:1] in _FENCE_START:  # the usual line opens no code block: no call
                fence = fence_of(line)
        elif line.strip() or stray:
            stray.append(line)  # text between the header fields: kept as written
    if stray and "\n".join(stray).strip():
        sections.insert(0, ("", "\n".join(stray).strip("\n"), start + 1))
    if current is not None:
        sections.append((current[0], "\n".join(current[1]), current[2]))
    return _build(task_id, title, fields, sections, path, warnings)


def _check_field_like(line: str, number: int, path: str) -> None:
    """A header field written without its colon ("## Status pending") would start a section
    and hide every field after it: refused, naming its line."""
    match = _FIELD_LIKE_RE.match(line)
    if match is None:
        return
    name = match.group(1)
    value = match.group(2).strip(" -=")
    raise MalformedTask(
        f"{path or 'task file'}: line {number}: `{line.strip()}` has no colon",
        f"write it as '## {name}: {value or 'VALUE'}' (a header field needs a colon)",
        path=path,
        line=number,
    )


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
    warnings: list[ParseWarning] | None = None,
) -> Task:
    where = path or "task file"
    if "status" not in fields:
        raise MalformedTask(
            f"{where}:2: no '## Status: ...' line under the title",
            "add one, e.g. '## Status: pending', as the first line after the title",
            path=path,
            line=2,
        )
    status_text, status_line = fields["status"]
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
    values: dict[str, object] = {}  # section key -> value; a missing section: the default
    extra: list[tuple[str, str, str]] = []
    anchor = ""
    first: dict[str, int] = {}
    for heading, body, number in sections:
        key = heading.lower()
        if key in SECTIONS and key not in values:
            values[key], inside = _parse_section(key, trim(body))
            extra += [(inside_anchor(key, n), "", text) for n, text in inside]
            anchor = key
            first[key] = number
        else:
            if key in first and warnings is not None:
                warnings.append(_twice(where, heading, number, first[key]))
            extra.append((anchor, heading, body.strip("\n")))
    return Task(
        id=task_id,
        title=title,
        status=status,
        priority=priority,
        agent="" if agent.lower() in ("", "unassigned", "none", "-") else agent,
        implementer="" if implementer.lower() in ("", "none", "-") else implementer,
        depends=_names(_field(fields, "depends on")),
        capabilities=_names(_field(fields, "capabilities")),
        risk=_field(fields, "risk").strip().lower(),
        estimate=_field(fields, "estimate").strip().lower(),
        created=_field(fields, "created").strip(),
        updated=_field(fields, "last updated").strip(),
        **{FIELD_OF[key]: value for key, value in values.items()},  # type: ignore[arg-type]
        extra=tuple(extra),
    )


def _names(text: str) -> tuple[str, ...]:
    """A header field's comma-separated names ("none" or "-": no names)."""
    if text.strip().lower() in ("none", "-"):
        return ()
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _git_field(line: str) -> bool:
    bullet = _BULLET_RE.match(line)
    name, sep, _ = (bullet.group(1) if bullet else "").partition(":")
    return bool(sep) and name.strip().lower() in ("branch", "commit", "pr")


# What ends a fenced code block in each section besides orch's own headings: the section's
# structured lines (see schema.fenced). In Goal, Notes and hand-written sections only headings.
_DELIMITS: dict[str, Callable[[str], bool]] = {
    **dict.fromkeys(
        CHECKLISTS, lambda line: bool(CHECK_RE.match(line)) or is_section_heading(line)
    ),
    **dict.fromkeys(
        NOTE_PREFIXES, lambda line: bool(NOTE_RE.match(line)) or is_section_heading(line)
    ),
    "files affected": lambda line: _read_file(line) is not None or is_section_heading(line),
    "history": lambda line: _read_history(line) is not None or is_section_heading(line),
    "git context": lambda line: _git_field(line) or is_section_heading(line),
}


def _twice(where: str, heading: str, number: int, first: int) -> ParseWarning:
    return (
        "duplicate-section",
        f"{where}: line {number}: a second '## {heading}' section (the first is at line "
        f"{first}); it is kept as written, and agents see it under more_sections",
        "merge the two into one section by hand",
        number,
    )


def _parse_section(key: str, body: str) -> tuple[object, list[tuple[int, str]]]:
    """The section's value, and its hand-written lines as (position, text) blocks."""
    if key in ("goal", "implementation notes"):
        return unescape_lines(body, is_heading), []
    if key in NOTE_PREFIXES:
        return _parse_notes(body, NOTE_PREFIXES[key], stateful=key != "error context"), []
    if key in CHECKLISTS:
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


def _entries(
    body: str, read: Callable[[str], _T | None], once: Callable[[_T], object] | None = None
) -> tuple[list[_T], list[list[str]]]:
    """The lines ``read`` understands, and the others: ``rest[n]`` follows the n-th entry.

    ``once``: an entry whose ``once(entry)`` an earlier one had is one of the others.
    """
    found: list[_T] = []
    seen: set[object] = set()
    rest: list[list[str]] = [[]]
    for line in body.split("\n") if body else ():
        entry = read(line)
        if entry is not None and once is not None:
            key = once(entry)
            entry = None if key in seen else entry
            seen.add(key)
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
    parts = bullet.group(1).rstrip().split(HIST_SEP) if bullet else []
    if len(parts) < 4 or " -> " not in parts[3]:
        return None  # a line a person wrote: kept as written, never a history entry
    src, _, dst = parts[3].partition(" -> ")
    return HistoryEntry(
        at=parts[0].strip(),
        agent=parts[1].strip(),
        op=parts[2].strip(),
        from_status="" if src.strip() == "-" else src.strip(),
        to_status=dst.strip(),
        note=HIST_SEP.join(parts[4:]).strip(),
    )


def _read_check(line: str) -> CheckItem | None:
    match = CHECK_RE.match(line)
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
            more = unescape_lines("\n".join(lines[:kept]), item_line)
            items[number - 1] = item._replace(text=f"{item.text}\n{more}")
        if lines[kept:]:
            inside.append((number, "\n".join(lines[kept:])))
    return tuple(items), inside


def _read_git(line: str) -> tuple[str, str] | None:
    """``- Branch: main`` is ("branch", "main")."""
    bullet = _BULLET_RE.match(line)
    name, sep, value = (bullet.group(1) if bullet else "").partition(":")
    name = name.strip().lower()
    return (name, value.strip()) if sep and name in ("branch", "commit", "pr") else None


def _parse_git(body: str) -> tuple[GitContext, list[tuple[int, str]]]:
    # A second "- Branch:" line is a person's, kept as written.
    fields, rest = _entries(body, _read_git, once=lambda field: field[0])
    found = dict(fields)
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
    # The lines above the first entry header, then each header with the lines under it.
    loose: list[str] = []
    entries: list[tuple[re.Match[str], list[str]]] = []
    for line in body.split("\n"):
        match = NOTE_RE.match(line)
        if match:
            entries.append((match, []))
        else:
            (entries[-1][1] if entries else loose).append(line)
    notes = [_make_note(head, lines, stateful) for head, lines in entries]
    if trim("\n".join(loose)):
        # Text written by hand above the first entry header becomes an entry of its own (an
        # open one where entries have a state): who writes under "Review Feedback" gives feedback.
        key = f"{prefix}-01"
        while key in {n.key for n in notes}:
            key += "0"
        text, ref = _body_and_ref(loose)
        notes.insert(0, Note(key=key, at="", author="-", body=text, open=stateful, ref=ref))
    return tuple(notes)


def _body_and_ref(lines: list[str]) -> tuple[str, str]:
    body = trim("\n".join(lines)).split("\n")
    ref = body[0][len(REF_PREFIX) :].strip() if is_ref(body[0]) else ""
    text = trim("\n".join(body[1:])) if ref else "\n".join(body)
    return unescape_lines(text, note_line, first=is_ref), ref


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
