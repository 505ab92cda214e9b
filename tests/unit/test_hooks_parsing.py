"""Failing test names and first errors out of real-shaped runner output (mcp_orch.hooks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_orch.hooks import gitinfo
from mcp_orch.hooks.parsing import parse, trim_log

pytestmark = [pytest.mark.hooks, pytest.mark.errors]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hooks"

PYTEST_OUT = """\
============================= test session starts ==============================
collected 3 items

tests/test_calc.py .FF                                                   [100%]

=================================== FAILURES ===================================
___________________________________ test_add ___________________________________

    def test_add():
>       assert add(1, 2) == 4
E       assert 3 == 4
E        +  where 3 = add(1, 2)

tests/test_calc.py:6: AssertionError
______________________________ test_div[zero] _______________________________

    def test_div():
>       div(1, 0)
E       ZeroDivisionError: division by zero

tests/test_calc.py:9: ZeroDivisionError
=========================== short test summary info ============================
FAILED tests/test_calc.py::test_add - assert 3 == 4
FAILED tests/test_calc.py::test_div[zero] - ZeroDivisionError: division by zero
========================= 2 failed, 1 passed in 0.05s ==========================
"""


def test_pytest_names_and_the_first_failure_in_full() -> None:
    report = parse(PYTEST_OUT)
    assert report.framework == "pytest"
    assert report.failing == ("tests/test_calc.py::test_add", "tests/test_calc.py::test_div[zero]")
    assert report.first_error.splitlines()[0].strip("_ ") == "test_add"
    assert "E       assert 3 == 4" in report.first_error
    assert "tests/test_calc.py:6: AssertionError" in report.first_error
    assert "ZeroDivisionError" not in report.first_error  # only the first failure


def test_pytest_collection_error() -> None:
    out = (
        "==================================== ERRORS ====================================\n"
        "_____________________ ERROR collecting tests/test_x.py ______________________\n"
        "ImportError while importing test module 'tests/test_x.py'.\n"
        "E   ModuleNotFoundError: No module named 'nope'\n"
        "=========================== short test summary info ============================\n"
        "ERROR tests/test_x.py\n"
    )
    report = parse(out)
    assert report.failing == ("tests/test_x.py",)
    assert "No module named 'nope'" in report.first_error


def test_jest() -> None:
    report = parse((FIXTURES / "jest-failure.txt").read_text())
    assert report.framework == "jest"
    assert report.failing == ("Calculator › adds numbers", "Calculator › divides by zero safely")
    assert report.first_error.startswith("  ● Calculator › adds numbers")
    assert "Expected: 4" in report.first_error
    assert "at Object.toBe (src/calc.test.js:5:23)" in report.first_error
    assert "TypeError" not in report.first_error


def test_vitest_with_colours() -> None:
    text = (FIXTURES / "vitest-failure.txt").read_text().replace("FAIL", "\x1b[31mFAIL\x1b[39m")
    report = parse(text)
    assert report.framework == "vitest"
    assert report.failing == ("src/sum.test.ts > sum > adds 1 + 2 to equal 4",)
    assert "AssertionError: expected 3 to be 4" in report.first_error
    assert "src/sum.test.ts:5:20" in report.first_error
    assert "\x1b" not in report.first_error


def test_tap_skips_todo_and_skip_and_keeps_the_yaml_block() -> None:
    report = parse((FIXTURES / "tap-failure.txt").read_text())
    assert report.framework == "tap"
    assert report.failing == ("reads a negative number", "parser")
    assert report.first_error.splitlines()[0].strip() == "not ok 2 - reads a negative number"
    assert "-3 !== 3" in report.first_error
    assert "not ok 1 - parser" not in report.first_error


def test_unknown_output_still_gives_a_first_error() -> None:
    report = parse("building...\nlint ok\nsrc/a.c:3: error: expected ';'\n  int x\n")
    assert report.framework == "unknown"
    assert report.failing == ()
    assert report.first_error.startswith("src/a.c:3: error: expected ';'")


def test_trim_log_keeps_head_and_tail() -> None:
    text = "\n".join(f"line {i}" for i in range(1000))
    log, kept, total = trim_log(text, head=5, tail=10)
    assert (kept, total) == (15, 1000)
    lines = log.splitlines()
    assert lines[:5] == [f"line {i}" for i in range(5)]
    assert lines[5] == "[... 985 lines omitted ...]"
    assert lines[-1] == "line 999"
    assert trim_log("a\nb\n") == ("a\nb", 2, 2)


def test_trailers_branch_ids_and_pr() -> None:
    raw = "Fix login\n\nLonger text.\n\nTask: T-7k3m9q2x\nTask-Status: review\n# a comment\n"
    tags = gitinfo.trailers(gitinfo.message_text(raw))
    assert tags == {"task": "T-7k3m9q2x", "task-status": "review"}
    assert gitinfo.trailers("Task: T-7k3m9q2x is mentioned in the subject") == {}
    assert gitinfo.ids_in("feature/T-7k3m9q2x-login", "T") == ["T-7k3m9q2x"]
    assert gitinfo.ids_in("feature/xT-7k3m9q", "T") == []
    assert gitinfo.pr_number("pr/42-login", {}, {}) == "42"
    assert gitinfo.pr_number("main", {"pr": "#7"}, {}) == "7"
    assert gitinfo.pr_number("main", {}, {"GITHUB_REF": "refs/pull/9/merge"}) == "9"
    assert gitinfo.pr_number("main", {}, {}) == ""
