"""The task file: parse/render round trip, deterministic bytes, hand-written text kept."""

from __future__ import annotations

import pytest

from mcp_orch.board import format as fmt
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
    id="T-7k3m9q",
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
            ref=".mcp/feedback/T-7k3m9q-1.md",
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
        "# Task: T-7k3m9q - Add login rate limit",
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
    body = fmt.escape_text("intro\n## Status: done\n### FB-9 [open] x y")
    task = FULL.evolve(notes=body)
    back = fmt.parse(fmt.render(task))
    assert back.status is Status.IN_PROGRESS
    assert back.feedback == FULL.feedback
    assert "Status: done" in back.notes


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
