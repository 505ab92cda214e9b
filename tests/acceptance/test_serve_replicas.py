"""Two real ``orch serve`` replicas on one PostgreSQL database (issue 10, "Teams outgrow one
machine"): requests spread over both, claims raced from many threads (never a task held
twice, checked in SQL), a ``kill -9`` of one replica under load (no acknowledged task or step
lost, the other goes on), and the board's files written by one replica only, the leader lock
moving to the survivor.

Each replica serves a project directory of its own (two machines' checkouts of one project):
the tokens are the same (copied), the database is shared, the files are the leader's to write.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.serve_support import API, start, stop, wait_healthy
from tests.conftest import ORCH, Orch, clean_env, set_roles

pytestmark = [pytest.mark.server]

PG = "postgresql://postgres@127.0.0.1:5432"
DEVS = tuple(f"dev{n}" for n in range(8))
PLANNER = "chatgpt"
TASKS = 150
AGENTS_YAML = "agents:\n" + "".join(
    f"  - name: {d}\n    role: implementer\n    capabilities: [backend]\n    max_tasks: 1000\n"
    for d in DEVS
)


@dataclass
class Replica:
    project: Path
    base: str = ""
    process: Any = None
    log: Path | None = None

    def ready(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.base}/readyz", timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def task_files(self) -> set[str]:
        found = (self.project / ".mcp" / "tasks").glob("*/*.md")
        return {p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in found}


@pytest.fixture
def database() -> Iterator[str]:
    """A PostgreSQL database of the test's own, dropped (with its sessions) afterwards."""
    import psycopg

    name = f"orch_replicas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def replicas(tmp_path: Path, database: str) -> Iterator[tuple[Replica, Replica, dict[str, str]]]:
    """Replica ``a`` (started first: the files' leader) and ``b``, healthy, with the tokens of
    the planner, the eight developers and a person; both killed or stopped afterwards."""
    a, b = Replica(_project(tmp_path / "a")), Replica(_project(tmp_path / "b"))
    orch = Orch(a.project)
    tokens = {who: str(orch.json("token", "create", "--agent", who)["token"]) for who in DEVS}
    tokens[PLANNER] = str(orch.json("token", "create", "--agent", PLANNER)["token"])
    tokens["admin"] = str(orch.json("token", "create", "--admin")["token"])
    secrets = a.project / ".mcp" / ".secrets"
    shutil.copytree(secrets, b.project / ".mcp" / ".secrets", dirs_exist_ok=True)
    try:
        for replica in (a, b):  # one after the other: a takes the leader lock
            replica.process, replica.log, port = start(replica.project, "--db", database)
            replica.base = f"http://127.0.0.1:{port}"
            wait_healthy(replica.base, replica.process, replica.log)
        yield a, b, tokens
    finally:
        for replica in (a, b):
            if replica.process is not None and replica.process.poll() is None:
                stop(replica.process)


def _project(path: Path) -> Path:
    path.mkdir()
    Orch(path)("init", "--no-detect")
    set_roles(path, implementer=list(DEVS))
    config = path / ".mcp" / "config.yaml"
    text = re.sub(r"(?m)^max_in_progress: \d+$", "max_in_progress: 1000", config.read_text())
    # Leases outlive the test: what expires here is a replica, never a quiet agent.
    config.write_text(text + "orchestrator:\n  lease_ttl: 10m\n")
    (path / ".mcp" / "agents.yaml").write_text(AGENTS_YAML)
    return path


def _task(title: str) -> dict[str, Any]:
    return {
        "task": {
            "title": title,
            "priority": random.choice(["P0", "P1", "P2"]),
            "goal": f"goal of {title}",
            "acceptance_criteria": ["it works"],
            "capabilities": ["backend"],
        }
    }


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def _sql(url: str, query: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(query).fetchall())


@contextmanager
def _clients(replicas: tuple[Replica, ...], token: str) -> Iterator[list[httpx.Client]]:
    """A client per replica sending ``token``, closed when the block ends."""
    headers = {"Authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        yield [
            stack.enter_context(httpx.Client(base_url=r.base, headers=headers, timeout=30))
            for r in replicas
        ]


def _create(replicas: tuple[Replica, ...], token: str, titles: list[str], out: list[str]) -> None:
    """Create a task per title, on the replicas in turn; the IDs acknowledged go to ``out``."""
    with _clients(replicas, token) as clients:
        for n, title in enumerate(titles):
            answer = clients[n % len(clients)].post(f"{API}/tasks", json=_task(title))
            assert answer.status_code == 201, answer.text
            out.append(answer.json()["task_id"])


def _run_all(jobs: list[Callable[[], None]]) -> None:
    failures: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # said by the assert below
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_two_replicas_racing_never_give_a_task_twice(
    replicas: tuple[Replica, Replica, dict[str, str]], database: str
) -> None:
    a, b, tokens = replicas
    assert a.ready()["mirror"] == "leader" and b.ready()["mirror"] == "standby"
    started = time.monotonic()
    with _clients((b,), tokens[PLANNER]) as (planner,):
        first = planner.post(f"{API}/tasks", json=_task("made on b")).json()["task_id"]
    # b's commit reaches a's mirror by NOTIFY (its own poll is 5 s): the file within a second.
    _until(lambda: first in a.task_files(), "a writes the task b made", timeout=5)
    assert time.monotonic() - started < 1.5
    assert not b.task_files()  # the standby writes no files

    ids: list[str] = [first]
    made: list[list[str]] = [[] for _ in range(4)]
    titles = [f"task {n}" for n in range(TASKS - 1)]
    _run_all(
        [(lambda k=k: _create((a, b), tokens[PLANNER], titles[k::4], made[k])) for k in range(4)]
    )
    ids += [tid for part in made for tid in part]
    assert len(set(ids)) == TASKS

    won: dict[str, list[str]] = {tid: [] for tid in ids}
    tried = [0]
    lock = threading.Lock()

    def claim_all(dev: str) -> None:
        with _clients((a, b), tokens[dev]) as clients:
            for n, tid in enumerate(random.sample(ids, len(ids))):
                answer = clients[n % 2].post(f"{API}/tasks/{tid}/claim", json={})
                assert answer.status_code in (200, 409), answer.text
                with lock:
                    tried[0] += 1
                    if answer.status_code == 200:
                        won[tid].append(dev)

    _run_all([(lambda d=d: claim_all(d)) for d in DEVS])
    assert tried[0] == len(DEVS) * TASKS  # 1,200 claims raced, plus the assigner's pushes

    # Each task went to one agent, once: every claim that answered 200 named that agent ...
    holders = dict(_sql(database, "SELECT task_id, agent FROM leases"))
    assert set(holders) == set(ids)
    for tid, devs in won.items():
        assert set(devs) <= {holders[tid]}, (tid, devs, holders[tid])
    # ... the database granted one lease per task, ever (a second holder bumps the fence) ...
    assert _sql(database, "SELECT task_id, fence FROM fences WHERE fence <> 1") == []
    assert dict(_sql(database, "SELECT id, holder FROM tasks")) == holders
    # ... and the audit trail names that one holder once per task.
    assert sorted(_given(database)) == sorted(holders.items())


def _given(database: str) -> list[tuple[str, str]]:
    """(task, agent) of every assignment and successful claim in the events table."""
    return [
        (str(tid), str(who))
        for tid, who in _sql(
            database,
            "SELECT task_id, COALESCE(agent, actor) FROM events WHERE type = 'assigned' "
            "OR (type = 'claim' AND payload_json->>'outcome' = 'ok')",
        )
    ]


def test_a_replica_killed_under_load_loses_nothing_and_the_survivor_takes_over(
    replicas: tuple[Replica, Replica, dict[str, str]], database: str
) -> None:
    a, b, tokens = replicas
    assert a.ready()["mirror"] == "leader"
    created: list[str] = []
    claimed: list[tuple[str, str]] = []
    after_kill = {"created": 0, "claimed": 0}
    killed = threading.Event()
    done = threading.Event()
    lock = threading.Lock()

    def post(clients: list[httpx.Client], n: int, path: str, body: Any) -> httpx.Response | None:
        """On replica ``n`` while it lives, else on b; None: no answer (not acknowledged)."""
        client = clients[1] if killed.is_set() else clients[n % 2]
        try:
            return client.post(path, json=body)
        except httpx.TransportError:
            return None  # the killed replica: the client was told nothing

    def creator(k: int) -> None:
        with _clients((a, b), tokens[PLANNER]) as clients:
            n = 0
            while not done.is_set():
                n += 1
                answer = post(clients, n, f"{API}/tasks", _task(f"load {k}.{n}"))
                if answer is not None:
                    assert answer.status_code == 201, answer.text
                    with lock:
                        created.append(answer.json()["task_id"])
                        after_kill["created"] += killed.is_set()

    def claimer(dev: str) -> None:
        with _clients((a, b), tokens[dev]) as clients:
            n = 0
            while not done.is_set():
                with lock:
                    tid = random.choice(created[-20:]) if created else None
                if tid is None:
                    done.wait(0.01)  # the creators' first answers: not yet
                    continue
                n += 1
                answer = post(clients, n, f"{API}/tasks/{tid}/claim", {})
                if answer is not None and answer.status_code == 200:
                    with lock:
                        claimed.append((tid, dev))
                        after_kill["claimed"] += killed.is_set()

    def conductor() -> None:
        try:
            _until(lambda: len(created) >= 120, "load before the kill", timeout=60)
            a.process.send_signal(signal.SIGKILL)
            a.process.wait()
            killed.set()
            _until(lambda: after_kill["created"] >= 60, "b goes on after the kill", timeout=60)
        finally:
            done.set()  # a conductor that gave up stops the load too: its failure is said

    try:
        _run_all(
            [
                conductor,
                *((lambda k=k: creator(k)) for k in range(2)),
                *((lambda d=d: claimer(d)) for d in DEVS[:3]),
            ]
        )
    finally:
        done.set()
    assert a.process.returncode == -signal.SIGKILL

    # Nothing acknowledged is lost: every task a client was told was created is there, every
    # claim that answered 200 is in the events table and holds its task.
    rows = {r[0] for r in _sql(database, "SELECT id FROM tasks")}
    assert set(created) <= rows and len(created) >= 180
    assert after_kill["claimed"] > 0  # b took steps after the kill too
    # What a's killed transactions had begun was rolled back whole: no task without its events.
    logged = {r[0] for r in _sql(database, "SELECT task_id FROM events WHERE type = 'create'")}
    assert rows <= logged
    events = set(_given(database))
    holders = dict(_sql(database, "SELECT task_id, agent FROM leases"))
    for tid, dev in claimed:
        assert (tid, dev) in events and holders[tid] == dev, (tid, dev)
    assert _sql(database, "SELECT task_id FROM fences WHERE fence <> 1") == []

    # The survivor serves, takes the leader lock over and writes its board's files.
    _until(lambda: b.ready()["mirror"] == "leader", "b takes the files over", timeout=15)
    assert "writes the board's files now" in (b.log.read_text() if b.log else "")
    _until(lambda: set(created) <= b.task_files(), "every task in b's files", timeout=15)


def test_an_agent_waiting_on_one_replica_wakes_for_work_made_on_the_other(
    replicas: tuple[Replica, Replica, dict[str, str]], database: str
) -> None:
    a, b, tokens = replicas
    assert (b.project / ".mcp" / "service.json").exists()  # b's CLI goes through b
    waiting = subprocess.Popen(
        [str(ORCH), "next", "--agent", "dev0", "--wait", "--timeout", "20", "--json"],
        cwd=b.project,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # b notes dev0's call (alive) just before its wait looks at the board
        seen = "SELECT 1 FROM agents WHERE name = 'dev0' AND last_seen IS NOT NULL"
        _until(lambda: _sql(database, seen), "dev0 called b", timeout=15)
        with _clients((a,), tokens[PLANNER]) as (planner,):
            made = planner.post(f"{API}/tasks", json=_task("made on a"))
        assert made.status_code == 201, made.text
        started = time.monotonic()
        out, err = waiting.communicate(timeout=20)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, err
    assert made.json()["task_id"] in out and time.monotonic() - started < 5


def test_a_leader_whose_lock_session_ends_stops_writing_the_files(
    replicas: tuple[Replica, Replica, dict[str, str]], database: str
) -> None:
    a, b, _ = replicas
    assert a.ready()["mirror"] == "leader"
    # The session holding the mirror's lock (a session advisory lock: objsubid 1) ends, as
    # when the database restarts under a live replica.
    ended = _sql(
        database,
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
        "AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) "
        "= hashtext('mcp-orch:public:mirror') "
        # pg_locks is the whole cluster's: other databases' replicas hold the same key
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    assert ended == [(True,)]
    _until(lambda: b.ready()["mirror"] == "leader", "b takes the lock over", timeout=15)
    _until(lambda: a.ready()["mirror"] == "standby", "a steps down", timeout=15)
    assert "the leader lock was lost" in (a.log.read_text() if a.log else "")
