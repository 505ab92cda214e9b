"""Errors tell the truth under real faults: an operation that took effect says so, and the
operation log stays whole line by line.

The fault is real and unprivileged: ``RLIMIT_FSIZE`` (``ulimit -f``) in the child makes every
write past that size fail with ``EFBIG``, exactly as a full disk fails with ``ENOSPC`` (a write
cut short, then an error). With the log the largest file on the board, a limit at its size lets
the task files be written and stops the log's append.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
from pathlib import Path

import anyio
import pytest

from tests.conftest import ORCH, Orch, Result, clean_env, task_file

pytestmark = [pytest.mark.errors]


def limited(orch: Orch, limit: int, *args: str) -> Result:
    """``orch ARGS`` in a child that may write no file past ``limit`` bytes."""

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [str(ORCH), *args],
        cwd=orch.cwd,
        env=orch.env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=cap,
    )
    return Result([str(ORCH), *args], proc.returncode, proc.stdout, proc.stderr)


def log_path(orch: Orch) -> Path:
    return orch.cwd / ".mcp" / "log" / "orch.jsonl"


def grown_log(orch: Orch) -> int:
    """Make the log the board's largest file (real events of real commands); its size."""
    for n in range(12):
        orch("create", f"padding {n} " + "x" * 150)
    return log_path(orch).stat().st_size


def ids(orch: Orch) -> list[str]:
    return [str(t["id"]) for t in orch.json("status")["tasks"]]  # type: ignore[union-attr]


def test_an_operation_done_before_the_disk_filled_says_so(orch: Orch) -> None:
    """create, prep and claim write the task file, then cannot append to the log: each exits
    0 with the task on stdout and in --json and a warning on stderr, so no agent retries (and
    duplicates) what was done."""
    size = grown_log(orch)
    before = set(ids(orch))
    res = limited(orch, size, "create", "made before the disk filled", "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    tid = str(data["id"])
    assert data["status"] == "pending" and tid not in before
    (warning,) = data["warnings"]
    assert f"create {tid} was done" in warning and "operation log" in warning
    assert f"orch: warning: create {tid} was done" in res.err
    assert "again" not in res.err
    assert set(ids(orch)) == before | {tid}  # exactly one new task

    res = limited(orch, size, "prep", tid, "--goal", "g", "--ac", "a")
    assert res.code == 0 and tid in res.out and f"prep {tid} was done" in res.err
    assert task_file(orch.cwd, tid).parent.name == "ready"
    res = limited(orch, size, "claim", tid, "--agent", "cursor", "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["changed"] is True and f"claim {tid} was done" in res.err
    assert task_file(orch.cwd, tid).parent.name == "in-progress"
    assert log_path(orch).stat().st_size == size  # nothing of the three lines was left
    assert set(ids(orch)) == before | {tid}


def test_a_log_append_cut_short_leaves_no_torn_line(orch: Orch) -> None:
    """The disk fills in the middle of the log line: the piece is taken back, and the next
    event is a whole line of its own."""
    size = grown_log(orch)
    res = limited(orch, size + 30, "create", "half a line fits", "--json")
    assert res.code == 0 and "warnings" in json.loads(res.out)
    assert log_path(orch).stat().st_size == size
    after = orch.create("after the disk was freed")
    events = orch.json("log", "--limit", "3")["events"]
    assert events[-1]["task"] == after  # type: ignore[index]
    for line in log_path(orch).read_text().splitlines():
        json.loads(line)
    assert orch.json("doctor")["ok"] is True


TORN = '{"agent": "cursor", "at": "2026-11-30T10:00:00.000Z", "note": "cut o'


def test_a_torn_line_does_not_swallow_the_next_event(orch: Orch) -> None:
    """A log torn by an older orch (or a truncate that failed too): the next event is still
    read, doctor reports the torn line, and --fix removes only the piece."""
    tid = orch.create("before the tear")
    with log_path(orch).open("a") as handle:
        handle.write(TORN)  # no newline: the piece of an event that never finished
    after = orch.create("after the tear")
    assert [e["task"] for e in orch.json("log")["events"]][-2:] == [tid, after]  # type: ignore[index]
    # A torn line of the old kind, with the next event appended to the piece:
    whole = log_path(orch).read_text().splitlines()[-1]
    with log_path(orch).open("a") as handle:
        handle.write(TORN + whole + "\n")
    assert [e["task"] for e in orch.json("log")["events"]][-3:] == [tid, after, after]  # type: ignore[index]

    report = orch("doctor", "--json", check=False)
    assert report.code != 0
    (finding,) = report.json()["findings"]  # type: ignore[index]
    assert finding["kind"] == "torn-log-line" and finding["path"] == "log/orch.jsonl"
    assert "2 torn line(s)" in finding["message"]
    lines_before = log_path(orch).read_text().splitlines()
    orch("doctor", "--fix")
    lines = log_path(orch).read_text().splitlines()
    assert lines[: len(lines_before) - 3] == lines_before[:-3]  # whole lines byte for byte
    assert lines[len(lines_before) - 3 :][:2] == [whole, whole]
    assert json.loads(lines[-1])["op"] == "doctor"
    for line in lines:
        json.loads(line)
    assert orch.json("doctor")["ok"] is True


@pytest.mark.server
def test_an_mcp_call_done_before_the_disk_filled_succeeds_with_a_warning(orch: Orch) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from tests.acceptance.mcp_support import call

    blocks = grown_log(orch) // 512  # ulimit -f counts 512-byte blocks
    before = set(ids(orch))
    script = f"trap '' XFSZ; ulimit -f {blocks}; exec {ORCH} mcp"
    params = StdioServerParameters(
        command="sh",
        args=["-c", script],
        env={**clean_env(), "ORCH_AGENT": "chatgpt"},
        cwd=orch.cwd,
    )

    async def main() -> dict[str, object]:
        async with Client(params, mode="legacy", cache=None) as client:
            return await call(client, "create_task", title="made by MCP on a full disk")

    data = anyio.run(main)
    (warning,) = data["warnings"]  # type: ignore[misc]
    assert f"create {data['id']} was done" in str(warning)
    assert set(ids(orch)) == before | {data["id"]}


def test_an_escalation_whose_file_cannot_be_written_is_still_done(orch: Orch) -> None:
    """The task file records the escalation (the commit point); .mcp/escalations/ID.md comes
    after it, so a failure there is a warning, not 'nothing was changed'."""
    tid = orch.create("needs a person")
    (orch.cwd / ".mcp" / "escalations").write_text("a file where the folder belongs\n")
    res = orch("escalate", tid, "--reason", "spec contradicts itself", "--json", check=False)
    assert res.code == 0, res.err
    (warning,) = json.loads(res.out)["warnings"]
    assert f"{tid} is recorded, but .mcp/escalations/{tid}.md could not be updated" in warning
    assert "nothing was changed" not in res.err
    assert orch.json("show", tid)["escalated"] is True
    assert orch.json("status")["escalated"] == [tid]
