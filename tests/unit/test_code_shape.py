"""Habits of the code that a reader relies on, checked on the source itself.

A nested function returns what it found: it does not carry a result out by appending to, or
storing into, a list or dict of the function around it (``warning: list[str] = []`` ...
``warning.append(msg)`` inside ``def change``), which hides the data flow from the reader and
from the type checker.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import mcp_orch

pytestmark = pytest.mark.mcp

SRC = Path(mcp_orch.__file__).parent
_MUTATORS = {"append", "extend", "insert", "update", "add", "setdefault", "pop", "clear"}
Function = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


def _own_nodes(fn: Function) -> Iterator[ast.AST]:
    """The nodes of ``fn``'s body, not those of the functions nested in it."""
    todo: list[ast.AST] = list(ast.iter_child_nodes(fn))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, Function):
            todo.extend(ast.iter_child_nodes(node))


def _names(fn: Function) -> set[str]:
    """The collections ``fn`` owns: its parameters and the names it binds to [] {} or set()."""
    args = fn.args
    owned = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    for node in _own_nodes(fn):
        value = getattr(node, "value", None)
        literal = isinstance(value, (ast.List, ast.Dict, ast.Set)) or (
            isinstance(value, ast.Call) and getattr(value.func, "id", "") in ("list", "dict", "set")
        )
        if isinstance(node, ast.Assign) and literal:
            owned |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and literal and isinstance(node.target, ast.Name):
            owned.add(node.target.id)
    return owned - {"self", "cls"}


def _mutated(fn: Function) -> Iterator[tuple[str, int]]:
    """The outer names a nested function changes in place (or rebinds with ``nonlocal``)."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if node.func.attr in _MUTATORS and isinstance(target, ast.Name):
                yield target.id, node.lineno
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                    yield t.value.id, node.lineno
        elif isinstance(node, ast.Nonlocal):
            yield from ((name, node.lineno) for name in node.names)


def side_channels(source: str, where: str) -> list[str]:
    """Each place where a nested function writes into a collection of its enclosing one."""
    found = []
    for outer in ast.walk(ast.parse(source)):
        if not isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        owned = _names(outer)
        for inner in _own_nodes(outer):
            if isinstance(inner, Function):
                local = _names(inner)
                for name, line in _mutated(inner):
                    if name in owned and name not in local:
                        found.append(f"{where}:{line}: {outer.name} -> {name}")
    return found


def test_nested_functions_return_results_instead_of_filling_outer_lists() -> None:
    found = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        for hit in side_channels(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)))
    ]
    assert found == []


def test_the_check_finds_a_result_carried_out_through_a_list() -> None:
    source = (
        "def claim(task_id):\n"
        "    holder: list[bool] = []\n"
        "    def change(task):\n"
        "        holder.append(True)\n"
        "        return task\n"
        "    return change, holder\n"
        "def run(steps):\n"
        "    fns = [lambda: steps.append(1)]\n"
        "    def fine():\n"
        "        mine = []\n"
        "        mine.append(1)\n"
        "        return mine\n"
        "    return fns, fine\n"
    )
    assert side_channels(source, "x.py") == ["x.py:4: claim -> holder", "x.py:8: run -> steps"]
