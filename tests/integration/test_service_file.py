"""``.mcp/service.json`` when several ``orch serve`` replicas serve one project folder: each
adds itself and takes only itself out, so the CLI goes on through a replica still running
instead of writing the files under it, and a stale entry (its process gone) is dropped."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_orch.interfaces import remote


@pytest.fixture
def other_pid() -> Iterator[int]:
    """The pid of a live process that is not this one (a second replica)."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()
        assert child.stdin is not None
        child.stdin.close()


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(done.stdout)


def url_of(board: Path) -> str | None:
    found = remote.find_service(str(board))
    return None if found is None else found.url


def test_two_replicas_share_the_file_and_each_takes_only_itself_out(
    tmp_path: Path, other_pid: int
) -> None:
    board = str(tmp_path)
    remote.write_service_file(board, "http://127.0.0.1:1111", "tok-a", pid=os.getpid())
    remote.write_service_file(board, "http://127.0.0.1:2222", "tok-b", pid=other_pid)
    path = tmp_path / "service.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert url_of(tmp_path) == "http://127.0.0.1:2222"  # the newest
    assert remote.remove_service_file(board, "tok-b")
    assert url_of(tmp_path) == "http://127.0.0.1:1111"  # the other still serves: through it
    assert json.loads(path.read_text())["token"] == "tok-a"
    assert not remote.remove_service_file(board, "tok-b")  # not named any more
    assert remote.remove_service_file(board, "tok-a")
    assert not path.exists() and url_of(tmp_path) is None


def test_a_replica_whose_process_is_gone_is_dropped(tmp_path: Path) -> None:
    board = str(tmp_path)
    remote.write_service_file(board, "http://127.0.0.1:1111", "tok-dead", pid=dead_pid())
    assert url_of(tmp_path) is None  # stale: the CLI works on the files
    remote.write_service_file(board, "http://127.0.0.1:2222", "tok-b", pid=os.getpid())
    data = json.loads((tmp_path / "service.json").read_text())
    assert data["token"] == "tok-b" and data["others"] == []
