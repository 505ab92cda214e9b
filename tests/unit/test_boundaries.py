"""The error boundaries of the interfaces, exercised directly: whatever goes wrong inside a
command or a tool leaves as a message and an exit code (or a tool error), never as a bare
traceback, and a bug in orch is named as one."""

from __future__ import annotations

import errno
import json

import pytest

from mcp_orch.domain.errors import TaskNotFound
from mcp_orch.interfaces.cli import guarded

pytestmark = pytest.mark.errors


def run(capsys: pytest.CaptureFixture[str], fault: BaseException, as_json: bool) -> tuple[int, str]:
    def command() -> int:
        raise fault

    with pytest.raises(SystemExit) as exited:
        guarded(command, as_json=as_json)
    code = exited.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


def test_a_mistake_is_one_line_with_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, TaskNotFound("no task T-zzzzzz", "run 'orch status'"), False)
    assert code == 4 and err == "orch: no task T-zzzzzz (run 'orch status')\n"
    code, err = run(capsys, TaskNotFound("no task T-zzzzzz", "run 'orch status'"), True)
    assert json.loads(err) == {
        "error": "no task T-zzzzzz",
        "hint": "run 'orch status'",
        "code": "task_not_found",
    }


def test_a_refusal_of_the_file_system_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, OSError(errno.ENOSPC, "No space left on device", "/x/.mcp"), True)
    data = json.loads(err)
    assert code == 10 and data["code"] == "storage"
    assert "the disk is full" in data["error"] and "free some space" in data["hint"]


def test_a_bug_is_named_as_one_with_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, ZeroDivisionError("injected"), True)
    data = json.loads(err)  # --json: still one JSON document on stderr
    assert code == 1 and data["code"] == "internal"
    assert "ZeroDivisionError: injected" in data["error"] and "bug in orch" in data["hint"]
    assert "Traceback" in data["traceback"]
    code, err = run(capsys, ZeroDivisionError("injected"), False)
    assert code == 1 and err.startswith("Traceback")
    assert err.rstrip().endswith(
        "(this is a bug in orch, not in what you gave it; please report it with the traceback)"
    )


def test_interrupts_and_closed_pipes_end_quietly() -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt

    def piped() -> int:
        raise BrokenPipeError

    assert guarded(interrupted, as_json=False) == 130
    assert guarded(piped, as_json=False) == 0
