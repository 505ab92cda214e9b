"""The spec's ``test:orchestrator:load``: tasks arrive at a steady rate while agents heartbeat,
ask ``next``, claim and submit; prints the assignment latency (p50/p95/p99), errors and the
server's peak RSS.

    .venv/bin/python scripts/load.py                       # 100/min for 5 minutes (the spec)
    .venv/bin/python scripts/load.py --rate 200/s --duration 30s --agents 20 --db postgresql://...

Without ``--url`` it makes a throwaway project (git, ``orch init``, roles and
``.mcp/agents.yaml`` for the agents, tokens) and starts ``orch serve`` on a free port; with
``--url URL --token ADMIN_TOKEN`` it loads a running service (its RSS only with ``--pid``).

Assignment latency is, per task, from just before its ``POST /api/orchestrator/tasks`` to the
moment it is known to be some agent's: the POST's own answer when the service pushed it
(``assigned_agent``), else the agent's claim that took it (pull). Exit 1 if any request
failed or a task was never assigned.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

API = "/api/orchestrator"
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|min|h)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (500ms, 30s, 5m, 1h)")
    return float(match[1]) * UNITS[match[2]]


def per_second(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)/(s|min|m|h)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate (100/min, 5/s)")
    return float(match[1]) / UNITS[match[2]]


class Conn:
    """One keep-alive HTTP/1.1 connection (``http.client``) with the bearer token: the load
    generator shares the server's 2 cores, so each request costs it as little CPU as it can
    (no client library's layers; bodies encoded once, before the run). Not thread-safe: one
    per thread. A connection the server closed is opened again once."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """The answer's status and body; ``OSError``/``HTTPException`` when there is none."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body, self.headers)
                answer = self.conn.getresponse()
                return answer.status, answer.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: bytes = b"{}") -> tuple[int, bytes]:
        return self.request("POST", path, body)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def encode(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class Tally:
    """What the run saw, shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, float] = {}  # task id -> when its POST was sent
        self.assigned: dict[str, float] = {}  # task id -> when it was first known assigned
        self.errors: list[str] = []
        self.requests = 0
        self.behind = 0.0  # seconds the last task was sent after its time

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)

    def mark(self, task_id: str, at: float) -> None:
        with self.lock:
            self.assigned.setdefault(task_id, at)

    def call(self, client: Conn, method: str, path: str, body: bytes | None = None) -> dict:
        """``body`` is the JSON already encoded (``encode``)."""
        with self.lock:
            self.requests += 1
        try:
            status, text = client.request(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            client.close()
            self.error(f"{method} {path}: {type(exc).__name__}: {exc}")
            return {}
        if status >= 500 or status in (400, 401, 413):
            self.error(f"{method} {path}: {status} {text[:200]!r}")
            return {}
        data = json.loads(text)
        return data if status < 300 else {"refused": data}


def producer(url: str, token: str, rate: float, duration: float, tally: Tally) -> None:
    """Open loop: one task every 1/rate seconds, on schedule, whatever the answers take
    (up to 16 requests in flight; a server slower than that falls behind, and it shows)."""
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()
    count = int(rate * duration) + 1
    # Encoded before the run: the client's CPU is the server's too.
    bodies = [encode({"task": task_fields(n), "agent": "planner"}) for n in range(count)]

    def send(n: int) -> None:
        if not hasattr(local, "client"):
            local.client = Conn(url, token)
        sent = time.monotonic()
        made = tally.call(local.client, "POST", f"{API}/tasks", bodies[n])
        if made.get("task_id"):
            with tally.lock:
                tally.sent[made["task_id"]] = sent
            if made.get("assigned_agent"):
                tally.mark(made["task_id"], time.monotonic())

    with ThreadPoolExecutor(16) as pool:
        start = time.monotonic()
        n = 0
        while (due := start + n / rate) < start + duration:
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(send, n)
            n += 1
    tally.behind = time.monotonic() - (start + duration)


def task_fields(n: int) -> dict[str, object]:
    return {
        "title": f"load task {n}",
        "priority": f"P{n % 3}",
        "goal": "load",
        "acceptance_criteria": ["done"],
        "capabilities": ["backend"],
    }


def agent(url: str, name: str, token: str, stop: threading.Event, tally: Tally) -> None:
    """Heartbeat every 2 s; ask next; claim what it offers or continue what was pushed; submit."""
    client = Conn(url, token)
    done = encode({"note": "done"})
    beat = 0.0
    try:
        while not stop.is_set():
            if time.monotonic() - beat > 2:
                beat = time.monotonic()
                hb = tally.call(client, "POST", f"{API}/agents/{name}/heartbeat", b"{}")
                for tid in hb.get("assigned", ()):
                    tally.mark(tid, time.monotonic())
            nxt = tally.call(client, "POST", f"{API}/next", b"{}")
            task = (nxt.get("task") or {}).get("id")
            if nxt.get("action") == "claim" and task:
                if "task" in tally.call(client, "POST", f"{API}/tasks/{task}/claim", b"{}"):
                    tally.mark(task, time.monotonic())
                    tally.call(client, "POST", f"{API}/tasks/{task}/submit", done)
            elif nxt.get("action") == "continue" and task:
                tally.mark(task, time.monotonic())
                tally.call(client, "POST", f"{API}/tasks/{task}/submit", done)
            else:
                stop.wait(0.1)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orch_bin() -> str:
    return str(Path(sys.executable).parent / "orch")


def make_project(where: Path, agents: list[str]) -> dict[str, str]:
    """A throwaway project with the agents in its roles and registry; a token for each."""
    run = {"cwd": where, "check": True, "capture_output": True, "text": True}
    subprocess.run(["git", "init", "-q"], **run)  # type: ignore[call-overload]
    subprocess.run([orch_bin(), "init", "--no-detect"], **run)  # type: ignore[call-overload]
    names = ", ".join(agents)
    (where / ".mcp" / "config.yaml").write_text(
        f"roles:\n  planner: [planner]\n  implementer: [{names}]\n  reviewer: [reviewer]\n"
    )
    (where / ".mcp" / "agents.yaml").write_text(
        "agents:\n"
        + "".join(
            f"  - name: {a}\n    role: implementer\n    capabilities: [backend]\n    max_tasks: 1\n"
            for a in agents
        )
    )
    tokens = {}
    for who in ["planner", *agents]:
        made = subprocess.run(  # type: ignore[call-overload]
            [orch_bin(), "token", "create", "--agent", who, "--json"], **run
        )
        tokens[who] = json.loads(made.stdout)["token"]
    return tokens


def start_server(where: Path, db: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [orch_bin(), "serve", "--port", str(port), *(["--db", db] if db else [])]
    proc = subprocess.Popen(argv, cwd=where, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"orch serve exited {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("orch serve did not answer /healthz within 30 s")


def peak_rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found[1]) / 1024 if found else None


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(tally: Tally, rss: float | None, args: argparse.Namespace) -> int:
    latencies = [
        (tally.assigned[t] - sent) * 1000 for t, sent in tally.sent.items() if t in tally.assigned
    ]
    never = len(tally.sent) - len(latencies)
    print(f"rate {args.rate * 60:.0f}/min for {args.duration:.0f} s, {args.agents} agents")
    print(f"tasks created {len(tally.sent)}, assigned {len(latencies)}, never assigned {never}")
    print(f"requests {tally.requests}, errors {len(tally.errors)}")
    print(f"the last task was answered {tally.behind:.1f} s after the run's end")
    if latencies:
        print(
            "assignment latency ms: "
            + ", ".join(f"p{p} {percentile(latencies, p):.1f}" for p in (50, 95, 99))
            + f", max {max(latencies):.1f}"
        )
    print(f"server peak RSS: {rss:.1f} MiB" if rss is not None else "server peak RSS: unknown")
    for line in tally.errors[:10]:
        print(f"  error: {line}")
    slow = [x for x in latencies if x > 5000]
    return 1 if tally.errors or never or slow else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=per_second, default=per_second("100/min"))
    parser.add_argument("--duration", type=seconds, default=seconds("5m"))
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--db", help="the store of the started server (default: its default)")
    parser.add_argument("--url", help="load a running service instead of starting one")
    parser.add_argument("--token", help="with --url: a person's token (orch token create --admin)")
    parser.add_argument("--pid", type=int, help="with --url: the server's pid, for its RSS")
    args = parser.parse_args()
    names = [f"agent-{i + 1}" for i in range(args.agents)]
    tally, stop = Tally(), threading.Event()
    with tempfile.TemporaryDirectory(prefix="orch-load-") as tmp:
        proc = None
        if args.url:
            url, pid = args.url, args.pid
            tokens = {who: args.token for who in ["planner", *names]}
        else:
            tokens = make_project(Path(tmp), names)
            proc, url = start_server(Path(tmp), args.db)
            pid = proc.pid
        workers = [
            threading.Thread(target=agent, args=(url, n, tokens[n], stop, tally), daemon=True)
            for n in names
        ]
        for w in workers:
            w.start()
        producer(url, tokens["planner"], args.rate, args.duration, tally)
        deadline = time.monotonic() + 10  # the last tasks get their chance to be assigned
        while time.monotonic() < deadline and len(tally.assigned) < len(tally.sent):
            time.sleep(0.05)
        stop.set()
        for w in workers:
            w.join(10)
        rss = peak_rss_mib(pid)
        if proc is not None:
            proc.terminate()
            proc.wait(20)
    return report(tally, rss, args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
