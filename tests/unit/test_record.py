"""The start-up saver of the hot path: ``Record`` (cheap typed named tuples) must behave exactly
as the ``typing.NamedTuple`` it replaces."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from mcp_orch.domain.model import Note, Task
from mcp_orch.domain.record import Record

pytestmark = pytest.mark.mcp


class Point(Record):
    """A point, for the tests."""

    x: int
    y: int = 0
    label: str = "origin"

    LIMIT = 10  # a class attribute, not a field

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)

    @property
    def far(self) -> bool:
        return abs(self.x) > self.LIMIT


def test_a_record_is_a_named_tuple_with_its_fields_defaults_and_methods() -> None:
    p = Point(3)
    assert p == (3, 0, "origin") and isinstance(p, tuple)
    assert Point._fields == ("x", "y", "label")
    assert Point._field_defaults == {"y": 0, "label": "origin"}
    assert p.moved(20) == Point(x=23) and p.moved(20).far and not p.far
    assert Point.__doc__ == "A point, for the tests." and Point.__qualname__ == "Point"
    assert Point.__module__ == __name__
    with pytest.raises(AttributeError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_records_pickle_and_compare_like_named_tuples() -> None:
    note = Note(key="FB-1", at="t", author="codex", body="fix it")
    task = Task(id="T-abc123", title="x", feedback=(note,))
    assert pickle.loads(pickle.dumps(task)) == task
    assert task.evolve(title="y").title == "y" and task.title == "x"
    assert repr(note).startswith("Note(key='FB-1'")


def test_fields_with_defaults_must_come_last() -> None:
    with pytest.raises(TypeError, match="defaults must come last"):

        class Bad(Record):
            a: int = 1
            b: int


def test_the_cli_hot_path_never_imports_typing_or_json() -> None:
    code = (
        "import sys\n"
        "from mcp_orch.interfaces import cli, handoff_cli, board_cli\n"
        "from mcp_orch import service, config\n"
        "from mcp_orch.board import files, format\n"
        "print(sorted(m for m in ('typing', 'json', 'dataclasses') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
