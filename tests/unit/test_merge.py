"""Reading through git's conflict markers and merging two versions of one task."""

from __future__ import annotations

import errno

import pytest

from mcp_orch.board import format as fmt
from mcp_orch.board.fsutil import storage_error
from mcp_orch.board.merge import OTHER_SIDE, merge, merge_versions, parse_versions, split_conflict
from mcp_orch.domain import transitions
from mcp_orch.domain.errors import MalformedTask, StorageError
from mcp_orch.domain.model import CheckItem, Note, Status, Task

pytestmark = pytest.mark.mcp

BASE = transitions.apply(
    Task(id="T-abc123", title="Merge me", created="2025-01-01T09:00:00.000Z"),
    "prep",
    actor="chatgpt",
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
    claimed = transitions.apply(BASE, "claim", actor="cursor", now="2025-01-01T10:00:00.000Z")
    failed = transitions.apply(
        BASE.evolve(
            errors=(Note("E-1", "2025-01-01T11:00:00.000Z", "chatgpt", "obsolete", "fail", False),)
        ),
        "fail",
        actor="chatgpt",
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
        claimed = transitions.apply(BASE, "claim", actor="cursor", now="2025-01-01T12:00:00.000Z")
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


@pytest.mark.parametrize("later", ["open-side", "resolved-side"])
@pytest.mark.parametrize(("attr", "prefix"), [("feedback", "FB"), ("escalations", "ESC")])
def test_a_resolution_on_either_side_beats_the_open_note(
    attr: str, prefix: str, later: str
) -> None:
    note = Note(f"{prefix}-1", "2025-01-01T09:30:00.000Z", "codex", "handle the empty list")
    resolved = note.resolve("2025-01-01T10:30:00.000Z")
    still_open = BASE.evolve(**{attr: (note,)})
    closed = BASE.evolve(**{attr: (resolved,)})
    # whichever side made the later move (and so gives the fields), the resolution is kept
    at = "2025-01-01T11:00:00.000Z"
    if later == "open-side":
        still_open = transitions.apply(still_open, "claim", actor="cursor", now=at)
    else:
        closed = transitions.apply(closed, "claim", actor="cursor", now=at)
    for versions in ([still_open, closed], [closed, still_open]):
        merged = merge_versions(versions)
        assert merged.status is Status.IN_PROGRESS  # the later move won the fields
        assert getattr(merged, attr) == (resolved,), versions


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


def _edited(task: Task, side: str) -> Task:
    return task.evolve(
        goal=f"{side} goal",
        acceptance=(CheckItem(f"{side} criterion"),),
        files=(f"src/{side}.py",),
        notes=f"{side} notes\nsecond line",
    )


def test_text_both_sides_changed_is_kept_not_dropped() -> None:
    claimed, failed = _versions()  # the fail is the later move: it wins the fields
    claimed, failed = _edited(claimed, "side"), _edited(failed, "main")
    for candidates in ([claimed, failed], [failed, claimed]):
        result = merge(candidates)
        merged = result.task
        assert (merged.goal, merged.files) == ("main goal", ("src/main.py",))
        assert result.kept == (
            "Goal",
            "Acceptance Criteria",
            "Files Affected",
            "Implementation Notes",
        )
        text = fmt.render(merged)
        kept = text[text.index(f"## {OTHER_SIDE}\n") :]
        kept = kept[: kept.index("\n## ", 1)]
        for line in (
            "side goal",
            "- [ ] side criterion",
            "- src/side.py",
            "side notes\nsecond line",
        ):
            assert line in kept
        assert "main goal" not in kept
        # right after the sections it is about, and a plain section on the next rewrite
        assert text.index("## Implementation Notes") < text.index(f"## {OTHER_SIDE}")
        assert text.index(f"## {OTHER_SIDE}") < text.index("## Review Feedback")
        assert fmt.render(fmt.parse(text)) == text


def test_versions_that_agree_add_no_section() -> None:
    claimed, failed = _versions()
    result = merge([claimed, failed])
    assert result.kept == ()
    assert OTHER_SIDE not in fmt.render(result.task)


def test_a_hand_written_history_line_keeps_its_place_in_a_merge() -> None:
    claimed, failed = _versions()
    on_both = (fmt.inside_anchor("history", 1), "", "- a remark after prep")
    after_fail = (fmt.inside_anchor("history", 2), "", "- a remark after the fail")
    claimed = claimed.evolve(extra=(on_both,))
    failed = failed.evolve(extra=(on_both, after_fail))
    text = fmt.render(merge([claimed, failed]).task)
    history = text[text.index("## History\n") :].split("\n")
    assert history.count("- a remark after prep") == 1
    assert "| prep |" in history[history.index("- a remark after prep") - 1]
    # the fail is the third entry once both histories are one: the line follows it there
    assert "| fail |" in history[history.index("- a remark after the fail") - 1]
