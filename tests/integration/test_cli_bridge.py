"""The CLI through a running service (interfaces/remote.py): while a service announces itself
in ``.mcp/service.json``, the commands that write go through it, with the same output and exit
codes as on the files; reads stay on the files; a stale file is ignored.

The service is a real uvicorn process serving remote_api's route (bridge_server.py) and the
CLI the real ``orch`` executable.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_orch.store.sqlite import SqliteStore
from tests.conftest import ORCH, Orch, clean_env, git, heavy_imports, task_file

CLOCK = {"ORCH_CLOCK": "2026-11-25T13:00:00Z"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A real ``orch serve`` (SQLite in .mcp/orch.db, the file mirror) for a board."""

    def __init__(self, proc: subprocess.Popen[str], port: int, board: Path) -> None:
        self.proc, self.port, self.board = proc, port, board

    def stop(self) -> str:
        """Stop the service (SIGTERM, as a person's Ctrl-C); what it said."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        return err

    def events(self) -> list[str]:
        """The ops the service's database recorded (read after it stopped)."""
        self.stop()
        db = SqliteStore(str(self.board / "orch.db"))
        try:
            return [e.op for e in db.events(None, 10_000)]
        finally:
            db.close()


def _up(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the service exited: {proc.communicate()[1]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.05)  # polling for readiness, not standing in for a synchronisation
    raise AssertionError("the service did not come up")


def start_service(project: Path) -> Served:
    port = free_port()
    proc = subprocess.Popen(
        [str(ORCH), "serve", "--port", str(port)],
        cwd=project,
        env=clean_env(CLOCK),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _up(port, proc)
    board = project / ".mcp"
    deadline = time.monotonic() + 30
    while not (board / "service.json").exists():  # written once the board is taken in
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
        time.sleep(0.02)
    return Served(proc, port, board)


@pytest.fixture
def served(orch: Orch) -> Iterator[Served]:
    service = start_service(orch.cwd)
    try:
        yield service
    finally:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.communicate()


def _chain(orch: Orch) -> list[tuple[int, str, str]]:
    """The handoff chain, as (exit code, stdout, stderr) of every step with the ID masked."""
    env = CLOCK
    # Nobody has the capability gpu: the service's assigner pushes this task to no one, so
    # the board goes through the same states as on the files (a push is a difference of state,
    # not of output).
    created = orch(
        "create", "Add login rate limit", "--agent", "chatgpt", "--capability", "gpu", env=env
    )
    tid = created.out.strip()
    steps = [
        ("prep", tid, "--goal", "limit logins", "--ac", "5 a minute", "--agent", "chatgpt"),
        # The planner, with nothing to plan: the same answer on both. (An implementer's
        # `next` through the service claims what it names, as MCP's and the API's do, and a
        # reviewer's call makes it alive, so the submitted task would be pushed to it:
        # test_a_cli_claim_through_the_service_holds_a_lease_and_a_stale_holder_is_refused.)
        ("next", "--agent", "chatgpt"),
        ("claim", tid, "--agent", "chatgpt"),  # refused: a planner
        ("claim", tid, "--agent", "cursor"),
        ("claim", tid, "--agent", "cursor", "--json"),  # a no-op: cursor holds it
        ("submit", tid, "--agent", "cursor", "--note", "done"),
        ("complete", tid, "--agent", "cursor"),  # refused: its implementer
        ("feedback", tid, "--agent", "codex", "--text", "handle lockout"),
        ("claim", tid, "--agent", "cursor", "--json"),  # what its `next` says (and does)
        ("check", tid, "--ac", "1"),
        ("error", tid, "--text", "a trace", "--agent", "cursor"),
        ("escalate", tid, "--reason", "unclear", "--agent", "cursor"),
        ("resolve", tid, "--to", "ready", "--note", "clear now"),
        ("fail", "T-nonexist", "--reason", "x", "--json"),  # refused: no such task
    ]
    out = [(created.code, "ID\n", created.err)]
    for step in steps:
        r = orch(*step, check=False, env=env)
        out.append((r.code, r.out.replace(tid, "ID"), r.err.replace(tid, "ID")))
    return out


def test_the_chain_through_the_service_prints_what_it_prints_on_files(
    served: Served, tmp_path: Path
) -> None:
    through = _chain(Orch(served.board.parent))
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    files = Orch(other)
    files("init", "--no-detect")
    on_files = _chain(files)
    assert through == on_files
    assert [code for code, _, _ in through].count(0) == 12  # refusals kept their exit codes
    assert {code for code, _, _ in through} == {0, 4, 11}
    # Every step went through the service: its database holds them (the refusals too).
    ops = served.events()
    assert ops.count("claim") == 3 and ops.count("create") == 1 and "resolve" in ops


def test_reads_stay_on_the_files(served: Served) -> None:
    orch = Orch(served.board.parent)
    tid = orch.ready("Read me")
    deadline = time.monotonic() + 5
    while orch.json("status")["tasks"][0]["status"] != "ready":  # the mirror's write is done
        assert time.monotonic() < deadline
    served.proc.send_signal(signal.SIGSTOP)  # the service answers nothing now
    try:
        orch("status", timeout=10)
        orch("show", tid, timeout=10)
        orch("log", tid, timeout=10)
        orch("feedback", "list", timeout=10)
    finally:
        served.proc.send_signal(signal.SIGCONT)


def test_the_service_file_is_private_and_ignored_and_removed_on_exit(served: Served) -> None:
    path = served.board / "service.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["url"] == f"http://127.0.0.1:{served.port}"
    assert git(served.board.parent, "check-ignore", "-q", str(path), check=False).returncode == 0
    served.stop()
    assert not path.exists()


def test_a_stale_service_file_is_ignored(orch: Orch) -> None:
    board = orch.cwd / ".mcp"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (board / "service.json").write_text(
        json.dumps(
            {"url": f"http://127.0.0.1:{free_port()}", "pid": int(dead.stdout), "token": "x"}
        )
    )
    created = orch("create", "On files", "--agent", "chatgpt")
    assert created.err == ""  # a dead pid: not even a note
    # A live pid whose port refuses (a service that is stopping, a reused pid): one note.
    (board / "service.json").write_text(
        json.dumps({"url": f"http://127.0.0.1:{free_port()}", "pid": os.getpid(), "token": "x"})
    )
    r = orch("claim", created.out.strip(), "--agent", "cursor", check=False)
    assert r.code == 5  # still pending: the file board's own refusal
    assert r.err.splitlines()[0].startswith("orch: note: the service at http://127.0.0.1:")
    assert r.err.count("\n") == 2


def test_a_wrong_token_is_refused_and_changes_nothing(served: Served) -> None:
    orch = Orch(served.board.parent)
    path = served.board / "service.json"
    info = json.loads(path.read_text())
    path.write_text(json.dumps({**info, "token": "not-it"}))
    r = orch("create", "Never made", "--agent", "chatgpt", "--json", check=False)
    assert r.code == 1 and r.err_json()["code"] == "unauthorized"
    path.write_text(json.dumps(info))
    assert orch.json("status")["tasks"] == []


def test_next_wait_through_the_service_wakes_on_a_handoff(served: Served) -> None:
    orch = Orch(served.board.parent)
    waiting = orch.popen("next", "--agent", "cursor", "--wait", "--timeout", "20", "--json")
    tid = orch.ready("Wake me")
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0, err
    answer = json.loads(out)
    # cursor's waiting call made it alive, so the service may push the task to it at once
    # (continue) before it would claim it (claim): either way, the wait ends on that task.
    assert answer["action"] in ("claim", "continue") and answer["task"]["id"] == tid


def test_orch_agents_changes_the_running_registry_live(orch: Orch) -> None:
    (orch.cwd / ".mcp" / "agents.yaml").write_text(
        "agents:\n  - name: cursor\n    role: implementer\n    capabilities: [backend]\n"
    )
    before = (orch.cwd / ".mcp" / "agents.yaml").read_text()
    served = start_service(orch.cwd)
    try:
        listed = orch.json("agents", "list")
        assert listed["via"] == "service"
        assert [(a["name"], a["status"]) for a in listed["agents"]] == [("cursor", "offline")]
        added = orch.json("agents", "add", "claude", "--role", "implementer", "--capability", "ui")
        assert added["via"] == "service" and added["agent"]["source"] == "api"
        orch("agents", "update", "claude", "--max-tasks", "2")
        names = {a["name"]: a["max_tasks"] for a in orch.json("agents", "list")["agents"]}
        assert names == {"cursor": 1, "claude": 2}
        r = orch("agents", "update", "nobody", "--max-tasks", "2", "--json", check=False)
        assert r.code == 4 and r.err_json()["code"] == "agent_not_found"
        assert orch.json("agents", "remove", "claude")["via"] == "service"
        assert [a["name"] for a in orch.json("agents", "list")["agents"]] == ["cursor"]
        assert (orch.cwd / ".mcp" / "agents.yaml").read_text() == before  # live, not the file
    finally:
        served.stop()


def test_a_write_through_the_service_loads_no_web_stack_in_the_cli(served: Served) -> None:
    loaded = heavy_imports(
        served.board.parent,
        ["create", "Light", "--agent", "chatgpt"],
        ["next", "--agent", "cursor"],
    )
    assert loaded == []
    assert "create" in served.events()  # it did go through the service


def test_a_task_the_cli_makes_ready_is_pushed_and_the_file_shows_it_within_a_second(
    orch: Orch,
) -> None:
    (orch.cwd / ".mcp" / "agents.yaml").write_text(
        "agents:\n  - name: cursor\n    role: implementer\n"
    )
    served = start_service(orch.cwd)
    try:
        orch("next", "--agent", "cursor")  # a call: cursor is alive
        tid = orch.create("Push me")
        orch("prep", tid, "--goal", "g", "--ac", "a", "--agent", "chatgpt")
        ready_at = time.monotonic()
        # orch on the files (journal-aware: never a task twice mid-move) sees the holder.
        while orch.json("show", tid)["agent"] != "cursor":
            assert time.monotonic() - ready_at < 1.0, "the push did not reach the file in 1 s"
        assert "## Agent: cursor" in task_file(orch.cwd, tid).read_text()
    finally:
        served.stop()


def test_an_mcp_session_is_its_agents_heartbeat_and_its_tools_go_through_the_service(
    orch: Orch,
) -> None:
    import anyio

    from tests.acceptance.mcp_support import call, stdio

    config = orch.cwd / ".mcp" / "config.yaml"
    config.write_text(config.read_text() + "orchestrator:\n  heartbeat_every: 200ms\n")
    (orch.cwd / ".mcp" / "agents.yaml").write_text(
        "agents:\n  - name: cursor\n    role: implementer\n    capabilities: [gpu]\n"
    )
    served = start_service(orch.cwd)
    tid = orch.create("Over MCP", "--capability", "none-has-it")  # so nothing pushes it
    orch("prep", tid, "--goal", "g", "--ac", "a", "--agent", "chatgpt")

    def status() -> str:
        (cursor,) = [a for a in orch.json("agents", "list")["agents"] if a["name"] == "cursor"]
        return str(cursor["status"])

    async def session() -> None:
        async with stdio(orch.cwd, "cursor") as client:
            began = time.monotonic()
            while status() != "available":  # no tool called: the session alone keeps it alive
                assert time.monotonic() - began < 10, "no heartbeat from orch mcp"
            claimed = await call(client, "claim_task", task_id=tid)
            assert claimed["status"] == "in-progress"

    try:
        assert status() == "offline"
        anyio.run(session)
    finally:
        ops = served.events()
    assert "claim" in ops  # the tool's claim went through the service's database


def test_a_cli_claim_through_the_service_holds_a_lease_and_a_stale_holder_is_refused(
    orch: Orch,
) -> None:
    from tests.acceptance.serve_support import serving

    config = orch.cwd / ".mcp" / "config.yaml"  # no lease runs out while the test runs
    config.write_text(config.read_text() + "orchestrator:\n  lease_ttl: 10m\n")
    (orch.cwd / ".mcp" / "agents.yaml").write_text(
        "agents:\n  - name: cursor\n    role: implementer\n"
        "  - name: claude\n    role: implementer\n"
    )
    with serving(orch, agents=("cursor", "claude", "chatgpt")) as api:
        tid = api.ready("Lease me")  # nobody has called in yet: pushed to no one
        assert orch.json("claim", tid, "--agent", "cursor")["agent"] == "cursor"
        # The CLI's claim took the orchestrator's lease, as MCP's and the API's do.
        assert api.ok("admin", "GET", "agents/cursor")["current_tasks"] == [tid]
        # cursor is taken off the task (a person removes it), claude takes it over.
        assert api.ok("admin", "DELETE", "agents/cursor")["requeued"] == [tid]
        api.ok("claude", "POST", f"tasks/{tid}/claim", json={})
        before = api.ok("admin", "GET", f"tasks/{tid}")
        late = orch("submit", tid, "--agent", "cursor", "--note", "late", "--json", check=False)
        assert late.code != 0 and late.err_json()["code"] == "lease_lost"
        assert "claude holds it now" in str(late.err_json())
        after = api.ok("admin", "GET", f"tasks/{tid}")
        assert after == before and after["assigned_agent"] == "claude"
        assert api.ok("admin", "GET", "agents/claude")["current_tasks"] == [tid]


def test_next_through_the_service_pulls_the_task_under_a_lease(orch: Orch) -> None:
    from tests.acceptance.serve_support import serving

    with serving(orch, agents=("chatgpt",)) as api:
        tid = api.ready("Pull me")
        answer = orch.json("next", "--agent", "cursor")
        # `next` asked the orchestrator: it claimed the task it names (pull), lease and all.
        assert answer["action"] == "continue" and answer["task"]["id"] == tid
        assert api.ok("admin", "GET", "agents/cursor")["current_tasks"] == [tid]
        assert orch.json("show", tid)["status"] == "in-progress"
