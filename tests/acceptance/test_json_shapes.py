"""What the commands print with ``--json`` is what ``interfaces/shapes.py`` types: the same
keys at every level, values of the declared types (``tests/test_docs_json.py`` holds the
README to the same types)."""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from mcp_orch.interfaces import shapes
from tests.conftest import Orch, task_file

pytestmark = pytest.mark.cli


def conforms(value: object, hint: Any, where: str) -> int:
    """Assert ``value`` is a ``hint`` (a TypedDict, list, dict, union or plain type); the
    number of TypedDict objects checked, so a test can tell nothing was skipped."""
    origin = get_origin(hint)
    if is_typeddict(hint):
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        fields = get_type_hints(hint)
        assert set(value) == set(fields), f"{where}: keys {sorted(value)} != {sorted(fields)}"
        return 1 + sum(conforms(value[k], fields[k], f"{where}.{k}") for k in fields)
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return 0
        (kind,) = [o for o in options if o is not type(None)]
        return conforms(value, kind, where)
    if origin is list:
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        return sum(conforms(v, get_args(hint)[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        return sum(conforms(v, get_args(hint)[1], f"{where}.{k}") for k, v in value.items())
    assert type(value) is hint, f"{where}: {value!r} is not a {hint.__name__}"
    return 0


def test_every_command_prints_the_shape_its_type_declares(orch: Orch) -> None:
    created = orch.json("create", "shaped")
    assert conforms(created, shapes.CreateJSON, "create") == 1
    tid = str(created["id"])
    orch("prep", tid, "--goal", "g", "--ac", "one", "--dod", "two", "--agent", "chatgpt")
    path = task_file(orch.cwd, tid)
    path.write_text(
        path.read_text().replace("## Files Affected", "## Design\nby hand\n\n## Files Affected")
    )

    decision = orch.json("next", "--agent", "cursor")
    assert decision["action"] == "claim"
    assert conforms(decision, shapes.DecisionJSON, "next") >= 1 + 1 + 2  # task, op, ops...
    claimed = orch.json("claim", tid, "--agent", "cursor")
    assert conforms(claimed, shapes.ClaimJSON, "claim") > 5
    orch("review", tid, "--agent", "cursor", "--note", "done")
    orch("feedback", tid, "--agent", "codex", "--text", "again")
    shown = orch.json("show", tid)
    # the task, 2 checklist items, git, 5 history entries (create, prep, claim, review,
    # feedback), the hand-written section, the note in feedback and in open_feedback
    assert conforms(shown, shapes.TaskJSON, "show") == 1 + 2 + 1 + 5 + 1 + 2
    listed = orch.json("feedback", "list")
    assert conforms(listed, shapes.FeedbackListJSON, "feedback list") == 2
    log = orch.json("log")
    assert conforms(log, shapes.LogJSON, "log") > 5

    (orch.cwd / ".mcp" / "tasks" / "pending" / "T-bad000-x.md").write_text("# no task\n")
    status = orch.json("status", "--all")
    assert status["problems"], status
    assert conforms(status, shapes.StatusJSON, "status") == 1 + 1 + 1  # status, task, problem
