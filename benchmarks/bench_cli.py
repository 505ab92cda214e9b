#!/usr/bin/env python3
"""Benchmark the ``orch`` CLI as whole processes on boards of 100, 1,000 and 10,000 tasks.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_cli.py [--sizes 100,1000,10000] [--runs N] [--backlog]

What it does, per board size:

1. Builds a realistic board in a fresh temporary directory: ``orch init``, then task files
   rendered with ``mcp_orch.board.format.render`` straight into ``.mcp/tasks/<status>/`` (a
   10,000-task board in seconds instead of 10,000 ``orch create`` processes). Tasks are spread
   over every status and priority, about a third have dependencies (some ready tasks are
   blocked by them), bodies have goals, checklists, files, notes, feedback, error context and a
   handoff history (1-4 KB per file, like real ones).
2. Warms the index once (``orch status``), then times the MEDIAN and p90 wall time of
   ``orch status``, ``orch status --json`` (what agents call; compact, as stdout is a file),
   ``orch next --agent cursor``, ``orch claim ID`` (every run claims a
   different ready, unblocked task, as a different agent; only the claim process is timed) and
   ``orch create``, each a whole process of the installed entry point ``<venv>/bin/orch``
   (never the pyenv ``python3`` shim, which adds ~100 ms of bash before Python starts), and
   the peak memory of the child (max RSS from ``os.wait4``).
3. Cold case: each command once with the index (``.mcp/.cache/index-*.marshal``) removed, so
   every task file is read and parsed. (The OS page cache stays warm: dropping it needs root.)
4. Handoff: on a board of the same size with nothing in review, the reviewer waits
   (``orch next --agent codex --wait --timeout 30``); once it is polling, the implementer runs
   ``orch review ID --agent cursor``. Timed from the start of the review process to the exit of
   the waiter; median of ``--handoff-runs`` (the spec allows 30 s; the goal is < 1 s).
5. ``--backlog``: installs Backlog.md from npm (``npm install backlog.md`` in a temp dir), builds
   a board of the same size in its own format (``backlog/tasks/task-N - Title.md`` with YAML
   front matter, as ``backlog task create`` writes them) and times ``backlog task list
   --plain`` side by side, both through the npm entry point (``node_modules/.bin/backlog``, a
   node wrapper) and the native binary it launches.

Bytecode: the environment this project is developed in sets ``PYTHONDONTWRITEBYTECODE=1``. With
it, Python cannot cache compiled modules, so every ``orch`` process would recompile the whole
package from source (tens of ms) and the numbers would measure the compiler, not the CLI. Real
installs (pip, pipx) write ``.pyc`` files, so the script (a) runs ``python -m compileall -q``
once on the installed package directory, with the variable unset, and (b) removes the variable
(and ``ORCH_BOARD``, ``ORCH_AGENT``, ``ORCH_CLOCK``) from the children's environment.

Standard library only (plus the package under test, to render task files). Targets (issue 3):
<= 40 ms per command at 1,000 tasks, <= 150 ms at 10,000, peak RSS <= 40 MiB.
"""

from __future__ import annotations

import argparse
import glob
import marshal
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "src"))  # harmless when the package is installed

from mcp_orch.board.files import slug  # noqa: E402
from mcp_orch.board.format import render  # noqa: E402
from mcp_orch.domain.ids import new_id  # noqa: E402
from mcp_orch.domain.model import (  # noqa: E402
    CheckItem,
    GitContext,
    HistoryEntry,
    Note,
    Priority,
    Status,
    Task,
    format_time,
)

TARGET_MS = {1000: 40.0, 10000: 150.0}
# What is timed, in the tables' order; "status-json" is ``orch status --json``.
COMMANDS = ("status", "status-json", "next", "claim", "create")
LABELS = {
    "status-json": "status --json",
    "next": "next --agent cursor",
    "claim": "claim ID --agent A",
    "create": 'create "T" --priority P1',
}
TARGET_RSS_MIB = 40.0
HANDOFF_TARGET_S = 1.0

# Roughly a board that has been in use for a while: most work done, a healthy ready queue.
STATUS_MIX = (
    (Status.DONE, 0.42),
    (Status.READY, 0.28),
    (Status.PENDING, 0.12),
    (Status.IN_PROGRESS, 0.04),
    (Status.REVIEW, 0.06),
    (Status.FAILED, 0.08),
)
PRIORITY_MIX = ((Priority.P0, 0.1), (Priority.P1, 0.5), (Priority.P2, 0.4))

WORDS = (  # noqa: SIM905
    "add login rate limit cache index parser board agent review handoff token session retry "
    "timeout queue worker migration schema endpoint handler config logging metrics export "
    "import validation error message flaky test fixture database query pagination search "
    "filter sort upload download api client server hook commit branch merge conflict doctor "
    "claim status priority dependency cycle lock journal atomic write rename fsync snapshot"
).split()
FILES = (  # noqa: SIM905
    "src/app/auth.py src/app/api/routes.py src/app/db/models.py src/app/db/migrations/0042.py "
    "src/web/components/Login.tsx src/web/hooks/useSession.ts tests/test_auth.py "
    "tests/test_api.py docs/api.md README.md src/app/cache.py src/app/workers/queue.py"
).split()


# ------------------------------------------------------------------------------- helpers


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "ORCH_BOARD", "ORCH_AGENT", "ORCH_CLOCK"):
        env.pop(name, None)
    return env


ENV = child_env()


class Result:
    __slots__ = ("code", "err", "maxrss_kib", "out", "seconds")

    def __init__(self, seconds: float, maxrss_kib: int, code: int, out: str, err: str) -> None:
        self.seconds = seconds
        self.maxrss_kib = maxrss_kib
        self.code = code
        self.out = out
        self.err = err


# The children are started by this small helper process, not by the benchmark itself: Linux
# carries a process's peak RSS across fork+exec (exec records the old address space's high-water
# mark in the child's rusage), so a child of this benchmark, which holds 10,000 tasks in memory,
# would report the benchmark's RSS instead of its own. A grandchild of a lean process starts from
# a clean slate; the helper's own peak (reported as the floor) is below any Python child's.
SPAWNER = r"""
import marshal, os, sys, time
rd, wr = sys.stdin.buffer, sys.stdout.buffer
def send(obj):
    msg = marshal.dumps(obj)
    wr.write(len(msg).to_bytes(4, "big") + msg)
    wr.flush()
with open("/proc/self/status") as fh:
    send(next((int(l.split()[1]) for l in fh if l.startswith("VmHWM:")), 0))
while True:
    head = rd.read(4)
    if len(head) < 4:
        break
    argv, cwd, env, out, err = marshal.loads(rd.read(int.from_bytes(head, "big")))
    w = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fa = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
          (os.POSIX_SPAWN_OPEN, 1, out, w, 0o600), (os.POSIX_SPAWN_OPEN, 2, err, w, 0o600)]
    os.chdir(cwd)
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=fa)
    _, status, usage = os.wait4(pid, 0)
    send((time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)))
"""


class Spawner:
    """Runs one process at a time for us; wall time from spawn to reaped exit, max RSS (wait4)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", SPAWNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd="/",
        )
        self.tmp = tempfile.mkdtemp(prefix="orch-bench-io-")
        self.floor_kib = self._receive()

    def _receive(self) -> object:
        assert self.proc.stdout is not None
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            raise SystemExit("bench: the spawner helper died")
        return marshal.loads(self.proc.stdout.read(int.from_bytes(head, "big")))

    def run(self, argv: Sequence[str], cwd: str, env: dict[str, str]) -> Result:
        assert self.proc.stdin is not None
        out, err = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "err")
        msg = marshal.dumps((list(argv), cwd, env, out, err))
        self.proc.stdin.write(len(msg).to_bytes(4, "big") + msg)
        self.proc.stdin.flush()
        seconds, maxrss, code = self._receive()  # type: ignore[misc]
        with (
            open(out, encoding="utf-8", errors="replace") as fo,
            open(err, encoding="utf-8", errors="replace") as fe,
        ):
            return Result(seconds, maxrss, code, fo.read(), fe.read())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


SPAWN: Spawner | None = None


def run_timed(argv: Sequence[str], cwd: str, env: dict[str, str] | None = None) -> Result:
    """Run one process (through the spawner); see ``Spawner``."""
    global SPAWN
    if SPAWN is None:
        SPAWN = Spawner()
    return SPAWN.run(argv, cwd, ENV if env is None else env)


def check(res: Result, what: str) -> Result:
    if res.code != 0:
        raise SystemExit(f"bench: {what} failed (exit {res.code}): {res.err.strip()[:500]}")
    return res


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def mib(kib: int) -> float:
    return kib / 1024.0


def fmt_n(n: int) -> str:
    return f"{n:,}"


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def prepare_bytecode(python: str) -> str:
    """Compile the installed package once (the env may forbid writing .pyc; see docstring)."""
    pkg = subprocess.run(
        [python, "-c", "import mcp_orch, os; print(os.path.dirname(mcp_orch.__file__))"],
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", pkg], env=ENV, check=True)
    return pkg


# ------------------------------------------------------------------------------- the board


def _pick(rng: random.Random, mix: Sequence[tuple[object, float]]) -> object:
    x = rng.random()
    for value, share in mix:
        x -= share
        if x < 0:
            return value
    return mix[-1][0]


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize() + "."


def _para(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(_sentence(rng, 6, 16) for _ in range(rng.randint(lo, hi)))


def make_tasks(n: int, seed: int, with_review: bool = True) -> list[Task]:
    """``n`` realistic tasks; dependencies only point at earlier tasks (no cycles)."""
    rng = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    ids: set[str] = set()
    tasks: list[Task] = []
    done_idx: list[int] = []
    open_idx: list[int] = []
    implementers = [f"impl-{k}" for k in range(1, 9)]
    for i in range(n):
        tid = new_id("T", rng.randbytes(5))
        while tid in ids:
            tid = new_id("T", rng.randbytes(5))
        ids.add(tid)
        status = _pick(rng, STATUS_MIX)
        if status is Status.REVIEW and not with_review:
            status = Status.DONE
        prio = _pick(rng, PRIORITY_MIX)
        created_dt = base + timedelta(minutes=i * 37 + rng.randint(0, 30))
        created = format_time(created_dt)
        t = created_dt
        history: list[HistoryEntry] = []

        def step(
            agent: str, op: str, src: str, dst: str, note: str = "", history: list = history
        ) -> None:
            nonlocal t
            t = t + timedelta(minutes=rng.randint(5, 600))
            history.append(HistoryEntry(format_time(t), agent, op, src, dst, note))

        step("chatgpt", "create", "", "pending", "")
        stub = status is Status.PENDING
        deps: tuple[str, ...] = ()
        if i > 10 and rng.random() < 0.33:
            k = rng.randint(1, 3)
            if status is Status.READY and rng.random() < 0.25 and open_idx:
                pool = open_idx  # a ready task blocked by unfinished work
            elif status in (Status.PENDING, Status.READY) or not open_idx:
                pool = done_idx or open_idx
            else:
                pool = done_idx
            if pool:
                deps = tuple(dict.fromkeys(tasks[rng.choice(pool)].id for _ in range(k)))
        agent = implementer = ""
        feedback: list[Note] = []
        errors: list[Note] = []
        escalations: list[Note] = []
        who = rng.choice(implementers)
        if not stub:
            step("chatgpt", "prep", "pending", "ready", "defined")
        if status in (Status.IN_PROGRESS, Status.REVIEW, Status.DONE, Status.FAILED) or (
            status is Status.READY and rng.random() < 0.1
        ):
            step(who, "claim", "ready", "in-progress")
            implementer = who
            if rng.random() < 0.3 or status is Status.READY:
                step(who, "review", "in-progress", "review", _sentence(rng, 4, 10))
                fb_open = status is Status.READY
                feedback.append(
                    Note(
                        key="FB-1",
                        at=format_time(t),
                        author="codex",
                        body=_para(rng, 1, 3),
                        source="review",
                        open=fb_open,
                        resolved_at="" if fb_open else format_time(t + timedelta(hours=2)),
                    )
                )
                step("codex", "feedback", "review", "ready", "changes requested")
                if status is not Status.READY:
                    step(who, "claim", "ready", "in-progress")
            if status in (Status.REVIEW, Status.DONE):
                step(who, "review", "in-progress", "review", _sentence(rng, 4, 10))
            if status is Status.DONE:
                step("codex", "complete", "review", "done", "approved")
            if status is Status.FAILED:
                errors.append(
                    Note("E-1", format_time(t), who, _para(rng, 1, 2) + "\n\n    exit 1", "test")
                )
                step(who, "fail", "in-progress", "failed", _sentence(rng, 3, 8))
            if status is Status.IN_PROGRESS:
                agent = f"agent-{i}"  # held by others: cursor holds nothing
                implementer = agent
        if rng.random() < 0.01 and status not in (Status.DONE, Status.FAILED):
            escalations.append(
                Note("ESC-1", format_time(t), "cursor", _sentence(rng, 6, 14), "manual")
            )
        task = Task(
            id=tid,
            title=_sentence(rng, 3, 8).rstrip("."),
            status=status,  # type: ignore[arg-type]
            priority=prio,  # type: ignore[arg-type]
            agent=agent,
            implementer=implementer,
            depends=deps,
            created=created,
            updated=history[-1].at,
            goal="" if stub and rng.random() < 0.6 else _para(rng, 2, 5),
            acceptance=()
            if stub
            else tuple(
                CheckItem(_sentence(rng, 5, 12), status is Status.DONE)
                for _ in range(rng.randint(3, 7))
            ),
            ready_def=() if stub else (CheckItem("Goal and criteria agreed", True),),
            done_def=() if stub else (CheckItem("Tests pass"), CheckItem("Reviewed by codex")),
            files=() if stub else tuple(rng.sample(FILES, rng.randint(1, 5))),
            notes="" if stub else _para(rng, 1, 4),
            feedback=tuple(feedback),
            errors=tuple(errors),
            escalations=tuple(escalations),
            git=GitContext(branch=f"task/{tid.lower()}" if implementer else ""),
            history=tuple(history),
        )
        tasks.append(task)
        (done_idx if status is Status.DONE else open_idx).append(i)
    return tasks


def build_board(
    orch: str, n: int, seed: int, with_review: bool = True, claimable_at_least: int = 0
) -> tuple[str, list[Task]]:
    """A board of ``n`` tasks; the first seed from ``seed`` on (1,000 apart) whose board has
    ``claimable_at_least`` claimable tasks (a small board can draw too few by chance)."""
    tasks = make_tasks(n, seed, with_review)
    for retry in range(1, 20):
        if len(claimable(tasks)) >= claimable_at_least:
            break
        tasks = make_tasks(n, seed + 1000 * retry, with_review)
    root = tempfile.mkdtemp(prefix=f"orch-bench-{n}-")
    check(run_timed([orch, "init", "--no-detect"], root), "orch init")
    tasks_dir = os.path.join(root, ".mcp", "tasks")
    for task in tasks:
        name = f"{task.id}-{slug(task.title)}.md"
        with open(os.path.join(tasks_dir, task.status.value, name), "w", encoding="utf-8") as fh:
            fh.write(render(task))
    return root, tasks


def allow_implementers(root: str, names: list[str]) -> None:
    """Name the claiming agents as implementers: roles hold, and an unknown agent is refused."""
    path = os.path.join(root, ".mcp", "config.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    listed = "implementer: [cursor, " + ", ".join(names) + "]"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(re.sub(r"implementer: \[[^\]]*\]", listed, text, count=1))


def claimable(tasks: list[Task]) -> list[str]:
    """Ready, unblocked, not escalated, no open feedback: any agent may claim these."""
    by_id = {t.id: t for t in tasks}
    out = []
    for t in tasks:
        if t.status is not Status.READY or t.escalated or t.open_feedback:
            continue
        if all(d in by_id and by_id[d].status is Status.DONE for d in t.depends):
            out.append(t.id)
    return out


def remove_index(root: str) -> None:
    for path in glob.glob(os.path.join(root, ".mcp", ".cache", "index-*")):
        os.unlink(path)


# ------------------------------------------------------------------------------- measuring


class Row:
    def __init__(self, command: str, size: int, results: list[Result]) -> None:
        self.command = command
        self.size = size
        times = [r.seconds * 1000 for r in results]
        self.n = len(results)
        self.median = statistics.median(times)
        self.p90 = p90(times)
        self.rss = max(mib(r.maxrss_kib) for r in results)


def measure_size(orch: str, n: int, runs: int, seed: int) -> tuple[list[Row], list[Row]]:
    t0 = time.perf_counter()
    need = runs + 2
    root, tasks = build_board(orch, n, seed, claimable_at_least=need)
    ready = claimable(tasks)
    counts = {s.value: sum(1 for t in tasks if t.status is s) for s in Status}
    size_kb = (
        sum(os.path.getsize(p) for p in glob.glob(os.path.join(root, ".mcp/tasks/*/*.md"))) / 1024
    )
    log(
        f"[{fmt_n(n)}] board built in {time.perf_counter() - t0:.1f}s at {root}: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f"; {sum(1 for t in tasks if t.depends)} with deps; {len(ready)} claimable; "
        f"{size_kb / n:.1f} KiB/task"
    )
    if len(ready) < need:
        raise SystemExit(f"bench: only {len(ready)} claimable tasks at {n}, need {need}")
    rng = random.Random(seed + 1)
    rng.shuffle(ready)
    allow_implementers(root, [f"bench-{i}" for i in range(1, 4 * runs + 16)])

    # Cold: no index; each command once (status first: it also rebuilds the index for the others
    # unless we remove it again, which we do).
    cold: list[Row] = []
    claim_iter = iter(ready)
    counter = [0]

    def argv(command: str) -> list[str]:
        if command == "status":
            return [orch, "status"]
        if command == "status-json":
            return [orch, "status", "--json"]  # what agents call (stdout is a file: compact)
        if command == "next":
            return [orch, "next", "--agent", "cursor"]
        if command == "claim":
            counter[0] += 1
            return [orch, "claim", next(claim_iter), "--agent", f"bench-{counter[0]}"]
        counter[0] += 1
        return [orch, "create", f"Benchmark task {counter[0]}", "--priority", "P1"]

    commands = COMMANDS
    for command in commands:
        remove_index(root)
        res = check(run_timed(argv(command), root), f"cold {command} at {n}")
        cold.append(Row(command, n, [res]))
    # Warm the index (and the config cache) once.
    check(run_timed([orch, "status"], root), "warm-up status")
    check(run_timed([orch, "next", "--agent", "cursor"], root), "warm-up next")
    warm: list[Row] = []
    for command in commands:
        results = [check(run_timed(argv(command), root), f"{command} at {n}") for _ in range(runs)]
        if command == "next":
            first = results[0].out.split(":", 1)[0]
            if first not in ("claim", "fix"):
                log(f"[{fmt_n(n)}] note: next --agent cursor answered {first!r}")
        warm.append(Row(command, n, results))
        log(
            f"[{fmt_n(n)}] {command:<11} median {warm[-1].median:7.1f} ms  p90 "
            f"{warm[-1].p90:7.1f} ms  rss {warm[-1].rss:5.1f} MiB   "
            f"(cold {cold[len(warm) - 1].median:7.1f} ms)"
        )
    shutil.rmtree(root, ignore_errors=True)
    return warm, cold


def measure_handoff(orch: str, n: int, trials: int, seed: int, settle: float) -> list[float]:
    """Seconds from the start of ``orch review`` to the exit of the waiting reviewer."""
    root, tasks = build_board(orch, n, seed, with_review=False, claimable_at_least=trials)
    ready = claimable(tasks)
    random.Random(seed + 2).shuffle(ready)
    check(run_timed([orch, "status"], root), "warm-up status")
    out: list[float] = []
    for i in range(trials):
        tid = ready[i]
        check(run_timed([orch, "claim", tid, "--agent", "cursor"], root), "handoff claim")
        waiter = subprocess.Popen(
            [orch, "next", "--agent", "codex", "--wait", "--timeout", "30"],
            cwd=root,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        time.sleep(settle)  # let it start, find nothing to review and begin polling
        if waiter.poll() is not None:
            raise SystemExit(
                f"bench: the waiting reviewer returned at once: {waiter.stdout.read()!r}"  # type: ignore[union-attr]
            )
        start = time.perf_counter()
        reviewer = subprocess.Popen(
            [orch, "submit", tid, "--agent", "cursor", "--note", "done"],
            cwd=root,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        os.waitpid(waiter.pid, 0)
        elapsed = time.perf_counter() - start
        waiter.returncode = 0
        said = waiter.stdout.read().decode()  # type: ignore[union-attr]
        if reviewer.wait() != 0:
            raise SystemExit(f"bench: orch review failed: {reviewer.stderr.read()!r}")  # type: ignore[union-attr]
        if not said.startswith("review:") or tid not in said:
            raise SystemExit(f"bench: the reviewer was not offered {tid}: {said!r}")
        out.append(elapsed)
        check(run_timed([orch, "complete", tid, "--agent", "codex"], root), "handoff complete")
    shutil.rmtree(root, ignore_errors=True)
    return out


# ------------------------------------------------------------------------------- Backlog.md

BACKLOG_STATUS = {
    Status.PENDING: "To Do",
    Status.READY: "To Do",
    Status.IN_PROGRESS: "In Progress",
    Status.REVIEW: "In Progress",
    Status.DONE: "Done",
    Status.FAILED: "Done",
}
BACKLOG_PRIORITY = {Priority.P0: "high", Priority.P1: "medium", Priority.P2: "low"}


def install_backlog() -> tuple[str, str, str] | str:
    """(npm entry point, native binary, version), or why it could not be installed."""
    if not shutil.which("npm"):
        return "npm is not on PATH"
    where = tempfile.mkdtemp(prefix="backlog-md-")
    try:
        proc = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "backlog.md"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"npm install backlog.md failed: {exc}"
    if proc.returncode != 0:
        return f"npm install backlog.md failed: {proc.stderr.strip()[-300:]}"
    entry = os.path.join(where, "node_modules", ".bin", "backlog")
    natives = glob.glob(os.path.join(where, "node_modules", "backlog.md-*", "backlog"))
    native = natives[0] if natives else entry
    version = subprocess.run([entry, "--version"], capture_output=True, text=True).stdout.strip()
    if not version:
        return "backlog was installed but does not run"
    return entry, native, version


def _yaml_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def backlog_file(num: int, task: Task, num_of: dict[str, int]) -> tuple[str, str]:
    """A task file as ``backlog task create`` writes it (front matter + marked sections)."""
    title = task.title
    lines = [
        "---",
        f"id: TASK-{num}",
        f"title: {_yaml_str(title)}",
        f"status: {BACKLOG_STATUS[task.status]}",
    ]
    lines += ["assignee:", f"  - '@{task.agent}'"] if task.agent else ["assignee: []"]
    created = task.created[:16].replace("T", " ")
    lines.append(f"created_date: '{created}'")
    lines.append("labels:\n  - backend" if num % 3 == 0 else "labels: []")
    if task.depends:
        lines.append("dependencies:")
        lines += [f"  - TASK-{num_of[d]}" for d in task.depends]
    else:
        lines.append("dependencies: []")
    lines.append(f"priority: {BACKLOG_PRIORITY[task.priority]}")
    lines.append(f"ordinal: {num * 1000}")
    lines += ["---", "", "## Description", "", "<!-- SECTION:DESCRIPTION:BEGIN -->"]
    lines += [task.goal or title, "<!-- SECTION:DESCRIPTION:END -->", ""]
    if task.acceptance:
        lines += ["## Acceptance Criteria", "<!-- AC:BEGIN -->"]
        lines += [
            f"- [{'x' if c.done else ' '}] #{k} {c.text}" for k, c in enumerate(task.acceptance, 1)
        ]
        lines += ["<!-- AC:END -->", ""]
    if task.notes:
        lines += ["## Implementation Notes", "", "<!-- SECTION:NOTES:BEGIN -->", task.notes]
        lines += ["<!-- SECTION:NOTES:END -->", ""]
    safe = "".join(ch if ch.isalnum() else "-" for ch in title)[:60].strip("-")
    return f"task-{num} - {safe}.md", "\n".join(lines) + "\n"


def measure_backlog(
    entry: str, native: str, n: int, runs: int, seed: int
) -> tuple[list[Result], list[Result], int]:
    root = tempfile.mkdtemp(prefix=f"backlog-bench-{n}-")
    subprocess.run(
        [native, "init", "bench", "--defaults", "--no-git", "--integration-mode", "none"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    tasks = make_tasks(n, seed)
    num_of = {t.id: k for k, t in enumerate(tasks, 1)}
    folder = os.path.join(root, "backlog", "tasks")
    os.makedirs(folder, exist_ok=True)
    for k, task in enumerate(tasks, 1):
        name, text = backlog_file(k, task, num_of)
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    env = dict(os.environ)
    first = run_timed([native, "task", "list", "--plain"], root, env)  # warm-up
    if first.code != 0:
        raise RuntimeError(first.err.strip()[:300])
    listed = sum(1 for ln in first.out.splitlines() if "TASK-" in ln)
    t_entry = [run_timed([entry, "task", "list", "--plain"], root, env) for _ in range(runs)]
    t_native = [run_timed([native, "task", "list", "--plain"], root, env) for _ in range(runs)]
    for res in (*t_entry, *t_native):
        check(res, f"backlog task list at {n}")
    shutil.rmtree(root, ignore_errors=True)
    return t_entry, t_native, listed


# ------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="board sizes (comma-separated)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command and size")
    parser.add_argument(
        "--runs-large", type=int, default=10, help="runs per command at 10,000+ tasks"
    )
    parser.add_argument("--handoff-runs", type=int, default=10, help="handoffs per size")
    parser.add_argument(
        "--handoff-sizes", default="", help="sizes for the handoff (default: all --sizes)"
    )
    parser.add_argument("--backlog", action="store_true", help="time Backlog.md side by side")
    parser.add_argument("--backlog-runs", type=int, default=5, help="Backlog.md runs per size")
    parser.add_argument(
        "--orch",
        default=os.path.join(os.path.dirname(sys.executable), "orch"),
        help="the orch executable (default: the one next to this Python)",
    )
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    handoff_sizes = (
        [int(s) for s in args.handoff_sizes.split(",") if s.strip()]
        if args.handoff_sizes
        else sizes
    )
    orch = os.path.abspath(args.orch)
    if not os.access(orch, os.X_OK):
        raise SystemExit(f"bench: no orch executable at {orch} (pip install -e . first?)")
    python = os.path.join(os.path.dirname(orch), "python")
    began = time.perf_counter()
    load0 = os.getloadavg()[0]
    pkg = prepare_bytecode(python if os.path.exists(python) else sys.executable)
    log(f"compiled {pkg}; timing {orch}")

    warm: list[Row] = []
    cold: list[Row] = []
    for n in sizes:
        runs = args.runs_large if n >= 10000 else args.runs
        w, c = measure_size(orch, n, runs, args.seed + n)
        warm += w
        cold += c

    handoffs: dict[int, list[float]] = {}
    for n in handoff_sizes:
        next_ms = next((r.median for r in warm if r.command == "next" and r.size == n), 100.0)
        settle = max(0.4, 3 * next_ms / 1000)
        trials = args.handoff_runs
        handoffs[n] = measure_handoff(orch, n, trials, args.seed + n + 7, settle)
        log(f"[{fmt_n(n)}] handoff median {statistics.median(handoffs[n]) * 1000:.0f} ms")

    backlog_rows: list[tuple[int, list[Result], list[Result], int]] = []
    backlog_note = ""
    got: tuple[str, str, str] | str = ""
    if args.backlog:
        got = install_backlog()
        if isinstance(got, str):
            backlog_note = f"Backlog.md not measured: {got}"
        else:
            entry, native, version = got
            backlog_note = f"Backlog.md {version} (npm install backlog.md)"
            for n in sizes:
                runs = max(3, args.backlog_runs if n < 10000 else min(args.backlog_runs, 3))
                try:
                    t_entry, t_native, listed = measure_backlog(
                        entry, native, n, runs, args.seed + n
                    )
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    backlog_note += f"; failed at {n}: {exc}"
                    break
                backlog_rows.append((n, t_entry, t_native, listed))
                log(
                    f"[{fmt_n(n)}] backlog task list --plain median "
                    f"{statistics.median(r.seconds for r in t_entry) * 1000:.0f} ms "
                    f"({listed} listed)"
                )

    # ---------------------------------------------------------------- report
    out: list[str] = []
    uname = os.uname()
    busy = load0 > 1.0  # the benchmark itself adds about 1
    out.append(
        f"Environment: Python {sys.version.split()[0]}, {uname.sysname} {uname.release}, "
        f"{os.cpu_count()} CPUs; `{os.path.relpath(orch, REPO)}`; bytecode compiled; "
        f"RSS measured per child (floor {mib(SPAWN.floor_kib) if SPAWN else 0:.1f} MiB); "
        f"warm index unless stated. Runs: {args.runs} per cell "
        f"({args.runs_large} at 10,000). Load average at start/end: {load0:.2f}/"
        f"{os.getloadavg()[0]:.2f}"
        + (" (a busy machine: numbers are inflated)" if busy else "")
        + "."
    )
    out.append("")
    out.append("#### Warm index (median / p90 wall time of the whole process, peak RSS)")
    out.append("")
    out.append("| command | tasks | median ms | p90 ms | peak RSS MiB | target | met |")
    out.append("|---|---:|---:|---:|---:|---|:-:|")
    missed: list[str] = []
    for command in COMMANDS:
        for row in (r for r in warm if r.command == command):
            target = TARGET_MS.get(row.size)
            t_text = (
                f"<= {target:.0f} ms, <= {TARGET_RSS_MIB:.0f} MiB"
                if target
                else (f"<= {TARGET_RSS_MIB:.0f} MiB")
            )
            ok = row.rss <= TARGET_RSS_MIB and (target is None or row.median <= target)
            if not ok:
                missed.append(f"{command} at {fmt_n(row.size)}")
            label = LABELS.get(command, command)
            out.append(
                f"| `orch {label}` | {fmt_n(row.size)} | {row.median:.1f} | {row.p90:.1f} | "
                f"{row.rss:.1f} | {t_text} | {'yes' if ok else '**no**'} |"
            )
    out.append("")
    out.append("#### Cold (index removed; one run each)")
    out.append("")
    out.append("| command | " + " | ".join(f"{fmt_n(n)} tasks" for n in sizes) + " |")
    out.append("|---|" + "---:|" * len(sizes))
    for command in COMMANDS:
        cells = []
        for n in sizes:
            row = next(r for r in cold if r.command == command and r.size == n)
            cells.append(f"{row.median:.0f} ms / {row.rss:.1f} MiB")
        out.append(f"| `orch {LABELS.get(command, command)}` | " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "#### Handoff: `orch review` start -> waiting `orch next --agent codex --wait` exits"
    )
    out.append("")
    out.append("| tasks | runs | median ms | p90 ms | max ms | target < 1 s (spec: 30 s) |")
    out.append("|---:|---:|---:|---:|---:|:-:|")
    for n, values in handoffs.items():
        ms = [v * 1000 for v in values]
        ok = statistics.median(ms) < HANDOFF_TARGET_S * 1000
        if not ok:
            missed.append(f"handoff at {fmt_n(n)}")
        out.append(
            f"| {fmt_n(n)} | {len(ms)} | {statistics.median(ms):.0f} | {p90(ms):.0f} | "
            f"{max(ms):.0f} | {'yes' if ok else '**no**'} |"
        )
    if args.backlog:
        out.append("")
        out.append(f"#### Side by side: {backlog_note}")
        out.append("")
        if backlog_rows:
            out.append(
                "| tasks | `backlog task list --plain` (npm entry) median ms | "
                "native binary median ms | its peak RSS MiB | `orch status` median ms | "
                "ratio (npm entry / orch) |"
            )
            out.append("|---:|---:|---:|---:|---:|---:|")
            for n, t_entry, t_native, _listed in backlog_rows:
                orch_ms = next(r.median for r in warm if r.command == "status" and r.size == n)
                e = statistics.median(r.seconds for r in t_entry) * 1000
                nat = statistics.median(r.seconds for r in t_native) * 1000
                rss = max(mib(r.maxrss_kib) for r in t_native)
                out.append(
                    f"| {fmt_n(n)} | {e:.0f} | {nat:.0f} | {rss:.0f} | "
                    f"{orch_ms:.1f} | {e / orch_ms:.0f}x |"
                )
            out.append("")
            out.append(
                "Backlog.md boards: the same tasks in its own format (front matter + marked "
                "sections), `--no-git` (filesystem only, its fastest mode); it lists all "
                "tasks including done ones, `orch status` lists the active ones."
            )
    out.append("")
    out.append(
        "Targets missed: "
        + (", ".join(missed) if missed else "none")
        + f". Total benchmark time {time.perf_counter() - began:.0f} s."
    )
    print("\n".join(out))
    if SPAWN is not None:
        SPAWN.close()
    if args.backlog and not isinstance(got, str):
        shutil.rmtree(got[0].rsplit("/node_modules/", 1)[0], ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
