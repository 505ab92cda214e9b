#!/usr/bin/env python3
"""Benchmark: how much time mcp-orch's git hooks add to a commit, beyond the quality gate.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_hooks.py [--tasks 1000] [--commits 30]

A fresh temp repository with a board of ``--tasks`` tasks (rendered straight into
``.mcp/tasks/<status>/``, like ``bench_cli.py``), then ``--commits`` real ``git commit`` calls
per scenario, each after a one-line change; only the ``git commit`` process is timed:

- ``baseline``: a plain ``commit-msg`` hook that runs the quality gate itself (``true``), as a
  project's existing hook would; no mcp-orch.
- ``task commit``: ``orch hooks install``, ``test_command: ["true"]``, on a branch named after an
  in-progress task: the whole path (commit-msg: find the task, run the gate, note it;
  post-commit: resolve feedback, record the commit in the task file).
- ``no-task commit``: the same hooks on ``main``, a commit that belongs to no task.
- ``ORCH_HOOKS=0``: the same hooks, switched off.

"extra" is the scenario's median minus the baseline's: what mcp-orch adds beyond the gate.
Target (issue 4): <= 100 ms on a 1,000-task board. ``PYTHONDONTWRITEBYTECODE`` is removed from
the children's environment and the package is byte-compiled once, as a real install would be.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mcp_orch
from mcp_orch.board.files import slug
from mcp_orch.board.format import render
from mcp_orch.domain.ids import new_id
from mcp_orch.domain.model import CheckItem, HistoryEntry, Priority, Status, Task

BIN = Path(sys.executable).parent
ORCH = str(BIN / "orch")
STATUSES = (Status.PENDING, Status.READY, Status.REVIEW, Status.DONE, Status.DONE, Status.FAILED)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.update(extra or {})
    return env


def sh(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=env or child_env(), capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def build_board(root: Path, size: int) -> str:
    """``size`` tasks over every status; returns one in-progress task held by cursor."""
    sh(root, ORCH, "init", "--no-detect", "--test-command", "true")
    now = "2025-01-01T00:00:00.000Z"
    held = ""
    for n in range(size):
        status = Status.IN_PROGRESS if n == 0 else STATUSES[n % len(STATUSES)]
        task_id = new_id("T")
        task = Task(
            id=task_id,
            title=f"Task number {n} of the benchmark board",
            status=status,
            priority=Priority(f"P{n % 3}"),
            agent="cursor" if status is Status.IN_PROGRESS else "",
            implementer="cursor" if status is not Status.PENDING else "",
            created=now,
            updated=now,
            goal=f"Do thing {n} well.\nWith a second line of detail.",
            acceptance=(CheckItem("it works"), CheckItem("it is tested")),
            done_def=(CheckItem("tests pass"),),
            files=(f"src/module_{n}.py",),
            history=(HistoryEntry(now, "chatgpt", "create", "", "pending"),),
        )
        folder = root / ".mcp" / "tasks" / status.value
        (folder / f"{task_id}-{slug(task.title)}.md").write_text(render(task))
        if status is Status.IN_PROGRESS:
            held = task_id
    sh(root, ORCH, "status")  # warm the index, as any earlier orch command would have
    return held


def time_commits(root: Path, count: int, env: dict[str, str]) -> list[float]:
    times = []
    for i in range(count + 1):
        with (root / "work.txt").open("a") as handle:
            handle.write(f"change {time.perf_counter_ns()} {i}\n")
        sh(root, "git", "add", "work.txt")
        start = time.perf_counter()
        subprocess.run(["git", "commit", "-q", "-m", f"change {i}"], cwd=root, env=env, check=True)
        elapsed = time.perf_counter() - start
        if i:  # the first commit of a scenario warms the caches
            times.append(elapsed * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=30)
    args = parser.parse_args()
    compileall.compile_dir(os.path.dirname(mcp_orch.__file__), quiet=1)

    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        sh(root, "git", "init", "-q", "-b", "main")
        held = build_board(root, args.tasks)
        sh(root, "git", "add", "-A")
        sh(root, "git", "commit", "-q", "-m", "board")
        env = child_env()

        plain = root / ".git" / "hooks" / "commit-msg"
        plain.write_text("#!/bin/sh\ntrue\n")  # the project's own gate, in its own hook
        plain.chmod(0o755)
        results["baseline (gate in a plain hook)"] = time_commits(root, args.commits, env)
        plain.unlink()

        sh(root, ORCH, "hooks", "install")
        sh(root, "git", "checkout", "-q", "-b", f"feature/{held}-bench")
        results["task commit (gate + record)"] = time_commits(root, args.commits, env)
        sh(root, "git", "checkout", "-q", "main")
        results["no-task commit"] = time_commits(root, args.commits, env)
        off = child_env({"ORCH_HOOKS": "0"})
        results["ORCH_HOOKS=0"] = time_commits(root, args.commits, off)

    base = statistics.median(results["baseline (gate in a plain hook)"])
    print(f"git commit wall time, {args.tasks} tasks on the board, {args.commits} commits each\n")
    print(f"{'scenario':<34} {'median ms':>10} {'p90 ms':>8} {'extra ms':>9}")
    print("-" * 64)
    for name, times in results.items():
        ordered = sorted(times)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        median = statistics.median(times)
        extra = "" if name.startswith("baseline") else f"{median - base:+.1f}"
        print(f"{name:<34} {median:>10.1f} {p90:>8.1f} {extra:>9}")
    worst = statistics.median(results["task commit (gate + record)"]) - base
    verdict = "OK" if worst <= 100 else "OVER"
    print(f"\ntarget: mcp-orch adds <= 100 ms to a task commit: {worst:.1f} ms ({verdict})")
    return 0 if worst <= 100 else 1


if __name__ == "__main__":
    sys.exit(main())
