"""The hooks tell the truth: a gate that could not run is not a test failure, a closed task
gets no feedback that would stay open forever, a commit that is not gated says why, and an
empty pre-commit config takes the entry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, Orch, clean_env
from tests.integration.hooks_support import change, claimed, commit, run_git, set_gate, task

pytestmark = [pytest.mark.hooks, pytest.mark.errors]


def commits(project: Path) -> int:
    return int(run_git(project, "rev-list", "--count", "HEAD"))


@pytest.mark.parametrize(
    ("gate", "code"),
    [("no-such-test-runner -q", 127), ("./run-tests.sh", 126)],
    ids=["not-found", "not-executable"],
)
def test_a_gate_that_cannot_run_blocks_without_feedback(
    orch: Orch, project: Path, gate: str, code: int
) -> None:
    (project / "run-tests.sh").write_text("#!/bin/sh\nexit 0\n")  # mode 0644: not executable
    orch("hooks", "install")
    set_gate(project, gate)
    task_id = claimed(orch, "IDE without the venv")
    before = task(project, task_id)
    change(project)
    proc = commit(project, "-m", "work", "-m", f"Task: {task_id}")
    assert proc.returncode == 1, proc.stderr  # git's own code for a hook that refused
    assert commits(project) == 1
    assert f"the test command could not be run: `{gate}` exited {code}" in proc.stderr
    assert f"{task_id} left as it is, no test feedback written" in proc.stderr
    assert "PATH=" in proc.stderr and clean_env()["PATH"] + ";" in proc.stderr
    assert ".venv/bin/pytest -q" in proc.stderr
    assert task(project, task_id) == before  # still in progress, still cursor's, no feedback
    assert not list((project / ".mcp" / "feedback").glob("*/*.md"))


def test_init_warns_when_the_gate_program_is_not_found(orch: Orch, project: Path) -> None:
    res = orch("init", "--test-command", "no-such-test-runner -q", "--json")
    (warning,) = res.json()["warnings"]  # type: ignore[index]
    assert "no-such-test-runner is not found on PATH" in warning
    assert "orch: warning: test_command 'no-such-test-runner -q'" in res.err
    assert "e.g. .venv/bin/no-such-test-runner" in res.err
    res = orch("init", "--test-command", "FOO=1 ./missing/pytest -q")
    assert "./missing/pytest is not an executable file" in res.err
    found = orch("init", "--test-command", "sh -c true", "--test-command", "cd . && true", "--json")
    assert "warnings" not in found.json() and found.err == ""  # type: ignore[operator]


@pytest.mark.parametrize("closed", ["done", "failed"])
def test_a_trailer_naming_a_closed_task_leaves_no_open_feedback(
    orch: Orch, project: Path, closed: str
) -> None:
    orch("hooks", "install")
    task_id = claimed(orch, "Finished already")
    if closed == "done":
        orch("review", task_id, "--agent", "cursor")
        orch("complete", task_id, "--agent", "codex")
    else:
        orch("fail", task_id, "--agent", "cursor", "--reason", "upstream gone")
    set_gate(project, "echo 'FAILED t.py::test_x - boom'; exit 1")
    change(project)
    proc = commit(project, "-m", "follow-up", "-m", f"Task: {task_id}")
    assert proc.returncode == 1  # the tests fail: the gate still holds
    after = task(project, task_id)
    assert after.status.value == closed and after.open_feedback == ()
    assert f"{task_id} is {closed} (closed: no feedback opened" in proc.stderr
    assert after.errors[-1].source == "test" and "t.py::test_x" in after.errors[-1].body
    assert orch.json("feedback", "list")["feedback"] == []
    assert orch.json("status", "--all")["tasks"][0]["open_feedback"] == 0  # type: ignore[index]


def test_a_commit_of_no_task_says_once_why_it_was_not_gated(orch: Orch, project: Path) -> None:
    orch("hooks", "install")
    set_gate(project, "exit 1")
    change(project)
    proc = commit(project, "-m", "docs")  # main, no trailer, no ORCH_AGENT
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("mcp-orch:")]
    assert lines == [
        "mcp-orch: commit not gated (it belongs to no task): no 'Task: ID' trailer, "
        "branch main names no task, and no ORCH_AGENT says who is committing; "
        "add 'Task: ID' to the message to gate it"
    ]
    change(project)
    proc = commit(project, "-m", "more docs", env={"ORCH_AGENT": "cursor"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("mcp-orch:") == 1
    assert "and cursor holds no in-progress task;" in proc.stderr


PRE_COMMIT_EMPTY = "# no hooks yet\nrepos: []  # added later\n\ndefault_stages: [pre-commit]\n"


@pytest.mark.slow
def test_pre_commit_config_with_an_empty_repos_list(
    orch: Orch, project: Path, tmp_path: Path
) -> None:
    config = project / ".pre-commit-config.yaml"
    config.write_text(PRE_COMMIT_EMPTY)
    data = orch.json("hooks", "install")
    assert data["mode"] == "pre-commit" and data["changed"] is True
    text = config.read_text()
    assert text.startswith("# no hooks yet\nrepos:  # added later\n# >>> mcp-orch")
    assert text.endswith("\ndefault_stages: [pre-commit]\n")
    pre_commit = shutil.which("pre-commit", path=str(BIN))
    assert pre_commit
    env = clean_env({"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")})
    run = [pre_commit, "install", "--hook-type", "commit-msg", "--hook-type", "post-commit"]
    subprocess.run(run, cwd=project, env=env, check=True, capture_output=True)
    run_git(project, "add", ".pre-commit-config.yaml")
    set_gate(project, "exit 3")
    task_id = claimed(orch, "Framework from scratch")
    proc = commit(project, "-m", "work", "-m", f"Task: {task_id}", env=env)
    assert proc.returncode == 1 and "mcp-orch quality gate" in proc.stderr
    assert task(project, task_id).open_feedback[0].source == "test"
    orch("hooks", "uninstall")
    assert config.read_text() == PRE_COMMIT_EMPTY

    # Edited after install (only a comment added), then uninstalled: an empty list again.
    orch("hooks", "install")
    config.write_text(config.read_text() + "# edited\n")
    orch("hooks", "uninstall")
    assert config.read_text() == PRE_COMMIT_EMPTY + "# edited\n"
