"""The pre-commit framework (pip-installed, repo: local, no network) and husky 9 (from npm)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, Orch, clean_env
from tests.integration.hooks_support import (
    change,
    claimed,
    commit,
    run_git,
    set_gate,
    snapshot_dir,
    task,
)

pytestmark = [pytest.mark.hooks, pytest.mark.slow]

PRE_COMMIT_CONFIG = """\
# the team's own hooks
repos:
-   repo: local
    hooks:
    -   id: no-wip
        name: no WIP commits
        entry: sh -c 'echo ran >> user-gate.log; if grep -q WIP "$1"; then exit 1; fi' --
        language: system
        stages: [commit-msg]

default_stages: [pre-commit]
"""


def test_pre_commit_framework_local_entry(orch: Orch, project: Path, tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit", path=str(BIN))
    assert pre_commit, "pre-commit is a test dependency: pip install -e '.[test]'"
    config = project / ".pre-commit-config.yaml"
    config.write_text(PRE_COMMIT_CONFIG)
    hooks_before = snapshot_dir(project / ".git" / "hooks")

    data = orch.json("hooks", "install")
    assert data["mode"] == "pre-commit"
    assert snapshot_dir(project / ".git" / "hooks") == hooks_before  # .git/hooks untouched
    text = config.read_text()
    assert text.startswith(PRE_COMMIT_CONFIG.split("\ndefault_stages")[0])
    assert text.rstrip().endswith("default_stages: [pre-commit]")
    assert "entry: orch hook commit-msg" in text
    status = orch.json("hooks", "status")
    assert any("pre-commit does not run commit-msg yet" in ln for ln in status["lines"])  # type: ignore[union-attr]

    env = clean_env({"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")})
    subprocess.run(
        [pre_commit, "install", "--hook-type", "commit-msg", "--hook-type", "post-commit"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    run_git(project, "add", ".pre-commit-config.yaml")
    set_gate(project, "exit 0")
    task_id = claimed(orch, "Framework")
    run_git(project, "checkout", "-q", "-b", f"feature/{task_id}")
    home = {"PRE_COMMIT_HOME": env["PRE_COMMIT_HOME"]}

    change(project)
    wip = commit(project, "-m", "WIP", env=home)
    assert wip.returncode == 1
    assert "no WIP commits" in wip.stderr
    assert run_git(project, "rev-list", "--count", "HEAD").strip() == "1"  # the user's gate held
    # (pre-commit runs every hook of a stage, ours too, unless the config says fail_fast)

    set_gate(project, "echo 'FAILED t.py::test_x - boom'; exit 1")
    failed = commit(project, "-m", "work", env=home)
    assert failed.returncode == 1, failed.stderr
    assert "mcp-orch quality gate" in failed.stderr
    back = task(project, task_id)
    assert back.status.value == "ready" and back.open_feedback[0].source == "test"
    assert "t.py::test_x" in back.open_feedback[0].body
    assert (project / "user-gate.log").read_text().count("ran") == 2

    set_gate(project, "exit 0")
    orch("claim", task_id, "--agent", "cursor")
    ok = commit(project, "-m", "work", "-m", "Task-Status: review", env=home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    done = task(project, task_id)
    assert done.status.value == "review" and done.open_feedback == ()
    assert done.git.commit == run_git(project, "rev-parse", "HEAD").strip()

    orch("hooks", "uninstall")
    assert config.read_text() == PRE_COMMIT_CONFIG


HUSKY_COMMIT_MSG = 'if grep -q WIP "$1"; then echo "no WIP" >&2; exit 4; fi\n'


def test_husky_9(orch: Orch, project: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the husky test needs real husky 9 from npm")
    env = clean_env()
    (project / "package.json").write_text(
        json.dumps(
            {"name": "demo", "private": True, "scripts": {"test": "echo ran >> npm-test.log"}}
        )
    )
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "husky@9"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(["npx", "husky", "init"], cwd=project, env=env, check=True, capture_output=True)
    assert run_git(project, "config", "core.hooksPath").strip() == ".husky/_"
    (project / ".husky" / "commit-msg").write_text(HUSKY_COMMIT_MSG)
    husky_before = snapshot_dir(project / ".husky")

    data = orch.json("hooks", "install")
    assert data["mode"] == "husky"
    assert (project / ".husky" / "commit-msg").read_text().startswith(HUSKY_COMMIT_MSG)
    assert "orch hook post-commit" in (project / ".husky" / "post-commit").read_text()

    set_gate(project, "echo 'not ok 1 - login works'; exit 1")
    task_id = claimed(orch, "Husky")
    run_git(project, "checkout", "-q", "-b", f"{task_id}-husky")
    change(project)
    wip = commit(project, "-m", "WIP")
    assert wip.returncode == 1 and "no WIP" in wip.stderr
    assert task(project, task_id).status.value == "in-progress"

    failed = commit(project, "-m", "work")
    assert failed.returncode == 1
    back = task(project, task_id)
    assert back.status.value == "ready"
    assert "login works" in back.open_feedback[0].body
    assert (project / "npm-test.log").read_text().count("ran") == 2  # husky's pre-commit ran

    set_gate(project, "exit 0")
    orch("claim", task_id, "--agent", "cursor")
    ok = commit(project, "-m", "work")
    assert ok.returncode == 0, ok.stderr
    assert task(project, task_id).git.commit == run_git(project, "rev-parse", "HEAD").strip()

    orch("hooks", "uninstall")
    assert snapshot_dir(project / ".husky") == husky_before
