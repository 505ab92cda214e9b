"""The task file: parse/render round trip, deterministic bytes, hand-written text kept."""

from __future__ import annotations

import random
import re

import pytest

from mcp_orch.board import format as fmt
from mcp_orch.domain import transitions
from mcp_orch.domain.errors import MalformedTask
from mcp_orch.domain.model import (
    CheckItem,
    GitContext,
    HistoryEntry,
    Note,
    Priority,
    Status,
    Task,
)

pytestmark = pytest.mark.mcp

FULL = Task(
    id="T-7k3m9q2x",
    title="Add login rate limit",
    status=Status.IN_PROGRESS,
    priority=Priority.P0,
    agent="cursor",
    implementer="cursor",
    depends=("T-aaaaaa", "T-bbbbbb"),
    created="2025-01-01T10:00:00.000Z",
    updated="2025-01-01T11:00:00.000Z",
    goal="Limit login attempts.\n\nSecond paragraph.",
    acceptance=(CheckItem("five tries per minute"), CheckItem("lockout", done=True)),
    ready_def=(CheckItem("API agreed", done=True),),
    done_def=(CheckItem("tests pass"),),
    files=("src/auth.py", "tests/test_auth.py"),
    notes="use redis",
    feedback=(
        Note(
            "FB-1",
            "2025-01-01T10:30:00.000Z",
            "codex",
            "handle lockout",
            "review",
            open=False,
            resolved_at="2025-01-01T10:45:00.000Z",
        ),
        Note("FB-2", "2025-01-01T10:50:00.000Z", "codex", "and the reset\nline two", "review"),
    ),
    errors=(
        Note(
            "E-1",
            "2025-01-01T10:40:00.000Z",
            "hook",
            "pytest failed",
            "test",
            open=False,
            ref=".mcp/feedback/T-7k3m9q2x-1.md",
        ),
    ),
    escalations=(Note("ESC-1", "2025-01-01T10:55:00.000Z", "cursor", "spec unclear", "manual"),),
    git=GitContext(branch="feat/login", commit="abc1234", pr="42"),
    history=(
        HistoryEntry("2025-01-01T10:00:00.000Z", "chatgpt", "create", "", "pending"),
        HistoryEntry("2025-01-01T10:10:00.000Z", "cursor", "claim", "ready", "in-progress", "go"),
    ),
)


def test_round_trip_keeps_every_field() -> None:
    text = fmt.render(FULL)
    assert fmt.parse(text, "in-progress/x.md") == FULL


def test_render_is_deterministic_and_a_fixed_point() -> None:
    text = fmt.render(FULL)
    assert fmt.render(FULL) == text
    assert fmt.render(fmt.parse(text)) == text


def test_fields_in_the_spec_order() -> None:
    text = fmt.render(FULL)
    order = [
        "# Task: T-7k3m9q2x - Add login rate limit",
        "## Status: in-progress",
        "## Priority: P0",
        "## Agent: cursor",
        "## Created:",
        "## Last Updated:",
        "## Goal",
        "## Acceptance Criteria",
        "## Definition of Ready",
        "## Definition of Done",
        "## Files Affected",
        "## Implementation Notes",
        "## Review Feedback",
        "## Error Context",
        "## Git Context",
        "## History",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "- [x] lockout" in text and "- [ ] five tries per minute" in text


def test_hand_added_sections_and_text_survive_a_rewrite() -> None:
    text = fmt.render(FULL)
    text = text.replace(
        "## Files Affected",
        "## Design Sketch\nDraw the token bucket here.\n\n- keep this bullet\n\n## Files Affected",
    )
    text = text.replace("use redis", "use redis\n\nA person added this paragraph.")
    text += "\n## Postscript\nlast words\n"
    task = fmt.parse(text)
    # a rewrite after a change (a history entry appended) keeps all of it, in place
    changed = task.evolve(history=(*task.history, HistoryEntry("t", "a", "review", "x", "y")))
    out = fmt.render(changed)
    assert "## Design Sketch\nDraw the token bucket here.\n\n- keep this bullet\n" in out
    assert out.index("## Definition of Done") < out.index("## Design Sketch")
    assert out.index("## Design Sketch") < out.index("## Files Affected")
    assert "A person added this paragraph." in out
    assert out.rstrip().endswith("## Postscript\nlast words")
    assert fmt.render(fmt.parse(out)) == out


def test_headings_inside_free_text_cannot_break_the_structure() -> None:
    body = "intro\n## Status: done\n### FB-9 [open] x y"
    task = FULL.evolve(notes=body)
    text = fmt.render(task)
    assert "\nintro\n\\## Status: done\n### FB-9 [open] x y\n" in text  # Markdown's escape
    back = fmt.parse(text)
    assert back.status is Status.IN_PROGRESS
    assert back.feedback == FULL.feedback
    assert back == task  # the text reads back as it was given


def test_loose_feedback_written_by_hand_is_open_feedback() -> None:
    text = fmt.render(FULL.evolve(feedback=())).replace(
        "## Review Feedback\n", "## Review Feedback\nplease rename the flag\n"
    )
    task = fmt.parse(text)
    assert [n.body for n in task.open_feedback] == ["please rename the flag"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("not a task\n", 1),
        ("# Task: T-abc123 - x\n\n## Status: sleeping\n", 3),
        ("# Task: T-abc123 - x\n\n## Status: ready\n\n## Priority: P9\n", 5),
        ("# Task: T-abc123 - x\n\n## Status: ready\n<<<<<<< HEAD\n", 4),
        ("# Task: T-abc123 - x\n\n## Status: ready\n<<<<<<<< HEAD:a/b.md\n", 4),
    ],
)
@pytest.mark.errors
def test_malformed_names_file_and_line(text: str, line: int) -> None:
    with pytest.raises(MalformedTask) as info:
        fmt.parse(text, "ready/T-abc123-x.md")
    assert info.value.line == line
    assert info.value.message.startswith(f"ready/T-abc123-x.md:{line}:")


# ---------------------------------------------------------------- hand-written lines, any section

# Lines a person might write into any section: none of them is structure where it is inserted
# (structure in another form is covered by test_structured_lines_are_written_in_one_form).
ODD_LINES = [
    "plain prose line",
    "- a plain bullet",
    "  indented continuation",
    "\ttabbed line",
    "# a comment",
    "### Sub heading in four words",
    "#hashtag",
    "- [ ] looks like a box",
    "- [x] a ticked box",
    "- [ ]",
    "    - [ ] an indented box",
    "1. numbered",
    "> quoted",
    "| a | table |",
    "-",
    "trailing spaces   ",
    "- [X] an upper-case box",
    "* [ ] a starred box",
]
# In these sections a line in these forms is structure (an item, a file): written in one form.
NOT_ODD = {
    "acceptance criteria": {"- [X] an upper-case box", "* [ ] a starred box"},
    "definition of ready": {"- [X] an upper-case box", "* [ ] a starred box"},
    "definition of done": {"- [X] an upper-case box", "* [ ] a starred box"},
    "files affected": {"* [ ] a starred box"},
}
NOTE_SECTIONS = ("review feedback", "error context", "escalation")
REWRITES = 5


def _insert_block(text: str, heading: str, rng: random.Random, key: str) -> tuple[str, list[str]]:
    """``text`` with a few odd lines (blank ones only inside) put anywhere inside a section."""
    lines = text.split("\n")
    start = lines.index(f"## {heading}") + 1
    end = start
    while end < len(lines) and not lines[end].startswith("## "):
        end += 1
    pool = [line for line in ODD_LINES if line not in NOT_ODD.get(key, ())]
    block = rng.sample(pool, rng.randint(1, 4))
    if len(block) > 1:
        block.insert(rng.randint(1, len(block) - 1), rng.choice(["", "   "]))
    at = rng.randint(start, max(start, end - 1))  # after the heading .. after the last line
    return "\n".join([*lines[:at], *block, *lines[at:]]), block


def _rewrite(text: str, number: int) -> str:
    """What every command does: read the file, change the task, write it."""
    task = fmt.parse(text)
    now = f"2026-01-01T00:00:{number:02d}.000Z"
    task = transitions.record(task, "edit", actor="bot", now=now, note=f"edit {number}")
    task = task.add_note("errors", at=now, author="bot", body=f"run {number}", source="test")
    return fmt.render(task)


def _is_kept_in(old: str, new: str) -> bool:
    """Every line of ``old`` is in ``new``, in the same order (the update time aside)."""
    rest = iter(new.split("\n"))
    return all(
        any(line == candidate for candidate in rest)
        for line in old.split("\n")
        if not line.startswith("## Last Updated:")
    )


def _solid(text: str) -> list[str]:
    # A note written without a header gets one ("### FB-01 [open] - -"); notes are one blank
    # line apart: both are the section's structure, not the person's words.
    return [ln for ln in text.split("\n") if ln.strip() and not re.match(r"^### \w+-0\d* ", ln)]


@pytest.mark.parametrize("key", list(fmt.SECTIONS))
@pytest.mark.parametrize("empty", [False, True], ids=["filled", "empty"])
def test_hand_written_lines_survive_every_rewrite(key: str, empty: bool) -> None:
    base = fmt.render(Task(id="T-abc123", title="empty") if empty else FULL)
    rng = random.Random(f"{key}-{empty}")  # a fixed seed per case: failures reproduce
    for _ in range(25):
        text, block = _insert_block(base, fmt.SECTIONS[key], rng, key)
        written = fmt.render(fmt.parse(text))
        if key in NOTE_SECTIONS:
            assert _solid(written) == _solid(text), block
        else:
            assert written == text, block  # byte for byte, in place
        for number in range(REWRITES):
            task = fmt.parse(written)
            assert fmt.parse(fmt.render(task)) == task
            assert fmt.render(task) == written
            again = _rewrite(written, number)
            assert _is_kept_in(written, again), block
            written = again
        assert "\n".join(block) in written
        assert all(h.op for h in fmt.parse(written).history)


@pytest.mark.parametrize(
    "section", ["Acceptance Criteria", "Definition of Ready", "Definition of Done"]
)
def test_prose_under_a_criterion_stays_its_own_line(section: str) -> None:
    text = fmt.render(FULL.evolve(acceptance=(), ready_def=(), done_def=()))
    text = text.replace(
        f"## {section}\n",
        f"## {section}\nAll of these:\n\n- [ ] a1\nplain prose line\n  - a sub-point\n\n- [x] a2\n",
    )
    task = fmt.parse(text)
    items = {
        "Acceptance Criteria": task.acceptance,
        "Definition of Ready": task.ready_def,
        "Definition of Done": task.done_def,
    }[section]
    # the line is kept with the item it explains, its line break too: agents read the items
    assert items == (
        CheckItem("a1\nplain prose line\n  - a sub-point"),
        CheckItem("a2", done=True),
    )
    out = text
    for number in range(REWRITES):
        out = _rewrite(out, number)
    assert (
        f"## {section}\nAll of these:\n\n- [ ] a1\nplain prose line\n  - a sub-point\n\n- [x] a2\n"
        in out
    )
    assert "a1 plain prose line" not in out


def test_a_hand_written_history_line_is_kept_as_written_and_is_no_entry() -> None:
    text = fmt.render(FULL) + "- a hand-written history remark\n"
    for number in range(4):
        text = _rewrite(text, number)
    assert "\n- a hand-written history remark\n- 2026-01-01T00:00:00.000Z | bot | edit" in text
    assert "- - a hand-written" not in text
    task = fmt.parse(text)
    assert [h.op for h in task.history] == ["create", "claim", "edit", "edit", "edit", "edit"]
    assert all(h.at and h.agent and h.op for h in task.history)


def test_a_history_note_with_a_bar_reads_back_as_written() -> None:
    entry = HistoryEntry(
        "2025-01-01T12:00:00.000Z", "codex", "feedback", "review", "ready", "a | b"
    )
    task = FULL.evolve(history=(*FULL.history, entry))
    assert fmt.parse(fmt.render(task)) == task


def test_structured_lines_are_written_in_one_form_then_kept() -> None:
    hand = "* [X] starred\n  - [ ] nested\n-  [ ]  spaced\n"
    text = (
        fmt.render(FULL.evolve(acceptance=(), files=()))
        .replace("## Acceptance Criteria\n", f"## Acceptance Criteria\n{hand}")
        .replace("## Files Affected\n", "## Files Affected\n* `src/a.py`\n")
    )
    task = fmt.parse(text)
    # an indented line belongs to the item above it, whatever it looks like
    assert task.acceptance == (
        CheckItem("starred\n  - [ ] nested", done=True),
        CheckItem("spaced"),
    )
    assert task.files == ("src/a.py",)
    once = fmt.render(task)
    assert "## Acceptance Criteria\n- [x] starred\n  - [ ] nested\n- [ ] spaced\n" in once
    assert "## Files Affected\n- src/a.py\n" in once
    assert fmt.render(fmt.parse(once)) == once


def test_a_heading_like_line_in_a_note_body_stays_in_the_body() -> None:
    text = fmt.render(FULL).replace(
        "and the reset\nline two", "and the reset\n### Step one done\nline two"
    )
    task = fmt.parse(text)
    assert [n.key for n in task.feedback] == ["FB-1", "FB-2"]
    assert task.feedback[1].body == "and the reset\n### Step one done\nline two"
    assert fmt.render(task) == text


def test_text_with_a_markdown_underline_keeps_the_file_readable() -> None:
    # "=======" under a line is a Markdown heading, and also what git writes between two sides
    text = "Summary\n=======\nfailed\n<<<<<<< not a conflict"
    task = FULL.evolve(
        goal=text,
        notes=text,
        acceptance=(CheckItem(f"a1\n{text}"),),
        errors=(Note("E-1", "2025-01-01T10:40:00.000Z", "hook", text, "test", open=False),),
    )
    written = fmt.render(task)
    assert "\nSummary\n\\=======\nfailed\n\\<<<<<<< not a conflict\n" in written
    back = fmt.parse(written)  # no conflict marker in the file: it reads
    assert back == task
    assert back.errors[0].body == back.goal == back.notes == text


# Fragments of every kind of structure the format knows, put together at random.
FRAGMENTS = ["- ", "* ", "[ ]", "[x]", "[X]", " ", "\t", "#", "##", "### ", "FB-1", "E-2", "word"]
FRAGMENTS += ["2025-01-01T00:00:00.000Z", " | ", " -> ", "Branch:", "PR:", "Details: ", "`", "-"]
FRAGMENTS += ["(review)", "[open]", "[resolved -]", ">", "1.", "@", ""]


@pytest.mark.parametrize("empty", [False, True], ids=["filled", "empty"])
def test_any_text_reads_back_as_it_is_written(empty: bool) -> None:
    base = fmt.render(Task(id="T-abc123", title="t") if empty else FULL).split("\n")
    rng = random.Random(f"any-{empty}")
    for _ in range(1500):
        lines = list(base)
        for _ in range(rng.randint(1, 6)):
            line = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 6)))
            lines.insert(rng.randint(1, len(lines)), line)
        try:
            task = fmt.parse("\n".join(lines))
        except MalformedTask:  # a heading put above "## Status": refused, file and line named
            continue
        written = fmt.render(task)
        assert fmt.parse(written) == task, lines
        assert fmt.render(fmt.parse(written)) == written, lines


# ---------------------------------------------------------------- fenced code blocks (issue 8)

FENCE_FRAGMENTS = ["```", "~~~", "````", "```py", " ```", "## x", "## Goal", "- [ ] y", "- f"]
FENCE_FRAGMENTS += ["### FB-2 [open] - a", "- t | a | op | a -> b", "- Branch: b", "text", ""]


def test_a_fence_hides_headings_and_structure_in_any_section() -> None:
    block = "```md\n## Not a heading\n- [ ] not an item\n### FB-9 [open] - x\n```"
    base = fmt.render(Task(id="T-abc123", title="t"))
    for heading in fmt.SECTIONS.values():
        # in Goal, Notes and hand-written text nothing ends a block but its fence; in a
        # structured section its own structured lines do (an item, a note's header)
        text = base.replace(f"## {heading}\n", f"## {heading}\n- [ ] a\n{block}\nafter\n")
        task = fmt.parse(text)
        assert [h for _, h, _ in task.extra if h] == [], heading  # no "## Not a heading"
        if heading.lower() in NOTE_SECTIONS:  # loose text there becomes a note with a header
            assert "\n## Not a heading\n- [ ] not an item\n" in fmt.render(task), heading
        else:
            assert fmt.render(task) == text, heading
        assert fmt.parse(fmt.render(task)) == task, heading
    notes = fmt.parse(
        base.replace("## Implementation Notes\n", f"## Implementation Notes\n{block}\n")
    )
    assert notes.notes == block and notes.extra == ()
    goal = fmt.parse(base.replace("## Goal\n", f"## Goal\n{block}\nafter\n")).goal
    assert goal == f"{block}\nafter"


def test_a_fence_left_open_ends_at_the_next_structured_line() -> None:
    base = fmt.render(FULL)
    text = base.replace("- [ ] five tries per minute\n", "- [ ] five tries per minute\n```\n## x\n")
    task = fmt.parse(text)
    assert [i.text for i in task.acceptance] == ["five tries per minute\n```\n## x", "lockout"]
    assert fmt.render(task) == text
    # text orch appends after a block someone left open never falls into it
    done = task.evolve(acceptance=(*task.acceptance, CheckItem("new")))
    assert [i.text for i in fmt.parse(fmt.render(done)).acceptance][-1] == "new"


def test_given_text_with_an_open_fence_is_closed() -> None:
    assert fmt.close_fence("a\n```py\ncode") == "a\n```py\ncode\n```"
    closed = "a\n```\n## kept\n```\n## escaped"
    assert fmt.close_fence(closed) == closed  # lines are stored as given: no escaping here
    written = fmt.render(Task(id="T-abc123", title="t", goal=closed))
    assert "## Goal\na\n```\n## kept\n```\n\\## escaped\n" in written  # in a block: text
    assert fmt.parse(written).goal == closed


@pytest.mark.parametrize("empty", [False, True], ids=["filled", "empty"])
def test_any_text_with_fences_reads_back_as_it_is_written(empty: bool) -> None:
    base = fmt.render(Task(id="T-abc123", title="t") if empty else FULL).split("\n")
    rng = random.Random(f"fence-{empty}")
    for _ in range(1500):
        lines = list(base)
        for _ in range(rng.randint(1, 8)):
            lines.insert(rng.randint(1, len(lines)), rng.choice(FENCE_FRAGMENTS))
        try:
            task = fmt.parse("\n".join(lines))
        except MalformedTask:
            continue
        written = fmt.render(task)
        assert fmt.parse(written) == task, lines
        assert fmt.render(fmt.parse(written)) == written, lines


def test_a_section_written_twice_is_a_warning_with_its_line() -> None:
    text = fmt.render(FULL) + "\n## Goal\nsecond goal\n"
    warnings: list[fmt.ParseWarning] = []
    task = fmt.parse(text, "ready/T-x.md", warnings)
    line = text.split("\n").index("## Goal", 20) + 1
    assert [(w[0], w[3]) for w in warnings] == [("duplicate-section", line)]
    assert warnings[0][1].startswith(f"ready/T-x.md: line {line}: a second '## Goal'")
    assert task.goal == FULL.goal and ("history", "Goal", "second goal") in task.extra


def test_a_byte_order_mark_is_read_past() -> None:
    assert fmt.parse("\ufeff" + fmt.render(FULL)) == FULL


@pytest.mark.errors
def test_a_header_field_without_a_colon_names_its_line() -> None:
    text = fmt.render(FULL).replace("## Priority: P0", "## Priority P0")
    with pytest.raises(MalformedTask) as info:
        fmt.parse(text, "ready/T-x.md")
    line = text.split("\n").index("## Priority P0") + 1
    assert info.value.line == line
    assert info.value.message == f"ready/T-x.md: line {line}: `## Priority P0` has no colon"


def test_capabilities_are_a_header_line_only_when_a_task_names_some() -> None:
    plain = Task(id="T-7k3m9q2x", title="x", created="c", updated="u")
    assert "Capabilities" not in fmt.render(plain)  # a file from before the field: as it was
    needs = plain.evolve(capabilities=("backend", "frontend"))
    text = fmt.render(needs)
    assert "## Depends On: none\n## Capabilities: backend, frontend\n\n## Goal" in text
    assert fmt.parse(text) == needs and fmt.render(fmt.parse(text)) == text


def test_a_hand_written_capabilities_line_is_read_and_an_old_section_stays_a_section() -> None:
    text = fmt.render(Task(id="T-7k3m9q2x", title="x"))
    hand = text.replace("## Depends On: none\n", "## Depends On: none\n## Capabilities:  a ,b\n")
    assert fmt.parse(hand).capabilities == ("a", "b")
    assert fmt.parse(hand.replace(" a ,b", " none")).capabilities == ()
    # "## Capabilities" without a colon, written by hand before the field existed: text
    old = text.replace("## Depends On: none\n", "## Depends On: none\n## Capabilities\nfast\n")
    task = fmt.parse(old)
    assert task.capabilities == () and ("", "Capabilities", "fast") in task.extra
    assert "## Capabilities\nfast\n" in fmt.render(task)
    assert fmt.parse(fmt.render(task)) == task


# ------------------------------------------------ text is stored as given (issue 9)

GIVEN = ["#", "## ", "## Goal", "### FB-3 [open] - a", "- [ ] ", "- [x] ", "`", "```", "~~~"]
GIVEN += ["**", "  ", " ", "\t", "\\", "\\\\", "Details: ", "=======", "<<<<<<< ", ">>>>>>>", "x"]
GIVEN += ["|", " -> ", "* ", "word", ""]


def _given(rng: random.Random) -> str:
    """Text as ``inputs.check_text`` would keep it: no blank lines at the ends, blocks closed."""
    lines = ["".join(rng.choice(GIVEN) for _ in range(rng.randint(0, 4))) for _ in range(6)]
    return fmt.close_fence(fmt.trim("\n".join(lines[: rng.randint(1, 6)])).rstrip()) or "x"


@pytest.mark.parametrize(
    "text",
    [
        "# one hash\n## two hashes\n### three",
        "- [ ] not a criterion\n- [x] nor this",
        "`code` and\n```py\n## inside\n```\n## outside",
        "**bold** and __under__\n  two leading spaces\n    four: code",
        "   leading spaces on the first line",
        "\\## already escaped\n\\\\- [ ] twice\n\\plain backslash",
        "Details: not a reference\n### FB-9 [open] - not a note",
        "Summary\n=======\n<<<<<<< HEAD",
    ],
)
def test_given_text_reads_back_as_given_in_every_free_text_field(text: str) -> None:
    note = Note("FB-1", "2025-01-01T10:30:00.000Z", "codex", text, "review")
    task = Task(
        id="T-7k3m9q2x",
        title="t",
        goal=text,
        notes=text,
        acceptance=(CheckItem(f"first\n{text}"),),
        feedback=(note,),
        errors=(note._replace(key="E-1", open=False),),
    )
    written = fmt.render(task)
    assert fmt.parse(written) == task
    assert fmt.render(fmt.parse(written)) == written


def test_any_given_text_reads_back_as_given() -> None:
    rng = random.Random("given")
    for _ in range(1500):
        text = _given(rng)
        task = Task(
            id="T-7k3m9q2x",
            title="t",
            goal=text,
            notes=_given(rng),
            acceptance=(CheckItem(f"first\n{_given(rng)}"), CheckItem("second")),
            feedback=(Note("FB-1", "2025-01-01T10:30:00.000Z", "codex", _given(rng), "review"),),
        )
        assert fmt.parse(fmt.render(task)) == task, task


def test_risk_and_estimate_are_header_lines_only_when_said() -> None:
    plain = Task(id="T-7k3m9q2x", title="x", created="c", updated="u")
    assert "## Risk" not in fmt.render(plain) and "## Estimate" not in fmt.render(plain)
    said = plain.evolve(capabilities=("backend",), risk="critical", estimate="90m")
    text = fmt.render(said)
    assert "## Capabilities: backend\n## Risk: critical\n## Estimate: 90m\n\n## Goal" in text
    assert fmt.parse(text) == said and fmt.render(fmt.parse(text)) == text
    line = "## Depends On: none\n"
    hand = fmt.render(plain).replace(line, line + "## Risk: High\n")
    assert fmt.parse(hand).risk == "high"  # read as written (lower case); the API shows it
