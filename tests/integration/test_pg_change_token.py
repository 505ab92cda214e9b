"""PostgreSQL's change token (what a waiting ``next`` watches): while the store's ``listen``
hears every commit it is the count of what was heard, with no query; a commit by another
connection (another replica) changes it; without a listener it is the revision, polled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_orch.domain.model import Priority, Status, Task

from .sql_support import sql_stores


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    with sql_stores("postgres", tmp_path) as make:
        yield make


def _task(n: int) -> Task:
    at = "2026-01-01T00:00:00Z"
    return Task(
        id=f"T-{n:08d}",
        title=f"task {n}",
        status=Status.READY,
        priority=Priority.P1,
        created=at,
        updated=at,
    )


def test_a_listening_store_watches_commits_without_a_query(pg: Callable[..., Any]) -> None:
    store, other = pg(), pg()
    assert store.change_token() == 0  # nobody listens: the revision
    connected, stop = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=store.listen, args=(lambda p: p or connected.set(), stop, 0.05)
    )
    thread.start()
    try:
        assert connected.wait(10), "the listener never connected"
        asked: list[int] = []
        revision = store.revision
        store.revision = lambda: asked.append(1) or revision()  # a spy on the real query
        before = store.change_token()
        assert store.change_token() == before and asked == []  # no commit, no query
        with other.transaction() as tx:  # another replica's commit
            tx.save(_task(1), expected=None)
        deadline = time.monotonic() + 10
        while store.change_token() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.change_token() != before and asked == []
    finally:
        stop.set()
        thread.join(10)
    assert store.change_token() == 1 and asked == [1]  # the listener stopped: polled again
