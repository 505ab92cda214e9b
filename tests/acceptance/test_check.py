"""Ticking checklist items (``orch check``, the ``check_task`` tool), list options that never
swallow the task ID, and ``orch status --status/--agent/--limit`` with its legend (issue 8)."""

from __future__ import annotations

import anyio
import pytest

from tests.acceptance.mcp_support import call, call_error, stdio
from tests.conftest import Orch, git, task_file

pytestmark = [pytest.mark.cli]


def _prepped(orch: Orch) -> str:
    tid = orch.create("checklists")
    orch("prep", tid, "--goal", "g", "--ac", "a1", "a2", "a3", "--dor", "r1", "--dod", "d1", "d2")
    return tid


def _ticks(data: dict[str, object], key: str) -> list[bool]:
    return [bool(i["done"]) for i in data[key]]  # type: ignore[attr-defined]


def test_check_ticks_items_by_number_range_all_and_text(orch: Orch) -> None:
    tid = _prepped(orch)
    data = orch.json("check", tid, "--ac", "1,3", "--dod", "all")
    assert _ticks(data, "acceptance_criteria") == [True, False, True]
    assert _ticks(data, "definition_of_done") == [True, True]
    assert data["status"] == "ready"  # ticking is no handoff
    data = orch.json("check", tid, "--ac", "1-2", "--dor", "r1", "--agent", "codex")
    assert _ticks(data, "acceptance_criteria") == [True, True, True]
    assert _ticks(data, "definition_of_ready") == [True]
    notes = [(h["agent"], h["op"], h["note"]) for h in data["history"]][-2:]  # type: ignore[attr-defined]
    assert notes == [
        ("human", "check", "ticked AC 1, 3; DoD 1, 2"),
        ("codex", "check", "ticked AC 2; DoR 1"),
    ]
    # idempotent: ticking ticked items writes nothing
    path = task_file(orch.cwd, tid)
    before = path.read_bytes()
    orch("check", tid, "--ac", "all")
    assert path.read_bytes() == before
    data = orch.json("check", tid, "--dod", "2", "--uncheck")
    assert _ticks(data, "definition_of_done") == [True, False]
    text = orch("check", tid, "--ac", "1").out
    assert "Acceptance Criteria (3 of 3 met)" in text and "Definition of Done (1 of 2 met)" in text


def test_check_refuses_items_that_are_not_there_and_changes_nothing(orch: Orch) -> None:
    tid = _prepped(orch)
    path = task_file(orch.cwd, tid)
    before = path.read_bytes()
    for args, words in (
        (("--ac", "4"), "there is no item 4 (there are 3)"),
        (("--ac", "1", "--dod", "nope"), "no item reads 'nope'"),
        ((), "no checklist item named"),
        (("--ac", "0"), "there is no item 0"),
    ):
        res = orch("check", tid, *args, check=False)
        assert res.code == 2 and words in res.err, res.err
    assert path.read_bytes() == before


def test_ticks_survive_prep_reruns_and_a_merge(orch: Orch) -> None:
    tid = _prepped(orch)
    orch("check", tid, "--ac", "2")
    data = orch.json("prep", tid, "--ac", "a0", "a2", "a3")
    assert _ticks(data, "acceptance_criteria") == [False, True, False]
    git(orch.cwd, "add", "-A")
    git(orch.cwd, "commit", "-qm", "board")
    git(orch.cwd, "checkout", "-qb", "side")
    orch("claim", tid, "--agent", "cursor")
    git(orch.cwd, "add", "-A")
    git(orch.cwd, "commit", "-qm", "claimed on a branch")
    git(orch.cwd, "checkout", "-q", "main")
    orch("fail", tid, "--reason", "x", "--agent", "chatgpt")
    git(orch.cwd, "add", "-A")
    git(orch.cwd, "commit", "-qm", "failed on main")
    git(orch.cwd, "merge", "-q", "side", check=False)
    orch("doctor", "--fix", check=False)
    assert _ticks(orch.json("show", tid), "acceptance_criteria") == [False, True, False]


def test_re_running_prep_keeps_the_ticks_of_every_checklist(orch: Orch) -> None:
    tid = _prepped(orch)
    orch("check", tid, "--ac", "2", "--dor", "all", "--dod", "2")
    ticks = {
        "acceptance_criteria": [False, True, False],
        "definition_of_ready": [True],
        "definition_of_done": [False, True],
    }
    # another prep that gives no list: every list and its ticks stay as they are
    data = orch.json("prep", tid, "--goal", "a better goal", "--notes", "n")
    assert {k: _ticks(data, k) for k in ticks} == ticks
    # lists given again: an item kept by its text keeps its tick, a new one starts unticked
    data = orch.json("prep", tid, "--dor", "r0", "r1", "--dod", "d2", "d3")
    assert _ticks(data, "definition_of_ready") == [False, True]
    assert _ticks(data, "definition_of_done") == [True, False]
    assert _ticks(data, "acceptance_criteria") == [False, True, False]


@pytest.mark.parametrize("flag", ["--ac", "--dor", "--dod", "--files"])
def test_a_list_option_never_swallows_the_task_id(orch: Orch, flag: str) -> None:
    tid = orch.create("id after a list")
    value = "src/a.py" if flag == "--files" else "first item"
    data = orch.json("prep", "--goal", "g", flag, value, tid)
    key = {
        "--ac": "acceptance_criteria",
        "--dor": "definition_of_ready",
        "--dod": "definition_of_done",
        "--files": "files",
    }[flag]
    got = data[key]
    assert (got if flag == "--files" else [i["text"] for i in got]) == [value]  # type: ignore[union-attr]
    assert data["id"] == tid
    assert orch.json("check", "--ac", "1", tid)["id"] == tid if flag == "--ac" else True


def test_a_list_option_without_any_task_id_says_so(orch: Orch) -> None:
    res = orch("prep", "--ac", "one", "two", check=False)
    assert res.code == 2 and "no task ID given" in res.err


def test_status_filters_limits_and_explains_its_marks(orch: Orch) -> None:
    first = orch.ready("first ready")
    second = orch.ready("second ready")
    stub = orch.create("a stub")
    orch("claim", first, "--agent", "cursor")
    data = orch.json("status", "--status", "ready")
    assert [t["id"] for t in data["tasks"]] == [second]  # type: ignore[union-attr]
    assert data["counts"] == {"in-progress": 1, "ready": 1, "pending": 1}
    data = orch.json("status", "--status", "pending,in-progress")
    assert [t["id"] for t in data["tasks"]] == [stub, first]  # type: ignore[union-attr]
    assert [t["id"] for t in orch.json("status", "--agent", "cursor")["tasks"]] == [first]  # type: ignore[union-attr]
    data = orch.json("status", "--limit", "1")
    assert len(data["tasks"]) == 1 and data["total"] == 3  # type: ignore[arg-type]
    text = orch("status", "--limit", "1").out
    assert "1 of 3 listed" in text
    legend = [line for line in orch("status").out.split("\n") if line.startswith("legend:")]
    assert len(legend) == 1 and "! escalated" in legend[0] and "<NAME" in legend[0]
    orch("complete", second, check=False)
    res = orch("status", "--status", "sleeping", check=False)
    assert res.code == 2 and "unknown status 'sleeping'" in res.err
    assert "no task matches" in orch("status", "--status", "done").out


@pytest.mark.server
def test_check_task_over_mcp_ticks_and_reports_bad_numbers(orch: Orch) -> None:
    tid = _prepped(orch)

    async def main() -> None:
        async with stdio(orch.cwd, "codex") as client:
            listed = await client.list_tools()
            (tool,) = [t for t in listed.tools if t.name == "check_task"]
            assert tool.annotations is not None
            assert tool.annotations.idempotent_hint is True
            assert tool.annotations.destructive_hint is False
            assert tool.annotations.read_only_hint is False
            props = tool.input_schema["properties"]
            assert all(p.get("description") for p in props.values()), props
            done = await call(
                client,
                "check_task",
                task_id=tid,
                acceptance_criteria=["2"],
                definition_of_done=["all"],
            )
            assert [i["done"] for i in done["acceptance_criteria"]] == [False, True, False]  # type: ignore[index]
            assert [i["done"] for i in done["definition_of_done"]] == [True, True]  # type: ignore[index]
            err = await call_error(client, "check_task", task_id=tid, acceptance_criteria=["9"])
            assert "there is no item 9" in err
            got = await call(client, "get_task", task_id=tid)
            assert [i["done"] for i in got["acceptance_criteria"]] == [False, True, False]  # type: ignore[index]
            # a fenced block in a hand-edited goal: the whole section, block and what follows
            path = task_file(orch.cwd, tid)
            goal = "see\n```\n## Not a heading\n```\nafter the block"
            path.write_text(path.read_text().replace("## Goal\ng\n", f"## Goal\n{goal}\n"))
            got = await call(client, "get_task", task_id=tid)
            assert got["goal"] == goal and got["more_sections"] == []

    anyio.run(main)
    history = orch.json("show", tid)["history"]
    assert history[-1]["agent"] == "codex" and history[-1]["op"] == "check"  # type: ignore[index]
