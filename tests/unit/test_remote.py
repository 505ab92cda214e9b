"""The CLI bridge's wire format and the service's side of it, in-process: records, enums and
errors cross intact; bad requests are clear 4xx answers that change nothing."""

from __future__ import annotations

import json

from mcp_orch.domain.errors import MalformedTask, NotAllowed, OrchError, TaskNotFound
from mcp_orch.domain.model import CheckItem, GitContext, HistoryEntry, Note, Priority, Status, Task
from mcp_orch.domain.ops import op
from mcp_orch.interfaces import remote, remote_api
from mcp_orch.service import Service
from mcp_orch.service.handoff import ClaimResult
from mcp_orch.store.memory import MemoryStore

RICH = Task(
    id="T-aaaaaaaa",
    title="Add `rate` limit # now",
    status=Status.REVIEW,
    priority=Priority.P0,
    agent="",
    implementer="cursor",
    depends=("T-bbbbbbbb",),
    goal="line one\n## not a heading\n- [ ] not an item",
    acceptance=(CheckItem(text="5 a minute", done=True),),
    feedback=(Note(key="FB-1", at="2026-11-25T13:00:00.000Z", author="codex", body="fix"),),
    git=GitContext(branch="b", other=("a line",)),
    history=(
        HistoryEntry(
            at="x", agent="cursor", op="claim", from_status="ready", to_status="in-progress"
        ),
    ),
    extra=(("goal", "## Mine", "text"),),
    capabilities=("gpu",),
)


def _trip(value: object) -> object:
    return remote.decode(json.loads(json.dumps(remote.encode(value))))


def test_records_and_enums_cross_the_wire_intact() -> None:
    assert _trip(RICH) == RICH
    result = ClaimResult(task=RICH, changed=False)
    back = _trip(result)
    assert back == result and type(back) is ClaimResult
    assert type(back.task.status) is Status  # type: ignore[attr-defined]
    assert _trip({"a": [1, None, "x"], "b": True}) == {"a": (1, None, "x"), "b": True}


def test_an_error_is_rebuilt_as_the_same_class_with_its_hint() -> None:
    cases: list[OrchError] = [
        NotAllowed(
            "claim needs an implementer", ("ask cursor: ", op("claim", "T-aaaaaaaa", "cursor"))
        ),
        MalformedTask("bad file", "fix it", path="ready/x.md", line=3),
        TaskNotFound("no task T-x", ("see ", op("status"))),
    ]
    for exc in cases:
        back = remote.rebuild_error(json.loads(json.dumps(remote.error_data(exc))))
        assert type(back) is type(exc) and back.message == exc.message
        assert back.hint_parts == exc.hint_parts and back.exit_code == exc.exit_code
    malformed = remote.rebuild_error(remote.error_data(cases[1]))
    assert isinstance(malformed, MalformedTask) and (malformed.path, malformed.line) == (
        "ready/x.md",
        3,
    )
    unknown = remote.rebuild_error(
        {"error": {"code": "new_code", "message": "m"}, "raw": {"class": "Later", "exit_code": 42}}
    )
    assert (type(unknown), unknown.code, unknown.exit_code) == (OrchError, "new_code", 42)


def _service() -> Service:
    return Service(MemoryStore())


def test_run_op_runs_the_operation_and_answers_its_result() -> None:
    service = _service()
    body = {"op": "create", "args": remote.encode({"_args": ["A task"], "agent": "chatgpt"})}
    status, answer = remote_api.run_op(service, body)
    assert status == 200
    made = remote.decode(answer["result"])["value"]  # type: ignore[index]
    assert isinstance(made, Task) and service.store.load(made.id).title == "A task"


def test_bad_requests_are_clear_4xx_and_change_nothing() -> None:
    service = _service()
    bad: list[tuple[object, int, str]] = [
        ([1, 2], 400, "invalid_input"),
        ({"op": "create", "args": {}, "extra": 1}, 400, "invalid_input"),
        ({"op": "delete_everything", "args": {}}, 400, "invalid_input"),
        ({"op": "create", "args": {"tilte": "x"}}, 400, "invalid_input"),
        (
            {"op": "claim", "args": {"_args": ["T-zzzzzzzz"], "agent": "cursor"}},
            404,
            "task_not_found",
        ),
        ({"op": "create", "args": {"_args": ["x"], "agent": "cursor"}}, 403, "not_allowed"),
        ({"op": "agents.list", "args": {}}, 409, "error"),  # no registry without an orchestrator
    ]
    for body, code, name in bad:
        status, answer = remote_api.run_op(service, body)
        assert (status, answer["error"]["code"]) == (code, name), body  # type: ignore[index]
    assert service.store.snapshot().tasks == ()


def test_only_the_services_own_token_is_accepted() -> None:
    assert remote_api.authorized("Bearer s3cret", "s3cret")
    assert remote_api.authorized("bearer s3cret", "s3cret")
    assert not remote_api.authorized("Bearer other", "s3cret")
    assert not remote_api.authorized("s3cret", "s3cret")
    assert not remote_api.authorized("Bearer ", "")
