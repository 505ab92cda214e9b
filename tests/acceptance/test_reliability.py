"""Real processes racing and dying: claims stay exclusive, IDs distinct, no task lost or doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Orch, set_roles, task_file

pytestmark = [pytest.mark.mcp, pytest.mark.errors]


def files_by_id(project: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in (project / ".mcp" / "tasks").glob("*/*.md"):
        task_id = "-".join(path.name.split("-", 2)[:2])  # T-7k3m9q2x-the-slug.md
        found.setdefault(task_id, []).append(path)
    return found


def listed(orch: Orch) -> list[str]:
    data = orch.json("status", "--all")
    # A killed write may leave its temp file behind: status names it (issue 8), and nothing else.
    tasks_dir = orch.cwd / ".mcp" / "tasks"
    problems = [
        p
        for p in data["problems"]  # type: ignore[union-attr]
        if not (p["kind"] == "leftover" and (tasks_dir / str(p["path"])).is_file())
    ]
    assert problems == [], data["problems"]
    return sorted(str(t["id"]) for t in data["tasks"])  # type: ignore[union-attr]


def test_concurrent_claims_exactly_one_wins(orch: Orch) -> None:
    tid = orch.ready("contested")
    agents = [f"agent{i}" for i in range(10)]
    set_roles(orch.cwd, implementer=agents)
    procs = [orch.popen("claim", tid, "--agent", a) for a in agents]
    results = [
        (a, p.wait(timeout=60), *p.communicate()) for a, p in zip(agents, procs, strict=True)
    ]
    winners = [a for a, code, _, _ in results if code == 0]
    assert len(winners) == 1, results
    (winner,) = winners
    for agent, code, _, err in results:
        if agent != winner:
            assert code != 0 and f"already claimed by {winner}" in err, err
            assert "Traceback" not in err
    shown = orch.json("show", tid)
    assert shown["agent"] == winner
    assert [h["op"] for h in shown["history"]].count("claim") == 1  # type: ignore[union-attr]
    again = orch.json("claim", tid, "--agent", winner)
    assert again["changed"] is False
    assert [h["op"] for h in orch.json("show", tid)["history"]].count("claim") == 1  # type: ignore[union-attr]


def test_one_agent_cannot_take_two_tasks_by_racing(orch: Orch) -> None:
    tasks = [orch.ready(f"t{i}") for i in range(6)]
    procs = [orch.popen("claim", t, "--agent", "cursor") for t in tasks]
    codes = [p.wait(timeout=60) for p in procs]
    for p in procs:
        p.communicate()
    assert codes.count(0) == 1  # max_in_progress: 1 holds under a race too


def test_concurrent_creates(orch: Orch) -> None:
    procs = [orch.popen("create", f"parallel task {i}", "--json") for i in range(16)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        ids.append(json.loads(out)["id"])
    assert len(set(ids)) == 16
    by_id = files_by_id(orch.cwd)
    assert sorted(by_id) == sorted(ids)
    assert all(len(paths) == 1 for paths in by_id.values())
    assert listed(orch) == sorted(ids)
    log = (orch.cwd / ".mcp" / "log" / "orch.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["task"] for line in log) == sorted(ids)  # whole lines


def _journal(orch: Orch, old: Path, new: Path) -> None:
    tasks = orch.cwd / ".mcp" / "tasks"
    (orch.cwd / ".mcp" / ".journal").write_text(
        json.dumps({"old": str(old.relative_to(tasks)), "new": str(new.relative_to(tasks))})
    )


def test_killed_after_the_journal_before_the_new_file(orch: Orch) -> None:
    """The state a move leaves when killed right after writing its journal."""
    tid = orch.ready("interrupted early")
    old = task_file(orch.cwd, tid)
    new = old.parent.parent / "in-progress" / old.name
    _journal(orch, old, new)
    assert listed(orch) == [tid]
    assert orch.json("show", tid)["status"] == "ready"
    orch("claim", tid, "--agent", "cursor")  # the next writer rolls the move back, then claims
    assert not (orch.cwd / ".mcp" / ".journal").exists()
    assert task_file(orch.cwd, tid).parent.name == "in-progress"


def test_killed_after_the_new_file_before_removing_the_old(orch: Orch) -> None:
    tid = orch.ready("interrupted late")
    orch("claim", tid, "--agent", "cursor")
    old = task_file(orch.cwd, tid)
    new = old.parent.parent / "review" / old.name
    new.write_text(old.read_text().replace("## Status: in-progress", "## Status: review"))
    _journal(orch, old, new)
    assert listed(orch) == [tid]
    assert orch.json("show", tid)["status"] == "review"
    orch.create("another write")  # any writer finishes the move
    assert files_by_id(orch.cwd)[tid] == [new]
    assert not (orch.cwd / ".mcp" / ".journal").exists()


def test_sigkill_at_random_points_loses_nothing(orch: Orch) -> None:
    rng = random.Random(1234)
    tasks = [orch.ready(f"victim {i}") for i in range(8)]
    ops = [
        ["claim", "{id}", "--agent", "{agent}"],
        ["review", "{id}", "--agent", "{agent}"],
        ["feedback", "{id}", "--agent", "codex", "--text", "again"],
        ["fail", "{id}", "--agent", "{agent}", "--reason", "killed"],
        ["resolve", "{id}", "--to", "ready", "--agent", "human"],
        ["create", "new while killing"],
    ]
    config = orch.cwd / ".mcp" / "config.yaml"
    config.write_text(config.read_text().replace("max_in_progress: 1", "max_in_progress: 99"))
    killed = 0
    for round_ in range(12):
        procs = []
        for i, tid in enumerate(tasks):
            op = [a.format(id=tid, agent=f"a{i}") for a in rng.choice(ops)]
            procs.append(orch.popen(*op))
        delays = [rng.uniform(0.0, 0.06) for _ in procs]
        for proc, delay in sorted(zip(procs, delays, strict=True), key=lambda x: x[1]):
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                killed += 1
            proc.communicate(timeout=60)
        # readers first (no writer has had a chance to recover): every task exactly once
        ids = listed(orch)
        for tid in tasks:
            assert ids.count(tid) == 1, (round_, tid, ids)
            orch("show", tid)
        # then a writer: afterwards every task is in exactly one file
        orch("doctor", "--fix")
        for tid, paths in files_by_id(orch.cwd).items():
            assert len(paths) == 1, (tid, paths)
    assert killed > 0
    assert not list((orch.cwd / ".mcp" / "tasks").glob("*/.*.tmp"))


def test_readers_never_see_a_task_twice_or_not_at_all(orch: Orch) -> None:
    """``status`` racing a stream of moves lists each task exactly once, every time."""
    tid = orch.ready("moving target")
    script = (
        f"for i in $(seq 15); do orch claim {tid} --agent cursor && "
        f"orch review {tid} --agent cursor && "
        f"orch feedback {tid} --agent codex --text x || exit 1; done"
    )
    mover = subprocess.Popen(
        ["bash", "-c", script],
        cwd=orch.cwd,
        env=orch.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = 0
    try:
        while mover.poll() is None:
            data = orch.json("status")
            ids = [t["id"] for t in data["tasks"]]  # type: ignore[union-attr]
            assert ids == [tid] and data["problems"] == [], data
            seen += 1
    finally:
        _, err = mover.communicate(timeout=120)
    assert mover.returncode == 0, err
    assert seen > 3


@pytest.mark.parametrize("damage", [b"", b"\x00not marshal", b"\xfb\x00\x00"])
def test_damaged_caches_are_rebuilt_from_the_files(
    orch: Orch, project: Path, damage: bytes
) -> None:
    """The index and the config cache are only caches: a damaged one is read as empty, the
    answer comes from the files, and the cache is written again."""
    task_id = orch.create("Cached")
    orch("status")
    caches = sorted((project / ".mcp" / ".cache").glob("*.marshal"))
    assert [p.name.split("-")[0] for p in caches] == ["config", "index"]
    for path in caches:
        path.write_bytes(damage)
    data = orch.json("status")
    assert [t["id"] for t in data["tasks"]] == [task_id] and data["problems"] == []  # type: ignore[union-attr]
    assert all(p.read_bytes() not in (damage, b"") for p in caches)


def test_a_config_marshal_cannot_cache_is_read_each_time_and_leaves_no_temp_file(
    orch: Orch, project: Path
) -> None:
    """A YAML date cannot be cached: the YAML is read on every command, and the failed cache
    write leaves nothing behind (it used to leave a ``config-*.marshal.PID.tmp`` each time)."""
    config = project / ".mcp" / "config.yaml"
    config.write_text(config.read_text() + "reviewed_since: 2025-01-01\n")  # YAML: a date
    for path in (project / ".mcp" / ".cache").glob("config-*"):
        path.unlink()
    task_id = orch.create("Dated")
    for _ in range(2):
        assert [t["id"] for t in orch.json("status")["tasks"]] == [task_id]  # type: ignore[union-attr]
    assert not list((project / ".mcp" / ".cache").glob("config-*"))
