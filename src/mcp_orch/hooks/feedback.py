"""Feedback files: ``.mcp/feedback/<ID>/attempt-<N>-<tree>.md``, one per failed quality gate,
kept by the store as an attachment of the task (``Tx.attach``; the file board writes them).

Keyed by task, attempt and the tree that was being committed (the commit itself never came to
be: the gate blocked it), so two attempts never overwrite each other and the same tree failing
twice is recognisable. The task keeps a short Error Context entry that points here.
"""

from __future__ import annotations

import re

from ..domain.record import Record
from .parsing import TestReport, trim_log


class GateFailure(Record):
    """One failed quality-gate command and everything known about the commit it blocked."""

    task_id: str
    attempt: int
    command: str
    exit_code: int
    output: str
    report: TestReport
    tree: str
    parent: str
    branch: str
    at: str


def name(failure: GateFailure) -> str:
    """The attachment's name: on the file board ``.mcp/feedback/<ID>/<name>`` (what the
    task's note points at)."""
    tree = (failure.tree or "notree")[:12]
    return f"attempt-{failure.attempt}-{tree}.md"


def summary(failure: GateFailure) -> str:
    """The one paragraph the task's feedback entry holds."""
    text = (
        f"tests failed (attempt {failure.attempt}): `{failure.command}` exited {failure.exit_code}"
    )
    names = failure.report.failing
    if names:
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        text += f"; failing: {shown}"
    return text


def _fence(*texts: str) -> str:
    longest = max((len(m) for t in texts for m in re.findall(r"`{3,}", t)), default=0)
    return "`" * max(3, longest + 1)


def render(failure: GateFailure) -> str:
    log, kept, total = trim_log(failure.output)
    first = failure.report.first_error or "(no error line recognised; see the log)"
    fence = _fence(log, first)
    failing = "\n".join(f"- {n}" for n in failure.report.failing) or "- (none recognised)"
    return "\n".join(
        [
            f"# Feedback: {failure.task_id} - tests failed (attempt {failure.attempt})",
            "",
            f"- Task: {failure.task_id}",
            f"- Attempt: {failure.attempt}",
            f"- At: {failure.at}",
            f"- Command: `{failure.command}`",
            f"- Exit code: {failure.exit_code}",
            f"- Test runner: {failure.report.framework}",
            f"- Branch: {failure.branch or '(detached)'}",
            f"- Parent commit: {failure.parent or '(none: first commit)'}",
            f"- Tree: {failure.tree} (the commit was blocked, so it has no hash)",
            "",
            "## Failing tests",
            failing,
            "",
            "## First error",
            fence,
            first,
            fence,
            "",
            f"## Log ({kept} of {total} lines)",
            fence,
            log,
            fence,
            "",
        ]
    )
