"""Helpers of the git hook tests: real commits through real hooks in temp repositories."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from mcp_orch.board.format import parse
from mcp_orch.domain.model import Task
from tests.conftest import Orch, clean_env, task_file


def set_gate(project: Path, *commands: str) -> None:
    """Put the quality-gate commands into .mcp/config.yaml (as a person would edit it)."""
    config = project / ".mcp" / "config.yaml"
    text = config.read_text()
    start = text.index("test_command:")
    end = text.find("\n", start)
    line = "test_command: [" + ", ".join(json.dumps(c) for c in commands) + "]"
    config.write_text(text[:start] + line + (text[end:] if end >= 0 else "\n"))


def commit(
    project: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``git commit ARGS`` as a user runs it; never raises (the exit code is the verdict)."""
    return subprocess.run(
        ["git", "commit", *args],
        cwd=project,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_git(project: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=project, env=clean_env(), capture_output=True, check=True, text=True
    )
    return proc.stdout


def change(project: Path, name: str = "work.txt", text: str = "more\n") -> None:
    path = project / name
    with path.open("a") as handle:
        handle.write(text)
    run_git(project, "add", name)


def claimed(orch: Orch, title: str, agent: str = "cursor") -> str:
    task_id = orch.ready(title)
    orch("claim", task_id, "--agent", agent)
    return task_id


def task(project: Path, task_id: str) -> Task:
    path = task_file(project, task_id)
    return parse(path.read_text(), str(path))


def executable_hook(path: Path, text: str, mode: int = 0o755) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path.read_bytes()


def snapshot_dir(folder: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every entry of a folder: bytes (or a symlink's target) and mode, for exact comparison."""
    out: dict[str, tuple[bytes | str, int]] = {}
    for entry in sorted(folder.iterdir()):
        st = entry.lstat()
        if entry.is_symlink():
            out[entry.name] = (os.readlink(entry), stat.S_IMODE(st.st_mode))
        elif entry.is_file():
            out[entry.name] = (entry.read_bytes(), stat.S_IMODE(st.st_mode))
    return out
