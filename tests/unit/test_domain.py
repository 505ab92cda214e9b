"""The pure core: the transition table, the next-action policy, dependencies and IDs."""

from __future__ import annotations

import pytest

from mcp_orch.domain import transitions
from mcp_orch.domain.errors import DependencyError, IllegalTransition, InvalidInput
from mcp_orch.domain.events import Event, event_for
from mcp_orch.domain.ids import ALPHABET, check_prefix, new_id, normalize_id
from mcp_orch.domain.model import Priority, Status, Task
from mcp_orch.domain.ops import canonical
from mcp_orch.domain.policy import Summary, check_new_depends, decide, find_cycle

pytestmark = pytest.mark.mcp

P, R, IP, RV, D, F = (
    Status.PENDING,
    Status.READY,
    Status.IN_PROGRESS,
    Status.REVIEW,
    Status.DONE,
    Status.FAILED,
)
ROLES = {"planner": ("chatgpt",), "implementer": ("cursor",), "reviewer": ("codex",)}

# op -> the statuses it may start from and where it goes
LEGAL = {
    "prep": ({P, R}, R),
    "claim": ({R}, IP),
    "submit": ({IP}, RV),
    "feedback": ({RV}, R),
    "complete": ({RV}, D),
    "fail": ({P, R, IP, RV}, F),
}


@pytest.mark.parametrize("op", sorted(LEGAL))
@pytest.mark.parametrize("status", list(Status))
def test_transition_table(op: str, status: Status) -> None:
    task = Task(id="T-abc123", title="x", status=status, agent="cursor")
    sources, target = LEGAL[op]
    if status in sources:
        moved = transitions.apply(task, op, actor="cursor", now="2025-01-01T00:00:00.000Z")
        assert moved.status is target
        assert moved.history[-1][1:5] == ("cursor", op, status.value, target.value)
        assert moved.updated == "2025-01-01T00:00:00.000Z"
        assert (moved.agent == "cursor") == (target is IP)
    else:
        with pytest.raises(IllegalTransition) as info:
            transitions.apply(task, op, actor="cursor", now="t")
        assert status.value in info.value.message and info.value.hint


def test_claim_makes_the_agent_holder_and_implementer() -> None:
    task = Task(id="T-abc123", title="x", status=R)
    moved = transitions.apply(task, "claim", actor="cursor", now="t")
    assert (moved.agent, moved.implementer) == ("cursor", "cursor")
    back = transitions.apply(
        transitions.apply(moved, "submit", actor="cursor", now="t2"),
        "feedback",
        actor="codex",
        now="t3",
    )
    assert back.agent == "" and back.implementer == "cursor"


def test_an_orchestrator_assigns_a_task_to_another_agent() -> None:
    task = Task(id="T-abc123", title="x", status=R, implementer="claude")
    moved = transitions.apply(task, "claim", actor="orchestrator", holder="cursor", now="t")
    assert (moved.status, moved.agent, moved.implementer) == (IP, "cursor", "cursor")
    entry = moved.history[-1]
    assert (entry.agent, entry.op, entry.note) == ("orchestrator", "claim", "for cursor")
    noted = transitions.apply(
        task, "claim", actor="orchestrator", holder="cursor", now="t", note="least loaded"
    )
    assert noted.history[-1].note == "for cursor: least loaded"
    own = transitions.apply(task, "claim", actor="cursor", holder="cursor", now="t")
    assert own.history[-1].note == ""  # holding what one claims oneself goes without saying


def test_a_holder_is_ignored_by_a_move_that_hands_the_task_to_nobody() -> None:
    task = Task(id="T-abc123", title="x", status=IP, agent="cursor", implementer="cursor")
    moved = transitions.apply(task, "submit", actor="cursor", holder="claude", now="t")
    assert (moved.agent, moved.implementer, moved.history[-1].note) == ("", "cursor", "")


def test_a_move_yields_its_event() -> None:
    task = Task(id="T-abc123", title="x", status=R)
    moved = transitions.apply(task, "claim", actor="orchestrator", holder="cursor", now="t")
    event = event_for(task, moved, actor="orchestrator", op="claim", at="t", note="a\n b")
    assert event == Event(
        at="t",
        agent="orchestrator",
        op="claim",
        task="T-abc123",
        from_status="ready",
        to_status="in-progress",
        note="a b",
        holder="cursor",
    )
    mine = transitions.apply(task, "claim", actor="cursor", now="t")
    assert event_for(task, mine, actor="cursor", op="claim", at="t").holder == ""
    assert "holder" not in event_for(task, mine, actor="cursor", op="claim", at="t").to_dict()
    created = event_for(None, task, actor="chatgpt", op="create", at="t")
    assert (created.task, created.from_status, created.to_status) == ("T-abc123", "", "ready")
    refused = event_for(
        None, None, actor="x", op="claim", at="t", note="y" * 900, outcome="refused", task_id="T-1"
    )
    assert (refused.task, refused.outcome, len(refused.note)) == ("T-1", "refused", 500)


def test_an_old_log_line_reads_with_the_name_of_today() -> None:
    old = Event.from_dict({"at": "t", "agent": "cursor", "op": "review", "task": "T-1"})
    assert old.holder == "" and canonical(old.op) == "submit"
    assert canonical("claim") == "claim"


def test_history_is_appended_never_replaced() -> None:
    task = Task(id="T-abc123", title="x", status=R)
    for op, who in (("claim", "cursor"), ("submit", "cursor"), ("feedback", "codex")):
        task = transitions.apply(task, op, actor=who, now=f"t-{op}", note="a  b\nc")
    assert [h.op for h in task.history] == ["claim", "submit", "feedback"]
    assert task.history[0].note == "a b c"


def s(
    tid: str, status: Status, prio: str = "P1", created: str = "2025-01-01", **kw: object
) -> Summary:
    base: dict[str, object] = dict(
        id=tid,
        title=tid,
        status=status,
        priority=Priority(prio),
        agent="",
        implementer="",
        depends=(),
        created=created,
        updated=created,
        open_feedback=0,
        escalated=False,
    )
    base.update(kw)
    return Summary(**base)  # type: ignore[arg-type]


def test_next_priority_then_age() -> None:
    tasks = [
        s("T-p2old", R, "P2", "2024-01-01"),
        s("T-p1new", R, "P1", "2025-06-01"),
        s("T-p1old", R, "P1", "2025-01-01"),
    ]
    assert decide(tasks, "cursor", ROLES).task_id == "T-p1old"
    assert decide([*tasks, s("T-p0", R, "P0", "2026-01-01")], "cursor", ROLES).task_id == "T-p0"


def test_next_precedence_for_the_implementer() -> None:
    held = s("T-held", IP, "P2", agent="cursor", implementer="cursor")
    fix = s("T-fixme", R, "P2", open_feedback=1, implementer="cursor")
    new = s("T-new", R, "P0")
    assert decide([new, fix, held], "cursor", ROLES).action == "continue"
    d = decide([new, fix], "cursor", ROLES)
    assert (d.action, d.task_id) == ("fix", "T-fixme")
    assert decide([new], "cursor", ROLES).action == "claim"


def test_feedback_for_another_implementer_is_not_taken() -> None:
    theirs = s("T-theirs", R, "P0", open_feedback=1, implementer="claude")
    d = decide([theirs], "cursor", ROLES)
    assert d.action == "wait" and d.task_id is None


def test_max_in_progress() -> None:
    held = s("T-held", IP, agent="cursor")
    ready = s("T-new", R)
    roles = {**ROLES}
    # held work is continued first; with max 2 a second ready task would be offered next
    assert decide([held, ready], "cursor", roles, max_in_progress=1).action == "continue"
    assert decide([ready], "cursor", roles, max_in_progress=1).action == "claim"


def test_reviewer_and_planner() -> None:
    tasks = [s("T-stub", P), s("T-rev", RV, implementer="cursor")]
    assert decide(tasks, "codex", ROLES).task_id == "T-rev"
    assert decide(tasks, "chatgpt", ROLES).task_id == "T-stub"
    flagged = s("T-esc", R, "P0", escalated=True)
    assert decide([*tasks, flagged], "chatgpt", ROLES).action == "escalation"
    # an escalated task is offered to nobody else
    assert decide([flagged], "cursor", ROLES).action == "wait"


def test_dependencies_block_until_done() -> None:
    dep = s("T-dep", R, "P2")
    blocked = s("T-blocked", R, "P0", depends=("T-dep",))
    assert decide([dep, blocked], "cursor", ROLES).task_id == "T-dep"
    assert decide([dep._replace(status=IP, agent="x"), blocked], "cursor", ROLES).action == "wait"
    assert decide([dep._replace(status=D), blocked], "cursor", ROLES).task_id == "T-blocked"
    unknown = s("T-orphan", R, depends=("T-gone00",))
    assert decide([unknown], "cursor", ROLES).action == "wait"


@pytest.mark.errors
def test_cycles_are_refused() -> None:
    graph = {"T-a00000": ("T-b00000",), "T-b00000": ("T-c00000",), "T-c00000": ()}
    check_new_depends("T-d00000", ["T-a00000"], graph)  # fine
    with pytest.raises(DependencyError, match="cycle: T-c00000 -> T-a00000"):
        check_new_depends("T-c00000", ["T-a00000"], graph)
    with pytest.raises(DependencyError, match="itself"):
        check_new_depends("T-a00000", ["T-a00000"], graph)
    with pytest.raises(DependencyError, match="unknown dependency"):
        check_new_depends("T-a00000", ["T-zzzzzz"], graph)
    assert find_cycle("T-a00000", graph) is None
    long = {f"n{i}": (f"n{i + 1}",) for i in range(5000)}
    long["n5000"] = ("n0",)
    assert find_cycle("n0", long) is not None  # iterative: no recursion limit


def test_new_ids_are_short_valid_and_random() -> None:
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000
    for tid in list(ids)[:50]:
        assert normalize_id(tid) == tid
        assert len(tid) == 10 and set(tid[2:]) <= set(ALPHABET)
    assert new_id("web", b"\x00" * 5) == "WEB-00000000"
    assert new_id("T", b"\xff" * 5) == "T-zzzzzzzz"  # all 40 bits reach the ID


@pytest.mark.errors
@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "T-../../etc",
        "T-abc/def",
        "/etc/passwd",
        "T-abc123/..",
        "",
        "T-",
        "T-ab",
        "T-abc 123",
        "T-abc123\n",
        "..",
        "T_abc123",
        "T-abc123.md",
        "-abc123",
    ],
)
def test_ids_from_input_are_validated(bad: str) -> None:
    if bad == "T-abc123\n":  # surrounding whitespace is forgiven, nothing else
        assert normalize_id(bad) == "T-abc123"
        return
    with pytest.raises(InvalidInput):
        normalize_id(bad)


def test_ids_are_canonicalised() -> None:
    assert normalize_id("t-ABC123") == "T-abc123"
    with pytest.raises(InvalidInput):
        check_prefix("../")
    assert check_prefix("web") == "WEB"


def test_decide_is_its_rules_in_order() -> None:
    from mcp_orch.domain.policy import RULES

    held = s("T-held", IP, agent="cursor", implementer="cursor")
    ready = s("T-ready", R, "P0")
    assert [r.__name__ for r in RULES] == [
        "_continue",
        "_assigned_review",
        "_escalation",
        "_fix",
        "_review",
        "_adopt",
        "_claim",
        "_prep",
    ]
    assert decide([held, ready], "cursor", ROLES, 2).action == "continue"
    without = tuple(r for r in RULES if r.__name__ != "_continue")
    chosen = decide([held, ready], "cursor", ROLES, 2, rules=without)
    assert (chosen.action, chosen.task_id) == ("claim", "T-ready")
    assert decide([held, ready], "cursor", ROLES, 2, rules=()).action == "wait"


def test_a_task_an_orchestrator_assigned_is_offered_to_its_agent_only() -> None:
    roles = {**ROLES, "reviewer": ("codex", "claude")}
    older = s("T-old", RV, "P0", "2024-01-01", implementer="cursor")
    newer = s("T-new", RV, "P2", "2025-06-01", implementer="cursor")
    assigned = {"T-new": "claude", "T-old": "codex"}
    for who, tid in (("claude", "T-new"), ("codex", "T-old")):
        chosen = decide([older, newer], who, roles, assigned=assigned)
        assert (chosen.action, chosen.task_id) == ("review", tid)
    # without assignments the most urgent review goes to whoever asks
    assert decide([older, newer], "claude", roles).task_id == "T-old"
    # a ready task assigned to another implementer is not offered for claiming
    ready = s("T-ready", R, "P0")
    assert decide([ready], "cursor", ROLES, assigned={"T-ready": "claude"}).action == "wait"
    assert decide([ready], "cursor", ROLES, assigned={"T-ready": "cursor"}).action == "claim"


def test_the_old_name_of_submit_still_moves_and_is_still_guarded() -> None:
    from mcp_orch.domain.errors import NotAllowed
    from mcp_orch.domain.roles import check_step

    task = Task(id="T-abc123", title="x", status=IP, agent="cursor", implementer="cursor")
    moved = transitions.apply(task, "review", actor="cursor", now="t")
    assert (moved.status, moved.history[-1].op) == (RV, "submit")
    with pytest.raises(NotAllowed):
        check_step("review", "codex", task, ROLES)  # a reviewer may not submit
