"""What the renderer (``format``) and the parser (``parse``) agree on about a task file.

The sections in their rendered order and the ``Task`` field each is read into, the line forms
read back as structure (checklist items, note headers, conflict markers, headings, a note's
reference), and the anchors of hand-written lines inside a section.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

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


# ---------------------------------------------------------------------- fenced code blocks

# A fence (CommonMark): up to 3 spaces, then 3+ backticks or tildes; a backtick fence's info
# string holds no backtick. Its closer is a run of the same character at least as long.
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def fence_of(line: str) -> str:
    """The run of ``` or ~~~ that ``line`` opens a fenced code block with, or ""."""
    if not line or line[0] not in "`~ ":
        return ""  # the usual line: one comparison
    match = _FENCE_RE.match(line)
    if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
        return ""
    return match.group(1)


def closes(line: str, fence: str) -> bool:
    """``line`` closes the code block opened by ``fence``."""
    text = line.rstrip()
    body = text.lstrip(" ")
    return len(text) - len(body) <= 3 and len(body) >= len(fence) and body == fence[0] * len(body)


def is_section_heading(line: str) -> bool:
    """A heading of one of orch's own sections ("## Goal"): it always starts that section."""
    return is_heading(line) and line[3:].strip().lower() in SECTIONS


def fenced(lines: list[str], delimits: Callable[[str], bool]) -> list[bool]:
    """Which of ``lines`` belong to a fenced code block (its fence lines included).

    Inside a block no line is structure: a "## " line there is no heading. A block ends at its
    closing fence, or else at the next line ``delimits`` names (orch's own section headings and
    the structured lines of the section, such as a checklist item): so text orch appends
    (a note, an item) never falls into a block someone left open, and what orch writes reads
    back the same wherever it stands.
    """
    mask: list[bool] = []
    fence = ""
    for line in lines:
        if fence:
            if closes(line, fence):
                fence = ""
                mask.append(True)
                continue
            if not delimits(line):
                mask.append(True)
                continue
            fence = ""
        fence = fence_of(line)
        mask.append(bool(fence))
    return mask


ESCAPE = "\\"  # Markdown's own escape: a viewer shows \## x as ## x, as it was given


def _escaped(line: str, needs: Callable[[str], bool]) -> bool:
    """``line`` is an escaped line: backslashes, then one that would read as structure."""
    if line[:1] != ESCAPE:
        return False
    bare = line.lstrip(ESCAPE)
    return needs(bare) or is_marker(bare)


def escape_lines(
    text: str,
    needs: Callable[[str], bool],
    delimits: Callable[[str], bool],
    first: Callable[[str], bool] | None = None,
) -> str:
    """``text`` as a section of the file holds it: a backslash before each line that would be
    read as structure (``needs``; ``first``: also for the first line), a git conflict marker,
    or a line already so escaped. ``unescape_lines`` takes exactly that backslash off again,
    so text reads back as it was given, whatever it holds.

    Inside a fenced code block a line that ``needs`` is text and stays as written (a
    hand-written block is kept byte for byte), but an escaped line or a marker is escaped
    there too. Escaping a line can move where a block ends (an escaped heading no longer ends
    one), so this runs until nothing changes: then no line outside a block reads as structure.
    """
    lines = text.split("\n")
    out = [_escape_always(ln, needs, first if n == 0 else None) for n, ln in enumerate(lines)]
    while True:
        mask = fenced(out, delimits) if any(fence_of(ln) for ln in out) else [False] * len(out)
        again = [
            ESCAPE + ln
            if not inside and (needs(ln) or (n == 0 and first is not None and first(ln)))
            else ln
            for n, (ln, inside) in enumerate(zip(out, mask, strict=True))
        ]
        if again == out:
            return "\n".join(out)
        out = again


def _escape_always(
    line: str, needs: Callable[[str], bool], first: Callable[[str], bool] | None
) -> str:
    """A marker, or a line already escaped, is escaped wherever it stands."""
    if is_marker(line) or _escaped(line, needs) or (first is not None and _escaped(line, first)):
        return ESCAPE + line
    return line


def unescape_lines(
    text: str, needs: Callable[[str], bool], first: Callable[[str], bool] | None = None
) -> str:
    """The text ``escape_lines`` was given: one backslash off each escaped line. A line read
    from a file needs no code block to be told apart: the escaped form is the same anywhere."""
    if ESCAPE not in text:
        return text  # the usual text: one scan
    lines = text.split("\n")
    return "\n".join(
        ln[1:]
        if _escaped(ln, needs) or (n == 0 and first is not None and _escaped(ln, first))
        else ln
        for n, ln in enumerate(lines)
    )


# What reads as structure in each kind of free text, and what ends a code block left open
# there: the renderer escapes by these and the parser unescapes by the same ones.
def item_line(line: str) -> bool:
    """Under a checklist item: another item, or a heading."""
    return bool(CHECK_RE.match(line)) or is_heading(line)


def ends_item_block(line: str) -> bool:
    return bool(CHECK_RE.match(line)) or is_section_heading(line)


def note_line(line: str) -> bool:
    """In a note's body: a heading, or another note's header."""
    return is_heading(line) or bool(NOTE_RE.match(line))


def ends_note_block(line: str) -> bool:
    return bool(NOTE_RE.match(line)) or is_section_heading(line)


def open_fence(text: str, delimits: Callable[[str], bool]) -> str:
    """The fence of a code block left open at the end of ``text`` ("" if none)."""
    fence = ""
    for line in text.split("\n"):
        if fence:
            if closes(line, fence):
                fence = ""
                continue
            if not delimits(line):
                continue
        fence = fence_of(line)
    return fence
