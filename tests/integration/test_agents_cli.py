"""``orch agents`` without a service: it edits ``.mcp/agents.yaml``, validated, atomically,
keeping the comments and layout around the entry it touches."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_orch import agents_file
from mcp_orch.domain.agents import Agent
from mcp_orch.domain.errors import InvalidInput
from tests.conftest import Orch

HAND = """\
# our agents (kept)
agents:
  # the implementer
  - name: cursor
    role: implementer   # the main one
    capabilities: [backend, frontend]
    max_tasks: 3

  # the reviewer
  - name: codex
    role: reviewer
"""


def _file(orch: Orch) -> Path:
    return orch.cwd / ".mcp" / "agents.yaml"


def test_add_list_update_remove_on_the_file(orch: Orch) -> None:
    assert orch.json("agents", "list") == {"agents": [], "via": "file"}
    added = orch.json(
        "agents",
        "add",
        "cursor",
        "--role",
        "implementer",
        "--capability",
        "backend",
        "--capability",
        "frontend",
        "--max-tasks",
        "3",
    )
    assert added["via"] == "file"
    assert added["agent"] == {
        "name": "cursor",
        "role": "implementer",
        "capabilities": ["backend", "frontend"],
        "max_tasks": 3,
    }
    orch("agents", "add", "codex", "--role", "reviewer")
    orch("agents", "update", "cursor", "--max-tasks", "2")
    listed = orch.json("agents", "list")["agents"]
    assert [(a["name"], a["max_tasks"]) for a in listed] == [("cursor", 2), ("codex", 1)]
    assert listed[0]["capabilities"] == ["backend", "frontend"]  # update keeps what it is not told
    text = orch("agents", "remove", "cursor").out
    assert text.startswith("removed cursor\n") and ".mcp/agents.yaml" in text
    assert [a.name for a in agents_file.read(str(orch.cwd / ".mcp"))] == ["codex"]


def test_edits_keep_comments_and_the_other_entries_byte_for_byte(orch: Orch) -> None:
    _file(orch).write_text(HAND)
    orch("agents", "add", "claude", "--role", "implementer", "--capability", "backend")
    text = _file(orch).read_text()
    assert text.startswith(HAND)
    assert text[len(HAND) :] == (
        "  - name: claude\n    role: implementer\n    capabilities: [backend]\n    max_tasks: 1\n"
    )
    orch("agents", "update", "codex", "--capability", "review")
    text = _file(orch).read_text()
    assert "    role: implementer   # the main one\n" in text and "# our agents (kept)\n" in text
    assert "  - name: codex\n    role: reviewer\n    capabilities: [review]\n" in text
    orch("agents", "remove", "cursor")
    text = _file(orch).read_text()
    assert "cursor" not in text and "# the reviewer\n" in text and "claude" in text
    names = [a.name for a in agents_file.read(str(orch.cwd / ".mcp"))]
    assert names == ["codex", "claude"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["add", "cursor", "--role", "implementer"], "already in"),
        (["update", "nobody", "--max-tasks", "2"], "no agent nobody"),
        (["add", "newbie"], "needs a role"),
        (["update", "cursor"], "nothing to change"),
        (["add", "bad name!", "--role", "planner"], "not a valid agent name"),
        (["add", "x", "--role", "boss"], "invalid choice"),
        (["add", "x", "--role", "planner", "--max-tasks", "0"], "at least 1"),
        (["remove"], "no agent named"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(orch: Orch, args: list[str], says: str) -> None:
    _file(orch).write_text(HAND)
    r = orch("agents", *args, "--json", check=False)
    assert r.code == 2, r.err
    assert says in str(r.err_json()["error"])
    assert _file(orch).read_text() == HAND


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("agents:\n  - name: a\n    role: implementer\n    colour: red\n", "unknown key(s) colour"),
        ("agents:\n  - name: a\n    role: boss\n", "role 'boss'"),
        ("agents:\n  - name: a\n    role: planner\n  - name: a\n    role: planner\n", "twice"),
        ("agents:\n  - name: a\n    role: planner\n    max_tasks: many\n", "max_tasks"),
        ("agents: {a: 1}\n", "must be a list"),
        ("agent:\n  - name: a\n", "one key, agents"),
        ("agents:\n  - name: a\n   role: planner\n", "not valid YAML"),
    ],
)
def test_a_bad_file_is_named_not_guessed_about(orch: Orch, text: str, says: str) -> None:
    _file(orch).write_text(text)
    r = orch("agents", "list", "--json", check=False)
    assert r.code == 2 and says in str(r.err_json()["error"])
    r = orch("agents", "add", "zed", "--role", "planner", check=False)
    assert r.code == 2 and _file(orch).read_text() == text


def test_a_flow_style_list_is_rewritten_whole_and_says_so(orch: Orch) -> None:
    _file(orch).write_text("# header\nagents: [{name: a, role: planner}]\n")
    out = orch("agents", "add", "b", "--role", "reviewer").out
    assert "rewritten whole" in out
    assert _file(orch).read_text().startswith("# header\nagents:\n  - name: a\n")


def test_the_reader_is_what_the_service_loads(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text(HAND)
    assert agents_file.read(str(tmp_path)) == [
        Agent(name="cursor", role="implementer", capabilities=("backend", "frontend"), max_tasks=3),
        Agent(name="codex", role="reviewer"),
    ]
    (tmp_path / "agents.yaml").write_text("agents:\n  - role: planner\n")
    with pytest.raises(InvalidInput):
        agents_file.read(str(tmp_path))
