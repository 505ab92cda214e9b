"""``http_mcp.Orchestrated`` on ``orch serve --db files``: the file board keeps no leases, so
its stand-in orchestrator (``http_board.BoardOrchestrator``) answers a step with the task
itself; the MCP tools' steps still return the task (a real file board in a temp folder)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mcp_orch.board.files import FileStore
from mcp_orch.config import Config
from mcp_orch.domain.model import Status
from mcp_orch.interfaces.http_board import BoardOrchestrator
from mcp_orch.interfaces.http_mcp import Orchestrated
from mcp_orch.service import ManualClock, Service


def test_the_steps_over_the_file_boards_stand_in_return_the_task(tmp_path: Path) -> None:
    board = str(tmp_path / ".mcp")
    FileStore.initialize(board)
    clock = ManualClock(datetime(2026, 11, 25, 13, 0, tzinfo=UTC))
    base = Service(FileStore(board), Config(), clock)
    tools = Orchestrated(base, BoardOrchestrator(base))
    tid = tools.create("Over files", agent="chatgpt").id
    tools.prep(tid, agent="chatgpt", goal="g", acceptance=("a",))
    assert tools.claim(tid, agent="cursor").task.status is Status.IN_PROGRESS
    assert tools.submit(tid, agent="cursor", note="n").status is Status.REVIEW
    assert tools.request_changes(tid, agent="codex", text="more").status is Status.READY
    tools.claim(tid, agent="cursor")
    assert tools.escalate(tid, agent="cursor", reason="unclear").escalations
    assert tools.fail(tid, agent="cursor", reason="gave up").status is Status.FAILED
    assert base.show(tid).status is Status.FAILED  # on the files themselves
