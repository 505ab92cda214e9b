"""Real ``orch serve`` processes on free local ports, and an HTTP client that speaks for one
token, for the tests of the orchestrator service's API."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.mcp_support import free_port
from tests.conftest import ORCH, Orch, clean_env

API = "/api/orchestrator"
STATES = ("pending", "ready", "in-progress", "review", "done", "failed")


@dataclass
class Served:
    base: str
    process: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.Client:
        """A client sending ``who``'s token (``None``: no token at all)."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client(who) as client:
            return client.request(
                method, path if path.startswith("/") else f"{API}/{path}", **kwargs
            )

    def ok(self, who: str | None, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(who, method, path, **kwargs)
        assert answer.status_code in (200, 201), (method, path, answer.status_code, answer.text)
        return answer.json()

    def ready(self, title: str, priority: str = "P1", **fields: Any) -> str:
        """A task the planner made ready (goal and a criterion) through the API; its ID."""
        task = {
            "title": title,
            "priority": priority,
            "goal": f"goal of {title}",
            "acceptance_criteria": ["it works"],
            **fields,
        }
        return str(self.ok("chatgpt", "POST", "tasks", json={"task": task})["task_id"])

    def tasks(self) -> list[dict[str, Any]]:
        """Every task as the API lists it (to prove a refusal changed nothing)."""
        listed = self.ok(
            "admin", "GET", "tasks", params={"limit": 1000, "status": ",".join(STATES)}
        )
        return list(listed["tasks"])

    def refused(
        self, who: str | None, method: str, path: str, status: int, **kwargs: Any
    ) -> dict[str, str]:
        """A request that must be refused with ``status`` and the API's error body."""
        answer = self.call(who, method, path, **kwargs)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
        error = answer.json()["error"]
        assert set(error) == {"code", "message", "hint"} and error["message"], error
        return dict(error)


def start(
    project: Path, *args: str, port: int | None = None
) -> tuple[subprocess.Popen[bytes], Path, int]:
    port = port or free_port()
    log = project.parent / f"orch-serve-{port}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [str(ORCH), "serve", "--port", str(port), *args],
            cwd=project,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return proc, log, port


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Poll /healthz until it answers 200 (no fixed sleep; the deadline is generous for a
    machine under load, and passes at once when it answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"orch serve exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"orch serve not healthy after {timeout}s: {log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.terminate()
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("orch serve did not stop within 20 s of SIGTERM") from None


@contextmanager
def serving(orch: Orch, *args: str, agents: tuple[str, ...] = ()) -> Iterator[Served]:
    """``orch serve`` on the project of ``orch``, with a token for each of ``agents`` and a
    person's (``admin``), healthy when yielded; stopped (SIGTERM) afterwards."""
    tokens = {a: str(orch.json("token", "create", "--agent", a)["token"]) for a in agents}
    tokens["admin"] = str(orch.json("token", "create", "--admin")["token"])
    proc, log, port = start(orch.cwd, *args)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, log)
        yield Served(base, proc, log, tokens)
    finally:
        if proc.poll() is None:
            stop(proc)


def task_files(project: Path) -> dict[str, str]:
    """Every task file by path: a refused step leaves them all as they were (the log gains
    the refusal, as on the CLI)."""
    board = project / ".mcp"
    return {str(p.relative_to(board)): p.read_text() for p in sorted(board.glob("tasks/*/*.md"))}
