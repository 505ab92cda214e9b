"""``orch demo``: the quick start's first command plays the whole chain on a throwaway repo."""

from __future__ import annotations

import json
import re
import shutil
import socket
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


@pytest.mark.server
def test_the_serve_demo_pushes_reviews_reassigns_and_stops_cleanly(orch: Orch) -> None:
    res = orch("demo", "--serve", timeout=120)  # exit 0 is checked by orch()
    story = res.out
    assert "FAILED" not in story and res.err == ""
    posted = re.findall(r"POST /api/orchestrator/tasks  P\d .*\n      -> (.+)", story)
    assert len(posted) == 4
    assert "assigned to claude" in posted[0] and "assigned to cursor" in posted[1]  # the push
    assert "queued: waiting for" in posted[3]  # the dependent task waits for the signup form
    assert "-> continue" in story and "review by codex" in story
    login, dependent = posted[0].split()[0], posted[3].split()[0]
    assert f"{dependent} assigned to cursor" in story  # released once its dependency was done
    assert f"claude stops sending heartbeats while it holds {login}" in story
    assert "taken from claude" in story and "its lease expired" in story  # the reason
    assert re.search(r"now cursor's, \d+\.\d s later", story)
    board = story.split("7. The Markdown board", 1)[1]
    assert "the files show all 4 tasks" in board
    assert "in-progress (3)" in board and "done (1)" in board
    assert re.search(rf"{login}\s+P0\s+cursor", board)  # the files show the new holder
    assert "orch serve stopped (exit 0)" in story


@pytest.mark.server
def test_the_serve_demo_says_clearly_when_orch_serve_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mcp_orch import demo_serve

    lines: list[str] = []
    with socket.socket() as taken:  # the port the demo picks is taken meanwhile
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(demo_serve, "free_port", lambda: port)
        report = demo_serve.run(echo=lines.append)
    assert report.ok is False and report.repo is None
    failed = next(line for line in lines if line.startswith("FAILED: "))
    assert "orch serve exited" in failed and f"127.0.0.1:{port}" in failed
    assert "already in use" in failed and "picks a new free port" in failed
