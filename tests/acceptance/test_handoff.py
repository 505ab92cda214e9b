"""The handoff logic through the real executable: priorities, dependencies, limits, waiting."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import Orch, clean_env, set_roles, task_file

pytestmark = pytest.mark.mcp


def at(minute: int) -> dict[str, str]:
    return {"ORCH_CLOCK": f"2025-03-01T12:{minute:02d}:00Z"}


def test_priority_then_age(orch: Orch) -> None:
    def create(title: str, prio: str, minute: int) -> str:
        return str(orch.json("create", title, "--priority", prio, env=at(minute))["id"])

    p2 = create("old but P2", "P2", 0)
    p1_new = create("new P1", "P1", 5)
    p1_old = create("old P1", "P1", 1)
    p0 = create("newest P0", "P0", 9)
    for tid in (p2, p1_new, p1_old, p0):
        orch("prep", tid, "--goal", "g", "--agent", "chatgpt")
    order = []
    for _ in range(4):
        nxt = orch.json("next", "--agent", "cursor")
        tid = nxt["task"]["id"]  # type: ignore[index]
        order.append(tid)
        orch("claim", tid, "--agent", "cursor")
        orch("review", tid, "--agent", "cursor")
    assert order == [p0, p1_old, p1_new, p2]


def test_dependencies_are_never_offered_before_done(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    base = orch.ready("base", "--priority", "P2")
    top = orch.ready("top", "--priority", "P0", "--depends", base)
    assert orch.json("next", "--agent", "cursor")["task"]["id"] == base  # type: ignore[index]
    refused = orch("claim", top, "--agent", "cursor", check=False)
    assert refused.code != 0 and base in refused.err and "not done" in refused.err
    orch("claim", base, "--agent", "cursor")
    orch("review", base, "--agent", "cursor")
    assert orch.json("next", "--agent", "claude")["action"] == "wait"  # base is in review
    orch("complete", base, "--agent", "codex")
    nxt = orch.json("next", "--agent", "cursor")
    assert (nxt["action"], nxt["task"]["id"]) == ("claim", top)  # type: ignore[index]
    orch("claim", top, "--agent", "cursor")


@pytest.mark.errors
def test_dependency_cycles_and_unknowns_are_refused_when_made(orch: Orch) -> None:
    a = orch.create("a")
    b = orch.create("b", "--depends", a)
    c = orch.create("c", "--depends", b)
    res = orch("prep", a, "--goal", "g", "--depends", c, "--json", check=False)
    assert res.code != 0
    err = res.err_json()
    assert "cycle" in str(err["error"]) and a in str(err["error"]) and err["hint"]
    assert orch.json("show", a)["depends"] == []  # nothing was written
    unknown = orch("create", "d", "--depends", "T-zzzzzz", check=False)
    assert unknown.code != 0 and "unknown dependency T-zzzzzz" in unknown.err
    assert len(orch.json("status")["tasks"]) == 3  # type: ignore[arg-type]


def test_max_in_progress(orch: Orch) -> None:
    first = orch.ready("first")
    second = orch.ready("second")
    orch("claim", first, "--agent", "cursor")
    busy = orch("claim", second, "--agent", "cursor", check=False)
    assert busy.code != 0 and f"already holds {first}" in busy.err
    assert orch.json("next", "--agent", "cursor")["action"] == "continue"
    config = orch.cwd / ".mcp" / "config.yaml"
    config.write_text(config.read_text().replace("max_in_progress: 1", "max_in_progress: 2"))
    orch("claim", second, "--agent", "cursor")
    assert task_file(orch.cwd, second).parent.name == "in-progress"


def test_feedback_goes_back_to_the_same_implementer_first(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    fresh = orch.ready("fresh P0", "--priority", "P0")
    sent_back = orch.ready("sent back P2", "--priority", "P2")
    orch("claim", sent_back, "--agent", "cursor")
    orch("review", sent_back, "--agent", "cursor")
    orch("feedback", sent_back, "--agent", "codex", "--text", "missing tests")
    mine = orch.json("next", "--agent", "cursor")
    assert (mine["action"], mine["task"]["id"]) == ("fix", sent_back)  # type: ignore[index]
    assert "missing tests" in orch("next", "--agent", "cursor").out
    other = orch.json("next", "--agent", "claude")
    assert other["task"]["id"] == fresh  # type: ignore[index]


def test_roles_come_from_the_config(orch: Orch) -> None:
    config = orch.cwd / ".mcp" / "config.yaml"
    config.write_text(config.read_text().replace("reviewer: [codex]", "reviewer: [gemini]"))
    set_roles(orch.cwd, implementer=["cursor", "codex"])  # codex still plays a role
    tid = orch.ready("reviewed by gemini")
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    assert orch.json("next", "--agent", "gemini")["action"] == "review"
    assert orch.json("next", "--agent", "codex")["action"] != "review"


def _wait(orch: Orch, agent: str, timeout: float = 30) -> subprocess.Popen[str]:
    return orch.popen("next", "--agent", agent, "--wait", "--timeout", str(timeout), "--json")


def test_next_wait_returns_when_another_process_hands_off(orch: Orch) -> None:
    tid = orch.ready("handed off")
    orch("claim", tid, "--agent", "cursor")
    waiter = _wait(orch, "codex")
    # the waiter has nothing to do until the review: it must still be blocked now
    with pytest.raises(subprocess.TimeoutExpired):
        waiter.wait(timeout=0.3)
    orch("review", tid, "--agent", "cursor")
    out, err = waiter.communicate(timeout=20)
    assert waiter.returncode == 0, err
    import json

    data = json.loads(out)
    assert (data["action"], data["task"]["id"]) == ("review", tid)


def test_next_wait_times_out_with_wait(orch: Orch) -> None:
    waiter = _wait(orch, "codex", timeout=0.5)
    out, _ = waiter.communicate(timeout=20)
    import json

    assert waiter.returncode == 0 and json.loads(out)["action"] in ("idle", "wait")


def test_next_wait_with_a_pinned_clock_still_waits_its_timeout(orch: Orch) -> None:
    # ORCH_CLOCK pins the time records get, not the time a wait measures with
    pinned = Orch(orch.cwd, clean_env(at(0)))
    waiter = _wait(pinned, "codex", timeout=0.3)
    try:
        out, err = waiter.communicate(timeout=20)
    finally:
        waiter.kill()  # a wait that never ends must not outlive the test
    assert waiter.returncode == 0, err
    assert json.loads(out)["action"] in ("idle", "wait")


def test_submitting_resolves_the_review_feedback(orch: Orch) -> None:
    tid = orch.ready("sent back once")
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    orch("feedback", tid, "--agent", "codex", "--text", "handle the empty list", env=at(1))
    orch("claim", tid, "--agent", "cursor")
    still_open = orch.json("show", tid)["open_feedback"]
    assert isinstance(still_open, list) and [n["body"] for n in still_open] == [
        "handle the empty list"
    ]
    submitted = orch.json("review", tid, "--agent", "cursor", "--note", "handled", env=at(2))
    assert submitted["status"] == "review" and submitted["open_feedback"] == []
    notes = submitted["feedback"]
    assert isinstance(notes, list) and len(notes) == 1
    assert (notes[0]["open"], notes[0]["resolved_at"]) == (False, "2025-03-01T12:02:00.000Z")
    assert orch.json("feedback", "list")["feedback"] == []
    assert orch.json("next", "--agent", "codex")["action"] == "review"
