"""Plain git hooks (and core.hooksPath): install, chaining, bypass, uninstall, your changes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ORCH, Orch, clean_env, git
from tests.integration.hooks_support import (
    change,
    claimed,
    commit,
    executable_hook,
    run_git,
    set_gate,
    snapshot_dir,
    task,
)

pytestmark = [pytest.mark.hooks]

USER_HOOK = """#!/bin/sh
# the team's own commit-msg gate: no WIP commits
echo "user hook ran: $1" >> "$(git rev-parse --show-toplevel)/user-hook.log"
if grep -q WIP "$1"; then echo "no WIP commits" >&2; exit 3; fi
exit 0
"""


def hooks_dir(project: Path) -> Path:
    return project / ".git" / "hooks"


def test_install_status_and_second_install_changes_nothing(orch: Orch, project: Path) -> None:
    first = orch.json("hooks", "install")
    assert first["mode"] == "git" and first["changed"] is True
    for stage in ("commit-msg", "post-commit"):
        hook = hooks_dir(project) / stage
        assert hook.stat().st_mode & 0o111, f"{stage} must be executable"
        assert "orch hooks install" in hook.read_text()
    before = snapshot_dir(hooks_dir(project))
    again = orch.json("hooks", "install")
    assert again["changed"] is False
    assert snapshot_dir(hooks_dir(project)) == before
    status = orch.json("hooks", "status")
    assert status["installed"] is True
    assert [ln.split(": ")[-1] for ln in status["lines"]] == ["installed", "installed"]  # type: ignore[union-attr]


def test_existing_hook_still_runs_and_still_blocks(orch: Orch, project: Path) -> None:
    executable_hook(hooks_dir(project) / "commit-msg", USER_HOOK)
    orch("hooks", "install")
    set_gate(project, "exit 0")
    task_id = claimed(orch, "Chained hooks")
    run_git(project, "checkout", "-q", "-b", f"feature/{task_id}")

    change(project)
    blocked = commit(project, "-m", "WIP: half done")
    assert blocked.returncode == 1, blocked.stderr  # git reports any failing hook as 1
    assert "no WIP commits" in blocked.stderr
    assert run_git(project, "rev-list", "--count", "HEAD").strip() == "1"
    assert task(project, task_id).git.commit == ""  # mcp-orch did not run after the refusal

    ok = commit(project, "-m", "Finished")
    assert ok.returncode == 0, ok.stderr
    assert (project / "user-hook.log").read_text().count("user hook ran") == 2
    head = run_git(project, "rev-parse", "HEAD").strip()
    assert task(project, task_id).git.commit == head


def test_uninstall_restores_hooks_byte_for_byte(orch: Orch, project: Path) -> None:
    hooks = hooks_dir(project)
    executable_hook(hooks / "commit-msg", USER_HOOK + "# no newline at the end", 0o750)
    (hooks / "post-commit").symlink_to("../../scripts/post-commit.sh")
    executable_hook(hooks / "pre-push", "#!/bin/sh\nexit 0\n")
    (hooks / "post-commit.sample").write_bytes(b"\x00\xff binary-ish sample\r\n")
    before = snapshot_dir(hooks)

    orch("hooks", "install")
    assert snapshot_dir(hooks) != before
    assert (hooks / "commit-msg.orch-chained").read_text().startswith("#!/bin/sh")
    orch("hooks", "uninstall")

    assert snapshot_dir(hooks) == before
    assert not (project / ".mcp" / "hooks-backup").exists()
    assert orch.json("hooks", "status")["installed"] is False


def test_uninstall_removes_created_hooks(orch: Orch, project: Path) -> None:
    before = snapshot_dir(hooks_dir(project))
    orch("hooks", "install")
    orch("hooks", "uninstall")
    assert snapshot_dir(hooks_dir(project)) == before


def test_core_hooks_path_is_used(orch: Orch, project: Path) -> None:
    shared = project / ".githooks"
    executable_hook(shared / "commit-msg", USER_HOOK)
    git(project, "config", "core.hooksPath", ".githooks")
    before = snapshot_dir(shared)
    data = orch.json("hooks", "install")
    assert data["where"] == str(shared.resolve())
    assert not (hooks_dir(project) / "commit-msg").exists()
    set_gate(project, "exit 1")
    task_id = claimed(orch, "Hooks path")
    change(project)
    proc = commit(project, "-m", "work", "-m", f"Task: {task_id}")
    assert proc.returncode == 1
    assert (project / "user-hook.log").exists()
    assert task(project, task_id).status.value == "ready"
    orch("hooks", "uninstall")
    assert snapshot_dir(shared) == before


def test_repo_without_board_is_left_alone(orch: Orch, project: Path, tmp_path: Path) -> None:
    orch("hooks", "install")
    shutil.rmtree(project / ".mcp")
    change(project)
    proc = commit(project, "-m", "no board here")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert not (project / ".mcp").exists()
    bare = tmp_path / "elsewhere"
    bare.mkdir()
    (bare / "MSG").write_text("hello\n")
    direct = subprocess.run(
        [str(ORCH), "hook", "commit-msg", "MSG"],
        cwd=bare,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert (direct.returncode, direct.stdout, direct.stderr) == (0, "", "")


def test_orch_hooks_0_disables_only_mcp_orch(orch: Orch, project: Path) -> None:
    executable_hook(hooks_dir(project) / "commit-msg", USER_HOOK)
    orch("hooks", "install")
    set_gate(project, "exit 1")
    task_id = claimed(orch, "Disabled")
    run_git(project, "checkout", "-q", "-b", f"{task_id}-work")
    before = task(project, task_id)
    change(project)
    refused = commit(project, "-m", "WIP", env={"ORCH_HOOKS": "0"})
    assert refused.returncode == 1  # the user's gate still runs and still blocks
    assert "no WIP commits" in refused.stderr
    proc = commit(project, "-m", "done", env={"ORCH_HOOKS": "0"})
    assert proc.returncode == 0, proc.stderr  # our failing gate was not run
    assert (project / "user-hook.log").read_text().count("user hook ran") == 2
    assert task(project, task_id) == before


def test_no_verify_skips_everything(orch: Orch, project: Path) -> None:
    executable_hook(hooks_dir(project) / "commit-msg", USER_HOOK)
    orch("hooks", "install")
    set_gate(project, "exit 1")
    task_id = claimed(orch, "Bypass")
    run_git(project, "checkout", "-q", "-b", f"{task_id}-work")
    before = task(project, task_id)
    change(project)
    proc = commit(project, "--no-verify", "-m", "WIP anyway")
    assert proc.returncode == 0, proc.stderr
    assert not (project / "user-hook.log").exists()
    assert task(project, task_id) == before  # post-commit ran, but found no passed gate


def test_commit_of_no_task_is_left_alone(orch: Orch, project: Path) -> None:
    orch("hooks", "install")
    set_gate(project, "exit 1")
    task_id = claimed(orch, "Someone else's")
    before = task(project, task_id)
    change(project)
    proc = commit(project, "-m", "unrelated docs fix")  # main branch, no trailer, no agent
    assert proc.returncode == 0, proc.stderr
    assert task(project, task_id) == before
    assert not list((project / ".mcp" / "feedback").glob("*/*.md"))


def test_agent_single_in_progress_task_and_trailers(orch: Orch, project: Path) -> None:
    orch("hooks", "install")
    set_gate(project, "exit 0")
    task_id = claimed(orch, "By agent")
    change(project)
    proc = commit(
        project, "-m", "work", "-m", "PR: #42\nTask-Status: review", env={"ORCH_AGENT": "cursor"}
    )
    assert proc.returncode == 0, proc.stderr
    done = task(project, task_id)
    assert done.status.value == "review"
    assert done.git.commit == run_git(project, "rev-parse", "HEAD").strip()
    assert (done.git.branch, done.git.pr) == ("main", "42")
    assert done.history[-1].op == "submit" and done.history[-1].agent == "cursor"
    assert "recorded commit" in proc.stderr


def test_a_task_status_review_trailer_resolves_the_review_feedback(
    orch: Orch, project: Path
) -> None:
    orch("hooks", "install")
    set_gate(project, "exit 0")
    task_id = claimed(orch, "Sent back by review")
    orch("review", task_id, "--agent", "cursor")
    orch("feedback", task_id, "--agent", "codex", "--text", "handle the empty list")
    orch("claim", task_id, "--agent", "cursor")
    agent = {"ORCH_AGENT": "cursor"}
    change(project)
    proc = commit(project, "-m", "work in progress", env=agent)
    assert proc.returncode == 0, proc.stderr
    # a passing commit closes test feedback only: the reviewer's is still open
    assert [n.body for n in task(project, task_id).open_feedback] == ["handle the empty list"]
    change(project)
    proc = commit(project, "-m", "handle it", "-m", "Task-Status: review", env=agent)
    assert proc.returncode == 0, proc.stderr
    submitted = task(project, task_id)
    assert submitted.status.value == "review" and submitted.open_feedback == ()
    [note] = submitted.feedback
    assert note.source == "review" and note.resolved_at
    assert orch.json("feedback", "list")["feedback"] == []


def test_a_commit_cannot_approve_its_own_work(orch: Orch, project: Path) -> None:
    # Issue 8: a Task-Status: done trailer is an approval; its implementer may not make it.
    orch("hooks", "install")
    set_gate(project, "exit 0")
    task_id = claimed(orch, "Self approved")
    orch("review", task_id, "--agent", "cursor")
    change(project)
    trailers = f"Task: {task_id}\nTask-Status: done"
    proc = commit(project, "-m", "work", "-m", trailers, env={"ORCH_AGENT": "cursor"})
    assert proc.returncode == 0, proc.stderr  # the commit happened; only the move is refused
    assert task(project, task_id).status.value == "review"
    assert (
        f"complete {task_id} needs a reviewer (codex); cursor implemented {task_id}" in proc.stderr
    )
    change(project)
    proc = commit(project, "-m", "approve", "-m", trailers, env={"ORCH_AGENT": "codex"})
    assert proc.returncode == 0, proc.stderr
    assert task(project, task_id).status.value == "done"


def test_staged_and_unstaged_changes_are_kept_exactly(orch: Orch, project: Path) -> None:
    orch("hooks", "install")
    task_id = claimed(orch, "Careful")
    run_git(project, "checkout", "-q", "-b", f"feature/{task_id}")
    (project / "app.txt").write_text("one\ntwo\nthree\n")
    run_git(project, "add", "app.txt")
    run_git(project, "commit", "-q", "--no-verify", "-m", "base")
    (project / "app.txt").write_text("one\nTWO staged\nthree\n")
    run_git(project, "add", "app.txt")
    (project / "app.txt").write_text("one\nTWO staged\nthree\nfour unstaged\n")
    (project / "notes.txt").write_text("untracked\n")

    def state() -> tuple[str, str, bytes, bytes]:
        return (
            run_git(project, "diff", "--cached", "--", "app.txt", "notes.txt"),
            run_git(project, "diff", "--", "app.txt"),
            (project / "app.txt").read_bytes(),
            (project / "notes.txt").read_bytes(),
        )

    before = state()
    set_gate(project, "exit 1")
    assert commit(project, "-m", "try").returncode == 1
    assert state() == before

    set_gate(project, "exit 0")
    orch("claim", task_id, "--agent", "cursor")
    assert commit(project, "-m", "try again").returncode == 0
    assert run_git(project, "show", "HEAD:app.txt") == "one\nTWO staged\nthree\n"
    assert run_git(project, "diff", "--", "app.txt") == before[1]
    assert (project / "app.txt").read_bytes() == before[2]
    assert (project / "notes.txt").read_bytes() == before[3]
    assert run_git(project, "diff", "--cached", "--", "app.txt") == ""


def test_gate_runs_in_the_linked_worktree_being_committed(
    orch: Orch, project: Path, tmp_path: Path
) -> None:
    (project / "state").write_text("ok\n")
    run_git(project, "add", "state")
    run_git(project, "commit", "-q", "--no-verify", "-m", "state")
    orch("hooks", "install")
    set_gate(project, "grep -q fixed state")
    tree = tmp_path / "wt"
    run_git(project, "worktree", "add", "-q", str(tree), "-b", "feature/x")
    task_id = orch.ready("Login")
    run_git(tree, "checkout", "-q", "-b", f"feature/{task_id}-login")

    (tree / "state").write_text("fixed\n")
    run_git(tree, "add", "state")
    proc = commit(tree, "-m", "fix")
    assert proc.returncode == 0, proc.stderr
    assert (project / "state").read_text() == "ok\n"  # the main tree would have failed the gate
    now = task(project, task_id)
    assert now.status.value == "ready" and now.errors == ()
    assert now.git.commit == run_git(tree, "rev-parse", "HEAD").strip()

    (tree / "state").write_text("broken\n")
    run_git(tree, "add", "state")
    blocked = commit(tree, "-m", "break")
    assert blocked.returncode == 1
    [printed] = re.findall(r"with the feedback (\S+\.md)", blocked.stderr)
    assert (tree / printed).is_file(), f"{printed} is not found from the worktree"
    assert (tree / printed).resolve().parent == (project / ".mcp" / "feedback" / task_id)


def test_gate_running_git_elsewhere_leaves_your_index_alone(
    orch: Orch, project: Path, tmp_path: Path
) -> None:
    orch("hooks", "install")
    inner = 'cd "$(mktemp -d)" && git init -q && echo x > innerfile && git add innerfile'
    set_gate(project, f'test "$GIT_AUTHOR_NAME" = Test && {inner}')  # identity is kept
    task_id = claimed(orch, "Inner git")
    run_git(project, "checkout", "-q", "-b", f"feature/{task_id}")
    (project / "app.txt").write_text("one\n")
    (project / "lib.txt").write_text("one\n")
    run_git(project, "add", "app.txt", "lib.txt")
    run_git(project, "commit", "-q", "--no-verify", "-m", "base")

    (project / "app.txt").write_text("two\n")
    scratch = {"TMPDIR": str(tmp_path)}  # where the gate's mktemp makes its repositories
    assert commit(project, "-qam", "work", env=scratch).returncode == 0
    assert run_git(project, "status", "--short", "--", ".", ":!.mcp") == ""
    files = ["README.md", "app.txt", "lib.txt"]
    assert run_git(project, "ls-tree", "-r", "--name-only", "HEAD").split() == files

    (project / "app.txt").write_text("three\n")  # committed by path: git's temporary index
    (project / "lib.txt").write_text("staged\n")
    run_git(project, "add", "lib.txt")
    (project / "lib.txt").write_text("staged\nunstaged\n")

    def yours() -> tuple[str, str, str]:
        return (
            run_git(project, "diff", "--cached", "--", "lib.txt"),
            run_git(project, "diff", "--", "lib.txt"),
            run_git(project, "ls-files"),
        )

    orch("claim", task_id, "--agent", "cursor")
    before = yours()
    assert commit(project, "-m", "more work", "--", "app.txt", env=scratch).returncode == 0
    assert yours() == before
    assert run_git(project, "status", "--short", "--", ".", ":!.mcp") == "MM lib.txt\n"
    assert run_git(project, "show", "HEAD:app.txt") == "three\n"
    assert run_git(project, "ls-tree", "-r", "--name-only", "HEAD").split() == files
    assert (project / "lib.txt").read_text() == "staged\nunstaged\n"


def test_orch_hook_by_hand_never_blocks_on_its_own_confusion(
    orch: Orch, project: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "no-git"
    plain.mkdir()
    Orch(plain)("init", "--no-detect")  # a board, but no repository around it
    (plain / "MSG").write_text("hello\n")
    outside = Orch(plain)("hook", "commit-msg", "MSG", check=False)
    assert (outside.code, outside.out) == (0, "")
    assert outside.err == "mcp-orch: not inside a git repository; nothing to check\n"

    orch("hooks", "install")
    set_gate(project, "exit 1")
    task_id = claimed(orch, "By hand")
    run_git(project, "checkout", "-q", "-b", f"feature/{task_id}")
    before = task(project, task_id)
    missing = orch("hook", "commit-msg", "no-such-file", check=False)
    assert (missing.code, missing.out) == (0, "")
    assert missing.err.startswith("mcp-orch: cannot read the commit message no-such-file")
    assert missing.err.count("\n") == 1
    assert task(project, task_id) == before

    run_git(project, "checkout", "-q", "main")
    (project / "MSG").write_text(f"work\n\nTask: {task_id}\n")
    gated = orch("hook", "commit-msg", "--json", "MSG", check=False)
    assert gated.code == 1, gated.err  # --json is a flag, MSG the message: the gate ran
    assert task(project, task_id).status.value == "ready"
    usage = orch("hook", "--help").out
    assert "internal" in usage and "verbatim" in usage
