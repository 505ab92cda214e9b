"""Operations as data (issue 8): the domain names an operation with its arguments, and each
interface words it: the CLI as a command line that runs as printed, MCP as a tool call."""

from __future__ import annotations

import pytest

from mcp_orch.domain.errors import IllegalTransition, NotAllowed, UnknownAgent
from mcp_orch.domain.model import Status, Task
from mcp_orch.domain.ops import op, plain
from mcp_orch.domain.policy import Summary, decide
from mcp_orch.domain.roles import check_known, check_step
from mcp_orch.domain.transitions import check
from mcp_orch.interfaces.cli_text import command, decision_command
from mcp_orch.interfaces.mcp_text import decision_call, tool_call

ROLES = {"planner": ("chatgpt",), "implementer": ("cursor",), "reviewer": ("codex",)}


def summary(tid: str, status: Status, implementer: str = "", agent: str = "") -> Summary:
    return Summary(
        id=tid,
        title=tid,
        status=status,
        priority=Task(id=tid, title=tid).priority,
        agent=agent,
        implementer=implementer,
        depends=(),
        created="2026-01-01",
        updated="2026-01-01",
        open_feedback=0,
        escalated=False,
    )


@pytest.mark.parametrize(
    ("o", "cli", "mcp"),
    [
        (
            op("prep", "T-1", "chatgpt", "goal", "acceptance"),
            "orch prep T-1 --goal TEXT --ac TEXT --agent chatgpt",
            "call prep_task with task_id=T-1, goal=..., acceptance_criteria=...",
        ),
        (
            op("claim", "T-1", "cursor"),
            "orch claim T-1 --agent cursor",
            "call claim_task with task_id=T-1",
        ),
        (
            op("submit", "T-1", "cursor", "note"),
            "orch submit T-1 --note TEXT --agent cursor",
            "call submit_task with task_id=T-1, note=...",
        ),
        (
            op("feedback", "T-1", "codex", "text"),
            "orch feedback T-1 --text TEXT --agent codex",
            "call review_task with task_id=T-1, approve=false, feedback=...",
        ),
        (
            op("create", "", "chatgpt", "title", priority="P1"),
            'orch create "TITLE" --priority P1 --agent chatgpt',
            "call create_task with priority=P1, title=...",
        ),
        (
            op("resolve", "T-1", "human", to="ready"),
            "orch resolve T-1 --to ready --agent human",
            "a person runs `orch resolve T-1 --to ready`",
        ),
        (op("status", all=""), "orch status --all", "call board_status with include_closed=true"),
        (
            op("next", "", "codex", wait=""),
            "orch next --wait --agent codex",
            "call next_task again after the next handoff",
        ),
    ],
)
def test_each_interface_words_an_operation(o: object, cli: str, mcp: str) -> None:
    assert command(o) == cli  # type: ignore[arg-type]
    assert tool_call(o) == mcp  # type: ignore[arg-type]


def test_a_value_with_spaces_is_one_shell_word() -> None:
    assert command(op("fail", "T-1", "my agent")) == 'orch fail T-1 --agent "my agent"'


def test_error_hints_hold_operations_not_command_lines() -> None:
    with pytest.raises(IllegalTransition) as info:
        check(Task(id="T-1", title="t", status=Status.DONE), "claim")
    err = info.value
    assert "orch" not in err.hint and plain(op("resolve", "T-1")) in err.hint
    assert err.worded_hint(command).endswith("orch resolve T-1 --to ready")
    assert err.worded_hint(tool_call).endswith("a person runs `orch resolve T-1 --to ready`")


def test_the_review_decision_offers_both_answers_in_each_wording() -> None:
    d = decide([summary("T-1", Status.REVIEW, implementer="cursor")], "codex", ROLES)
    assert decision_command(d) == (
        "orch complete T-1 --agent codex  # or: orch feedback T-1 --text TEXT --agent codex"
    )
    assert decision_call(d) == (
        "call review_task with task_id=T-1, approve=true; "
        "or call review_task with task_id=T-1, approve=false, feedback=..."
    )


def test_a_reviewer_waits_for_submitted_work_not_for_a_task_limit() -> None:
    d = decide([summary("T-1", Status.IN_PROGRESS, "cursor", "cursor")], "codex", ROLES)
    assert d.action == "wait"
    assert d.reason == (
        "nothing for you (reviewer) right now: waiting for work to be submitted for review "
        "(1 in progress)"
    )


def test_an_agent_in_two_roles_is_never_offered_its_own_work_to_review() -> None:
    roles = {**ROLES, "reviewer": ("codex", "cursor")}
    own = summary("T-1", Status.REVIEW, implementer="cursor")
    assert decide([own], "cursor", roles).action == "wait"
    with pytest.raises(NotAllowed, match="cursor implemented T-1"):
        check_step("complete", "cursor", Task(id="T-1", title="t", implementer="cursor"), roles)


def test_resolve_is_for_the_planner_or_a_person_and_never_approves_own_work() -> None:
    task = Task(id="T-1", title="t", implementer="chatgpt")
    with pytest.raises(NotAllowed, match="resolve T-1 needs a planner"):
        check_step("resolve", "cursor", task, ROLES)
    with pytest.raises(NotAllowed, match="chatgpt implemented T-1"):
        check_step("resolve", "chatgpt", task, ROLES, approves=True)
    check_step("resolve", "chatgpt", task, ROLES)
    check_step("resolve", "human", task, ROLES, approves=True)


def test_the_log_is_read_only_for_an_agent_in_no_role() -> None:
    def never() -> list[str]:
        raise AssertionError("a listed agent or a person needs no look at the log")

    check_known("cursor", ROLES, never)
    check_known("human", ROLES, never)
    check_known("gemini", ROLES, lambda: ["gemini"])
    with pytest.raises(UnknownAgent) as info:
        check_known("cusor", ROLES, list)
    assert "known agents: chatgpt, codex, cursor" in info.value.hint
