"""What the renderer (``format``) and the parser (``parse``) agree on about a task file.

The sections in their rendered order and the ``Task`` field each is read into, the line forms
read back as structure (checklist items, note headers, conflict markers, headings, a note's
reference), and the anchors of hand-written lines inside a section.
"""

from __future__ import annotations

import re

# Git writes 7 marker characters, more (8+) in rename conflicts; a bare "=======" line is one too.
CONFLICT_RE = re.compile(r"^(?:<{7,}|>{7,}|\|{7,})(?: |$)|^={7,}$")

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
FIELD_OF = {
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
CHECKLISTS = ("acceptance criteria", "definition of ready", "definition of done")
NOTE_PREFIXES = {"review feedback": "FB", "error context": "E", "escalation": "ESC"}  # note keys

# Structured lines start in the first column: an indented line continues the one above it.
CHECK_RE = re.compile(r"^[-*][ \t]+\[([ xX])\](?:[ \t]+(.*))?$")
# A note's key is PREFIX-N and its time a timestamp (or "-"): "### Step one done" is text.
NOTE_RE = re.compile(
    r"^###\s+([A-Za-z]+-\d+)(?:\s+\[(open|resolved)(?:\s+(\S+))?\])?\s+(-|\d\S*)\s+(\S+)"
    r"(?:\s+\((\S+)\))?\s*$"
)
REF_PREFIX = "Details: "
HIST_SEP = " | "


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


def trim(text: str) -> str:
    """``text`` without blank lines at either end (indentation and inner lines kept)."""
    lines = text.split("\n")
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


def is_heading(line: str) -> bool:
    """A line that starts a section ("## " and a name; a bare "## " is text)."""
    return line.startswith("## ") and bool(line[3:].strip())


def is_ref(line: str) -> bool:
    """The first line of a note that names a file holding more ("Details: PATH")."""
    return line.startswith(REF_PREFIX) and bool(line[len(REF_PREFIX) :].strip())


def is_marker(line: str) -> bool:
    """A line git could have written: a file holding one is refused as unmerged."""
    return line[:1] in "<>=|" and CONFLICT_RE.match(line) is not None
