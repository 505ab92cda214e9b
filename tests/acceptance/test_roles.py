"""Roles that hold (issue 8; spec AC4.1, AC4.2, AC5.3): only a planner creates and preps, only
an implementer claims and submits, only a reviewer approves or sends feedback, nobody approves
work they implemented, and a person may do anything. Driven through the real ``orch``."""

from __future__ import annotations

import shlex

import pytest

from tests.conftest import Orch, set_roles, task_file

pytestmark = pytest.mark.cli


def refused(orch: Orch, *args: str) -> dict[str, object]:
    res = orch(*args, "--json", check=False)
    assert res.code == 11 and res.out == "", (res.code, res.out, res.err)
    err = res.err_json()
    assert err["code"] == "not_allowed"
    return err


def in_review(orch: Orch, title: str, implementer: str = "cursor") -> str:
    tid = orch.ready(title)
    orch("claim", tid, "--agent", implementer)
    orch("review", tid, "--agent", implementer, "--note", "done")
    return tid


def test_each_step_needs_its_role_and_the_refusal_names_who_may(orch: Orch) -> None:
    err = refused(orch, "create", "Mine now", "--agent", "cursor")
    assert "create needs a planner (chatgpt); cursor is an implementer" in str(err["error"])
    assert "ask chatgpt" in str(err["hint"])
    assert "human" not in str(err["hint"])  # the person override is documented, not advertised
    tid = orch.create("A stub", "--agent", "chatgpt")
    assert "needs a planner (chatgpt)" in str(
        refused(orch, "prep", tid, "--goal", "g", "--agent", "codex")["error"]
    )
    orch("prep", tid, "--goal", "g", "--agent", "chatgpt")
    err = refused(orch, "claim", tid, "--agent", "chatgpt")
    assert (
        f"claim {tid} needs an implementer (cursor, claude, copilot); chatgpt is a planner"
        == err["error"]
    )
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor", "--note", "done")
    err = refused(orch, "complete", tid, "--agent", "cursor")
    assert f"complete {tid} needs a reviewer (codex); cursor implemented {tid}" == err["error"]
    refused(orch, "feedback", tid, "--agent", "chatgpt", "--text", "redo it")
    assert task_file(orch.cwd, tid).parent.name == "review"  # every refusal changed nothing
    orch("complete", tid, "--agent", "codex")
    log = orch.json("log", tid)["events"]
    assert [e["outcome"] for e in log].count("refused") == 4  # type: ignore[union-attr]


def test_nobody_approves_work_they_implemented(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"], reviewer=["codex", "claude"])
    tid = in_review(orch, "Self review", implementer="claude")
    err = refused(orch, "complete", tid, "--agent", "claude")
    assert err["error"] == (
        f"complete {tid} needs a reviewer who did not implement it (codex); "
        f"claude implemented {tid}"
    )
    assert "ask codex" in str(err["hint"])
    # next never offers claude its own work to review, and says what it waits for
    nxt = orch.json("next", "--agent", "claude")
    assert nxt["action"] == "wait" and f"{tid} wait(s) for another reviewer" in str(nxt["reason"])
    assert orch.json("next", "--agent", "codex")["action"] == "review"
    assert orch.json("complete", tid, "--agent", "codex")["status"] == "done"


def test_a_person_may_do_anything_and_is_recorded_as_such(orch: Orch) -> None:
    tid = orch.create("By hand")  # no agent on the CLI: a person
    orch("prep", tid, "--goal", "g")
    assert orch.json("claim", tid)["agent"] == "human"
    orch("review", tid, "--agent", "human", "--note", "did it myself")
    done = orch.json("complete", tid)
    assert done["status"] == "done"
    assert {h["agent"] for h in done["history"]} == {"human"}  # type: ignore[union-attr]
    nxt = orch.json("next")  # a person is offered every role's work
    assert nxt["action"] == "idle" and nxt["op"]["name"] == "create"  # type: ignore[index]


def test_an_unknown_agent_is_refused_with_the_known_names(orch: Orch) -> None:
    tid = orch.ready("Typo")
    for _ in range(2):  # a refused attempt does not make the name known
        res = orch("claim", tid, "--agent", "cusor", "--json", check=False)
        assert res.code == 2
        err = res.err_json()
        assert err["code"] == "unknown_agent" and "'cusor'" in str(err["error"])
        assert "known agents: chatgpt, claude, codex, copilot, cursor" in str(err["hint"])
        assert "implementer: [cursor, claude, copilot, cusor]" in str(err["hint"])
    assert orch("next", "--agent", "cusor", check=False).code == 2
    assert task_file(orch.cwd, tid).parent.name == "ready"
    # Nor is a token made for the typo, which would be refused on every call it makes.
    made = orch("token", "create", "--agent", "cusor", "--json", check=False)
    assert made.code == 2 and made.err_json()["code"] == "unknown_agent"
    assert orch.json("token", "list")["tokens"] == []


def test_an_agent_the_board_has_seen_keeps_working_as_an_implementer(orch: Orch) -> None:
    set_roles(orch.cwd, enforce=False)
    tid = orch.ready("Before roles were enforced")
    orch("claim", tid, "--agent", "gemini")
    set_roles(orch.cwd, enforce=True)
    orch("review", tid, "--agent", "gemini", "--note", "still mine")
    assert f"gemini implemented {tid}" in str(
        refused(orch, "complete", tid, "--agent", "gemini")["error"]
    )
    assert "gemini is an implementer" in str(
        refused(orch, "create", "More", "--agent", "gemini")["error"]
    )


def test_enforce_false_gives_back_the_old_freedom(orch: Orch) -> None:
    set_roles(orch.cwd, enforce=False)
    tid = orch.create("Anything goes", "--agent", "cursor")
    orch("prep", tid, "--goal", "g", "--agent", "cursor")
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    assert orch.json("complete", tid, "--agent", "cursor")["status"] == "done"
    assert orch.json("next", "--agent", "whoever")["action"] == "idle"


def test_a_bad_enforce_value_is_a_clear_error(orch: Orch) -> None:
    set_roles(orch.cwd, planner=["chatgpt"])
    path = orch.cwd / ".mcp" / "config.yaml"
    path.write_text(path.read_text().replace("roles:\n", "roles:\n  enforce: maybe\n"))
    res = orch("status", check=False)
    assert res.code == 2 and "roles.enforce must be true or false" in res.err


def run_printed(orch: Orch, line: str, **fill: str) -> dict[str, object]:
    """Run a command exactly as orch printed it, placeholders filled in."""
    words = [fill.get(w, w) for w in shlex.split(line.split("  #")[0])]
    assert words[0] == "orch"
    return orch.json(*words[1:])


def test_every_hint_runs_as_printed(orch: Orch) -> None:
    tid = orch.create("Follow the hints", "--agent", "chatgpt")
    nxt = orch.json("next", "--agent", "chatgpt")
    run_printed(orch, str(nxt["command"]), TEXT="criterion")  # prep with goal, ac and dod
    out = orch("next", "--agent", "cursor").out
    claim = out.split("run: ", 1)[1].splitlines()[0]
    assert claim == f"orch claim {tid} --agent cursor"
    text = orch("claim", tid, env={"ORCH_AGENT": "cursor"}).out
    submit = text.split("when done: ", 1)[1].strip()
    assert submit == f"orch submit {tid} --note TEXT --agent cursor"  # the agent is in it
    assert run_printed(orch, submit, TEXT="done")["status"] == "review"
    nxt = orch.json("next", "--agent", "codex")
    assert nxt["op"] == {
        "name": "complete",
        "task_id": tid,
        "agent": "codex",
        "args": {},
        "needs": [],
    }
    assert [o["name"] for o in nxt["ops"]] == ["complete", "feedback"]  # type: ignore[index]
    feedback = str(nxt["command"]).split("# or: ", 1)[1]
    assert run_printed(orch, feedback, TEXT="more tests")["status"] == "ready"


def test_refusal_hints_are_commands_that_run(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    tid = orch.ready("Held")
    orch("claim", tid, "--agent", "cursor")
    res = orch("claim", tid, "--agent", "claude", "--json", check=False)
    err = res.err_json()
    assert res.code == 6 and err["hint"] == "pick other work: orch next --agent claude"
    assert err["ops"] == [
        {"name": "next", "task_id": None, "agent": "claude", "args": {}, "needs": []}
    ]


def test_the_wait_of_a_reviewer_says_what_it_waits_for(orch: Orch) -> None:
    tid = orch.ready("Being built")
    orch("claim", tid, "--agent", "cursor")
    nxt = orch.json("next", "--agent", "codex")
    assert nxt["action"] == "wait"
    reason = str(nxt["reason"])
    assert "waiting for work to be submitted for review (1 in progress)" in reason
    assert "max_in_progress" not in reason and "as many tasks as allowed" not in reason
    assert nxt["command"] == "orch next --wait --agent codex"


def test_every_agent_that_init_clients_writes_plays_a_role(orch: Orch) -> None:
    from mcp_orch.clients import CLIENTS

    orch("init", "--clients", ",".join(CLIENTS))
    for client in CLIENTS.values():  # none of them is refused as unknown on a fresh board
        assert orch.json("next", "--agent", client.agent)["action"] == "idle"
