#!/usr/bin/env python3
"""``orch serve`` against its goals (issue 10, "Speed"), on SQLite and PostgreSQL, in one run.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 for the postgres rows)::

    .venv/bin/python benchmarks/bench_serve.py [--backends sqlite,postgres] [--claims 2000]
        [--active 10000] [--agents 100] [--rate 200] [--seconds 10] [--deaths 3]
        [--starts 5] [--idle 10] [--only claims,assign,reassign,idle,overhead] [--clients 4]
        [--quick]
        [--pg postgresql://postgres@127.0.0.1:5432/test]

Every measure runs a real ``orch serve`` process on a free port, in a throwaway project, on a
fresh database (SQLite: ``.mcp/orch.db``; PostgreSQL: a database of its own, dropped after):

- **claims**: ``--claims`` ready tasks are written into the database before the service
  starts; 4 client threads claim them through ``POST /api/orchestrator/tasks/{id}/claim`` (a
  person's token naming a new agent per claim, as ``bench_claims.py``'s service path does,
  so no agent's held tasks pile up). Its claims/s are a ratio of ``bench_claims.py``'s bare
  SQL loop (one connection, the store's own schema) measured in the same run.
- **assignment**: ``--active`` active tasks (pending, in progress, in review) are written
  into the database, ``--agents`` implementers are registered in ``.mcp/agents.yaml``
  (``max_tasks`` large enough never to fill) and heartbeat every 2 s (the default
  ``heartbeat_every``); tasks arrive open loop at ``--rate`` per second for ``--seconds``
  (``POST /api/orchestrator/tasks``, ready at once); latency is from the POST to its answer
  naming the agent it was pushed to (``scripts/load.py``'s producer).
- **reassignment**: ``--deaths`` agents each get a task pushed and then stop heartbeating;
  a survivor keeps beating; from each dead agent's last heartbeat to the moment its task is
  the survivor's (polled every 50 ms), with the default settings (``lease_ttl: 6s``).
- **idle**: ``/healthz`` after the process starts (median of ``--starts``), then CPU time
  over ``--idle`` seconds with nothing to do, the database work meanwhile (PostgreSQL:
  transactions from ``pg_stat_database``; SQLite: the process's read/write syscalls from
  ``/proc``), RSS idle and the peak RSS of the assignment run.

- **overhead** (not in the default ``--only``): requests/s and p50/p99 of ``/healthz``, ``GET
  .../agents/{name}`` and a heartbeat, each with ``--clients`` threads for ``--seconds``.

``--quick`` is a smoke run (small sizes, one death, two starts, 2 s idle).
Unset ``PYTHONDONTWRITEBYTECODE`` when timing (the service's start-up compiles otherwise).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

import bench_claims  # noqa: E402  (the bare loops and the seeding of ready tasks)
import load  # noqa: E402  (the throwaway project's server, the open-loop producer)

API = "/api/orchestrator"
CLIENTS = 4


# ---------------------------------------------------------------------- projects, databases


class Project:
    """A throwaway project: git, ``orch init``, roles not enforced (any agent may claim), an
    agents file, a person's token; its database (``url``) and the server once started."""

    def __init__(
        self, root: Path, url: str, agents: list[str], max_tasks: int = 1000, claimers: int = 0
    ) -> None:
        self.root, self.url = root, url
        run: dict[str, Any] = {"cwd": root, "check": True, "capture_output": True, "text": True}
        subprocess.run(["git", "init", "-q"], **run)
        subprocess.run([load.orch_bin(), "init", "--no-detect"], **run)
        (root / ".mcp" / "config.yaml").write_text(
            "roles:\n  planner: [planner]\n  enforce: false\n"
            f"  implementer: [{', '.join(f'a{i}' for i in range(claimers))}]\n"
        )
        (root / ".mcp" / "agents.yaml").write_text(
            "agents:\n"
            + "".join(
                f"  - name: {a}\n    role: implementer\n    capabilities: [backend]\n"
                f"    max_tasks: {max_tasks}\n"
                for a in agents
            )
            if agents
            else "agents: []\n"
        )
        made = subprocess.run([load.orch_bin(), "token", "create", "--admin", "--json"], **run)
        import json

        self.token = json.loads(made.stdout)["token"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.files_current = 0.0  # seconds from the last start's spawn to its files current

    def store(self) -> Any:
        from mcp_orch.store.factory import open_store

        return open_store(self.url, str(self.root / ".mcp"))

    def start(self, timeout: float = 300) -> float:
        """Start ``orch serve``; seconds from the spawn to the first 200 of ``/healthz`` (a
        first start on a big database answers at once and writes the files in the background)."""
        port = load.free_port()
        argv = [load.orch_bin(), "serve", "--port", str(port), "--db", self.url]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, cwd=self.root, stdout=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"orch serve exited {self.proc.returncode}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    up = time.perf_counter() - t0
                    # The MCP endpoint is built after the start: the measures begin once it
                    # answers (a request for it waits until then), as they did when it was
                    # built before /healthz answered.
                    httpx.get(f"{self.base}/mcp", timeout=60)
                    self.files_current = self.wait_files(t0, timeout)
                    return up
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"orch serve did not answer /healthz within {timeout:g} s")

    def wait_files(self, t0: float, timeout: float) -> float:
        """Seconds from the spawn until ``/readyz`` says the board's files are current (a
        first start writes them in the background): the measures begin after, as they did
        when they were written before the service answered."""
        while time.perf_counter() - t0 < timeout:
            ready = httpx.get(f"{self.base}/readyz", timeout=10).json()
            if ready.get("files") != "writing":
                return time.perf_counter() - t0
            time.sleep(0.05)
        raise RuntimeError(f"the board's files were not current within {timeout:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)

    def conn(self) -> load.Conn:
        """A keep-alive connection for the measured requests (cheaper for the client than
        httpx: the client shares the server's cores)."""
        return load.Conn(self.base, self.token)


@contextmanager
def database(backend: str, tmp: Path, pg: str) -> Iterator[str]:
    """A fresh database's URL: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / uuid.uuid4().hex}.db"
        return
    import psycopg

    name = f"orch_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def project(backend: str, tmp: Path, pg: str, agents: list[str], **kw: Any) -> Iterator[Project]:
    root = tmp / uuid.uuid4().hex[:8]
    root.mkdir()
    with database(backend, tmp, pg) as url:
        p = Project(root, url, agents, **kw)
        try:
            yield p
        finally:
            p.stop()


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds) in ms."""
    return bench_claims.pct(values, q)


# ---------------------------------------------------------------------- claims


def bare_rate(backend: str, n: int, tmp: Path, pg: str) -> float:
    got = bench_claims.run_path(backend, "bare", n, str(tmp), pg)
    return float(got[0])


def http_claims(
    backend: str, n: int, tmp: Path, pg: str, clients: int = CLIENTS
) -> tuple[float, list[float], int, float]:
    """Claims/s through the API with ``clients`` threads; latencies; refusals; the server's
    CPU seconds per claim."""
    with project(backend, tmp, pg, [], claimers=n) as p:
        store = p.store()
        ids = bench_claims.seed(store, n)
        store.close()
        p.start()
        lats: list[float] = []
        bad = [0]
        lock = threading.Lock()

        def worker(k: int) -> None:
            mine: list[float] = []
            client = p.conn()
            asks = [
                (f"{API}/tasks/{ids[i]}/claim", load.encode({"agent": f"a{i}"}))
                for i in range(k, n, clients)
            ]
            for path, body in asks:
                t0 = time.perf_counter()
                status, text = client.post(path, body)
                mine.append(time.perf_counter() - t0)
                if status != 200:
                    with lock:
                        bad[0] += 1
                        if bad[0] == 1:
                            print(f"  first refused claim: {text[:300]!r}", file=sys.stderr)
            client.close()
            with lock:
                lats.extend(mine)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        assert p.proc is not None
        start, cpu0 = time.perf_counter(), cpu_seconds(p.proc.pid)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu = (cpu_seconds(p.proc.pid) - cpu0) / n
        return n / (time.perf_counter() - start), lats, bad[0], cpu


def claims_row(backend: str, args: argparse.Namespace, tmp: Path) -> str:
    bare = bare_rate(backend, args.claims, tmp, args.pg)
    rate, lats, bad, cpu = http_claims(backend, args.claims, tmp, args.pg, args.clients)
    return (
        f"| {backend} | {bare:,.0f} | {rate:,.0f} | {pct(lats, 0.5):.1f} "
        f"| {pct(lats, 0.99):.1f} | {rate / bare:.0%} | {bad} | {cpu * 1000:.2f} ms |"
    )


# ---------------------------------------------------------------------- assignment


def fill_active(store: Any, count: int) -> None:
    """``count`` active tasks none of which is ready (pending, in progress, in review)."""
    from mcp_orch.domain.model import Priority, Status, Task, format_time

    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    kinds = (Status.PENDING, Status.IN_PROGRESS, Status.REVIEW)
    with store.transaction() as tx:
        for n in range(count):
            status = kinds[n % 3]
            when = format_time(start + timedelta(seconds=n))
            tx.save(
                Task(
                    id=f"T-{n:08d}",
                    title=f"active task {n}",
                    status=status,
                    priority=Priority(f"P{n % 3}"),
                    agent="filler" if status is Status.IN_PROGRESS else "",
                    implementer="filler" if status is Status.REVIEW else "",
                    created=when,
                    updated=when,
                    goal="do it",
                ),
                expected=None,
            )


def beating(p: Project, names: list[str], stop: threading.Event, every: float = 2.0) -> None:
    """Heartbeats for ``names`` every ``every`` seconds (spread out), until ``stop``."""
    client = p.conn()
    paths = [f"{API}/agents/{name}/heartbeat" for name in names]
    try:
        while not stop.is_set():
            began = time.monotonic()
            for path in paths:
                if stop.is_set():
                    return
                client.post(path)
                stop.wait(max(0.0, every / len(names) - 0.001))
            stop.wait(max(0.0, every - (time.monotonic() - began)))
    finally:
        client.close()


def assignment_row(backend: str, args: argparse.Namespace, tmp: Path) -> tuple[str, float]:
    names = [f"bot{n:03d}" for n in range(args.agents)]
    with project(backend, tmp, args.pg, names, max_tasks=1000) as p:
        store = p.store()
        fill_active(store, args.active)
        store.close()
        started = p.start()
        stop = threading.Event()
        with p.client() as client:  # every agent alive before the first task arrives
            for name in names:
                client.post(f"{API}/agents/{name}/heartbeat", json={})
        # 4 threads, 25 agents each: one slow answer does not hold up every agent's beat
        beats = [
            threading.Thread(target=beating, args=(p, names[k::4], stop), daemon=True)
            for k in range(4)
        ]
        for beat in beats:
            beat.start()
        tally = load.Tally()
        assert p.proc is not None
        cpu0 = cpu_seconds(p.proc.pid)
        try:
            load.producer(p.base, p.token, args.rate, args.seconds, tally)
        finally:
            cpu = cpu_seconds(p.proc.pid) - cpu0
            stop.set()
            for beat in beats:
                beat.join(10)
        peak = load.peak_rss_mib(p.proc.pid if p.proc else None) or 0.0
        lat = [tally.assigned[t] - s for t, s in tally.sent.items() if t in tally.assigned]
        sent = len(tally.sent)
        achieved = sent / (args.seconds + tally.behind) if sent else 0.0
        unassigned = sent - len(lat)
        row = (
            f"| {backend} | {args.active:,} | {args.agents} | {args.rate:g}/s | {achieved:.0f}/s "
            f"| {pct(lat, 0.5) if lat else 0:.1f} | {pct(lat, 0.99) if lat else 0:.1f} "
            f"| {unassigned} | {len(tally.errors)} | {peak:.0f} MiB | {started:.1f} s "
            f"| {p.files_current:.1f} s | {cpu / max(1, sent) * 1000:.1f} ms |"
        )
        return row, peak


# ---------------------------------------------------------------------- reassignment


def reassignment_row(backend: str, args: argparse.Namespace, tmp: Path) -> str:
    """Each dying agent gets one task pushed, then its heartbeats stop; the survivor
    (registered through the API once they hold theirs, then beating) gets the tasks.
    Latency from each dying agent's last heartbeat."""
    dying = [f"dies{n}" for n in range(args.deaths)]
    with project(backend, tmp, args.pg, dying, max_tasks=100) as p:
        p.start()
        stop = threading.Event()
        with p.client() as client:
            held: dict[str, str] = {}
            for name in dying:
                client.post(f"{API}/agents/{name}/heartbeat", json={})
                task = {"title": f"for {name}", "goal": "g", "acceptance_criteria": ["c"]}
                made = client.post(f"{API}/tasks", json={"task": task, "agent": "planner"})
                answer = made.json()
                if answer.get("assigned_agent") != name:
                    raise SystemExit(f"reassignment set-up: {answer}")
                held[name] = answer["task_id"]
            survivor = {"role": "implementer", "capabilities": ["backend"], "max_tasks": 100}
            client.post(f"{API}/agents/survivor", json=survivor).raise_for_status()
            client.post(f"{API}/agents/survivor/heartbeat", json={})
            beat = threading.Thread(target=beating, args=(p, ["survivor"], stop), daemon=True)
            beat.start()
            last: dict[str, float] = {}
            for name in dying:  # the last heartbeat of each
                client.post(f"{API}/agents/{name}/heartbeat", json={})
                last[name] = time.monotonic()
            try:
                samples = moved(client, held, last, args.reassign_timeout)
            finally:
                stop.set()
                beat.join(10)
        got = list(samples.values())
        return (
            f"| {backend} | {len(dying)} | {statistics.median(got) if got else 0:.2f} s "
            f"| {max(got) if got else 0:.2f} s | {len(dying) - len(got)} |"
        )


def moved(
    client: httpx.Client, held: dict[str, str], last: dict[str, float], timeout: float
) -> dict[str, float]:
    """Seconds from each agent's ``last`` heartbeat until its task is the survivor's (polled
    every 50 ms); an agent whose task did not move within ``timeout`` is left out."""
    got: dict[str, float] = {}
    began = time.monotonic()
    while len(got) < len(held) and time.monotonic() - began < timeout:
        for name, tid in held.items():
            if name not in got:
                shown = client.get(f"{API}/tasks/{tid}").json()
                if shown.get("assigned_agent") == "survivor":
                    got[name] = time.monotonic() - last[name]
        time.sleep(0.05)
    return got


# ---------------------------------------------------------------------- per-request overhead


def hammer(p: Project, method: str, path: str, clients: int, seconds: float) -> str:
    """``method path`` from ``clients`` threads for ``seconds``: requests/s, p50 / p99 ms and
    the server's CPU time per request."""
    lats: list[float] = []
    lock = threading.Lock()
    until = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        client = p.conn()
        body = None if method == "GET" else b"{}"
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            status, text = client.request(method, path, body)
            mine.append(time.perf_counter() - t0)
            if status >= 400:
                raise RuntimeError(f"{method} {path}: {status} {text[:200]!r}")
        client.close()
        with lock:
            lats.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    assert p.proc is not None
    start, cpu0 = time.perf_counter(), cpu_seconds(p.proc.pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = len(lats) / (time.perf_counter() - start)
    cpu = (cpu_seconds(p.proc.pid) - cpu0) / max(1, len(lats)) * 1000
    return f"{rate:,.0f}/s, {pct(lats, 0.5):.1f} / {pct(lats, 0.99):.1f}, {cpu:.2f} ms CPU"


def overhead_row(backend: str, args: argparse.Namespace, tmp: Path) -> str:
    """Cheap routes with ``args.clients`` client threads for ``args.seconds`` each:
    ``/healthz`` (no token, no store), ``GET .../agents/{name}`` (a token and one read) and a
    heartbeat (a token, a JSON body, one write)."""
    with project(backend, tmp, args.pg, ["cursor"]) as p:
        p.start()
        cells = [
            hammer(p, method, path, args.clients, args.seconds)
            for method, path in (
                ("GET", "/healthz"),
                ("GET", f"{API}/agents/cursor"),
                ("POST", f"{API}/agents/cursor/heartbeat"),
            )
        ]
        return f"| {backend} | {' | '.join(cells)} |"


# ---------------------------------------------------------------------- idle


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def syscalls(pid: int) -> int:
    """The process's read and write syscalls so far (SQLite's queries are file reads)."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines() if line)
    return int(io["syscr"]) + int(io["syscw"])


def pg_xacts(pg: str, url: str) -> int:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def idle_row(backend: str, args: argparse.Namespace, tmp: Path, peak: float) -> str:
    with project(backend, tmp, args.pg, ["cursor"]) as p:
        starts = []
        for _ in range(args.starts):
            starts.append(p.start())
            p.stop()
        p.start()
        assert p.proc is not None
        pid = p.proc.pid
        time.sleep(1.0)  # past the start-up's own work (migrations checked, board imported)
        cpu0, io0 = cpu_seconds(pid), syscalls(pid)
        db0 = pg_xacts(args.pg, p.url) if backend == "postgres" else 0
        time.sleep(args.idle)
        cpu = (cpu_seconds(pid) - cpu0) / args.idle
        io = syscalls(pid) - io0
        db = (pg_xacts(args.pg, p.url) - db0) if backend == "postgres" else 0
        rss = Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]
        work = f"{db} transactions" if backend == "postgres" else f"{io} read/write syscalls"
        return (
            f"| {backend} | {statistics.median(starts) * 1000:.0f} ms "
            f"({', '.join(f'{s * 1000:.0f}' for s in starts)}) | {cpu:.2%} "
            f"| {work} in {args.idle:g} s | {int(rss) / 1024:.0f} MiB | {peak:.0f} MiB |"
        )


# ---------------------------------------------------------------------- main


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--active", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--deaths", type=int, default=3)
    parser.add_argument("--reassign-timeout", type=float, default=30.0)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--only", default="claims,assign,reassign,idle")
    parser.add_argument(
        "--clients", type=int, default=CLIENTS, help="client threads of claims and overhead"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    if args.quick:
        args.claims, args.active, args.agents, args.rate = 100, 200, 5, 20.0
        args.seconds, args.deaths, args.starts, args.idle = 2.0, 1, 2, 2.0
    args.backends = [b for b in args.backends.split(",") if b]
    args.only = set(args.only.split(","))
    return args


def table(title: str, head: str, rows: Iterable[Callable[[], str]]) -> None:
    """Print the table's head, then each row as soon as it is measured (a row that fails
    says why, and the others still run)."""
    cols = head.count("|") - 1
    print(f"\n**{title}**\n\n{head}\n|{' --- |' * cols}", flush=True)
    for row in rows:
        try:
            print(row(), flush=True)
        except (RuntimeError, SystemExit, httpx.HTTPError, OSError) as exc:
            print(f"| failed: {type(exc).__name__}: {exc} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    peaks = {b: 0.0 for b in args.backends}  # the assignment run's, for the idle table

    def assigned(backend: str, tmp: Path) -> str:
        row, peaks[backend] = assignment_row(backend, args, tmp)
        return row

    with tempfile.TemporaryDirectory(prefix="orch-bench-serve-") as name:
        tmp = Path(name)

        def each(fn: Callable[[str, Any, Path], str]) -> list[Callable[[], str]]:
            return [functools.partial(fn, b, args, tmp) for b in args.backends]

        if "claims" in args.only:
            table(
                f"HTTP claims ({args.claims} per backend, {args.clients} clients)",
                "| backend | bare SQL claims/s | HTTP claims/s | p50 ms | p99 ms | ratio "
                "| refused | server CPU per claim |",
                each(claims_row),
            )
        if "overhead" in args.only:  # not in the default set: the README's tables lack it
            table(
                f"Per-request overhead ({args.clients} clients, {args.seconds:g} s each; "
                "requests/s, p50 / p99 ms, the server's CPU per request)",
                "| backend | GET /healthz | GET agents/{name} | POST agents/{name}/heartbeat |",
                each(overhead_row),
            )
        if "assign" in args.only:
            table(
                f"Assignment latency (POST /tasks -> pushed, {args.seconds:g} s open loop)",
                "| backend | active tasks | agents | rate asked | rate sent | p50 ms | p99 ms "
                "| unassigned | errors | peak RSS | first start (/healthz) | files current "
                "| server CPU per POST |",
                [functools.partial(assigned, b, tmp) for b in args.backends],
            )
        if "reassign" in args.only:
            table(
                "Reassignment after an agent dies (from its last heartbeat, default settings)",
                "| backend | samples | median | max | not moved |",
                each(reassignment_row),
            )
        if "idle" in args.only:
            table(
                f"Start-up and idle ({args.starts} starts, {args.idle:g} s idle)",
                "| backend | /healthz after start (median; each) | idle CPU | database work "
                "idle | RSS idle | peak RSS (assignment run) |",
                [functools.partial(idle_row, b, args, tmp, peaks[b]) for b in args.backends],
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
