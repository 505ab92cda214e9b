"""``orch submit`` hands the held task to review; ``orch review``, its old name, still does."""

from __future__ import annotations

import pytest

from tests.conftest import Orch

pytestmark = pytest.mark.cli


def test_submit_moves_the_held_task_to_review(orch: Orch) -> None:
    tid = orch.ready("submit me")
    orch("claim", tid, "--agent", "cursor")
    task = orch.json("submit", tid, "--agent", "cursor", "--note", "done, tests green")
    assert task["status"] == "review" and task["agent"] is None
    history = task["history"]
    assert isinstance(history, list)
    # the history names the step by its name (older versions wrote "review")
    assert (history[-1]["op"], history[-1]["note"]) == ("submit", "done, tests green")
    again = orch("submit", tid, "--agent", "cursor", "--json", check=False)
    assert again.code == 5 and again.err_json()["code"] == "illegal_transition"


def test_review_is_an_alias_of_submit(orch: Orch) -> None:
    tid = orch.ready("old habits")
    orch("claim", tid, "--agent", "cursor")
    text = orch("review", tid, "--agent", "cursor", "--note", "old name").out
    assert text.startswith(f"{tid} [review] ")
    assert "orch next --agent codex" in text  # what happens next, as after submit
    assert "old name of 'orch submit'" in orch("review", "--help").out
    top = orch("--help").out
    assert "orch submit T-7k3m9q2x" in top and "'orch review' is the old name" in top


def test_hints_name_submit_and_run_as_printed(orch: Orch) -> None:
    held = orch.ready("hold this one first")
    other = orch.ready("then this one")
    said = orch("claim", held, "--agent", "cursor").out.split("when done: ", 1)[1].strip()
    assert said == f"orch submit {held} --note TEXT --agent cursor"
    busy = orch("claim", other, "--agent", "cursor", check=False)  # max_in_progress: 1
    assert busy.code == 6 and f"(orch submit {held} --note TEXT --agent cursor)" in busy.err
    assert orch.json(*said.replace("TEXT", "done").split()[1:])["status"] == "review"
