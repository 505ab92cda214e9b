#!/usr/bin/env python3
"""Claims per second: a bare database loop vs the SQL stores vs the service, in one run.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 for the postgres rows)::

    .venv/bin/python benchmarks/bench_claims.py [--tasks 2000] [--runs 3]
        [--backends sqlite,postgres] [--pg postgresql://postgres@127.0.0.1:5432/test]

Every path claims the same number of ready tasks, one at a time, on a fresh database of the
store's own schema (SQLite: a temp file, WAL, ``synchronous=FULL``; PostgreSQL: a schema of its
own, dropped afterwards), most urgent first:

- ``bare``: plain SQL in a loop, what the database can do: one transaction per claim that
  marks the most urgent ready task in progress with its holder (``UPDATE ... WHERE id =
  (SELECT ... LIMIT 1) AND status = 'ready' RETURNING``; PostgreSQL adds ``FOR UPDATE SKIP
  LOCKED``), bumps its fence and appends an event: the design notes' D2 loop.
- ``store``: the same claim through the store's ``Tx`` (read the task, lease it, save the
  rendered task with a compare-and-swap on its revision, record the event).
- ``service``: ``Service.claim(ID, agent=...)`` on the store (roles, transitions, dependency
  and capacity checks, the history entry), when the service runs on seam v2 transactions.

Printed: claims/s (median of ``--runs``), p50 and p99 latency of single claims over all runs,
and each path's throughput as a ratio of the bare loop measured in the same run.

``--per-call``: instead, the store's own cost per call inside one open transaction (median
of 7 rounds, microseconds of wall time and of this process's CPU, which leaves out waiting
for the disk and the server): ``agents()`` with 100 and 1,000 registered agents, ``agent()``,
``leases()`` with 100 leases, ``get()`` of a task, ``assignable(50)`` and ``lease_counts()``
on ``--tasks`` tasks, and one claim through the store's ``Tx`` (a transaction of its own).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from mcp_orch.domain.events import Event
from mcp_orch.domain.model import Priority, Status, Task, format_time

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOW = "2026-12-01T10:00:00.000Z"
LATER = "2026-12-01T10:00:06.000Z"
AGENTS = ("cursor", "claude", "copilot")


def tasks(n: int) -> list[Task]:
    out = []
    for i in range(n):
        out.append(
            Task(
                id=f"T-{i:08d}",
                title=f"benchmark task {i}",
                status=Status.READY,
                priority=(Priority.P0, Priority.P1, Priority.P2)[i % 3],
                created=format_time(START + timedelta(seconds=i)),
                updated=NOW,
                goal="Claim me as fast as you can.",
            )
        )
    return sorted(out, key=lambda t: (t.priority.rank, t.created, t.id))


def seed(store: Any, n: int) -> list[str]:
    batch = tasks(n)
    with store.transaction() as tx:
        for task in batch:
            tx.save(task, expected=None)
    return [t.id for t in batch]


def timed(claims: int, claim: Callable[[int], None]) -> tuple[float, list[float]]:
    lat: list[float] = []
    start = time.perf_counter()
    for i in range(claims):
        t0 = time.perf_counter()
        claim(i)
        lat.append(time.perf_counter() - t0)
    return claims / (time.perf_counter() - start), lat


# ---------------------------------------------------------------------- the three paths


def bare_sqlite(store: Any) -> Callable[[int], None]:
    import sqlite3

    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")

    def claim(i: int) -> None:
        agent = AGENTS[i % 3]
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "UPDATE tasks SET status = 'in-progress', holder = ? WHERE id = (SELECT id FROM "
            "tasks WHERE status = 'ready' ORDER BY priority, created, id LIMIT 1) "
            "AND status = 'ready' RETURNING id",
            (agent,),
        ).fetchone()
        conn.execute(
            "INSERT INTO fences (task_id, fence) VALUES (?, 1) ON CONFLICT (task_id) "
            "DO UPDATE SET fence = fence + 1",
            (row[0],),
        )
        conn.execute(
            "INSERT INTO events (type, actor, task_id, agent, payload_json, occurred_at) "
            "VALUES ('claim', ?, ?, ?, '{}', ?)",
            (agent, row[0], agent, NOW),
        )
        conn.execute("COMMIT")

    return claim


def bare_postgres(store: Any) -> Callable[[int], None]:
    conn = store.connect()

    def claim(i: int) -> None:
        agent = AGENTS[i % 3]
        with conn.transaction():
            conn.execute(
                "WITH c AS (SELECT id FROM tasks WHERE status = 'ready' "
                "ORDER BY priority, created, id FOR UPDATE SKIP LOCKED LIMIT 1), "
                "u AS (UPDATE tasks t SET status = 'in-progress', holder = %s FROM c "
                "WHERE t.id = c.id RETURNING t.id), "
                "f AS (INSERT INTO fences (task_id, fence) SELECT id, 1 FROM u "
                "ON CONFLICT (task_id) DO UPDATE SET fence = fences.fence + 1) "
                "INSERT INTO events (type, actor, task_id, agent, payload_json) "
                "SELECT 'claim', %s, id, %s, '{}' FROM u",
                (agent, agent, agent),
            )

    return claim


def through_store(store: Any, ids: list[str]) -> Callable[[int], None]:
    def claim(i: int) -> None:
        agent = AGENTS[i % 3]
        with store.transaction() as tx:
            stored = tx.get(ids[i])
            tx.grant(ids[i], agent, LATER, NOW)
            after = stored.task.evolve(status=Status.IN_PROGRESS, agent=agent, implementer=agent)
            tx.save(after, expected=stored.revision)
            tx.record(Event(at=NOW, agent=agent, op="claim", task=ids[i], to_status="in-progress"))

    return claim


def through_service(store: Any, ids: list[str]) -> Callable[[int], None] | None:
    from mcp_orch.config import Config
    from mcp_orch.service import Service

    # A new agent per claim (roles not enforced: each is an implementer), so no agent's held
    # tasks pile up and every claim does the same work.
    service = Service(store, Config(enforce_roles=False))
    try:  # the service on seam v1 (store.transaction() yields nothing) cannot use a SQL store
        service.claim(ids[0], agent="warmup")
    except Exception as exc:
        print(f"  (service path unavailable: {type(exc).__name__}: {exc})", file=sys.stderr)
        return None

    def claim(i: int) -> None:
        service.claim(ids[i + 1], agent=f"agent{i}")

    return claim


# ---------------------------------------------------------------------- stores


def open_store(backend: str, workdir: str, pg_url: str) -> tuple[Any, Callable[[], None]]:
    if backend == "sqlite":
        from mcp_orch.store.sqlite import SqliteStore

        store = SqliteStore(os.path.join(workdir, f"{uuid.uuid4().hex}.db"))
        return store, store.close
    from mcp_orch.store.postgres import PostgresStore

    schema = f"orch_bench_{uuid.uuid4().hex[:10]}"
    store = PostgresStore(pg_url, schema=schema, db_clock=False, max_size=2)

    def drop() -> None:
        store.close()
        conn = store.connect()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()

    return store, drop


def run_path(backend: str, path: str, n: int, workdir: str, pg_url: str) -> Any:
    store, close = open_store(backend, workdir, pg_url)
    try:
        ids = seed(store, n + 1)
        if path == "bare":
            claim = bare_sqlite(store) if backend == "sqlite" else bare_postgres(store)
        elif path == "store":
            claim = through_store(store, ids)
        else:
            made = through_service(store, ids)
            if made is None:
                return None
            claim = made
        return timed(n, claim)
    finally:
        close()


def per_call(backend: str, n: int, workdir: str, pg_url: str) -> None:
    """The store's cost per call (see the module docstring, ``--per-call``)."""
    from mcp_orch.domain.agents import Agent

    store, close = open_store(backend, workdir, pg_url)
    try:
        ids = seed(store, max(n, 200))
        with store.transaction() as tx:
            for i in range(1000):
                tx.put_agent(
                    Agent(
                        name=f"agent{i:04d}",
                        role="implementer",
                        last_seen=NOW,
                        capabilities=("backend", "frontend"),
                        status="available",
                    )
                )
            for i in range(100):
                tx.grant(ids[-1 - i], f"agent{i:04d}", LATER, NOW)

        def each(label: str, call: Callable[[Any], object], reps: int = 200) -> None:
            wall, cpu = [], []
            with store.transaction() as tx:
                if not hasattr(tx, label.split("(")[0]):  # an older store (for a comparison)
                    print(f"| {backend} | {label} | n/a | n/a |")
                    return
            for _ in range(7):
                with store.transaction() as tx:
                    start, used = time.perf_counter(), time.process_time()
                    for _ in range(reps):
                        call(tx)
                    wall.append((time.perf_counter() - start) / reps * 1e6)
                    cpu.append((time.process_time() - used) / reps * 1e6)
            print(
                f"| {backend} | {label} | {statistics.median(wall):,.0f} "
                f"| {statistics.median(cpu):,.0f} |"
            )

        each("agents(), 1,000 agents", lambda tx: tx.agents(), 20)
        each("agent(name)", lambda tx: tx.agent("agent0042"))
        each("leases(), 100 leases", lambda tx: tx.leases())
        each("get(id)", lambda tx: tx.get(ids[7]))
        each(f"assignable(50), {len(ids)} tasks", lambda tx: tx.assignable(50))
        each("lease_counts()", lambda tx: tx.lease_counts())
        with store.transaction() as tx:
            for i in range(100, 1000):
                tx.remove_agent(f"agent{i:04d}")
        each("agents(), 100 agents", lambda tx: tx.agents())
        claim = through_store(store, ids)
        used = time.process_time()
        lat = [timed(1, lambda _, i=i: claim(i))[1][0] for i in range(200)]
        cpu_claim = (time.process_time() - used) / 200 * 1e6
        print(
            f"| {backend} | a claim through the store's Tx (its own transaction) "
            f"| {statistics.median(lat) * 1e6:,.0f} | {cpu_claim:,.0f} |"
        )
    finally:
        close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--per-call", action="store_true", help="the store's cost per call")
    args = parser.parse_args()
    if args.per_call:
        print("| backend | call | µs per call, wall | µs, this process's CPU |")
        print("| --- | --- | ---: | ---: |")
        with tempfile.TemporaryDirectory() as workdir:
            for backend in args.backends.split(","):
                per_call(backend, args.tasks, workdir, args.pg)
        return
    paths = ("bare", "store", "service")
    print(f"{args.tasks} claims per run, {args.runs} runs, paths interleaved per run\n")
    print("| backend | path | claims/s (median) | runs | p50 ms | p99 ms | vs bare |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as workdir:
        for backend in args.backends.split(","):
            rates: dict[str, list[float]] = {p: [] for p in paths}
            lats: dict[str, list[float]] = {p: [] for p in paths}
            for _ in range(args.runs):
                for path in paths:
                    got = run_path(backend, path, args.tasks, workdir, args.pg)
                    if got is not None:
                        rates[path].append(got[0])
                        lats[path].extend(got[1])
            bare = statistics.median(rates["bare"])
            for path in paths:
                if not rates[path]:
                    print(f"| {backend} | {path} | n/a | | | | |")
                    continue
                med = statistics.median(rates[path])
                runs = ", ".join(f"{r:,.0f}" for r in rates[path])
                print(
                    f"| {backend} | {path} | {med:,.0f} | {runs} | {pct(lats[path], 0.5):.3f} "
                    f"| {pct(lats[path], 0.99):.3f} | {med / bare:.2f}x |"
                )


if __name__ == "__main__":
    main()
