"""The files are the truth: hand edits are seen, hand-written text survives every rewrite."""

from __future__ import annotations

import pytest

from tests.conftest import Orch, task_file

pytestmark = pytest.mark.mcp


def test_hand_written_sections_survive_the_whole_chain(orch: Orch) -> None:
    tid = orch.ready("kept context")
    path = task_file(orch.cwd, tid)
    text = (
        path.read_text()
        .replace(
            "## Files Affected",
            "## Design Notes\nA person wrote this.\n\n- and this bullet\n\n## Files Affected",
        )
        .replace("## Implementation Notes\n", "## Implementation Notes\nhand-written hint\n")
    )
    path.write_text(text)
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    orch("feedback", tid, "--agent", "codex", "--text", "one more thing")
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    orch("complete", tid, "--agent", "codex")
    final = task_file(orch.cwd, tid).read_text()
    assert "## Design Notes\nA person wrote this.\n\n- and this bullet\n" in final
    assert final.index("## Design Notes") < final.index("## Files Affected")
    assert "hand-written hint" in final and "one more thing" in final
    assert final.count("## Design Notes") == 1


def test_a_hand_edit_is_seen_at_once(orch: Orch) -> None:
    tid = orch.create("Old title")
    assert orch.json("status")["tasks"][0]["title"] == "Old title"  # type: ignore[index]
    path = task_file(orch.cwd, tid)
    # same length, written in place: only the content differs
    path.write_text(
        path.read_text()
        .replace("Old title", "New title")
        .replace("## Priority: P1", "## Priority: P0")
    )
    task = orch.json("status")["tasks"][0]  # type: ignore[index]
    assert (task["title"], task["priority"]) == ("New title", "P0")  # type: ignore[index]


def test_a_file_moved_by_hand_is_a_status_change(orch: Orch) -> None:
    tid = orch.ready("moved by hand")
    path = task_file(orch.cwd, tid)
    path.rename(path.parent.parent / "pending" / path.name)
    assert orch.json("show", tid)["status"] == "pending"
    orch("prep", tid, "--goal", "again", "--agent", "chatgpt")  # the next write updates the file
    text = task_file(orch.cwd, tid).read_text()
    assert task_file(orch.cwd, tid).parent.name == "ready"
    assert "## Status: ready" in text and "| chatgpt | prep | pending -> ready" in text


def test_same_task_renders_the_same_bytes(orch: Orch) -> None:
    clock = {"ORCH_CLOCK": "2025-03-01T12:00:00Z"}
    tid = orch.ready("stable")
    orch("claim", tid, "--agent", "cursor", env=clock)
    before = task_file(orch.cwd, tid).read_bytes()
    orch("claim", tid, "--agent", "cursor", env=clock)  # a no-op claim writes nothing
    assert task_file(orch.cwd, tid).read_bytes() == before
    orch("doctor", "--fix")  # a healthy board is not rewritten
    assert task_file(orch.cwd, tid).read_bytes() == before


def test_the_board_files_follow_the_spec_schema(orch: Orch) -> None:
    tid = orch.ready("schema")
    text = task_file(orch.cwd, tid).read_text()
    assert text.startswith(
        f"# Task: {tid} - schema\n\n## Status: ready\n\n## Priority: P1\n\n"
        "## Agent: unassigned\n\n## Created: "
    )
    for heading in (
        "Goal",
        "Acceptance Criteria",
        "Definition of Ready",
        "Definition of Done",
        "Files Affected",
        "Implementation Notes",
        "Review Feedback",
        "Error Context",
        "Git Context",
    ):
        assert f"\n## {heading}\n" in text
    assert "- Branch:" in text and "- Commit:" in text and "- PR:" in text


# Lines a person adds by hand: prose, bullets, an indented line, a blank line inside, '#' lines,
# a box-like line. Each section gets them after its last line.
HAND_WRITTEN = (
    "plain prose line\n"
    "- a plain bullet\n"
    "  indented continuation\n"
    "\n"
    "# a comment\n"
    "### Sub heading in four words\n"
    "- [ ] box-like line"
)
HAND_SECTIONS = (
    "Goal",
    "Acceptance Criteria",
    "Definition of Done",
    "Files Affected",
    "Implementation Notes",
    "Error Context",
    "Git Context",
    "History",
)


def _add_at_section_end(text: str, heading: str, lines: str) -> str:
    start = text.index(f"\n## {heading}\n") + 1
    end = text.find("\n\n## ", start)
    end = len(text.rstrip("\n")) if end < 0 else end
    return text[:end] + "\n" + lines + text[end:]


def test_hand_written_lines_survive_every_write_byte_for_byte(orch: Orch) -> None:
    tid = orch.ready("hand edits", "--priority", "P1")
    orch("prep", tid, "--ac", "a1", "--dod", "tests pass", "--files", "src/a.py", "--notes", "n")
    path = task_file(orch.cwd, tid)
    text = path.read_text()
    for heading in HAND_SECTIONS:
        text = _add_at_section_end(text, heading, HAND_WRITTEN)
    text = text.replace("- [ ] a1\n", "- [ ] a1\nprose under the criterion\n")
    path.write_text(text)

    def blocks_intact() -> str:
        final = task_file(orch.cwd, tid).read_text()
        for heading in HAND_SECTIONS:
            section = final[final.index(f"\n## {heading}\n") :]
            assert HAND_WRITTEN in section.split("\n## ", 2)[1], heading
        assert "- [ ] a1\nprose under the criterion\n" in final
        return final

    for _ in range(4):  # the reported case: a dash was added on every write
        orch("error", tid, "--text", "x")
        blocks_intact()
    for step in (
        ["claim", tid, "--agent", "cursor"],
        ["review", tid, "--agent", "cursor"],
        ["feedback", tid, "--agent", "codex", "--text", "one more thing"],
        ["claim", tid, "--agent", "cursor"],
        ["review", tid, "--agent", "cursor"],
        ["complete", tid, "--agent", "codex"],
    ):
        orch(*step)
        final = blocks_intact()
    assert "- - " not in final
    shown = orch.json("show", tid)
    history = shown["history"]
    assert isinstance(history, list)
    assert all(h["at"] and h["agent"] and h["op"] for h in history)
    assert [h["op"] for h in history][-2:] == ["submit", "complete"]
    # lines under a criterion are part of it (line breaks kept); the box-like line is one
    more, rest = HAND_WRITTEN.split("\n- [ ] ")
    assert shown["acceptance_criteria"] == [
        {"text": f"a1\nprose under the criterion\n{more}", "done": False},
        {"text": rest, "done": False},
    ]
