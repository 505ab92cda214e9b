"""``orch demo``: the quick start's first command plays the whole chain on a throwaway repo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Orch

pytestmark = [pytest.mark.mcp, pytest.mark.cli]


def test_the_demo_plays_every_handoff_and_ends_done(orch: Orch) -> None:
    res = orch("demo")
    for headline in (
        "1. The planner writes the task",
        "2. The implementer asks what to do",
        "3. The reviewer finds a gap and sends it back",
        "4. The implementer's next shows the feedback first",
        "5. The reviewer approves",
        "The final board",
    ):
        assert headline in res.out
    assert "next: fix" in res.out and "is now done" in res.out
    assert "FAILED" not in res.out and res.err == ""


def test_the_demo_json_records_each_step_and_the_final_task(orch: Orch) -> None:
    res = orch("demo", "--json", "--keep")
    data = json.loads(res.out)
    assert "The reviewer approves" in res.err  # the story goes to stderr
    steps = data["steps"]
    assert [s["agent"] for s in steps] == [
        *["chatgpt"] * 2,
        *["cursor"] * 3,
        *["codex"] * 2,
        *["cursor"] * 3,
        *["codex"] * 2,
    ]
    assert steps[5]["result"].startswith("next: review") and "feedback" in steps[6]["command"]
    assert steps[7]["result"].startswith("next: fix")
    task = data["task"]
    assert data["ok"] is True and task["status"] == "done"
    assert [f["open"] for f in task["feedback"]] == [False]
    ops = [h["op"] for h in task["history"]]
    assert ops == ["create", "prep", "claim", "submit", "feedback", "claim", "submit", "complete"]
    repo = Path(data["repo"])
    try:
        done = list((repo / ".mcp" / "tasks" / "done").glob(f"{task['id']}-*.md"))
        assert len(done) == 1 and "count per account too" in done[0].read_text()
    finally:
        shutil.rmtree(repo)
