"""Mistakes and broken boards: one clear line (or JSON) on stderr, non-zero exit, no traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Orch, Result, set_roles, task_file

pytestmark = [pytest.mark.errors, pytest.mark.cli]


def refused(res: Result, *words: str) -> dict[str, object]:
    assert res.code != 0, res
    assert "Traceback" not in res.err and res.out == ""
    err = res.err_json()
    assert set(err) >= {"error", "hint"} and err["hint"]
    for word in words:
        assert word in str(err["error"]), err
    return err


@pytest.mark.parametrize(
    ("setup", "op", "args", "where"),
    [
        ("pending", "claim", ["--agent", "cursor"], "pending"),
        ("ready", "review", ["--agent", "cursor"], "ready"),
        ("ready", "complete", ["--agent", "codex"], "ready"),
        ("ready", "feedback", ["--agent", "codex", "--text", "x"], "ready"),
        ("done", "claim", ["--agent", "cursor"], "done"),
        ("done", "fail", ["--agent", "cursor", "--reason", "x"], "done"),
        ("in-progress", "complete", ["--agent", "codex"], "in-progress"),
    ],
)
def test_illegal_transitions(orch: Orch, setup: str, op: str, args: list[str], where: str) -> None:
    tid = orch.create("moving")
    if setup != "pending":
        orch("prep", tid, "--goal", "g")
    if setup in ("in-progress", "done"):
        orch("claim", tid, "--agent", "cursor")
    if setup == "done":
        orch("review", tid, "--agent", "cursor")
        orch("complete", tid, "--agent", "codex")
    before = task_file(orch.cwd, tid).read_bytes()
    err = refused(orch(op, tid, *args, "--json", check=False), tid, where)
    assert err["code"] == "illegal_transition"
    assert task_file(orch.cwd, tid).read_bytes() == before
    plain = orch(op, tid, *args, check=False)
    assert plain.err.startswith("orch: ") and len(plain.err.strip().splitlines()) == 1


@pytest.mark.parametrize("cmd", ["show", "claim", "review", "complete"])
def test_unknown_id(orch: Orch, cmd: str) -> None:
    err = refused(
        orch(cmd, "T-zzzzzz", "--agent", "x", "--json", check=False)
        if cmd != "show"
        else orch(cmd, "T-zzzzzz", "--json", check=False),
        "T-zzzzzz",
    )
    assert err["code"] == "task_not_found" and "orch status" in str(err["hint"])


@pytest.mark.parametrize("bad", ["../x", "../../etc/passwd", "T-abc/../../x", "/etc/passwd"])
def test_ids_cannot_escape_the_board(orch: Orch, bad: str) -> None:
    for cmd in (["show", bad], ["claim", bad, "--agent", "cursor"], ["create", "x", "-d", bad]):
        err = refused(orch(*cmd, "--json", check=False))
        assert err["code"] == "invalid_input"
    assert not (orch.cwd / "x").exists()


def test_paths_in_files_affected_cannot_escape(orch: Orch) -> None:
    tid = orch.create("paths")
    refused(orch("prep", tid, "--goal", "g", "--files", "../secret", "--json", check=False))
    refused(orch("prep", tid, "--goal", "g", "--files", "/etc/passwd", "--json", check=False))


def test_already_claimed_and_repeat_claim(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    tid = orch.ready("one holder")
    orch("claim", tid, "--agent", "cursor")
    again = orch.json("claim", tid, "--agent", "cursor")
    assert again["changed"] is False and again["agent"] == "cursor"
    err = refused(
        orch("claim", tid, "--agent", "claude", "--json", check=False), "already claimed by cursor"
    )
    assert err["code"] == "already_claimed"
    res = orch("review", tid, "--agent", "claude", check=False)
    assert res.code != 0 and "held by cursor" in res.err


def test_usage_mistakes_are_one_line(orch: Orch) -> None:
    refused(orch("create", "--json", check=False))  # the title is missing
    refused(orch("create", "x", "--priority", "P7", "--json", check=False), "P7")
    refused(orch("create", "   ", "--json", check=False), "title")
    refused(orch("log", "--limit", "0", "--json", check=False), "--limit")
    refused(orch("next", "--agent", "x", "--wait", "--timeout", "nan", "--json", check=False))
    res = orch("frobnicate", check=False)
    assert res.code != 0 and "Traceback" not in res.err


def test_undecodable_bytes_are_refused_before_anything_is_written(orch: Orch) -> None:
    tid = orch.create("text")
    before = task_file(orch.cwd, tid).read_bytes()
    bad = "caf\udce9"  # the argv byte 0xE9 (Latin-1 "é"), which is not UTF-8
    for cmd in (
        ["create", bad],
        ["prep", tid, "--goal", bad],
        ["prep", tid, "--goal", "g", "--ac", bad],
        ["prep", tid, "--goal", "g", "--files", f"src/{bad}.py"],
    ):
        err = refused(orch(*cmd, "--json", check=False), "not valid UTF-8")
        assert err["code"] == "invalid_input"
    assert task_file(orch.cwd, tid).read_bytes() == before
    assert [t["id"] for t in orch.json("status")["tasks"]] == [tid]  # type: ignore[index]


def test_control_characters_never_reach_the_board(orch: Orch) -> None:
    tid = orch.create("red \x1b[31malert\x07 title")
    orch("prep", tid, "--goal", "line one\r\nline\x7f two", "--ac", "tick\x1b[0m")
    text = task_file(orch.cwd, tid).read_text()
    assert "\x1b" not in text and "\x07" not in text and "\x7f" not in text and "\r" not in text
    assert f"# Task: {tid} - red [31malert title" in text
    assert "line one\nline two" in text and "- [ ] tick[0m" in text
    assert "\x1b" not in orch("status").out


def test_missing_board(tmp_path: Path) -> None:
    elsewhere = tmp_path / "no-board"
    elsewhere.mkdir()
    runner = Orch(elsewhere)
    err = refused(runner("status", "--json", check=False), "no task board")
    assert "orch init" in str(err["hint"])
    res = runner("status", check=False, env={"ORCH_BOARD": str(tmp_path / "nope")})
    assert res.code != 0 and "ORCH_BOARD" in res.err and "Traceback" not in res.err


def test_missing_status_folder(orch: Orch) -> None:
    tid = orch.ready("survives")
    shutil.rmtree(orch.cwd / ".mcp" / "tasks" / "review")
    assert [t["id"] for t in orch.json("status")["tasks"]] == [tid]  # type: ignore[union-attr]
    orch("claim", tid, "--agent", "cursor")
    # the move into the missing folder fails cleanly and leaves the task where it was
    res = orch("review", tid, "--agent", "cursor", "--json", check=False)
    err = refused(res)
    assert err["code"] == "storage"
    assert task_file(orch.cwd, tid).parent.name == "in-progress"
    fixed = orch.json("doctor", "--fix")
    assert any(f["kind"] == "layout" and f["fixed"] for f in fixed["findings"])  # type: ignore[union-attr]
    orch("review", tid, "--agent", "cursor")
    assert task_file(orch.cwd, tid).parent.name == "review"


def test_unwritable_board(orch: Orch) -> None:
    # Tests run as root, so chmod cannot deny a write; a file where a folder must be can.
    tid = orch.ready("blocked write")
    folder = orch.cwd / ".mcp" / "tasks" / "in-progress"
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")
    res = orch("claim", tid, "--agent", "cursor", "--json", check=False)
    err = refused(res)
    assert err["code"] == "storage" and "nothing was changed" in str(err["error"])
    assert task_file(orch.cwd, tid).parent.name == "ready"
    status = orch("status", check=False)
    assert "Traceback" not in status.err


def test_unwritable_log(orch: Orch) -> None:
    """A log that cannot be written stops the command before anything changes, so "nothing
    was changed" is true and an agent that retries does not create the task twice."""
    tid = orch.ready("ready before the log broke")
    before = task_file(orch.cwd, tid).read_bytes()
    log = orch.cwd / ".mcp" / "log"
    shutil.rmtree(log)
    log.write_text("a file where the log folder belongs\n")
    for cmd in (["create", "x"], ["claim", tid, "--agent", "cursor"]):
        res = orch(*cmd, "--json", check=False)
        err = refused(res, "nothing was changed")
        assert err["code"] == "storage"
    assert [t["id"] for t in orch.json("status")["tasks"]] == [tid]  # type: ignore[index]
    assert task_file(orch.cwd, tid).read_bytes() == before


def test_disk_full_on_a_tiny_tmpfs(tmp_path: Path) -> None:
    import subprocess

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(
            "cannot mount a tmpfs here (needs root and mount rights); "
            "storage_error(ENOSPC) is covered by tests/unit/test_merge.py"
        )
    try:
        runner = Orch(mnt)
        runner("init", "--no-detect")
        import os

        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        res = runner("create", "x" * 150, "--goal", "y" * 5000, "--json", check=False)
        err = refused(res)
        assert err["code"] == "storage" and "disk is full" in str(err["error"])
        assert "Traceback" not in res.err
        assert not list((mnt / ".mcp" / "tasks").glob("*/.*.tmp"))  # no half file left
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_malformed_file_is_named_and_never_touched(orch: Orch) -> None:
    good = orch.ready("good one")
    other = orch.create("other")
    bad = orch.cwd / ".mcp" / "tasks" / "ready" / "T-bad000-broken.md"
    text = "# Task: T-bad000 - broken\n\n## Status: sleeping\n\n## Priority: P1\n"
    bad.write_text(text)
    before = bad.stat()
    data = orch.json("status")
    assert {t["id"] for t in data["tasks"]} == {good, other}  # type: ignore[union-attr]
    (problem,) = data["problems"]  # type: ignore[misc]
    assert problem["path"] == "ready/T-bad000-broken.md" and problem["line"] == 3
    text_out = orch("status").out
    assert "T-bad000-broken.md:3" in text_out and good in text_out
    for cmd in (
        ["show", "T-bad000"],
        ["claim", "T-bad000", "--agent", "cursor"],
        ["fail", "T-bad000", "--reason", "x", "--agent", "a"],
        ["prep", "T-bad000", "--goal", "g"],
    ):
        res = orch(*cmd, "--json", check=False)
        err = refused(res, "T-bad000-broken.md:3")
        assert err["code"] == "malformed_task"
    orch("claim", good, "--agent", "cursor")  # the rest of the board works
    report = orch("doctor", "--fix", "--json", check=False)
    assert report.code != 0
    assert any(f["kind"] == "malformed" and not f["fixed"] for f in report.json()["findings"])  # type: ignore[index,union-attr]
    assert bad.read_text() == text
    after = bad.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_non_utf8_file(orch: Orch) -> None:
    good = orch.create("good")
    bad = orch.cwd / ".mcp" / "tasks" / "pending" / "T-bin000-x.md"
    bad.write_bytes(b"\xff\xfe# Task: \x00\x81")
    data = orch.json("status")
    assert [t["id"] for t in data["tasks"]] == [good]  # type: ignore[union-attr]
    assert data["problems"][0]["path"] == "pending/T-bin000-x.md"  # type: ignore[index]
    assert bad.read_bytes() == b"\xff\xfe# Task: \x00\x81"


def test_bad_config_is_a_clear_error(orch: Orch) -> None:
    (orch.cwd / ".mcp" / "config.yaml").write_text("roles: [unclosed\n")
    err = refused(orch("status", "--json", check=False), "config.yaml")
    assert err["code"] == "invalid_input"
