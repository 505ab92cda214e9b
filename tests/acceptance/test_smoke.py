"""The shortest handoff chain, end to end through the real executable."""

from __future__ import annotations

import pytest

from tests.conftest import Orch, task_file

pytestmark = [pytest.mark.mcp, pytest.mark.cli]


def test_chain_with_feedback_round_trip(orch: Orch) -> None:
    task_id = orch.ready("Add login rate limit", "--priority", "P0")
    assert orch.json("next", "--agent", "cursor")["action"] == "claim"
    orch("claim", task_id, "--agent", "cursor")
    orch("review", task_id, "--agent", "cursor", "--note", "first try")
    orch("feedback", task_id, "--agent", "codex", "--text", "handle the lockout case")
    nxt = orch.json("next", "--agent", "cursor")
    assert nxt["action"] == "fix"
    assert nxt["task"]["open_feedback"][0]["body"] == "handle the lockout case"  # type: ignore[index]
    orch("claim", task_id, "--agent", "cursor")
    orch("review", task_id, "--agent", "cursor")
    orch("complete", task_id, "--agent", "codex")
    text = task_file(orch.cwd, task_id).read_text()
    assert "## Status: done" in text
    assert "handle the lockout case" in text
    assert "/done/" in str(task_file(orch.cwd, task_id))
