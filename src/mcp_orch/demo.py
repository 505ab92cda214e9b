"""``orch demo``: the whole handoff chain, scripted, on a throwaway git repo.

It runs the real ``orch`` commands as separate processes (exactly what agents run) and prints
each handoff, so a newcomer sees the chain work before wiring up any agent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from .domain.record import Record

Step = tuple[str, str, list[str]]  # (role and agent, what happens, orch arguments)

ROLE_OF = {"chatgpt": "planner", "cursor": "implementer", "codex": "reviewer"}


class Report(Record):
    """What ``orch demo --json`` prints: whether it worked, the kept repo, each step shown and
    the final task."""

    ok: bool
    repo: str | None
    steps: tuple[dict[str, object], ...]
    task: dict[str, object]


class _Player:
    """Runs ``orch`` as one agent after another in ``root``; ``steps`` are the ones shown."""

    def __init__(self, root: str, echo: Callable[[str], None]) -> None:
        self.root, self.echo = root, echo
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
        self.steps: list[dict[str, object]] = []

    def __call__(self, agent: str, *args: str, show: bool = True) -> dict[str, object]:
        echo = self.echo
        shown = " ".join(a if " " not in a else json.dumps(a) for a in args)
        if show:
            echo(f"  [{ROLE_OF.get(agent, agent)} {agent}] $ orch {shown}")
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "mcp_orch", *args, "--json"],
            cwd=self.root,
            env={**self.env, "ORCH_AGENT": agent},
            capture_output=True,
            text=True,
            check=False,
        )
        took = (time.perf_counter() - started) * 1000
        if proc.returncode != 0:
            raise RuntimeError(f"orch {shown} failed: {proc.stderr.strip()}")
        data = json.loads(proc.stdout) if proc.stdout.strip() else {}
        if show:
            echo(f"      -> {_summary(data)}  ({took:.0f} ms)")
            self.steps.append(
                {
                    "agent": agent,
                    "role": ROLE_OF.get(agent, agent),
                    "command": f"orch {shown}",
                    "result": _summary(data),
                    "ms": round(took, 1),
                }
            )
        return data if isinstance(data, dict) else {}


def _summary(data: dict[str, object]) -> str:
    if "action" in data:
        task = data.get("task")
        tid = task.get("id") if isinstance(task, dict) else None
        return f"next: {data['action']} {tid or ''} - {data.get('reason', '')}"
    if "status" in data and "id" in data:
        return f"{data['id']} is now {data['status']}"
    return json.dumps(data)[:100]


def run(echo: Callable[[str], None] = print, keep: bool = False) -> Report:
    """Play the chain; ``ok`` when the task ends done with all its context."""
    root = tempfile.mkdtemp(prefix="orch-demo-")
    try:
        subprocess.run(["git", "init", "-q", root], check=True, capture_output=True)
        echo(f"mcp-orch demo: three agents hand one task along, on a throwaway repo {root}\n")
        orch = _Player(root, echo)
        orch("human", "init", "--no-detect", show=False)
        echo("1. The planner writes the task and fleshes it out")
        task_id = str(orch("chatgpt", "create", "Add login rate limit", "--priority", "P1")["id"])
        orch(
            "chatgpt",
            "prep",
            task_id,
            "--goal",
            "Stop password guessing on /login",
            "--ac",
            "6th failed attempt within a minute gets HTTP 429",
            "--ac",
            "the limit resets after 60 s",
            "--dor",
            "rate-limit store chosen",
            "--dod",
            "tests pass",
            "--dod",
            "reviewed",
            "--files",
            "src/auth/login.py",
            "--notes",
            "use a sliding window per account and IP",
        )
        echo("\n2. The implementer asks what to do, claims it, works, submits it")
        orch("cursor", "next")
        orch("cursor", "claim", task_id)
        orch("cursor", "submit", task_id, "--note", "limiter added, tests green")
        echo("\n3. The reviewer finds a gap and sends it back")
        orch("codex", "next")
        orch(
            "codex",
            "feedback",
            task_id,
            "--text",
            "the lockout counter is per IP only; count per account too",
        )
        echo("\n4. The implementer's next shows the feedback first; it fixes and resubmits")
        orch("cursor", "next")
        orch("cursor", "claim", task_id)
        orch("cursor", "submit", task_id, "--note", "counts per account and per IP now")
        echo("\n5. The reviewer approves")
        orch("codex", "next")
        orch("codex", "complete", task_id)
        task = orch("codex", "show", task_id, show=False)
        echo("\nThe final board (orch status --all):")
        board = subprocess.run(
            [sys.executable, "-m", "mcp_orch", "status", "--all"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        echo("  " + board.stdout.strip().replace("\n", "\n  "))
        history = task.get("history")
        feedback = task.get("feedback")
        ok = task.get("status") == "done" and isinstance(history, list) and bool(feedback)
        echo(
            f"\nThe task file keeps everything: goal, criteria, DoR, DoD, files, notes, "
            f"{len(feedback) if isinstance(feedback, list) else 0} feedback item(s), "
            f"{len(history) if isinstance(history, list) else 0} handoffs in its history:"
        )
        where = f"{root}/.mcp/tasks/done/" if keep else "(orch demo --keep keeps the repo)"
        echo(f"  {where}")
        echo("Run 'orch --help' to start on your own repo: orch init" if ok else "FAILED")
        return Report(ok=ok, repo=root if keep else None, steps=tuple(orch.steps), task=task)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
