"""``orch demo --serve``: the handoff chain through a real ``orch serve`` on a throwaway repo.

It starts the service as a subprocess on a free local port (embedded SQLite), registers four
agents, and plays push assignment, review, a dependency released and a dead agent's task
reassigned, all through the HTTP API with the standard library's ``http.client`` (what any
agent could do), then shows that the Markdown board the mirror keeps is current.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .demo import Report

API = "/api/orchestrator"
ROLE_OF = {
    "chatgpt": "planner",
    "cursor": "implementer",
    "claude": "implementer",
    "codex": "reviewer",
}

AGENTS_YAML = """\
agents:
  - name: chatgpt
    role: planner
  - name: cursor
    role: implementer
    capabilities: [backend, frontend]
    max_tasks: 3
  - name: claude
    role: implementer
    capabilities: [backend]
  - name: codex
    role: reviewer
"""

# The service's timers, short so the demo is quick: a lease lapses 2 s after the last
# heartbeat (the default is 6 s).
ORCHESTRATOR_YAML = "\norchestrator:\n  lease_ttl: 2s\n  sweep_every: 200ms\n"

TASKS = (  # (title, priority, capabilities)
    ("Login API", "P0", ["backend"]),
    ("Signup form", "P1", ["frontend"]),
    ("Password reset mail", "P2", ["backend"]),
)
DEPENDENT = ("Signup audit log", "P1", ["backend"])  # after the signup form


class DemoError(RuntimeError):
    """The demo could not go on (the service would not start, a call was refused)."""


class Api:
    """Calls ``orch serve``'s API as one agent or another (a bearer token each)."""

    def __init__(self, port: int, tokens: dict[str, str]) -> None:
        self.port, self.tokens = port, tokens

    def __call__(self, who: str, method: str, path: str, body: object = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path if path.startswith("/") else f"{API}/{path}", data, headers)
            answer = conn.getresponse()
            text = answer.read().decode()
        except OSError as exc:
            raise DemoError(f"{method} {path}: the service did not answer ({exc})") from exc
        finally:
            conn.close()
        if answer.status not in (200, 201):
            raise DemoError(f"{method} {path} as {who}: HTTP {answer.status} {text[:300]}")
        return json.loads(text) if text else {}


class Heartbeats(threading.Thread):
    """The agents' heartbeats, every half second, as a live agent's session sends them;
    ``stop(name)`` silences one agent (as if its editor were closed)."""

    def __init__(self, api: Api, names: set[str]) -> None:
        super().__init__(daemon=True)
        self.api, self.names, self.done = api, set(names), threading.Event()
        self.lock = threading.Lock()

    def beat(self) -> None:
        with self.lock:
            names = sorted(self.names)
        for name in names:
            try:
                self.api(name, "POST", f"agents/{name}/heartbeat", {})
            except DemoError:
                pass  # the service is stopping; the story reports what matters

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.beat()

    def stop(self, name: str) -> None:
        with self.lock:
            self.names.discard(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(check: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    """Poll ``check()`` until it answers something truthy; a clear error after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise DemoError(f"not within {timeout:.0f} s: {what}")


class Stage:
    """The throwaway repo, the ``orch serve`` process and the story told about them."""

    def __init__(self, root: Path, echo: Callable[[str], None]) -> None:
        self.root, self.echo = root, echo
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
        self.steps: list[dict[str, object]] = []
        self.log = root.parent / "orch-serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def orch(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "mcp_orch", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DemoError(f"orch {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def setup(self) -> dict[str, str]:
        """The repo, its config (short lease), the agents' registry and a token each."""
        subprocess.run(["git", "init", "-q", str(self.root)], check=True, capture_output=True)
        self.orch("init", "--no-detect")
        with open(self.root / ".mcp" / "config.yaml", "a", encoding="utf-8") as config:
            config.write(ORCHESTRATOR_YAML)
        (self.root / ".mcp" / "agents.yaml").write_text(AGENTS_YAML, encoding="utf-8")
        tokens = {}
        for agent in ROLE_OF:
            made = json.loads(self.orch("token", "create", "--agent", agent, "--json"))
            tokens[agent] = str(made["token"])
        return tokens

    def start(self) -> int:
        """``orch serve`` on a free port, healthy when this returns; its port."""
        port = free_port()
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_orch", "serve", "--port", str(port)],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        until(lambda: self.healthy(port), f"orch serve to answer on port {port}", 30)
        return port

    def healthy(self, port: int) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            said = self.log.read_text(errors="replace").strip()[-800:]
            raise DemoError(
                f"orch serve exited {self.proc.returncode}: {said} "
                "(run orch demo --serve again: it picks a new free port each time)"
            )
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> int | None:
        """SIGTERM and wait for the clean stop; its exit code (``None``: not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise DemoError("orch serve did not stop within 20 s of SIGTERM") from None

    def kill(self) -> None:
        """The service killed if it is still running (the demo failed midway)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def say(self, agent: str, call: str, result: str) -> None:
        who = f"{ROLE_OF[agent]} {agent}" if agent in ROLE_OF else agent
        self.echo(f"  [{who}] {call}")
        self.echo(f"      -> {result}")
        self.steps.append(
            {"agent": agent, "role": ROLE_OF.get(agent, agent), "command": call, "result": result}
        )


def _task_body(title: str, priority: str, caps: list[str], **more: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"title": title, "priority": priority, "goal": f"ship {title.lower()}"}
    fields |= {"acceptance_criteria": ["it works"], "capabilities": caps, **more}
    return {"task": fields}


def _posted(answer: dict[str, Any]) -> str:
    agent, why = answer.get("assigned_agent"), answer.get("queued_because")
    return f"{answer['task_id']} " + (f"assigned to {agent}" if agent else f"queued: {why}")


def _holder(api: Api, tid: str) -> Any:
    return api("chatgpt", "GET", f"tasks/{tid}")["assigned_agent"]


def play(stage: Stage, api: Api, beats: Heartbeats) -> dict[str, Any]:
    """The story; the last task's state as the API shows it."""
    echo, say = stage.echo, stage.say
    echo("1. The agents come alive (a heartbeat each, every 0.5 s from now on)")
    beats.beat()
    for name in ("cursor", "claude", "codex"):
        say(name, f"POST {API}/agents/{name}/heartbeat", "alive")
    beats.start()
    ids, later = plan(stage, api)
    echo("\n3. cursor asks what to do: the work pushed to it comes first")
    did = api("cursor", "POST", "next", {})
    task = did.get("task") or {}
    say(
        "cursor",
        f"POST {API}/next",
        f"{did.get('action')} {task.get('id', '')}: {did.get('reason')}",
    )
    echo(f"\n4. cursor submits {ids[1]}; its review is pushed to the reviewer, who approves")
    review(stage, api, ids[1])
    echo(f"\n5. Its dependency done, {later} is assigned")
    got = until(lambda: _holder(api, later), f"{later} to be assigned once {ids[1]} is done")
    say("orchestrator", f"GET {API}/tasks/{later}", f"{later} assigned to {got}")
    return reassign(stage, api, beats, [*ids, later])


def plan(stage: Stage, api: Api) -> tuple[list[str], str]:
    """The planner's four tasks (the last waits on the second); their IDs and the last's."""
    stage.echo("\n2. The planner submits four tasks; the service pushes each to a fitting agent")
    ids: list[str] = []
    for title, priority, caps in TASKS:
        answer = api("chatgpt", "POST", "tasks", _task_body(title, priority, caps))
        ids.append(str(answer["task_id"]))
        stage.say(
            "chatgpt", f"POST {API}/tasks  {priority} {title!r} needs {caps}", _posted(answer)
        )
    title, priority, caps = DEPENDENT
    answer = api(
        "chatgpt", "POST", "tasks", _task_body(title, priority, caps, dependencies=ids[1:2])
    )
    stage.say("chatgpt", f"POST {API}/tasks  {priority} {title!r} after {ids[1]}", _posted(answer))
    return ids, str(answer["task_id"])


def _event(api: Api, tid: str, kind: str, agent: str) -> dict[str, Any] | None:
    """The latest ``kind`` event of ``tid`` naming ``agent`` (the assignee), if any."""
    events = api("chatgpt", "GET", f"events?task_id={tid}&type={kind}&limit=100")["events"]
    found = [e for e in events if e["agent"] == agent]
    return dict(found[-1]) if found else None


def _said(event: dict[str, Any]) -> str:
    return f"event {event['type']} by {event['actor']}: {event['payload_json']['note']}"


def review(stage: Stage, api: Api, tid: str) -> None:
    """cursor submits ``tid``; the service pushes the review to codex, who approves."""
    done = api("cursor", "POST", f"tasks/{tid}/submit", {"note": "form and tests"})
    shown = f"{tid} is now {done['task']['board_status']}"
    stage.say("cursor", f"POST {API}/tasks/{tid}/submit", shown)
    pushed = until(lambda: _event(api, tid, "assigned", "codex"), f"{tid}'s review for codex")
    stage.say("codex", f"GET {API}/events?task_id={tid}&type=assigned", _said(pushed))
    done = api("codex", "POST", f"tasks/{tid}/complete", {})
    shown = f"{tid} is now {done['task']['board_status']}"
    stage.say("codex", f"POST {API}/tasks/{tid}/complete", shown)


def reassign(stage: Stage, api: Api, beats: Heartbeats, ids: list[str]) -> dict[str, Any]:
    """claude falls silent; its task goes to another agent once its lease lapses."""
    held = [t for t in ids if _holder(api, t) == "claude"]
    if not held:
        raise DemoError("claude holds no task to lose: the assigner gave it nothing")
    tid = held[0]
    stage.echo(f"\n6. claude stops sending heartbeats while it holds {tid}")
    beats.stop("claude")
    started = time.monotonic()
    got = until(lambda: (h := _holder(api, tid)) not in (None, "claude") and h, f"{tid} moved")
    took = time.monotonic() - started
    events = api("chatgpt", "GET", f"events?task_id={tid}&type=reassigned&limit=100")["events"]
    if not events:
        raise DemoError(f"{tid} moved from claude without a reassigned event")
    stage.say("orchestrator", f"GET {API}/events?task_id={tid}&type=reassigned", _said(events[-1]))
    stage.say("orchestrator", f"GET {API}/tasks/{tid}", f"now {got}'s, {took:.1f} s later")
    return dict(api("chatgpt", "GET", f"tasks/{tid}"))


def mirrored(stage: Stage, api: Api) -> str:
    """``orch status --all`` on the files, once they show what the service holds."""
    listed = api("chatgpt", "GET", "tasks?status=pending,ready,in-progress,review,done&limit=100")
    want = {t["id"]: (t["board_status"], t["assigned_agent"]) for t in listed["tasks"]}

    def current() -> bool:  # status and holder: a reassignment keeps the status
        files = json.loads(stage.orch("status", "--all", "--json"))["tasks"]
        return {t["id"]: (t["status"], t["agent"]) for t in files} == want

    until(current, "the files to show the service's board")
    stage.echo(f"  the files show all {len(want)} tasks as the service holds them:")
    return stage.orch("status", "--all")


def run(echo: Callable[[str], None] = print, keep: bool = False) -> Report:
    """Play the chain through ``orch serve``; ``ok`` when every step took effect and the
    service stopped cleanly."""
    top = Path(tempfile.mkdtemp(prefix="orch-demo-"))
    root = top / "repo"
    root.mkdir()
    stage = Stage(root, echo)
    task: dict[str, Any] = {}
    ok = False
    try:
        echo(
            f"mcp-orch demo --serve: four agents and a real orch serve, on a throwaway repo {root}"
        )
        api = Api(0, stage.setup())
        api.port = stage.start()
        echo(f"orch serve is up on http://127.0.0.1:{api.port} (SQLite in .mcp/orch.db)\n")
        beats = Heartbeats(api, {"cursor", "claude", "codex"})
        try:
            task = play(stage, api, beats)
        finally:
            beats.done.set()
            if beats.is_alive():
                beats.join(5)  # no heartbeat in flight while the service stops
        echo("\n7. The Markdown board (orch status --all, on the files the mirror keeps):")
        echo("  " + mirrored(stage, api).strip().replace("\n", "\n  "))
        code = stage.stop()
        gone = not (root / ".mcp" / "service.json").exists()
        echo(f"\nSIGTERM: orch serve stopped (exit {code}); the files are the board again")
        ok = code == 0 and gone
    except DemoError as exc:
        echo(f"FAILED: {exc}")
    finally:
        stage.kill()
        if not keep:
            shutil.rmtree(top, ignore_errors=True)
    echo("Run 'orch serve' in your own repo to do the same" if ok else "FAILED")
    return Report(ok=ok, repo=str(root) if keep else None, steps=tuple(stage.steps), task=task)
