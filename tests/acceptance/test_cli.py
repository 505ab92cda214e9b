"""Every command as a user runs it: output, ``--json`` shapes, ``--help``, exit codes."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess

import pytest

from mcp_orch.interfaces.cli import COMMANDS, command_names
from tests.conftest import ORCH, Orch, set_roles, task_file

pytestmark = pytest.mark.cli

CORE = [
    "init",
    "create",
    "prep",
    "next",
    "claim",
    "review",
    "feedback",
    "complete",
    "fail",
    "escalate",
    "resolve",
    "status",
    "show",
    "log",
    "doctor",
    "error",
]
CLOCK = {"ORCH_CLOCK": "2025-03-01T12:00:00Z"}


def test_every_core_command_is_registered() -> None:
    command_names()
    assert set(CORE) <= set(COMMANDS)


@pytest.mark.parametrize("name", CORE)
def test_help_of_every_command_has_an_example(orch: Orch, name: str) -> None:
    out = orch(name, "--help").out
    example = command_names()[name][1]
    assert "example:" in out and example.split()[1] == name and example in out
    assert "--json" in out


def test_top_level_help_lists_the_chain(orch: Orch) -> None:
    out = orch("--help").out
    for name in ("create", "prep", "next", "claim", "review", "feedback", "complete"):
        assert f"orch {name}" in out


def test_create_prints_the_id_and_json_shape(orch: Orch) -> None:
    plain = orch("create", "Plain one").out.strip()
    assert plain.startswith("T-") and len(plain.split()) == 1
    data = orch.json("create", "JSON one", "--priority", "P0")
    assert set(data) >= {"id"} and data["status"] == "pending"
    path = task_file(orch.cwd, str(data["id"]))
    assert path.parent.name == "pending" and path.name.endswith(".md")
    assert path.read_text().startswith(f"# Task: {data['id']} - JSON one\n")


def test_status_json_shape(orch: Orch) -> None:
    a = orch.create("First", "--priority", "P2")
    b = orch.ready("Second", "--priority", "P0")
    orch("claim", b, "--agent", "cursor")
    data = orch.json("status", env=CLOCK)
    tasks = data["tasks"]
    assert isinstance(tasks, list) and len(tasks) == 2
    by_id = {t["id"]: t for t in tasks}
    for t in tasks:
        assert {"id", "title", "status", "priority", "agent", "age_seconds"} <= set(t)
    assert by_id[a]["status"] == "pending" and by_id[a]["priority"] == "P2"
    assert by_id[a]["agent"] is None
    assert by_id[b]["status"] == "in-progress" and by_id[b]["agent"] == "cursor"
    assert data["counts"] == {"pending": 1, "in-progress": 1}
    text = orch("status").out
    assert a in text and b in text and "cursor" in text and "P0" in text


def test_json_is_one_line_for_a_program_and_indented_at_a_terminal(orch: Orch) -> None:
    """Agents read --json through a pipe: one compact line (the fast encoder, fewer tokens);
    a person at a terminal gets it indented. Both hold the same data."""
    orch.create("First \u00e9", "--priority", "P2")
    piped = orch("status", "--json", env=CLOCK).out
    assert piped.count("\n") == 1 and piped.endswith("}\n") and "\u00e9" in piped
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [str(ORCH), "status", "--json"],
        cwd=orch.cwd,
        env={**orch.env, **CLOCK},
        stdout=follower,
        stderr=subprocess.DEVNULL,
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the child has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0
    os.close(leader)
    shown = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    assert shown.startswith('{\n  "tasks": [\n') and json.loads(shown) == json.loads(piped)


def test_status_all_lists_closed_tasks(orch: Orch) -> None:
    tid = orch.ready("Closed soon")
    orch("fail", tid, "--agent", "cursor", "--reason", "no longer needed")
    assert orch.json("status")["tasks"] == []
    listed = orch.json("status", "--all")["tasks"]
    assert [t["id"] for t in listed] == [tid]  # type: ignore[index]
    assert "failed: 1  (orch status --all lists them)" in orch("status").out
    shown = orch("status", "--all").out
    assert tid in shown and "failed: 1" in shown and "--all lists them" not in shown


def test_next_json_shape(orch: Orch) -> None:
    idle = orch.json("next", "--agent", "cursor")
    assert idle == {
        "action": "idle",
        "task": None,
        "reason": idle["reason"],
        "command": idle["command"],
        "op": {
            "name": "next",
            "task_id": None,
            "agent": "cursor",
            "args": {"wait": ""},
            "needs": [],
        },
        "ops": [idle["op"]],
        "problems": [],
        "problems_total": 0,
    }
    tid = orch.ready("Something to do")
    data = orch.json("next", "--agent", "cursor")
    assert data["action"] == "claim"
    assert data["task"]["id"] == tid  # type: ignore[index]
    assert f"orch claim {tid} --agent cursor" in str(data["command"])
    assert data["reason"]


def test_the_whole_chain_json(orch: Orch) -> None:
    tid = orch.create("Chain")
    prepped = orch.json(
        "prep",
        tid,
        "--goal",
        "the goal",
        "--ac",
        "a1",
        "--ac",
        "a2",
        "--dor",
        "r1",
        "--dod",
        "d1",
        "--files",
        "src/a.py",
        "tests/test_a.py",
        "--notes",
        "hint",
        "--agent",
        "chatgpt",
    )
    assert prepped["status"] == "ready"
    assert [c["text"] for c in prepped["acceptance_criteria"]] == ["a1", "a2"]  # type: ignore[union-attr]
    assert prepped["files"] == ["src/a.py", "tests/test_a.py"]
    claimed = orch.json("claim", tid, "--agent", "cursor")
    assert (claimed["status"], claimed["agent"], claimed["changed"]) == (
        "in-progress",
        "cursor",
        True,
    )
    assert orch.json("review", tid, "--agent", "cursor", "--note", "n")["status"] == "review"
    back = orch.json("feedback", tid, "--agent", "codex", "--text", "fix the edge case")
    assert back["status"] == "ready" and back["implementer"] == "cursor"
    assert [n["body"] for n in back["open_feedback"]] == ["fix the edge case"]  # type: ignore[union-attr]
    listed = orch.json("feedback", "list")
    assert listed["feedback"][0]["task"] == tid  # type: ignore[index]
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    done = orch.json("complete", tid, "--agent", "codex")
    assert done["status"] == "done" and done["open_feedback"] == []
    shown = orch.json("show", tid)
    assert [h["op"] for h in shown["history"]] == [  # type: ignore[union-attr]
        "create",
        "prep",
        "claim",
        "submit",
        "feedback",
        "claim",
        "submit",
        "complete",
    ]
    assert shown["feedback"][0]["open"] is False  # type: ignore[index]


def test_show_puts_open_feedback_first(orch: Orch) -> None:
    tid = orch.ready("Shown")
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    orch("feedback", tid, "--agent", "codex", "--text", "rename the flag")
    out = orch("show", tid).out
    assert out.startswith("OPEN FEEDBACK")
    assert out.index("rename the flag") < out.index(f"# Task: {tid}")


def test_agent_from_environment(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    tid = orch.ready("Env agent")
    data = orch.json("claim", tid, env={"ORCH_AGENT": "cursor"})
    assert data["agent"] == "cursor"
    nxt = orch.json("next", env={"ORCH_AGENT": "cursor"})
    assert nxt["action"] == "continue"
    # --agent wins over the environment
    other = orch("review", tid, "--agent", "claude", env={"ORCH_AGENT": "cursor"}, check=False)
    assert other.code != 0 and "held by cursor" in other.err


@pytest.mark.errors
def test_no_agent_on_the_cli_is_a_person(orch: Orch) -> None:
    # Issue 8: a person (no --agent, no ORCH_AGENT) may run any step and is recorded as such;
    # a command that must name an agent says how ('orch token create': --agent or ORCH_AGENT).
    tid = orch.ready("Who")
    claimed = orch.json("claim", tid)
    assert claimed["agent"] == "human" and claimed["history"][-1]["agent"] == "human"  # type: ignore[index]
    res = orch("token", "create", "--json", check=False)
    assert res.code == 2 and res.out == ""
    err = res.err_json()
    assert "agent" in str(err["error"]) and "ORCH_AGENT" in str(err["hint"])


def test_error_and_escalate_and_resolve(orch: Orch) -> None:
    tid = orch.ready("Hard one", "--priority", "P0")
    orch("error", tid, "--text", "pytest: 3 failed\nTraceback lines", "--agent", "cursor")
    esc = orch.json("escalate", tid, "--reason", "spec contradicts itself", "--agent", "cursor")
    assert esc["escalated"] is True
    assert orch.json("next", "--agent", "cursor")["action"] == "wait"
    planner = orch.json("next", "--agent", "chatgpt")
    assert (planner["action"], planner["task"]["id"]) == ("escalation", tid)  # type: ignore[index]
    status = orch.json("status")
    assert status["escalated"] == [tid]
    blocked = orch("claim", tid, "--agent", "cursor", check=False)
    assert blocked.code != 0 and "escalated" in blocked.err
    done = orch.json("resolve", tid, "--note", "use option B", "--agent", "human")
    assert done["escalated"] is False and done["status"] == "ready"
    assert orch.json("next", "--agent", "cursor")["task"]["id"] == tid  # type: ignore[index]
    text = task_file(orch.cwd, tid).read_text()
    assert "spec contradicts itself" in text and "pytest: 3 failed" in text
    moved = orch.json("resolve", tid, "--to", "pending", "--agent", "human")
    assert moved["status"] == "pending"
    assert task_file(orch.cwd, tid).parent.name == "pending"


def test_next_names_board_problems_that_can_hide_work(orch: Orch) -> None:
    tid = orch.ready("copied by a merge")
    path = task_file(orch.cwd, tid)
    shutil.copy(path, path.parent.parent / "review" / path.name)  # the task is now twice
    data = orch.json("next", "--agent", "cursor")
    # the copy in review/ also says "ready": a status mismatch besides the duplicate
    kinds = {p["kind"]: p for p in data["problems"]}  # type: ignore[union-attr]
    assert data["action"] == "idle" and data["problems_total"] == len(kinds) == 2
    assert tid in kinds["duplicate"]["message"] and "twice" in kinds["duplicate"]["message"]
    text = orch("next", "--agent", "cursor").out
    assert "2 problem(s) that can hide work" in text and "orch doctor --fix" in text


def test_log_records_every_operation(orch: Orch) -> None:
    tid = orch.ready("Logged")
    orch("claim", tid, "--agent", "cursor", env=CLOCK)
    orch("claim", tid, "--agent", "claude", check=False)
    lines = (orch.cwd / ".mcp" / "log" / "orch.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["op"] for e in events] == ["create", "prep", "claim", "claim"]
    claim = events[2]
    assert claim == {
        "at": "2025-03-01T12:00:00.000Z",
        "agent": "cursor",
        "op": "claim",
        "task": tid,
        "from_status": "ready",
        "to_status": "in-progress",
        "outcome": "ok",
    }
    assert events[3]["outcome"] == "refused" and events[3]["agent"] == "claude"
    logged = orch.json("log", tid)["events"]
    assert [e["op"] for e in logged] == ["create", "prep", "claim", "claim"]  # type: ignore[union-attr]
    keys = {"at", "agent", "op", "task", "from_status", "to_status", "outcome", "note"}
    assert all(set(e) == keys for e in logged)  # type: ignore[union-attr, arg-type]
    assert logged[0]["from_status"] == "" and logged[3]["to_status"] == ""  # type: ignore[index]
    assert len(orch.json("log", "--limit", "2")["events"]) == 2  # type: ignore[arg-type]
    text = orch("log", tid).out
    assert "ready -> in-progress" in text and "refused" in text


def test_version(orch: Orch) -> None:
    assert orch("--version").out.startswith("orch ")


def test_every_argument_of_every_command_says_what_it_is() -> None:
    """--help teaches: no positional or option is listed without a line of help."""
    import argparse

    from mcp_orch.interfaces.cli import build_parser

    command_names()
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    bare = [
        f"{name} {action.dest}"
        for name, command in sub.choices.items()
        for action in command._actions
        if not action.help and not isinstance(action, argparse._HelpAction)
    ]
    assert bare == []
