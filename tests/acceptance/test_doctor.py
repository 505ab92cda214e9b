"""``orch doctor`` finds what is wrong with a board; ``--fix`` repairs what is safe. Real git."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import Orch, git, task_file

pytestmark = [pytest.mark.errors, pytest.mark.cli]


def kinds(report: dict[str, object]) -> list[str]:
    return sorted(str(f["kind"]) for f in report["findings"])  # type: ignore[union-attr]


def doctor(orch: Orch, *args: str) -> tuple[int, dict[str, object]]:
    res = orch("doctor", *args, "--json", check=False)
    assert "Traceback" not in res.err
    data = res.json()
    assert isinstance(data, dict)
    return res.code, data


def test_healthy_board(orch: Orch) -> None:
    orch.ready("fine")
    code, report = doctor(orch)
    assert code == 0 and report["ok"] is True and report["findings"] == []
    assert report["tasks"] == 1


def test_status_line_disagreeing_with_its_folder(orch: Orch) -> None:
    tid = orch.ready("moved by hand")
    path = task_file(orch.cwd, tid)
    git(orch.cwd, "add", "-A")
    git(orch.cwd, "commit", "-qm", "board")
    git(orch.cwd, "mv", str(path), str(path.parent.parent / "review" / path.name))
    # a hand move is a status change: every command sees it at once
    assert orch.json("show", tid)["status"] == "review"
    assert orch.json("next", "--agent", "codex")["task"]["id"] == tid  # type: ignore[index]
    code, report = doctor(orch)
    assert code != 0 and kinds(report) == ["status-mismatch"]
    code, report = doctor(orch, "--fix")
    assert code == 0 and report["findings"][0]["fixed"] is True  # type: ignore[index]
    text = task_file(orch.cwd, tid).read_text()
    assert "## Status: review" in text and "| doctor | move | ready -> review" in text
    assert doctor(orch)[1]["findings"] == []
    (event,) = [e for e in orch.json("log", tid)["events"] if e["op"] == "doctor"]  # type: ignore[union-attr]
    assert (event["from_status"], event["to_status"], event["agent"]) == (
        "ready",
        "review",
        "doctor",
    )


def test_same_id_in_two_folders(orch: Orch) -> None:
    tid = orch.ready("copied")
    orch("claim", tid, "--agent", "cursor", env={"ORCH_CLOCK": "2030-01-01T00:00:00Z"})
    path = task_file(orch.cwd, tid)
    stale = path.parent.parent / "ready" / path.name
    stale.write_text(
        path.read_text()
        .replace("## Status: in-progress", "## Status: ready")
        .replace("## Agent: cursor", "## Agent: unassigned")
    )
    res = orch("show", tid, "--json", check=False)
    assert res.code != 0 and res.err_json()["code"] == "board_conflict"
    assert "more than one folder" in str(res.err_json()["error"])
    res = orch("claim", tid, "--agent", "claude", "--json", check=False)
    assert res.code != 0 and res.err_json()["code"] == "board_conflict"
    status = orch.json("status")
    assert [p["kind"] for p in status["problems"]] == ["duplicate"]  # type: ignore[union-attr]
    assert kinds(doctor(orch)[1]) == ["duplicate"]
    code, _ = doctor(orch, "--fix")
    assert code == 0
    assert task_file(orch.cwd, tid).parent.name == "in-progress"
    assert orch.json("show", tid)["agent"] == "cursor"


def test_unknown_dependencies_and_cycles_are_reported_not_fixed(orch: Orch) -> None:
    a = orch.create("a")
    b = orch.create("b", "--depends", a)
    pa = task_file(orch.cwd, a)
    pa.write_text(pa.read_text().replace("## Depends On: none", f"## Depends On: {b}, T-gone00"))
    code, report = doctor(orch, "--fix")
    assert code != 0
    assert kinds(report) == ["cycle", "unknown-dependency"]
    assert all(not f["fixed"] for f in report["findings"])  # type: ignore[union-attr]
    messages = " ".join(str(f["message"]) for f in report["findings"])  # type: ignore[union-attr]
    assert "T-gone00" in messages and a in messages and b in messages


def test_malformed_and_leftover_temp_files(orch: Orch) -> None:
    orch.create("fine")
    bad = orch.cwd / ".mcp" / "tasks" / "pending" / "T-bad000-x.md"
    bad.write_text("# nothing like a task\n")
    tmp = orch.cwd / ".mcp" / "tasks" / "pending" / ".T-abc123-x.md.4242.tmp"
    tmp.write_text("half a fi")
    code, report = doctor(orch, "--fix")
    assert code != 0
    by_kind = {f["kind"]: f for f in report["findings"]}  # type: ignore[union-attr]
    assert by_kind["leftover"]["fixed"] is True and not tmp.exists()
    notes = [e["note"] for e in orch.json("log")["events"] if e["op"] == "doctor"]  # type: ignore[union-attr]
    assert notes == ["removed pending/.T-abc123-x.md.4242.tmp, left by an interrupted write"]
    assert by_kind["malformed"]["fixed"] is False and bad.read_text() == "# nothing like a task\n"
    assert by_kind["malformed"]["path"] == "pending/T-bad000-x.md"
    text = orch("doctor", check=False).out
    assert "pending/T-bad000-x.md" in text and "by hand" in text


# ---------------------------------------------------------------------------- the git merge


def _edit_on(orch: Orch, tid: str, branch: str, at: str) -> None:
    """Both branches change the task's text: neither may be lost in the merge."""
    orch(
        "prep",
        tid,
        "--goal",
        f"{branch}: limit login attempts",
        "--ac",
        f"{branch} criterion",
        "--files",
        f"src/{branch}.py",
        "--notes",
        f"{branch} notes",
        "--agent",
        "chatgpt",
        env={"ORCH_CLOCK": f"2025-01-01T{at}:00Z"},
    )


def _branch_moves(orch: Orch, later: str) -> tuple[str, Path]:
    """Claim the task on branch ``side`` and fail it on ``main``; ``later`` says which is later."""
    project = orch.cwd
    tid = str(
        orch.json(
            "create",
            "Add login rate limit to the authentication endpoint",
            env={"ORCH_CLOCK": "2025-01-01T09:00:00Z"},
        )["id"]
    )
    orch(
        "prep",
        tid,
        "--goal",
        "Limit login attempts per user to five per minute, then lock",
        "--ac",
        "five tries per minute",
        "--ac",
        "lockout after ten failures",
        "--dor",
        "API agreed",
        "--dod",
        "tests pass",
        "--files",
        "src/auth.py",
        "--notes",
        "use a sliding window",
        "--agent",
        "chatgpt",
        env={"ORCH_CLOCK": "2025-01-01T09:01:00Z"},
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "task ready")
    claim_at, fail_at = ("12:00", "11:00") if later == "claim" else ("10:00", "11:00")
    git(project, "checkout", "-qb", "side")
    _edit_on(orch, tid, "side", "09:30")
    orch("claim", tid, "--agent", "cursor", env={"ORCH_CLOCK": f"2025-01-01T{claim_at}:00Z"})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "claim on side")
    git(project, "checkout", "-q", "main")
    _edit_on(orch, tid, "main", "09:40")
    orch(
        "fail",
        tid,
        "--agent",
        "chatgpt",
        "--reason",
        "superseded by SSO",
        env={"ORCH_CLOCK": f"2025-01-01T{fail_at}:00Z"},
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "fail on main")
    merge = git(project, "merge", "side", check=False)
    assert merge.returncode != 0
    assert "CONFLICT (rename/rename)" in merge.stdout, merge.stdout
    return tid, project / ".mcp" / "tasks"


@pytest.mark.parametrize("later", ["fail", "claim"])
def test_merge_of_two_branches_that_moved_the_same_task(orch: Orch, later: str) -> None:
    tid, tasks = _branch_moves(orch, later)
    copies = sorted(tasks.glob(f"*/{tid}-*.md"))
    assert [p.parent.name for p in copies] == ["failed", "in-progress"]
    for copy in copies:
        assert "<<<<<<<" in copy.read_text()

    # before the repair: every command names the problem instead of guessing
    for cmd in (
        ["show", tid],
        ["claim", tid, "--agent", "claude"],
        ["fail", tid, "--agent", "x", "--reason", "y"],
    ):
        res = orch(*cmd, "--json", check=False)
        assert res.code != 0 and "Traceback" not in res.err
        err = res.err_json()
        assert "conflict" in str(err["error"]) and "doctor --fix" in str(err["hint"])
    status = orch.json("status")
    assert status["tasks"] == []
    problem_paths = sorted(str(p["path"]) for p in status["problems"])  # type: ignore[union-attr]
    assert problem_paths == sorted(f"{p.parent.name}/{p.name}" for p in copies)
    assert tid in orch("status").out
    code, report = doctor(orch)
    assert code != 0 and "duplicate" in kinds(report) and "conflict" in kinds(report)
    assert copies == sorted(tasks.glob(f"*/{tid}-*.md"))  # doctor without --fix changes nothing

    code, report = doctor(
        orch,
        "--fix",
    )
    assert code == 0, report
    (merged,) = tasks.glob(f"*/{tid}-*.md")
    text = merged.read_text()
    assert "<<<<" not in text and "====" not in text and ">>>>" not in text
    history = text[text.index("## History") :]
    assert "| cursor | claim | ready -> in-progress" in history
    assert "| chatgpt | fail | ready -> failed | superseded by SSO" in history
    assert "| doctor | merge |" in history and "merged 2 versions" in history
    assert "superseded by SSO" in text[text.index("## Error Context") :]
    shown = orch.json("show", tid)
    if later == "fail":
        assert merged.parent.name == "failed"
        assert (shown["status"], shown["agent"]) == ("failed", None)
    else:
        assert merged.parent.name == "in-progress"
        assert (shown["status"], shown["agent"]) == ("in-progress", "cursor")
    assert f"## Status: {merged.parent.name}\n" in text

    # both branches changed the text: the later move's is the task's, the other's is kept
    winner, other = ("main", "side") if later == "fail" else ("side", "main")
    goal = text[text.index("## Goal\n") :]
    assert goal.startswith(f"## Goal\n{winner}: limit login attempts\n")
    kept = text[text.index("## Merged from the other side\n") :]
    kept = kept[: kept.index("\n## ", 1)]
    for line in (
        f"### Goal\n{other}: limit login attempts",
        f"### Acceptance Criteria\n- [ ] {other} criterion",
        f"### Files Affected\n- src/{other}.py",
        f"### Implementation Notes\n{other} notes",
    ):
        assert line in kept
    assert f"{winner} criterion" not in kept
    by_kind = {f["kind"]: f for f in report["findings"]}  # type: ignore[union-attr]
    said = str(by_kind["duplicate"]["message"])
    assert "Goal, Acceptance Criteria, Files Affected and Implementation Notes" in said
    assert "'## Merged from the other side'" in said
    assert f"tasks/{merged.parent.name}/{merged.name}" in said

    # one event per repair in the operation log, with the move it made
    events = [e for e in orch.json("log", tid)["events"] if e["op"] == "doctor"]  # type: ignore[union-attr]
    assert len(events) == 1
    moved_from = "in-progress" if later == "fail" else "failed"
    assert (events[0]["from_status"], events[0]["to_status"]) == (moved_from, merged.parent.name)
    assert "Merged from the other side" in events[0]["note"]

    # git still has the paths as unmerged: doctor says so, and how to finish, but leaves git be
    unmerged = by_kind["git-unmerged"]
    assert unmerged["fixed"] is False and code == 0  # the board itself is healthy
    finish = "git add -A .mcp/tasks && git commit"
    assert finish in str(unmerged["hint"])
    assert git(orch.cwd, "ls-files", "--unmerged").stdout  # doctor did not run git add
    out = orch("doctor").out
    assert "unmerged" in out and finish in out
    git(orch.cwd, "add", "-A", ".mcp/tasks")
    git(orch.cwd, "commit", "-qm", "merged")  # git accepts the repaired board
    assert doctor(orch)[1]["findings"] == []


# ---------------------------------------------------------------------------- temp files


def _aged(path: Path, seconds: float) -> Path:
    """``path`` as a write killed ``seconds`` ago left it (its mtime)."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_temp_files_of_killed_writes_outside_tasks_are_named_and_removed(orch: Orch) -> None:
    """A crash while writing an escalation, a feedback attachment, the log, a cache or a
    secrets file leaves its temp file (``.NAME.PID.tmp``) there: doctor names each one and
    ``--fix`` removes it (it holds the board's lock, as every such write does: none can be
    going on), except in .cache/, written without the lock, where a temp file younger than
    the grace period may be a write going on and is left alone. Nothing that is not such a
    temp file is ever touched."""
    tid = orch.ready("hard one")
    orch("escalate", tid, "--reason", "the spec contradicts itself", "--agent", "cursor")
    mcp = orch.cwd / ".mcp"
    escalation = mcp / "escalations" / f"{tid}.md"
    kept = escalation.read_text()
    attachments = mcp / "feedback" / tid
    attachments.mkdir(parents=True)
    (attachments / "pytest.txt").write_text("3 failed\n")
    (mcp / ".secrets").mkdir(exist_ok=True)
    stale = [
        _write(mcp / "escalations" / f".{tid}.md.4242.tmp", "# Escalated: half"),
        _write(attachments / ".pytest.txt.4243.tmp", "3 fai"),  # killed just now
        _write(mcp / "log" / ".orch.jsonl.4244.tmp", '{"op": "cl'),
        _aged(_write(mcp / ".cache" / ".config.marshal.4245.tmp", "x"), 120),
        _write(mcp / ".secrets" / ".tokens.json.4246.tmp", "{"),
    ]
    fresh = _write(mcp / ".cache" / ".index.marshal.4247.tmp", "being written")  # now
    lookalikes = [  # not temp files of orch's: never removed
        escalation,
        attachments / "pytest.txt",
        _write(attachments / ".notes.tmp", "mine"),
        _write(mcp / "escalations" / "draft.1.tmp", "mine"),
    ]
    code, report = doctor(orch)
    assert code == 1 and report["ok"] is False
    found = {str(f["path"]): f for f in report["findings"]}  # type: ignore[union-attr]
    rels = sorted(str(p.relative_to(mcp)) for p in stale)
    assert sorted(p for p, f in found.items() if f["kind"] == "leftover") == rels
    recent = found[str(fresh.relative_to(mcp))]
    assert recent["kind"] == "leftover-recent" and "may still be in progress" in str(
        recent["message"]
    )
    assert all(p.exists() for p in stale)  # only reported
    code, report = doctor(orch, "--fix")
    assert code == 0 and report["ok"] is True, report
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and all(p.exists() for p in lookalikes)
    assert escalation.read_text() == kept
    notes = sorted(e["note"] for e in orch.json("log")["events"] if e["op"] == "doctor")  # type: ignore[union-attr]
    assert notes == sorted(f"removed .mcp/{r}, left by an interrupted write" for r in rels)
    text = orch("doctor", check=False).out
    assert "may still be in progress" in text and "[found] leftover-recent" in text
    _aged(fresh, 120)  # its writer never finished: stale now
    assert doctor(orch, "--fix")[0] == 0 and not fresh.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
