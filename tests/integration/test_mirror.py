"""The file mirror and the board import (store/mirror.py, store/board_import.py) on a real
SQLite store and a real board made by the real ``orch``: the import, the projection of every
change (status, holder, history, the move between folders, the log), hand edits taken in, a
hand-edited status reported and never applied, no change lost when the mirror dies, and the
board left for ``orch`` on the files when the service stops."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_orch.board import format as fmt
from mcp_orch.domain import transitions
from mcp_orch.domain.events import event_for
from mcp_orch.domain.model import Status
from mcp_orch.store.board_import import import_board
from mcp_orch.store.memory import MemoryStore
from mcp_orch.store.mirror import Mirror
from mcp_orch.store.sqlite import SqliteStore
from tests.conftest import Orch, task_file

NOW = "2026-11-25T14:00:00.000Z"


@pytest.fixture
def board(orch: Orch) -> Path:
    return orch.cwd / ".mcp"


@pytest.fixture(params=["sqlite", "memory"])
def store(board: Path, request: pytest.FixtureRequest) -> Iterator[SqliteStore]:
    """A real SQLite database in the board, or the in-memory store: the mirror needs only
    the seam, so it runs on both."""
    if request.param == "memory":
        yield MemoryStore()  # type: ignore[misc]
        return
    db = SqliteStore(str(board / "orch.db"))
    yield db
    db.close()


def _step(store: SqliteStore, tid: str, op: str, actor: str, **kw: object) -> None:
    """One step as the service takes it: one transaction, the task and its event."""
    with store.transaction() as tx:
        stored = tx.get(tid)
        after = transitions.apply(stored.task, op, actor=actor, now=NOW, **kw)  # type: ignore[arg-type]
        tx.save(after, expected=stored.revision)
        tx.record(event_for(stored.task, after, actor=actor, op=op, at=NOW))


def _files(board: Path) -> dict[str, tuple[bytes, int]]:
    """Every task file's bytes and mtime: a rewrite of the same bytes shows too."""
    return {
        str(p.relative_to(board)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(board.glob("tasks/*/*.md"))
    }


def _opened(board: Path, store: SqliteStore) -> Mirror:
    """The service's start: the board imported, the mirror opened on it."""
    import_board(str(board), store)
    mirror = Mirror(store, str(board))
    mirror.open()
    return mirror


def test_import_brings_every_task_and_the_log_and_a_second_run_is_a_no_op(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    a = orch.ready("Ready one")
    b = orch.create("A stub", "--priority", "P0")
    orch("claim", a, "--agent", "cursor")
    done = import_board(str(board), store)
    assert set(done.tasks) == {a, b} and done.events == len(orch.json("log")["events"]) == 4
    assert store.load(a).status is Status.IN_PROGRESS and store.load(a).agent == "cursor"
    assert [e.op for e in store.events(a)] == ["create", "prep", "claim"]
    again = import_board(str(board), store)
    assert again.tasks == () and again.events == 0
    assert len(store.events(None, 100)) == 4


def test_a_file_moved_by_hand_imports_as_moved_and_a_broken_one_is_named(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    a = orch.ready("Moved by hand")
    path = task_file(orch.cwd, a)
    path.rename(board / "tasks" / "review" / path.name)
    (board / "tasks" / "ready" / "T-zzzzzzzz-broken.md").write_text("not a task\n")
    done = import_board(str(board), store)
    assert done.tasks == (a,) and store.load(a).status is Status.REVIEW
    assert [p.kind for p in done.problems] == ["malformed"]
    assert "T-zzzzzzzz-broken.md" in done.problems[0].path


def test_the_mirror_is_a_fixpoint_then_projects_each_change(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    a = orch.ready("Project me")
    import_board(str(board), store)
    before = _files(board)
    mirror = Mirror(store, str(board))
    mirror.open()
    assert _files(board) == before  # nothing rewritten: the files already say it
    _step(store, a, "claim", "orchestrator", holder="cursor")
    assert mirror.sync() == [a]
    path = task_file(orch.cwd, a)
    assert path.parent.name == "in-progress"
    assert path.read_text() == fmt.render(store.load(a))
    status = orch.json("status")  # orch on the files sees it, held by cursor
    assert [(t["id"], t["status"], t["agent"]) for t in status["tasks"]] == [
        (a, "in-progress", "cursor")
    ]
    assert orch.json("log", a)["events"][-1]["op"] == "claim"
    assert mirror.sync() == []  # nothing new: not a single write
    mirror.stop()


def test_a_definition_edited_by_hand_is_taken_into_the_store(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    a = orch.ready("Edit me")
    mirror = _opened(board, store)
    path = task_file(orch.cwd, a)
    text = path.read_text().replace("goal of Edit me", "a goal a person wrote")
    path.write_text(text.replace("## Priority: P1", "## Priority: P0"))
    assert mirror.scan() == [a]
    task = store.load(a)
    assert task.goal == "a goal a person wrote" and task.priority.value == "P0"
    assert task.history[-1].op == "edit" and "goal" in task.history[-1].note
    assert path.read_text() == fmt.render(task)  # the file shows the edit step too
    assert store.events(a)[-1].op == "edit"
    assert mirror.problems == {}
    assert mirror.scan() == []  # taken in once


def test_a_status_edited_by_hand_is_reported_never_applied(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    a = orch.ready("Do not move me")
    mirror = _opened(board, store)
    path = task_file(orch.cwd, a)
    path.rename(board / "tasks" / "done" / path.name)  # git mv, a file manager
    mirror.scan()
    assert store.load(a).status is Status.READY
    problem = mirror.problems[a]
    assert problem.kind == "status-mismatch" and "orch resolve" in problem.hint
    assert task_file(orch.cwd, a).parent.name == "ready"  # the file says the truth again
    text = task_file(orch.cwd, a).read_text()
    task_file(orch.cwd, a).write_text(text.replace("## Status: ready", "## Status: failed"))
    mirror.scan()
    assert store.load(a).status is Status.READY and "says failed" in mirror.problems[a].message


def test_a_task_file_written_by_hand_is_imported(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    mirror = _opened(board, store)
    other = Orch(orch.cwd)
    tid = other.ready("Written while the service ran")  # on the files, as a person might
    mirror.scan()
    assert store.load(tid).status is Status.READY
    assert store.events(tid)[-1].op == "import"


def test_a_killed_mirror_loses_no_change(orch: Orch, board: Path, store: SqliteStore) -> None:
    a = orch.ready("Survive")
    _opened(board, store)  # the first mirror, killed below
    _step(store, a, "claim", "orchestrator", holder="cursor")
    # killed here: the change is committed, its file and log line never written
    second = Mirror(store, str(board))
    second.open()
    assert task_file(orch.cwd, a).parent.name == "in-progress"
    second.sync()
    assert [e["op"] for e in orch.json("log", a)["events"]] == ["create", "prep", "claim"]
    second.sync()
    assert len(orch.json("log", a)["events"]) == 3  # each event logged once


def test_the_thread_projects_within_a_second_and_stop_leaves_the_files_to_orch(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    a = orch.ready("Live")
    import_board(str(board), store)
    mirror = Mirror(store, str(board))
    mirror.start()
    began = time.monotonic()
    _step(store, a, "claim", "orchestrator", holder="cursor")
    mirror.notify()
    while not list((board / "tasks" / "in-progress").glob(f"{a}-*.md")):
        assert time.monotonic() - began < 1.0, "not projected within a second"
        time.sleep(0.005)  # watching for the outcome, not standing in for it
    _step(store, a, "submit", "cursor")
    mirror.stop()  # the last pass: the board is current
    assert task_file(orch.cwd, a).parent.name == "review"
    # The rollback: orch goes on with the files alone.
    orch("complete", a, "--agent", "codex")
    assert orch.json("show", a)["status"] == "done"
    state = (board / ".cache" / "mirror.log").read_text().splitlines()
    assert all(json.loads(line) for line in state)
    assert not os.path.exists(board / ".journal")


def test_what_orch_did_on_the_files_while_no_service_ran_is_taken_in_whole(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    a = orch.ready("Roll back and forth")
    first = _opened(board, store)
    first.stop()  # the service stops: orch works on the files alone
    orch("claim", a, "--agent", "cursor")
    orch("submit", a, "--agent", "cursor", "--note", "done on files")
    again = Mirror(store, str(board))
    again.open()  # the service starts again
    task = store.load(a)
    assert task.status is Status.REVIEW and task.implementer == "cursor"
    assert [e.op for e in store.events(a)][-2:] == ["claim", "submit"]
    assert again.problems == {}  # not a hand-edited status: orch did it, the log says so
    assert task_file(orch.cwd, a).parent.name == "review"
    assert [e["op"] for e in orch.json("log", a)["events"]] == ["create", "prep", "claim", "submit"]


def test_one_pass_writes_each_changed_task_once_from_its_row(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    """A burst of changes to a task (claim, progress, submit) is one write of its file in one
    pass, with the text the store keeps (for SQL: the row's Markdown, no render)."""
    a, b = orch.ready("Busy one"), orch.ready("Busy two")
    mirror = _opened(board, store)
    _step(store, a, "claim", "orchestrator", holder="cursor")
    _step(store, b, "claim", "orchestrator", holder="cursor")
    _step(store, a, "submit", "cursor")
    state = board / ".cache" / "mirror.log"
    lines = len(state.read_text().splitlines())
    assert sorted(mirror.sync()) == sorted([a, b])
    intents = [json.loads(x) for x in state.read_text().splitlines()[lines:]]
    written = [x["t"] for x in intents if "t" in x and "s" not in x]  # the intent before a write
    assert sorted(written) == sorted([a, b])  # each task once, though a changed twice
    assert task_file(orch.cwd, a).parent.name == "review"
    assert task_file(orch.cwd, a).read_text() == fmt.render(store.load(a))
    assert task_file(orch.cwd, b).read_text() == fmt.render(store.load(b))
    assert [e["op"] for e in orch.json("log", a)["events"]] == ["create", "prep", "claim", "submit"]
    mirror.stop()


def test_a_background_start_serves_at_once_and_says_when_every_file_is_current(
    orch: Orch, board: Path, store: SqliteStore
) -> None:
    """``start(background=True)`` returns before the files are compared (a first start on a
    big database); the thread writes the ones that differ, says so, and goes on mirroring."""
    import threading

    a = orch.ready("Known")
    _opened(board, store).stop()  # a service that ran before
    _step(store, a, "claim", "orchestrator", holder="cursor")  # committed, file not yet right
    mirror = Mirror(store, str(board))
    current = threading.Event()
    counts: list[int] = []
    mirror.on_current = lambda written: (counts.append(written), current.set())
    mirror.start(background=True)
    assert current.wait(30)
    assert counts == [1]
    assert task_file(orch.cwd, a).parent.name == "in-progress"
    assert [e["op"] for e in orch.json("log", a)["events"]] == ["create", "prep", "claim"]
    _step(store, a, "submit", "cursor")
    mirror.stop()
    assert task_file(orch.cwd, a).parent.name == "review"
