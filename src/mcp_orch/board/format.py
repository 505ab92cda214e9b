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
  checklist item is the exception (see ``parse._parse_checks``).
- Unknown ``## Sections`` are kept after the section they followed.

The renderer is here; the parser is ``parse``; what both agree on (sections, the line forms
read as structure, anchors) is ``schema``. This module is the one to import: it re-exports
``parse`` and the shared names callers use.
"""

from __future__ import annotations

from ..domain.model import CheckItem, HistoryEntry, Note, Task
from .parse import ParseWarning, parse
from .schema import (
    CHECKLISTS,
    CONFLICT_RE,
    FIELD_OF,
    HIST_SEP,
    NOTE_PREFIXES,
    REF_PREFIX,
    SECTIONS,
    ends_item_block,
    ends_note_block,
    escape_lines,
    inside_anchor,
    inside_position,
    is_heading,
    is_ref,
    is_section_heading,
    item_line,
    note_line,
    open_fence,
    trim,
)

__all__ = [
    "CONFLICT_RE",
    "SECTIONS",
    "ParseWarning",
    "close_fence",
    "inside_anchor",
    "inside_position",
    "parse",
    "render",
    "section_text",
]


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
    ]
    if task.capabilities:  # absent when none: a file from before the field reads the same
        out.append(f"## Capabilities: {', '.join(task.capabilities)}")
    if task.risk:  # the same: absent when not said
        out.append(f"## Risk: {task.risk}")
    if task.estimate:
        out.append(f"## Estimate: {task.estimate}")
    out.append("")
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
    if key in NOTE_PREFIXES:
        return _render_notes(getattr(task, FIELD_OF[key]), stateful=key != "error context")
    entries: list[str]
    if key in CHECKLISTS:
        entries = [_render_check(i) for i in getattr(task, FIELD_OF[key])]
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
    return trim("\n".join(lines))  # hand-written blank lines never end a section


def _render_check(item: CheckItem) -> str:
    first, sep, more = item.text.partition("\n")
    line = f"- [{'x' if item.done else ' '}] {first}".rstrip()
    if not sep:
        return line
    # Lines under an item are kept as written; one that would read as an item, a heading or a
    # conflict marker is escaped to stay part of the item (see schema.escape_lines).
    return f"{line}\n{escape_lines(more, item_line, ends_item_block)}"


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
        if n.ref:
            lines.insert(0, f"{REF_PREFIX}{n.ref}")
        blocks.append("\n".join([head, *lines]))
    return "\n\n".join(blocks)


def _render_history(h: HistoryEntry) -> str:
    if not h.op:  # built in code without an operation: written as its note
        return f"- {h.note}"
    parts = [h.at, h.agent, h.op, f"{h.from_status or '-'} -> {h.to_status}"]
    if h.note:
        # The note is the rest of the line, so a "|" in it reads back as written.
        parts.append(_one_line(h.note) if "\n" in h.note else h.note)
    return "- " + HIST_SEP.join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _token(text: str) -> str:
    return "-".join(text.split()) or "-"


def _escape(text: str, *, note: bool = False) -> str:
    # Only a line that would be read back as structure is escaped: a "## " line would end the
    # section, a note header line would start a new note (and a note's first line "Details:"
    # would be its reference), a "=======" line (a Markdown underline) would make the file look
    # unmerged. The parser takes the escape off again (see schema.escape_lines).
    if note:
        return escape_lines(trim(text), note_line, ends_note_block, first=is_ref)
    return escape_lines(trim(text), is_heading, is_section_heading)


def _never(line: str) -> bool:
    return False


def close_fence(text: str) -> str:
    """``text`` with a fenced code block it leaves open at its end closed, as a Markdown viewer
    shows it, so that what orch writes after it (a note, a hand-written section) cannot fall
    into it. The one change given text gets; its lines are stored as given.

    In the file only a fence ends a block: every line that would end one otherwise (a heading,
    a note's header) is escaped there (see schema.escape_lines)."""
    fence = open_fence(text, _never)
    return f"{text}\n{fence}" if fence else text
