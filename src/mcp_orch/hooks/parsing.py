"""Failing test names and the first error, read out of a test runner's output.

Pure functions over text. Recognised: pytest, vitest, jest and TAP (node --test, tap, prove);
anything else still gets a "first error" guessed from the first line that looks like one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ..domain.record import Record

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
MAX_BLOCK = 300  # lines of the first error kept "in full" (a runaway trace is still cut)
MAX_LINE = 1000


class TestReport(Record):
    """What the output says: which runner, which tests failed, the first failure's text."""

    framework: str  # pytest | vitest | jest | tap | unknown
    failing: tuple[str, ...]
    first_error: str


def strip_ansi(text: str) -> str:
    return _ANSI_RE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def parse(output: str) -> TestReport:
    """The report of one test run's combined stdout and stderr."""
    lines = strip_ansi(output).split("\n")
    for parser in _PARSERS:
        report = parser(lines)
        if report is not None:
            return report
    return TestReport("unknown", (), _generic_first_error(lines))


def trim_log(text: str, head: int = 40, tail: int = 160) -> tuple[str, int, int]:
    """The log cut to its ``head`` and ``tail`` lines: (text, lines kept, lines in all)."""
    lines = [_cut(ln) for ln in strip_ansi(text).rstrip("\n").split("\n")]
    total = len(lines)
    if total <= head + tail:
        return "\n".join(lines), total, total
    omitted = total - head - tail
    kept = [*lines[:head], f"[... {omitted} lines omitted ...]", *lines[-tail:]]
    return "\n".join(kept), head + tail, total


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + " [...]"


def _block(lines: list[str], start: int, stop: Callable[[str], bool]) -> str:
    """Lines from ``start`` up to (not including) the first later line where ``stop`` holds."""
    out = [lines[start]]
    for line in lines[start + 1 :]:
        if stop(line) or len(out) >= MAX_BLOCK:
            break
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(_cut(ln) for ln in out)


def _unique(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


# ---------------------------------------------------------------------------- pytest

_PY_SUMMARY_RE = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$")
_PY_VERBOSE_RE = re.compile(r"^(\S+::\S+(?:\[.*?\])?) (?:FAILED|ERROR)\b")
_PY_SECTION_RE = re.compile(r"^_{3,} (.+?) _{3,}$")
_PY_BANNER_RE = re.compile(r"^={3,}( .* )?={3,}$")


def _pytest(lines: list[str]) -> TestReport | None:
    banners = [ln for ln in lines if _PY_BANNER_RE.match(ln)]
    has_summary = any("short test summary info" in ln or " FAILURES " in ln for ln in banners)
    names = [m.group(1) for ln in lines if (m := _PY_SUMMARY_RE.match(ln))]
    if not names:
        names = [m.group(1) for ln in lines if (m := _PY_VERBOSE_RE.match(ln))]
    if not has_summary and not (names and any("::" in n for n in names)):
        return None
    first = ""
    for i, line in enumerate(lines):
        if _PY_SECTION_RE.match(line):
            first = _block(
                lines, i, lambda ln: bool(_PY_SECTION_RE.match(ln) or _PY_BANNER_RE.match(ln))
            )
            break
    return TestReport("pytest", _unique(names), first or _generic_first_error(lines))


# ---------------------------------------------------------------------------- vitest

_VI_FAIL_RE = re.compile(r"^\s*FAIL\s+(\S.*? > .+?)\s*$")
_VI_RULE_RE = re.compile(r"^\s*⎯{3,}")


def _vitest(lines: list[str]) -> TestReport | None:
    found = [(i, m.group(1)) for i, ln in enumerate(lines) if (m := _VI_FAIL_RE.match(ln))]
    if not found:
        return None
    start = found[0][0]
    first = _block(lines, start, lambda ln: bool(_VI_RULE_RE.match(ln) or _VI_FAIL_RE.match(ln)))
    return TestReport("vitest", _unique([name for _, name in found]), first)


# ---------------------------------------------------------------------------- jest

_JEST_BULLET_RE = re.compile(r"^\s*● (.+?)\s*$")
_JEST_FILE_RE = re.compile(r"^\s*FAIL\s+(\S+)\s*(?:\(.*\))?$")
_JEST_END_RE = re.compile(r"^\s*(?:FAIL|PASS)\s+\S|^Test Suites:|^\s*● ")


def _jest(lines: list[str]) -> TestReport | None:
    bullets = [(i, m.group(1)) for i, ln in enumerate(lines) if (m := _JEST_BULLET_RE.match(ln))]
    files = [m.group(1) for ln in lines if (m := _JEST_FILE_RE.match(ln))]
    if not bullets and not files:
        return None
    names = []
    for _, name in bullets:
        names.append(files[0] if name == "Test suite failed to run" and files else name)
    first = _block(lines, bullets[0][0], _JEST_END_RE.match) if bullets else ""  # type: ignore[arg-type]
    return TestReport("jest", _unique(names or files), first or _generic_first_error(lines))


# ---------------------------------------------------------------------------- TAP

_TAP_NOT_OK_RE = re.compile(r"^(\s*)not ok\b\s*(\d+)?\s*(?:-\s*)?(.*?)\s*$")
_TAP_DIRECTIVE_RE = re.compile(r"\s+#\s*(todo|skip)\b.*$", re.IGNORECASE)
_TAP_MARK_RE = re.compile(r"^\s*(?:TAP version \d+|\d+\.\.\d+|(?:not )?ok\b)")


def _tap(lines: list[str]) -> TestReport | None:
    if not any(_TAP_MARK_RE.match(ln) for ln in lines):
        return None
    names: list[str] = []
    first = ""
    for i, line in enumerate(lines):
        m = _TAP_NOT_OK_RE.match(line)
        if not m or _TAP_DIRECTIVE_RE.search(m.group(3)):
            continue
        names.append(m.group(3) or f"test {m.group(2) or len(names) + 1}")
        if not first:
            indent = len(m.group(1))
            first = _block(lines, i, functools.partial(_tap_block_ends, indent=indent))
    if not names:
        return None
    return TestReport("tap", _unique(names), first)


def _tap_block_ends(line: str, indent: int) -> bool:
    """A TAP failure's diagnostics are the more-indented lines (YAML) and comments after it."""
    if not line.strip():
        return False
    depth = len(line) - len(line.lstrip())
    return depth <= indent and not line.lstrip().startswith("#")


_PARSERS: tuple[Callable[[list[str]], TestReport | None], ...] = (_pytest, _vitest, _jest, _tap)


# ---------------------------------------------------------------------------- fallback

_ERROR_RE = re.compile(r"(?i)\b(error|fail(ed|ure)?|exception|traceback|assert\w*|panic)\b")


def _generic_first_error(lines: list[str], after: int = 30) -> str:
    for i, line in enumerate(lines):
        if _ERROR_RE.search(line):
            return "\n".join(_cut(ln) for ln in lines[i : i + after + 1]).rstrip()
    return ""
