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
