"""The JSON shapes are documented as they are typed: the README's ``--json`` section names
exactly the keys of each ``TypedDict`` in ``interfaces/shapes.py``, nested objects too.

(``tests/acceptance/test_json_shapes.py`` holds the types to what the commands print.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mcp_orch.interfaces import shapes

pytestmark = pytest.mark.cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## `--json` output", 1)[1].split("\n## ", 1)[0]

# A documented object: its keys, each with what the README says inside it (a nested object
# or list of objects, else None).
Doc = dict[str, "Doc | None"]
_TOKEN = re.compile(r'"([^"]*)"|([{}\[\]:,])|([^\s"{}\[\]:,]+)')


def parse(text: str) -> Doc:
    """The first object written in ``text`` as the README writes shapes: ``{"id", "git":
    {"branch"}, "history": [{"at"}], "counts": {status: n}, "task": {task} or null}``."""
    tokens = [(s, p, w) for s, p, w in _TOKEN.findall(text)]
    start = next(i for i, (_, p, _) in enumerate(tokens) if p == "{")
    doc, _ = _object(tokens, start + 1)
    return doc


def _object(tokens: list[tuple[str, str, str]], i: int) -> tuple[Doc, int]:
    keys: Doc = {}
    while tokens[i][1] != "}":
        string, punct, _ = tokens[i]
        if string and tokens[i + 1][1] == ":":
            value, i = _value(tokens, i + 2)
            keys[string] = value
        elif string:
            keys[string] = None
            i += 1
        elif punct == ":":  # {status: n}, {name: value}: a mapping, not named keys
            value, i = _value(tokens, i + 1)
        else:
            i += 1
    return keys, i + 1


def _value(tokens: list[tuple[str, str, str]], i: int) -> tuple[Doc | None, int]:
    """What follows a key's colon, up to the comma or brace that ends it."""
    found: Doc | None = None
    depth = 0
    while True:
        punct = tokens[i][1]
        if depth == 0 and punct in (",", "}"):
            return found, i
        if punct == "{":
            inner, i = _object(tokens, i + 1)
            if inner and found is None:
                found = inner
            continue
        if punct == "[":
            depth += 1
        elif punct == "]":
            depth -= 1
        i += 1


def row(command: str) -> str:
    """The shape column of the README's table row whose first cell names ``command``."""
    for line in SECTION.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and f"`{command}`" in cells[0]:
            return cells[1]
    raise AssertionError(f"the --json table has no row for {command}")


def keys_of(typed: Any) -> set[str]:
    return set(typed.__required_keys__) | set(typed.__optional_keys__)


def same(doc: Doc | None, typed: Any, where: str) -> None:
    assert doc is not None, f"{where}: the README shows no keys"
    assert set(doc) == keys_of(typed), (
        f"{where}: README documents {sorted(doc)}, {typed.__name__} has {sorted(keys_of(typed))}"
    )


def test_the_task_shape_is_documented_key_for_key() -> None:
    task = parse(row("show"))
    same(task, shapes.TaskJSON, "show")
    same(task["acceptance_criteria"], shapes.CheckJSON, "show: acceptance_criteria")
    same(task["git"], shapes.GitJSON, "show: git")
    same(task["history"], shapes.HistoryJSON, "show: history")
    same(task["more_sections"], shapes.SectionJSON, "show: more_sections")
    assert '(`claim` adds `"changed"`)' in row("claim")
    assert keys_of(shapes.ClaimJSON) == keys_of(shapes.TaskJSON) | {"changed"}


def test_status_next_and_op_shapes_are_documented_key_for_key() -> None:
    status = parse(row("status"))
    same(status, shapes.StatusJSON, "status")
    same(status["tasks"], shapes.SummaryJSON, "status: tasks")
    same(status["problems"], shapes.ProblemJSON, "status: problems")
    same(parse(row("next")), shapes.DecisionJSON, "next")
    op = SECTION.split("An operation (`op`)", 1)[1]
    same(parse(op), shapes.OpJSON, "op")


def test_create_feedback_list_and_log_shapes_are_documented_key_for_key() -> None:
    same(parse(row("create")), shapes.CreateJSON, "create")
    listed = parse(row("feedback list"))
    same(listed, shapes.FeedbackListJSON, "feedback list")
    same(listed["feedback"], shapes.FeedbackItemJSON, "feedback list: feedback")
    assert keys_of(shapes.FeedbackItemJSON) == keys_of(shapes.NoteJSON) | {"task"}
    events = parse(row("log"))
    same(events, shapes.LogJSON, "log")
    same(events["events"], shapes.EventJSON, "log: events")


def test_the_parser_reads_nested_shapes_and_mappings() -> None:
    """The reader of the README's notation itself (so a test above cannot pass vacuously)."""
    doc = parse('x `{"a", "b": [{"c", "d"}], "m": {status: n}, "t": {task} or null, "s": "x"|"y"}`')
    assert doc == {"a": None, "b": {"c": None, "d": None}, "m": None, "t": None, "s": None}
