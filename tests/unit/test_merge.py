"""Reading through git's conflict markers and merging two versions of one task."""

from __future__ import annotations

import errno

import pytest

from mcp_orch.board import format as fmt
from mcp_orch.board.fsutil import storage_error
from mcp_orch.board.merge import merge_versions, parse_versions, split_conflict
from mcp_orch.domain import transitions
from mcp_orch.domain.errors import MalformedTask, StorageError
from mcp_orch.domain.model import Note, Status, Task

pytestmark = pytest.mark.mcp

BASE = transitions.apply(
    Task(id="T-abc123", title="Merge me", created="2025-01-01T09:00:00.000Z"),
    "prep",
    agent="chatgpt",
    now="2025-01-01T09:00:00.000Z",
)


def _conflict(ours: str, theirs: str, width: int = 7, base: str | None = None) -> str:
    """Text as git leaves it: common lines once, differing lines between markers."""
    a, b = ours.split("\n"), theirs.split("\n")
    out: list[str] = []
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        out.append(a[i])
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    out.append("<" * width + " HEAD:x.md")
    out += a[i : len(a) - j]
    if base is not None:
        out += ["|" * width + " base", base]
    out.append("=" * width)
    out += b[i : len(b) - j]
    out.append(">" * width + " other:y.md")
    out += a[len(a) - j :]
    return "\n".join(out)


def _versions() -> tuple[Task, Task]:
    claimed = transitions.apply(BASE, "claim", agent="cursor", now="2025-01-01T10:00:00.000Z")
    failed = transitions.apply(
        BASE.evolve(
            errors=(Note("E-1", "2025-01-01T11:00:00.000Z", "chatgpt", "obsolete", "fail", False),)
        ),
        "fail",
        agent="chatgpt",
        now="2025-01-01T11:00:00.000Z",
        note="obsolete",
    )
    return claimed, failed


@pytest.mark.parametrize("width", [7, 8])
def test_split_reads_both_sides(width: int) -> None:
    claimed, failed = _versions()
    text = _conflict(fmt.render(claimed), fmt.render(failed), width, base="## Status: ready")
    ours, theirs = parse_versions(text, "in-progress/T-abc123-merge-me.md")
    assert ours == claimed
    assert theirs == failed


def test_text_without_markers_is_one_version() -> None:
    text = fmt.render(BASE)
    assert split_conflict(text) == [text]


@pytest.mark.parametrize("order", ["claim-last", "fail-last"])
def test_merge_keeps_both_histories_and_the_later_move_wins(order: str) -> None:
    claimed, failed = _versions()
    if order == "claim-last":
        claimed = transitions.apply(BASE, "claim", agent="cursor", now="2025-01-01T12:00:00.000Z")
    # git merges the header lines that only one branch changed into both sides: the failed side
    # then says "Agent: cursor" although only an in-progress task has a holder
    failed = failed.evolve(agent="cursor")
    versions = [claimed, failed]
    for candidates in (versions, versions[::-1]):
        merged = merge_versions(candidates)
        ops = [h.op for h in merged.history]
        assert ops.count("claim") == 1 and ops.count("fail") == 1 and ops[0] == "prep"
        assert [h.at for h in merged.history] == sorted(h.at for h in merged.history)
        assert [e.body for e in merged.errors] == ["obsolete"]
        if order == "claim-last":
            assert (merged.status, merged.agent) == (Status.IN_PROGRESS, "cursor")
        else:
            assert (merged.status, merged.agent) == (Status.FAILED, "")


def test_merged_feedback_keys_stay_unique() -> None:
    one = BASE.evolve(feedback=(Note("FB-1", "2025-01-01T10:00:00.000Z", "codex", "a"),))
    two = BASE.evolve(feedback=(Note("FB-1", "2025-01-01T10:05:00.000Z", "claude", "b"),))
    merged = merge_versions([one, two])
    assert sorted(n.body for n in merged.feedback) == ["a", "b"]
    assert len({n.key for n in merged.feedback}) == 2


@pytest.mark.errors
def test_a_side_that_cannot_be_parsed_is_refused() -> None:
    text = fmt.render(BASE).replace(
        "## Status: ready", "<<<<<<< HEAD\n## Status: ready\n=======\n## Status: bogus\n>>>>>>> b"
    )
    with pytest.raises(MalformedTask):
        parse_versions(text, "ready/x.md")


@pytest.mark.errors
@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only"),
        (errno.ENOENT, "missing"),
        (errno.EIO, "Input/output error"),
    ],
)
def test_storage_errors_are_clear(code: int, words: str) -> None:
    import os

    exc = OSError(code, os.strerror(code), "/b/.mcp/tasks/ready/T-abc123.md")
    err = storage_error(exc, "write T-abc123.md")
    assert isinstance(err, StorageError)
    assert words in err.message and "T-abc123.md" in err.message
    assert err.hint and err.exit_code != 0
    assert "Traceback" not in err.message
