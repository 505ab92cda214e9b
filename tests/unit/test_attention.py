"""What deserves an agent's attention: the ranking behind completions, the filter of what was
typed, and which board events an agent hears about, how loudly, and with no note text."""

from __future__ import annotations

import pytest

from mcp_orch.domain.attention import notices, pick, rank, search_keys
from mcp_orch.domain.events import Event
from mcp_orch.domain.model import Priority, Status
from mcp_orch.domain.policy import Summary

pytestmark = pytest.mark.mcp

ROLES = {"planner": ("chatgpt",), "implementer": ("cursor",), "reviewer": ("codex",)}


def summary(tid: str, status: Status, prio: str = "P1", **fields: object) -> Summary:
    base: dict[str, object] = {
        "id": tid,
        "title": f"title of {tid}",
        "status": status,
        "priority": Priority(prio),
        "agent": "",
        "implementer": "",
        "depends": (),
        "created": "2026-11-25T13:00:00.000Z",
        "updated": "2026-11-25T13:00:00.000Z",
        "open_feedback": 0,
        "escalated": False,
    }
    base.update(fields)
    return Summary(**base)  # type: ignore[arg-type]


BOARD = [
    summary("T-done01", Status.DONE, "P0"),
    summary("T-stub01", Status.PENDING, "P0"),
    summary("T-rev001", Status.REVIEW, "P0", implementer="cursor"),
    summary("T-ready1", Status.READY, "P0"),
    summary("T-back01", Status.READY, "P2", implementer="cursor", open_feedback=1),
    summary("T-held01", Status.IN_PROGRESS, "P2", agent="cursor", implementer="cursor"),
    summary("T-blocked", Status.READY, "P0", depends=("T-stub01",)),
]


def ids(tasks: list[Summary]) -> list[str]:
    return [t.id for t in tasks]


def test_each_role_sees_its_own_work_first() -> None:
    assert ids(rank(BOARD, "cursor", ROLES))[:3] == ["T-held01", "T-back01", "T-ready1"]
    assert ids(rank(BOARD, "codex", ROLES))[0] == "T-rev001"
    assert ids(rank(BOARD, "chatgpt", ROLES))[0] == "T-stub01"
    for agent in ("cursor", "codex", "chatgpt", None):
        assert ids(rank(BOARD, agent, ROLES))[-1] == "T-done01"  # closed last, for everyone


def test_what_was_typed_filters_by_id_prefix_or_title_words() -> None:
    keys = search_keys(rank(BOARD, "cursor", ROLES))
    assert pick(keys, "t-ba", 100) == (["T-back01"], 1)
    assert pick(keys, "REV", 100) == (["T-rev001"], 1)  # without the T-, any case
    assert pick(keys, "of held01", 100) == (["T-held01"], 1)
    assert pick(keys, "", 2) == (["T-held01", "T-back01"], len(BOARD))
    assert pick(keys, "nothing like it", 100) == ([], 0)


def event(op: str, by: str, task: str = "T-x", **fields: str) -> Event:
    return Event(at="2026-11-25T13:00:00.000Z", agent=by, op=op, task=task, **fields)


def test_an_agent_hears_its_handoffs_loudest_and_never_a_notes_text() -> None:
    mine = summary("T-x", Status.READY, implementer="cursor", open_feedback=1)
    secret = "token orch_abc in the output"
    heard = notices([event("feedback", "codex", note=secret)], {"T-x": mine}, "cursor", ROLES)
    assert [(n.level, n.kind) for n in heard] == [("notice", "feedback")]
    assert secret not in str(heard[0].to_dict())
    submitted = summary("T-x", Status.REVIEW, implementer="cursor")
    to_review = notices([event("review", "cursor")], {"T-x": submitted}, "codex", ROLES)
    assert [(n.level, n.kind) for n in to_review] == [("notice", "handoff")]
    assert notices([event("review", "cursor")], {"T-x": submitted}, "cursor", ROLES) == []
    held = summary("T-x", Status.IN_PROGRESS, agent="cursor", implementer="cursor")
    changed = notices([event("escalate", "codex")], {"T-x": held}, "cursor", ROLES)
    assert [(n.level, n.kind) for n in changed] == [("warning", "changed")]
    ready = summary("T-x", Status.READY)
    new = notices([event("prep", "chatgpt", to_status="ready")], {"T-x": ready}, "cursor", ROLES)
    assert [n.level for n in new] == ["info"]
    refused = event("claim", "claude", outcome="refused")
    assert notices([refused], {"T-x": ready}, "cursor", ROLES) == []
