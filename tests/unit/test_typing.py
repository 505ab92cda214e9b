"""What the type checker holds: ``Task.evolve`` takes only ``Task``'s fields, each with its type.

The checks run the real mypy (the one the project's ``make check`` runs) on a small program in
a temp directory, against the installed package.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_orch.domain.model import Note, Status, Task

pytestmark = pytest.mark.mcp


def mypy_errors(tmp_path: Path, program: str) -> dict[int, str]:
    """mypy --strict on ``program``: its errors by line number (empty: it type-checks)."""
    path = tmp_path / "program.py"
    path.write_text(program, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file=", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"^program\.py:(\d+): error: (.*)$", proc.stdout, re.M)
    }
    assert proc.returncode == (1 if errors else 0), proc.stdout + proc.stderr
    return errors


def test_evolve_changes_the_named_fields_and_keeps_the_rest() -> None:
    note = Note(key="FB-1", at="t", author="codex", body="fix it")
    task = Task(id="T-abc123", title="x", goal="g")
    changed = task.evolve(status=Status.READY, feedback=(note,))
    assert changed.status is Status.READY and changed.feedback == (note,)
    assert changed.goal == "g" and changed.id == "T-abc123"
    assert task.status is Status.PENDING and task.feedback == ()
    with pytest.raises(ValueError, match="titel"):
        task.evolve(titel="y")  # type: ignore[call-arg]


def test_mypy_accepts_every_field_of_task_in_evolve(tmp_path: Path) -> None:
    """Each field of ``Task``, given its own value, type-checks: none is missing from what
    ``evolve`` accepts, and none is declared with another type."""
    each = ", ".join(f"{name}=task.{name}" for name in Task._fields)
    program = (
        "from mcp_orch.domain.model import Task\n"
        "\n"
        "task = Task(id='T-abc123', title='x')\n"
        f"task.evolve({each})\n"
    )
    assert mypy_errors(tmp_path, program) == {}


def test_mypy_refuses_a_misspelt_field_or_a_wrong_type_in_evolve(tmp_path: Path) -> None:
    program = (
        "from mcp_orch.domain.model import Status, Task\n"
        "\n"
        "task = Task(id='T-abc123', title='x')\n"
        "task.evolve(title='y', status=Status.READY)\n"  # line 4: fine
        "task.evolve(titel='y')\n"  # 5: no such field
        "task.evolve(status='ready')\n"  # 6: a str where a Status goes
        "task.evolve(depends=['T-2m9x4k7p'])\n"  # 7: a list where a tuple goes
        "task.add_note('feedbak', at='t', author='a', body='b', source='review')\n"  # 8
    )
    errors = mypy_errors(tmp_path, program)
    assert sorted(errors) == [5, 6, 7, 8], errors
    assert 'keyword argument "titel"' in errors[5]
    assert '"status"' in errors[6] and '"Status"' in errors[6]
    assert '"depends"' in errors[7]
    assert '"add_note"' in errors[8]


def test_the_types_cost_the_cli_nothing_at_run_time() -> None:
    """The typed modules on the CLI's path import neither ``typing`` nor the JSON shapes."""
    code = (
        "import sys\n"
        "from mcp_orch.interfaces import cli, cli_text, handoff_cli, board_cli, present\n"
        "from mcp_orch.domain import model\n"
        "from mcp_orch import service\n"
        "print(sorted(m for m in ('typing', 'mcp_orch.interfaces.shapes') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
