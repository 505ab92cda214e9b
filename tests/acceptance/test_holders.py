"""Every in-progress task has exactly one holder, and every move is in the history, including
moves made by hand (git mv, a file manager) and a task's creation."""

from __future__ import annotations

import os

import pytest

from tests.conftest import Orch, set_roles, task_file

pytestmark = [pytest.mark.mcp, pytest.mark.cli]


def move_by_hand(orch: Orch, tid: str, folder: str) -> None:
    path = task_file(orch.cwd, tid)
    os.rename(path, path.parent.parent / folder / path.name)


def history(orch: Orch, tid: str) -> list[dict[str, str]]:
    return orch.json("show", tid)["history"]  # type: ignore[return-value]


def test_creation_comes_from_nowhere_with_its_title(orch: Orch) -> None:
    tid = orch.create("Add login rate limit", "--agent", "chatgpt")
    first = history(orch, tid)[0]
    assert (first["op"], first["from"], first["to"]) == ("create", None, "pending")
    assert first["agent"] == "chatgpt" and first["note"] == "Add login rate limit"
    assert "| chatgpt | create | - -> pending | Add login rate limit" in (
        task_file(orch.cwd, tid).read_text()
    )


def test_a_move_by_hand_is_in_the_history_once(orch: Orch) -> None:
    tid = orch.create("moved by hand")
    orch("prep", tid, "--goal", "g", "--agent", "chatgpt")
    move_by_hand(orch, tid, "pending")
    moves = [h for h in history(orch, tid) if h["op"] == "move"]
    assert [(h["from"], h["to"], h["agent"]) for h in moves] == [("ready", "pending", "-")]
    assert "by hand" in moves[0]["note"]
    orch("prep", tid, "--goal", "g2", "--agent", "chatgpt")  # a write keeps it, once
    ops = [(h["op"], h["from"], h["to"]) for h in history(orch, tid)]
    assert ops[-2:] == [("move", "ready", "pending"), ("prep", "pending", "ready")]
    assert ops.count(("move", "ready", "pending")) == 1


def test_an_unheld_in_progress_task_is_taken_over_by_a_claim(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    tid = orch.ready("moved into in-progress by hand")
    move_by_hand(orch, tid, "in-progress")
    assert orch.json("show", tid)["agent"] is None
    offer = orch.json("next", "--agent", "cursor")
    assert offer["action"] == "claim" and offer["task"]["id"] == tid  # type: ignore[index]
    assert "nobody holds it" in str(offer["reason"])
    res = orch("review", tid, "--agent", "claude", "--json", check=False)
    assert res.code == 5 and "claim it first" in res.err_json()["hint"]  # type: ignore[operator]
    taken = orch.json("claim", tid, "--agent", "cursor")
    assert taken["agent"] == "cursor" and taken["status"] == "in-progress"
    assert history(orch, tid)[-1]["op"] == "adopt"
    again = orch("claim", tid, "--agent", "claude", "--json", check=False)
    assert again.code == 6 and "already claimed by cursor" in again.err_json()["error"]  # type: ignore[operator]


def test_a_hand_move_into_in_progress_goes_back_to_its_implementer(orch: Orch) -> None:
    tid = orch.ready("sent back")
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    orch("feedback", tid, "--agent", "codex", "--text", "not yet")
    move_by_hand(orch, tid, "in-progress")
    assert orch.json("show", tid)["agent"] == "cursor"
    assert orch.json("next", "--agent", "cursor")["action"] == "continue"


def test_resolve_into_in_progress_needs_someone_to_hold_it(orch: Orch) -> None:
    tid = orch.ready("never implemented")
    orch("escalate", tid, "--reason", "unclear")
    before = task_file(orch.cwd, tid).read_bytes()
    res = orch("resolve", tid, "--to", "in-progress", "--json", check=False)
    assert res.code == 2 and "no implementer" in res.err_json()["error"]  # type: ignore[operator]
    assert task_file(orch.cwd, tid).read_bytes() == before
    back = orch.json("resolve", tid, "--to", "ready")
    assert back["status"] == "ready" and back["escalated"] is False


def test_waiting_says_what_the_active_tasks_wait_for(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    orch.create("a stub")
    first = orch.ready("first")
    orch.ready("second", "--depends", first)
    orch("claim", first, "--agent", "claude")
    reason = str(orch.json("next", "--agent", "cursor")["reason"])
    assert "1 pending (the planner preps them)" in reason
    assert "1 in progress with other agents" in reason
    assert "1 ready but waiting on dependencies" in reason
    assert "escalated" not in reason and "in review" not in reason
