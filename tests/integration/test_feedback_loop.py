"""The failed-test feedback loop through real commits: gate fails -> feedback file, task back to
ready, 'orch next' says fix; a green commit resolves it. And escalation's one place."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.conftest import Orch
from tests.integration.hooks_support import change, claimed, commit, run_git, set_gate, task

pytestmark = [pytest.mark.hooks, pytest.mark.errors]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hooks"

CALC = "def add(a, b):\n    return a - b\n"
CALC_TEST = (
    "from calc import add\n\n\n"
    "def test_add():\n    assert add(2, 2) == 4\n\n\n"
    "def test_add_zero():\n    assert add(0, 0) == 0\n"
)


def pytest_gate() -> str:
    return f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider calc_tests"


def feedback_files(project: Path, task_id: str) -> list[Path]:
    return sorted((project / ".mcp" / "feedback" / task_id).glob("attempt-*.md"))


def test_failing_pytest_project_then_green_commit(orch: Orch, project: Path) -> None:
    (project / "calc.py").write_text(CALC)
    (project / "calc_tests").mkdir()
    (project / "calc_tests" / "test_calc.py").write_text(CALC_TEST)
    (project / "calc_tests" / "conftest.py").write_text(
        "import sys, os\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n"
    )
    orch("hooks", "install")
    set_gate(project, pytest_gate())
    task_id = claimed(orch, "Add numbers")
    run_git(project, "checkout", "-q", "-b", f"feature/{task_id}-add")
    run_git(project, "add", "calc.py", "calc_tests")
    tree = run_git(project, "write-tree").strip()

    proc = commit(project, "-m", "Add calc")
    assert proc.returncode == 1
    assert "1 failed, 1 passed" in proc.stderr  # the gate's own output, shown as it would be
    assert run_git(project, "rev-list", "--count", "HEAD").strip() == "1"

    [fb_file] = feedback_files(project, task_id)
    assert fb_file.name == f"attempt-1-{tree[:12]}.md"
    text = fb_file.read_text()
    assert f"- Command: `{pytest_gate()}`" in text
    assert "- Exit code: 1" in text
    assert "- Test runner: pytest" in text
    failing = text.split("## Failing tests\n", 1)[1].split("\n\n", 1)[0]
    assert failing == "- calc_tests/test_calc.py::test_add"
    first = text.split("## First error\n", 1)[1]
    assert "assert 0 == 4" in first.split("## Log", 1)[0]

    back = task(project, task_id)
    assert back.status.value == "ready" and back.implementer == "cursor" and back.agent == ""
    [fb] = back.open_feedback
    ref = f".mcp/feedback/{task_id}/{fb_file.name}"
    assert (fb.source, fb.ref) == ("test", ref)
    assert "calc_tests/test_calc.py::test_add" in fb.body
    assert back.errors[-1].source == "test" and "assert 0 == 4" in back.errors[-1].body
    assert back.history[-1].op == "test-failed"

    nxt = orch.json("next", "--agent", "cursor")
    assert nxt["action"] == "fix"
    assert str(nxt["reason"]).startswith(f"fix failing tests in {task_id}")
    assert ref in str(nxt["reason"])
    listed = orch.json("feedback", "list", task_id)["feedback"]
    assert [f["ref"] for f in listed] == [ref]  # type: ignore[index, union-attr]
    shown = orch("show", task_id).out
    assert shown.startswith("OPEN FEEDBACK")

    orch("claim", task_id, "--agent", "cursor")
    (project / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    run_git(project, "add", "calc.py")
    green = commit(project, "-m", "Fix add", "-m", "Task-Status: review")
    assert green.returncode == 0, green.stderr
    done = task(project, task_id)
    assert done.open_feedback == ()
    assert done.feedback[0].resolved_at
    assert done.status.value == "review"
    assert done.git.commit == run_git(project, "rev-parse", "HEAD").strip()
    assert done.git.branch == f"feature/{task_id}-add"
    assert orch.json("feedback", "list")["feedback"] == []
    assert orch.json("next", "--agent", "cursor")["action"] != "fix"


def test_retry_by_the_agent_alone_runs_the_gate_and_resolves_the_feedback(
    orch: Orch, project: Path
) -> None:
    (project / "state").write_text("broken\n")
    run_git(project, "add", "state")
    orch("hooks", "install")
    set_gate(project, "grep -q fixed state")
    task_id = claimed(orch, "Retry")
    cursor = {"ORCH_AGENT": "cursor"}  # main branch, no Task trailer: only the agent says whose
    assert commit(project, "-m", "try", env=cursor).returncode == 1
    back = task(project, task_id)
    assert (back.status.value, back.agent, back.implementer) == ("ready", "", "cursor")

    again = commit(project, "-m", "still broken", env=cursor)
    assert again.returncode == 1, again.stderr  # the gate ran for the task cursor was sent back
    assert len(feedback_files(project, task_id)) == 2

    (project / "state").write_text("fixed\n")
    run_git(project, "add", "state")
    green = commit(project, "-m", "fixed", env=cursor)
    assert green.returncode == 0, green.stderr
    assert "cursor's task sent back by failing tests" in green.stderr
    done = task(project, task_id)
    assert done.open_feedback == ()
    assert done.git.commit == run_git(project, "rev-parse", "HEAD").strip()
    nxt = orch.json("next", "--agent", "cursor")
    assert "fix failing tests" not in str(nxt["reason"])
    assert nxt["action"] != "fix"


def fixture_gate(name: str) -> str:
    return f"cat {shlex.quote(str(FIXTURES / name))}; exit 1"


@pytest.mark.parametrize(
    ("fixture", "runner", "names", "first"),
    [
        (
            "jest-failure.txt",
            "jest",
            ["Calculator › adds numbers", "Calculator › divides by zero safely"],
            "Expected: 4",
        ),
        ("tap-failure.txt", "tap", ["reads a negative number", "parser"], "-3 !== 3"),
        (
            "vitest-failure.txt",
            "vitest",
            ["src/sum.test.ts > sum > adds 1 + 2 to equal 4"],
            "expected 3 to be 4",
        ),
    ],
)
def test_runner_output_fixtures_make_the_right_feedback(
    orch: Orch, project: Path, fixture: str, runner: str, names: list[str], first: str
) -> None:
    orch("hooks", "install")
    set_gate(project, fixture_gate(fixture))
    task_id = claimed(orch, f"{runner} task")
    change(project)
    proc = commit(project, "-m", "work", "-m", f"Task: {task_id}")
    assert proc.returncode == 1
    [fb_file] = feedback_files(project, task_id)
    text = fb_file.read_text()
    assert f"- Test runner: {runner}" in text
    failing = text.split("## Failing tests\n", 1)[1].split("\n\n", 1)[0]
    assert failing.splitlines() == [f"- {n}" for n in names]
    assert first in text.split("## First error\n", 1)[1].split("## Log", 1)[0]
    assert task(project, task_id).status.value == "ready"
    assert orch.json("next", "--agent", "cursor")["action"] == "fix"


def test_second_failure_is_a_new_attempt_and_supersedes_the_first(
    orch: Orch, project: Path
) -> None:
    orch("hooks", "install")
    set_gate(project, "echo 'not ok 1 - first'; exit 2")
    task_id = claimed(orch, "Twice")
    run_git(project, "checkout", "-q", "-b", task_id)
    change(project)
    assert commit(project, "-m", "one").returncode == 1
    orch("claim", task_id, "--agent", "cursor")
    change(project, text="again\n")
    assert commit(project, "-m", "two").returncode == 1
    files = feedback_files(project, task_id)
    assert [re.sub(r"-[0-9a-f]+\.md$", "", f.name) for f in files] == ["attempt-1", "attempt-2"]
    now = task(project, task_id)
    assert [n.key for n in now.open_feedback] == ["FB-2"]
    assert now.open_feedback[0].ref.endswith(files[1].name)
    assert "- Exit code: 2" in files[1].read_text()


def test_escalation_goes_to_one_place_and_resolve_returns_it(orch: Orch, project: Path) -> None:
    orch("hooks", "install")
    set_gate(project, "echo 'E   boom: the first error'; exit 1")
    task_id = claimed(orch, "Hard one")
    change(project)
    commit(project, "-m", "try", "-m", f"Task: {task_id}")
    orch("escalate", task_id, "--reason", "the spec contradicts itself", "--agent", "cursor")

    place = project / ".mcp" / "escalations" / f"{task_id}.md"
    text = place.read_text()
    assert text.startswith(f"# Escalated: {task_id} - Hard one")
    assert "the spec contradicts itself" in text
    last_error = text.split("## Last error context\n", 1)[1].split("\n## ", 1)[0]
    assert "boom: the first error" in last_error and ".mcp/feedback/" in last_error
    assert "test-failed in-progress -> ready" in text.split("## History\n", 1)[1]

    status = orch("status").out.splitlines()
    assert status[0].startswith("ESCALATED: 1")
    assert task_id in status[1] and f".mcp/escalations/{task_id}.md" in status[1]

    orch("resolve", task_id, "--to", "ready", "--note", "use option B")
    assert not place.exists()
    assert not orch("status").out.startswith("ESCALATED")
    assert task(project, task_id).status.value == "ready"
