"""``orch init`` in a project, npm scripts, git worktrees sharing one board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Orch, git, set_roles, task_file

pytestmark = pytest.mark.cli

PACKAGE = """{
    "name": "demo",
    "version": "1.0.0",
    "scripts": {
        "test": "jest",
        "mcp:status": "my-own-status"
    },
    "dependencies": {
        "left-pad": "^1.3.0"
    }
}
"""


def test_init_creates_the_board_and_is_idempotent(project: Path) -> None:
    orch = Orch(project)
    first = orch.json("init", "--no-detect")
    board = project / ".mcp"
    for status in ("pending", "ready", "in-progress", "review", "done", "failed"):
        assert (board / "tasks" / status).is_dir()
    assert (board / "config.yaml").is_file() and (board / "log").is_dir()
    assert "tasks/pending/" in " ".join(first["created"])  # type: ignore[arg-type]
    config = board / "config.yaml"
    config.write_text(config.read_text() + "# my edit\n")
    tid = orch.create("kept")
    second = orch.json("init", "--no-detect")
    assert second["created"] == [] and ".mcp/config.yaml" in second["kept"]  # type: ignore[operator]
    assert config.read_text().endswith("# my edit\n")
    assert task_file(project, tid).is_file()
    assert "nothing to do" in orch("init", "--no-detect").out


def test_init_adds_npm_scripts_without_disturbing_the_file(project: Path) -> None:
    package = project / "package.json"
    package.write_text(PACKAGE)
    Orch(project)("init", "--no-detect")
    text = package.read_text()
    data = json.loads(text)
    assert list(data) == ["name", "version", "scripts", "dependencies"]
    assert data["scripts"]["test"] == "jest"
    assert data["scripts"]["mcp:status"] == "my-own-status"  # the user's own is kept
    for name in ("mcp:next", "mcp:create", "mcp:claim", "mcp:review", "mcp:complete"):
        assert data["scripts"][name].startswith("orch ")
    assert data["dependencies"] == {"left-pad": "^1.3.0"}
    assert '\n    "name": "demo",' in text and text.endswith("}\n")  # 4-space indent kept
    Orch(project)("init", "--no-detect")
    assert package.read_text() == text  # idempotent: not rewritten


def test_npm_scripts_run_orch(project: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    (project / "package.json").write_text('{"name": "demo", "version": "1.0.0"}\n')
    orch = Orch(project)
    orch("init", "--no-detect")
    orch.create("via npm")
    out = subprocess.run(
        ["npm", "run", "-s", "mcp:status", "--", "--json"],
        cwd=project,
        env=orch.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tasks"][0]["title"] == "via npm"


def test_a_worktree_uses_the_main_tree_board(orch: Orch, tmp_path: Path) -> None:
    set_roles(orch.cwd, implementer=["cursor", "claude"])
    git(orch.cwd, "add", "-A")
    git(orch.cwd, "commit", "-qm", "board")
    tree = tmp_path / "wt"
    git(orch.cwd, "worktree", "add", "-q", "-b", "feature", str(tree))
    (tree / "src").mkdir()
    other = Orch(tree / "src")
    tid = orch.ready("shared")
    assert [t["id"] for t in other.json("status")["tasks"]] == [tid]  # type: ignore[union-attr]
    other("claim", tid, "--agent", "cursor")
    # the claim landed in the main tree's board, and it stays exclusive across worktrees
    assert task_file(orch.cwd, tid).parent.name == "in-progress"
    assert not (tree / ".mcp" / "tasks" / "in-progress").exists() or not list(
        (tree / ".mcp" / "tasks" / "in-progress").glob("*.md")
    )
    res = orch("claim", tid, "--agent", "claude", check=False)
    assert res.code != 0 and "already claimed by cursor" in res.err
    created = other.create("made in the worktree")
    assert task_file(orch.cwd, created).is_file()
    # init inside the worktree sets up nothing new there
    other("init", "--no-detect")
    assert not (tree / "src" / ".mcp").exists()


def test_orch_board_overrides(orch: Orch, tmp_path: Path) -> None:
    tid = orch.create("found by override")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runner = Orch(elsewhere)
    data = runner.json("status", env={"ORCH_BOARD": str(orch.cwd)})
    assert [t["id"] for t in data["tasks"]] == [tid]  # type: ignore[union-attr]


def test_a_plain_folder_works(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    Orch(plain)("init", "--no-detect")
    tid = Orch(plain / "sub").create("no git here")
    assert task_file(plain, tid).parent.name == "pending"
