"""Hand-written text survives and agents see it (issue 8): code fences, sections written twice,
CRLF and BOM, hand moves, killed writes' leftovers, messages that name the right file and line.
The real ``orch`` executable on real files in a real git repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Orch, git, task_file

pytestmark = [pytest.mark.cli, pytest.mark.errors]

FENCED = (
    "Write the file like this:\n"
    "```markdown\n"
    "## Status: done\n"
    "## Not a heading\n"
    "- [ ] not an item\n"
    "```\n"
    "and keep this line after the block"
)


def _hand_edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_fenced_block_in_a_hand_edited_goal_is_opaque_and_kept(orch: Orch) -> None:
    tid = orch.ready("fences")
    path = task_file(orch.cwd, tid)
    _hand_edit(path, "## Goal\ngoal of fences\n", f"## Goal\n{FENCED}\n")
    before = path.read_bytes()
    shown = orch.json("show", tid)
    # the whole section, the block and the line after it: no "## Not a heading" section
    assert shown["goal"] == FENCED
    assert shown["status"] == "ready" and shown["more_sections"] == []
    assert orch.json("status")["problems"] == []
    orch("claim", tid, "--agent", "cursor")  # a rewrite keeps the block byte for byte
    after = path.parent.parent / "in-progress" / path.name
    assert f"## Goal\n{FENCED}\n\n## Acceptance Criteria" in after.read_text()
    assert before.split(b"## Goal")[1].split(b"## Acceptance")[0] in after.read_bytes()


def test_a_fenced_block_given_through_the_cli_and_in_feedback_reads_back_whole(
    orch: Orch,
) -> None:
    tid = orch.create("fenced by an agent")
    orch("prep", tid, "--goal", FENCED, "--ac", "ok", "--agent", "chatgpt")
    assert orch.json("show", tid)["goal"] == FENCED
    orch("claim", tid, "--agent", "cursor")
    orch("review", tid, "--agent", "cursor")
    note = "Use this:\n```\n## Heading in code\n### FB-9 [open] - x\n```\nthen rerun"
    orch("feedback", tid, "--agent", "codex", "--text", note)
    body = orch.json("show", tid)["open_feedback"][0]["body"]  # type: ignore[index]
    # text is stored as given: the file escapes the line that would start a new note
    assert body == note
    assert "\n\\### FB-9 [open] - x\n" in task_file(orch.cwd, tid).read_text()
    # a block left open in given text is closed, so nothing orch writes later falls into it
    orch("error", tid, "--text", "trace:\n~~~\n## not a heading")
    errors = orch.json("show", tid)["errors"]
    assert errors[-1]["body"] == "trace:\n~~~\n## not a heading\n~~~"  # type: ignore[index]
    orch("error", tid, "--text", "second")
    assert [e["body"] for e in orch.json("show", tid)["errors"]][-1] == "second"  # type: ignore[index]


def test_a_section_written_twice_is_a_problem_and_agents_see_its_text(orch: Orch) -> None:
    tid = orch.ready("twice")
    path = task_file(orch.cwd, tid)
    _hand_edit(
        path, "## Definition of Ready\n", "## Goal\nthe second goal\n\n## Definition of Ready\n"
    )
    lines = path.read_text().split("\n")
    line = [n for n, text in enumerate(lines, 1) if text == "## Goal"][1]  # the second one
    status = orch.json("status")
    problems = status["problems"]
    assert [p["kind"] for p in problems] == ["duplicate-section"], problems  # type: ignore[index]
    assert problems[0]["line"] == line and problems[0]["task"] == tid  # type: ignore[index]
    assert f"line {line}: a second '## Goal'" in str(problems[0]["message"])  # type: ignore[index]
    assert [t["id"] for t in status["tasks"]] == [tid]  # type: ignore[index]
    shown = orch.json("show", tid)
    assert {"heading": "Goal", "text": "the second goal", "after": "acceptance criteria"} in shown[
        "more_sections"
    ]  # type: ignore[operator]
    orch("claim", tid, "--agent", "cursor")  # still named after orch rewrote the file
    assert [p["kind"] for p in orch.json("status")["problems"]] == ["duplicate-section"]  # type: ignore[index]
    code = orch("doctor", "--json", check=False)
    assert code.code == 1
    assert "duplicate-section" in [f["kind"] for f in code.json()["findings"]]  # type: ignore[index]


@pytest.mark.parametrize("bom", [False, True], ids=["crlf", "crlf+bom"])
def test_crlf_and_a_bom_stay_after_a_rewrite(orch: Orch, bom: bool) -> None:
    tid = orch.ready("windows editor")
    path = task_file(orch.cwd, tid)
    data = path.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    assert orch.json("show", tid)["title"] == "windows editor"
    orch("claim", tid, "--agent", "cursor")
    moved = path.parent.parent / "in-progress" / path.name
    out = moved.read_bytes()
    assert out.startswith(b"\xef\xbb\xbf# Task:" if bom else b"# Task:")
    assert out.count(b"\n") == out.count(b"\r\n") > 30
    assert orch.json("status")["problems"] == []
    # doctor's repairs keep the style too (a hand move: the status line rewritten)
    os.rename(moved, path.parent.parent / "review" / path.name)
    orch("doctor", "--fix")
    fixed = (path.parent.parent / "review" / path.name).read_bytes()
    assert b"## Status: review\r\n" in fixed
    assert fixed.count(b"\n") == fixed.count(b"\r\n") and fixed.startswith(out[:3])


def test_a_hand_move_is_stamped_when_noticed_never_before_the_entry_it_follows(
    orch: Orch,
) -> None:
    then = {"ORCH_CLOCK": "2030-01-01T10:00:00Z"}
    tid = str(orch.json("create", "moved by hand", env=then)["id"])
    orch("prep", tid, "--goal", "g", env=then)
    path = task_file(orch.cwd, tid)
    target = path.parent.parent / "in-progress" / path.name
    os.rename(path, target)
    os.utime(target, (0, 0))  # a checkout sets the file's time, not the move's
    orch("claim", tid, "--agent", "cursor", env={"ORCH_CLOCK": "2030-01-01T12:00:00Z"})
    move = [h for h in orch.json("show", tid)["history"] if h["op"] == "move"]  # type: ignore[union-attr]
    assert [m["at"] for m in move] == ["2030-01-01T12:00:00.000Z"]
    # a clock behind the last entry: the move is stamped with that entry's time, not before
    os.rename(target, path.parent.parent / "review" / path.name)
    orch("error", tid, "--text", "x", env={"ORCH_CLOCK": "2029-06-01T00:00:00Z"})
    history = orch.json("show", tid)["history"]
    moves = [h for h in history if h["op"] == "move"]  # type: ignore[union-attr]
    assert moves[-1]["at"] == "2030-01-01T12:00:00.000Z" and moves[-1]["to"] == "review"


def test_killed_writes_leftovers_are_ignored_named_and_removed(orch: Orch) -> None:
    tid = orch.ready("victim")
    path = task_file(orch.cwd, tid)
    journal_tmp = orch.cwd / ".mcp" / "..journal.4242.tmp"
    journal_tmp.write_text('{"new": "x"')
    task_tmp = path.parent / f".{path.name}.4343.tmp"
    task_tmp.write_text("# Task: half")
    untracked = git(orch.cwd, "status", "--porcelain", "--untracked-files=all").stdout
    assert ".tmp" not in untracked  # git-ignored
    problems = orch.json("status")["problems"]
    named = sorted(str(p["message"]).split(":")[0] for p in problems)  # type: ignore[union-attr]
    assert named == [".mcp/..journal.4242.tmp", f".mcp/tasks/ready/{task_tmp.name}"]
    assert {p["kind"] for p in problems} == {"leftover"}  # type: ignore[union-attr]
    code, report = orch("doctor", "--json", check=False).code, orch.json("doctor", "--fix")
    assert code == 1 and report["ok"] is True
    assert not journal_tmp.exists() and not task_tmp.exists()
    assert orch.json("status")["problems"] == []


def test_an_older_boards_gitignore_gets_the_temp_file_line(orch: Orch) -> None:
    ignore = orch.cwd / ".mcp" / ".gitignore"
    ignore.write_text(".cache/\n.journal\n.lock\nlog/\n.secrets/\n")
    orch("init", "--no-detect")
    assert (
        ignore.read_text()
        == ".cache/\n.journal\n.lock\nlog/\n.secrets/\n*.tmp\nservice.json\norch.db*\n"
    )
    orch("init", "--no-detect")
    assert ignore.read_text().count("*.tmp") == 1


def test_a_header_field_without_its_colon_is_named_with_its_line(orch: Orch) -> None:
    tid = orch.create("broken heading")
    path = task_file(orch.cwd, tid)
    _hand_edit(path, "## Status: pending", "## Status pending")
    rel = f"pending/{path.name}"
    (problem,) = orch.json("status")["problems"]  # type: ignore[misc]
    assert problem["message"] == f"{rel}: line 3: `## Status pending` has no colon"
    assert problem["line"] == 3 and "'## Status: pending'" in problem["hint"]
    err = orch("show", tid, check=False)
    assert err.code == 8 and "line 3: `## Status pending` has no colon" in err.err


def test_doctor_and_status_name_the_file_that_is_wrong(orch: Orch) -> None:
    good = orch.create("good")
    other = orch.create("other")
    path = task_file(orch.cwd, good)
    tasks = orch.cwd / ".mcp" / "tasks"
    (tasks / "ready" / "T-aaaaaaaa-copy.md").write_bytes(path.read_bytes())  # misnamed copy
    (tasks / "ready" / f"{other}-dir.md").mkdir()  # a folder named like a task
    (tasks / "pending" / "T-zzzzzzzz-bad.md").write_bytes(b"# Task: T-zzzzzzzz - x\n\xff\n")
    status = {str(p["path"]): p for p in orch.json("status")["problems"]}  # type: ignore[union-attr]
    assert sorted(status) == sorted(  # the IDs are random: sort both sides
        ["pending/T-zzzzzzzz-bad.md", "ready/T-aaaaaaaa-copy.md", f"ready/{other}-dir.md"]
    )
    for rel, problem in status.items():
        assert str(problem["message"]).startswith(rel)
    assert status["pending/T-zzzzzzzz-bad.md"]["line"] == 2
    findings = orch("doctor", "--json", check=False).json()["findings"]  # type: ignore[index]
    by_kind = {f["kind"]: f for f in findings}
    assert by_kind["filename"]["path"] == "ready/T-aaaaaaaa-copy.md"
    assert by_kind["filename"]["message"].startswith("ready/T-aaaaaaaa-copy.md holds")
    assert path.name not in by_kind["filename"]["message"]
    messages = [f["message"] for f in findings if f["kind"] == "malformed"]
    assert any(m.startswith(f"ready/{other}-dir.md: a folder") for m in messages)
    assert any(m.startswith("pending/T-zzzzzzzz-bad.md: line 2: not UTF-8") for m in messages)
