#!/usr/bin/env python3
"""Benchmark the orchestrator's assignment in-process: no HTTP, no processes, one store.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_scheduler.py [--tasks 10000] [--agents 100] [--runs 200]
                                                   [--store memory|sqlite:///orch.db|postgresql://...]
                                                   [--schema NAME]

What it does:

1. Fills a store with ``--tasks`` active tasks (a third ready, the rest pending, in progress,
   in review; P0-P2, oldest first) straight through the store's transactions, and registers
   ``--agents`` implementers (``max_tasks`` 3, capabilities backend/frontend) and 5 reviewers,
   all alive (one heartbeat each) and all full, as a board under load is.
2. ``assign_task`` latency (a task becomes ready -> assigned to a free agent): each run frees
   one agent (its task is submitted), creates a new ready task through the service and times
   ``Orchestrator.assign_task`` on it; p50/p95/p99/max over ``--runs``.
3. ``submit_task`` latency: the same, but the whole ``POST /api/orchestrator/tasks`` path in
   process (create, prep, assign).
4. One ``assign_ready`` pass over the whole board and one ``sweep`` with nothing expired.
5. ``heartbeat`` latency (an agent holding 3 leases names them), ``assign_ready`` with one
   free agent (the pass that gives it one task), and an HTTP-style claim: ``step(ID,
   "claim")`` by an agent not registered yet (a new agent per claim, as bench_claims.py's
   service path and bench_serve's claims do; roles not enforced), which grows the registry
   by ``--claims`` agents.

The clock is the system's (the leases are 6 s long and nothing expires during a run). Unset
``PYTHONDONTWRITEBYTECODE`` is not needed here: everything runs in one process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from mcp_orch.config import Config
from mcp_orch.domain.agents import Agent
from mcp_orch.domain.model import Priority, Status, Task, format_time
from mcp_orch.scheduler import Orchestrator, TaskInput
from mcp_orch.scheduler.base import coord
from mcp_orch.service.clock import Clock
from mcp_orch.store import TaskStore

STATUSES = (Status.READY, Status.PENDING, Status.IN_PROGRESS, Status.REVIEW)


def open_store(url: str, tmp: Path, schema: str | None, sync: str = "FULL") -> TaskStore:
    if url.startswith("sqlite:///") and sync != "FULL":
        from mcp_orch.store.factory import sqlite_path
        from mcp_orch.store.sqlite import SqliteStore

        return SqliteStore(sqlite_path(url, str(tmp / ".mcp")), synchronous=sync)
    if url.startswith("postgres") and schema:
        from mcp_orch.store.postgres import PostgresStore

        return PostgresStore(url, schema=schema)  # the schema must exist, and be empty
    if url == "memory":
        from mcp_orch.store.memory import MemoryStore

        return MemoryStore()
    from mcp_orch.store.factory import open_store as factory

    return factory(url, str(tmp / ".mcp"))  # a relative sqlite path lands beside it


def fill(store: TaskStore, count: int) -> None:
    now = format_time(Clock().now())
    with store.transaction() as tx:
        for n in range(count):
            status = STATUSES[n % 3 if n % 3 else 0] if n % 7 else Status.REVIEW
            tx.save(
                Task(
                    id=f"T-{n:08d}",
                    title=f"task {n}",
                    status=status,
                    priority=Priority(f"P{n % 3}"),
                    agent="filler" if status is Status.IN_PROGRESS else "",
                    implementer="filler" if status is Status.REVIEW else "",
                    created=now,
                    updated=now,
                    goal="do it",
                ),
                expected=None,
            )


def quantiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {q[49]:.2f} ms  p95 {q[94]:.2f} ms  p99 {q[98]:.2f} ms  max {ms[-1]:.2f} ms"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--store", default="memory")
    parser.add_argument("--schema", help="PostgreSQL: an empty schema to work in")
    parser.add_argument("--claims", type=int, default=1000, help="claims by new agents")
    parser.add_argument(
        "--sync",
        default="FULL",
        help="SQLite's synchronous (FULL, as orch serve runs it; NORMAL: commits do not wait "
        "for the disk, to see the code's cost apart from a busy disk's fsync)",
    )
    args = parser.parse_args()
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    store = open_store(args.store, tmp, args.schema, args.sync)
    roles = {"planner": ("chatgpt",), "implementer": (), "reviewer": ()}
    orch = Orchestrator(store, Config(roles=roles), Clock())
    orch.wake = lambda: None  # the serve process's assigner loop takes the global passes
    t = timed(lambda: fill(store, args.tasks))
    print(f"store {args.store}: {args.tasks} tasks written in {t:.1f} s")
    if args.store.startswith("postgres"):
        with store.transaction() as tx:  # the planner's statistics, as autovacuum would
            tx._x("ANALYZE tasks")  # type: ignore[attr-defined]  # have them by now
    names = [f"bot{n:03d}" for n in range(args.agents)]
    for name in names:
        orch.add_agent(Agent(name=name, role="implementer", capabilities=("backend",), max_tasks=3))
    for n in range(5):
        orch.add_agent(Agent(name=f"rev{n}", role="reviewer"))
    for name in [*names, *(f"rev{n}" for n in range(5))]:
        orch.heartbeat(name)
    print(f"first assign_ready pass (fills every agent): {timed(orch.assign_ready) * 1000:.0f} ms")
    print(f"assign_ready pass, everyone full: {timed(orch.assign_ready) * 1000:.1f} ms")
    print(f"sweep, nothing expired: {timed(orch.sweep) * 1000:.1f} ms")
    samples: list[float] = []
    whole: list[float] = []
    for run in range(args.runs):
        name = names[run % len(names)]
        with store.transaction() as tx:
            held = tx.held_by(name)
        if held:
            orch.step(held[0].id, "submit", agent=name)  # frees a slot
        ready = TaskInput(title=f"new {run}", goal="do it", priority=Priority.P0)
        if run % 2:
            whole.append(timed(lambda r=ready: orch.submit_task(r, actor="chatgpt")))
        else:
            svc = orch.service()
            task = svc.create(ready.title, priority="P0", agent="chatgpt", goal="do it")
            task = svc.prep(task.id, agent="chatgpt")
            samples.append(timed(lambda tid=task.id: orch.assign_task(tid)))
    print(f"assign_task (ready -> assigned), {len(samples)} runs: {quantiles(samples)}")
    print(f"submit_task (create+prep+assign), {len(whole)} runs: {quantiles(whole)}")
    beats: list[float] = []
    for run in range(args.runs):
        name = names[run % len(names)]
        with store.transaction() as tx:
            mine = [(t.id, coord(tx).fence(t.id)) for t in tx.held_by(name)]
        beats.append(timed(lambda n=name, m=mine: orch.heartbeat(n, m)))
    print(f"heartbeat (3 leases named), {len(beats)} runs: {quantiles(beats)}")
    passes: list[float] = []
    for run in range(args.runs):
        name = names[run % len(names)]
        with store.transaction() as tx:
            held = tx.held_by(name)
        if held:
            orch.step(held[0].id, "submit", agent=name)  # one agent with room
        passes.append(timed(orch.assign_ready))
    print(f"assign_ready, one free agent, {len(passes)} runs: {quantiles(passes)}")
    claims = claim_times(store, args.claims)
    print(f"claim by a new agent (registry grows to {claims[1]}), {args.claims} runs: ", end="")
    print(quantiles(claims[0]))
    return 0


def claim_times(store: TaskStore, count: int) -> tuple[list[float], int]:
    """``count`` claims of ready tasks, each by an agent not registered yet (roles not
    enforced), through a second orchestrator on the store (another replica, as it were)."""
    claimers = tuple(f"a{n}" for n in range(count))
    roles = {"planner": ("chatgpt",), "implementer": claimers, "reviewer": ()}
    orch = Orchestrator(store, Config(roles=roles, enforce_roles=False), Clock())
    orch.wake = lambda: None
    with store.transaction() as tx:
        c = coord(tx)
        leased = {x.task_id for x in c.leases()}
        ready = [t.id for t in tx.snapshot().tasks if t.status is Status.READY]
    free = [tid for tid in ready if tid not in leased]
    samples = [
        timed(lambda tid=tid, who=who: orch.step(tid, "claim", agent=who))
        for tid, who in zip(free, claimers, strict=False)
    ]
    with store.transaction() as tx:
        registered = len(coord(tx).agents())
    return samples, registered


if __name__ == "__main__":
    raise SystemExit(main())
