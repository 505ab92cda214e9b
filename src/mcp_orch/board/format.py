"""The task file: the spec's Markdown schema, parsed and rendered deterministically.

Rendering is a pure function of the ``Task``: the same task always gives the same bytes, fields
in a fixed order, so git diffs stay small and merges stay clean. Whatever a person or agent
adds by hand survives a rewrite: text inside the known sections is the section's content, and
unknown ``## Sections`` are kept after the section they followed.
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

_TITLE_RE = re.compile(r"^# Task:\s*(\S+)\s+[-–—]\s+(.*?)\s*$")
_TITLE_ONLY_ID_RE = re.compile(r"^# Task:\s*(\S+)\s*$")
_FIELD_RE = re.compile(r"^##\s+([A-Za-z][A-Za-z ]*?):\s*(.*?)\s*$")
_HEADING_RE = re.compile(r"^##\s+(.+?)\s*$")
_CHECK_RE = re.compile(r"^\s*[-*]\s+\[([ xX])\]\s?(.*)$")
_BULLET_RE = re.compile(r"^\s*[-*]\s+(.*)$")
_NOTE_RE = re.compile(
    r"^###\s+(\S+)(?:\s+\[(open|resolved)(?:\s+(\S+))?\])?\s+(\S+)\s+(\S+)(?:\s+\((\S+)\))?\s*$"
)
_REF_PREFIX = "Details: "
_HIST_SEP = " | "


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
    extras: dict[str, list[tuple[str, str]]] = {}
    for anchor, heading, body in task.extra:
        extras.setdefault(anchor, []).append((heading, body))
    _render_extras(out, extras.get("", []))
    for key, heading in SECTIONS.items():
        out.append(f"## {heading}")
        body = _render_section(task, key)
        if body:
            out.append(body)
        out.append("")
        _render_extras(out, extras.get(key, []))
    return "\n".join(out).rstrip("\n") + "\n"


def _render_extras(out: list[str], items: list[tuple[str, str]]) -> None:
    for heading, body in items:
        if heading:
            out.append(f"## {heading}")
        if body:
            out.append(body)
        out.append("")


def _render_section(task: Task, key: str) -> str:
    if key == "goal":
        return _escape_body(task.goal)
    if key == "acceptance criteria":
        return _render_checks(task.acceptance)
    if key == "definition of ready":
        return _render_checks(task.ready_def)
    if key == "definition of done":
        return _render_checks(task.done_def)
    if key == "files affected":
        return "\n".join(f"- {f}" for f in task.files)
    if key == "implementation notes":
        return _escape_body(task.notes)
    if key == "review feedback":
        return _render_notes(task.feedback, stateful=True)
    if key == "error context":
        return _render_notes(task.errors, stateful=False)
    if key == "escalation":
        return _render_notes(task.escalations, stateful=True)
    if key == "git context":
        git = task.git
        lines = [f"- Branch: {git.branch}", f"- Commit: {git.commit}", f"- PR: {git.pr}"]
        return "\n".join([*(ln.rstrip() for ln in lines), *git.other])
    if key == "history":
        return "\n".join(_render_history(h) for h in task.history)
    raise KeyError(key)


def _render_checks(items: tuple[CheckItem, ...]) -> str:
    return "\n".join(f"- [{'x' if i.done else ' '}] {_one_line(i.text)}" for i in items)


def _render_notes(notes: tuple[Note, ...], *, stateful: bool) -> str:
    blocks = []
    for n in notes:
        head = f"### {n.key}"
        if stateful:
            head += " [open]" if n.open else f" [resolved {n.resolved_at or '-'}]"
        head += f" {n.at or '-'} {_token(n.author)}"
        if n.source:
            head += f" ({_token(n.source)})"
        body = _escape_body(n.body)
        if n.ref:
            body = f"{_REF_PREFIX}{n.ref}\n{body}" if body else f"{_REF_PREFIX}{n.ref}"
        blocks.append(f"{head}\n{body}" if body else head)
    return "\n\n".join(blocks)


def _render_history(h: HistoryEntry) -> str:
    if not h.op:  # a line a person wrote that is not in the history format: kept as written
        return f"- {h.note}"
    parts = [h.at, h.agent, h.op, f"{h.from_status or '-'} -> {h.to_status}"]
    if h.note:
        parts.append(h.note.replace("|", "/"))
    return "- " + _HIST_SEP.join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _token(text: str) -> str:
    return "-".join(text.split()) or "-"


def _escape_body(text: str) -> str:
    # A line starting with "## " or "### " inside free text would end the section or start a new
    # entry when read back; indenting it by one space keeps the words and the structure.
    return "\n".join(" " + ln if ln.startswith("##") else ln for ln in text.split("\n")).strip("\n")


def escape_text(text: str) -> str:
    """Free text as it will be stored: headings inside it cannot break the file's structure."""
    return _escape_body(text.strip())


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
        if line.startswith("## "):
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
    values: dict[str, object] = {
        "id": task_id,
        "title": title,
        "status": status,
        "priority": priority,
        "agent": "" if agent.lower() in ("", "unassigned", "none", "-") else agent,
        "implementer": "" if implementer.lower() in ("", "none", "-") else implementer,
        "depends": tuple(
            d.strip()
            for d in depends_text.split(",")
            if d.strip() and depends_text.lower() not in ("none", "-")
        ),
        "created": _field(fields, "created").strip(),
        "updated": _field(fields, "last updated").strip(),
    }
    extra: list[tuple[str, str, str]] = []
    anchor = ""
    for heading, body, number in sections:
        key = heading.lower()
        if key in SECTIONS and key not in values:
            values[key] = _parse_section(key, body.strip("\n"), where, number)
            anchor = key
        else:
            extra.append((anchor, heading, body.strip("\n")))
    return Task(
        id=str(values["id"]),
        title=str(values["title"]),
        status=status,
        priority=priority,
        agent=str(values["agent"]),
        implementer=str(values["implementer"]),
        depends=values["depends"],  # type: ignore[arg-type]
        created=str(values["created"]),
        updated=str(values["updated"]),
        goal=values.get("goal", ""),  # type: ignore[arg-type]
        acceptance=values.get("acceptance criteria", ()),  # type: ignore[arg-type]
        ready_def=values.get("definition of ready", ()),  # type: ignore[arg-type]
        done_def=values.get("definition of done", ()),  # type: ignore[arg-type]
        files=values.get("files affected", ()),  # type: ignore[arg-type]
        notes=values.get("implementation notes", ""),  # type: ignore[arg-type]
        feedback=values.get("review feedback", ()),  # type: ignore[arg-type]
        errors=values.get("error context", ()),  # type: ignore[arg-type]
        escalations=values.get("escalation", ()),  # type: ignore[arg-type]
        git=values.get("git context", GitContext()),  # type: ignore[arg-type]
        history=values.get("history", ()),  # type: ignore[arg-type]
        extra=tuple(extra),
    )


def _parse_section(key: str, body: str, where: str, line: int) -> object:
    if key in ("goal", "implementation notes"):
        return body.strip()
    if key in ("acceptance criteria", "definition of ready", "definition of done"):
        return _parse_checks(body)
    if key == "files affected":
        return tuple(
            m.group(1).strip().strip("`")
            for m in map(_BULLET_RE.match, body.split("\n"))
            if m and m.group(1).strip()
        )
    if key == "review feedback":
        return _parse_notes(body, "FB", stateful=True)
    if key == "error context":
        return _parse_notes(body, "E", stateful=False)
    if key == "escalation":
        return _parse_notes(body, "ESC", stateful=True)
    if key == "git context":
        return _parse_git(body)
    if key == "history":
        return tuple(_parse_history(ln) for ln in body.split("\n") if ln.strip())
    raise KeyError(key)


def _parse_checks(body: str) -> tuple[CheckItem, ...]:
    items: list[CheckItem] = []
    for line in body.split("\n"):
        if not line.strip():
            continue
        check = _CHECK_RE.match(line)
        if check:
            items.append(CheckItem(text=check.group(2).strip(), done=check.group(1) != " "))
            continue
        bullet = _BULLET_RE.match(line)
        if bullet or not items:
            items.append(CheckItem(text=(bullet.group(1) if bullet else line).strip()))
        else:  # a continuation line of the previous item
            last = items[-1]
            items[-1] = CheckItem(text=f"{last.text} {line.strip()}", done=last.done)
    return tuple(items)


def _parse_notes(body: str, prefix: str, *, stateful: bool) -> tuple[Note, ...]:
    notes: list[Note] = []
    head: re.Match[str] | None = None
    lines: list[str] = []
    loose: list[str] = []

    def flush() -> None:
        if head is not None:
            notes.append(_make_note(head, lines, stateful))
        elif "\n".join(lines).strip():
            loose.append("\n".join(lines).strip())

    for line in body.split("\n"):
        match = _NOTE_RE.match(line)
        if match:
            flush()
            head, lines = match, []
        else:
            lines.append(line)
    flush()
    # Text written by hand without an entry header becomes an entry of its own (an open one
    # where entries have a state): a person who writes under "Review Feedback" gives feedback.
    taken = {n.key for n in notes}
    for number, text in enumerate(loose, 1):
        key = f"{prefix}-0{number}"
        while key in taken:
            key += "0"
        notes.insert(number - 1, Note(key=key, at="", author="-", body=text, open=stateful))
    return tuple(notes)


def _make_note(head: re.Match[str], lines: list[str], stateful: bool) -> Note:
    body_lines = list(lines)
    while body_lines and not body_lines[0].strip():
        body_lines.pop(0)
    ref = ""
    if body_lines and body_lines[0].startswith(_REF_PREFIX):
        ref = body_lines.pop(0)[len(_REF_PREFIX) :].strip()
    state = head.group(2) or "open"
    return Note(
        key=head.group(1),
        at="" if head.group(4) == "-" else head.group(4),
        author=head.group(5),
        body="\n".join(body_lines).strip(),
        source=head.group(6) or "",
        open=stateful and state == "open",
        resolved_at="" if (head.group(3) or "-") == "-" else head.group(3),
        ref=ref,
    )


def _parse_git(body: str) -> GitContext:
    found: dict[str, str] = {}
    other: list[str] = []
    for line in body.split("\n"):
        bullet = _BULLET_RE.match(line)
        name, sep, value = (bullet.group(1) if bullet else "").partition(":")
        if bullet and sep and name.strip().lower() in ("branch", "commit", "pr"):
            found[name.strip().lower()] = value.strip()
        elif line.strip():
            other.append(line)
    return GitContext(
        branch=found.get("branch", ""),
        commit=found.get("commit", ""),
        pr=found.get("pr", ""),
        other=tuple(other),
    )


def _parse_history(line: str) -> HistoryEntry:
    bullet = _BULLET_RE.match(line)
    parts = (bullet.group(1) if bullet else line).split(_HIST_SEP)
    if len(parts) >= 4 and " -> " in parts[3]:
        src, _, dst = parts[3].partition(" -> ")
        return HistoryEntry(
            at=parts[0].strip(),
            agent=parts[1].strip(),
            op=parts[2].strip(),
            from_status="" if src.strip() == "-" else src.strip(),
            to_status=dst.strip(),
            note=_HIST_SEP.join(parts[4:]).strip(),
        )
    return HistoryEntry(at="", agent="", op="", from_status="", to_status="", note=line.strip())
