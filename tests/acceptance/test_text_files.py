"""Long text (a test log, a trace) comes from a file or standard input: ``--text-file`` for
``orch error``, ``--reason-file`` for ``fail`` and ``escalate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.test_errors import refused
from tests.conftest import Orch

pytestmark = [pytest.mark.cli, pytest.mark.errors]

LOG = "FAILED tests/test_login.py::test_lockout - assert 5 == 6\n  $HOME 'quoted' `x`\n"


def errors(orch: Orch, task_id: str) -> list[str]:
    return [str(e["body"]) for e in orch.json("show", task_id)["errors"]]  # type: ignore[index]


def test_error_text_from_stdin_and_from_a_file(orch: Orch, tmp_path: Path) -> None:
    tid = orch.create("flaky login")
    orch("error", tid, "--text-file", "-", input=LOG)
    log = tmp_path / "pytest.log"
    log.write_bytes(b"first line\n\xff\xfe not UTF-8\nlast line\n")
    orch("error", tid, "--text-file", str(log))
    assert errors(orch, tid) == [LOG.strip(), "first line\n\ufffd\ufffd not UTF-8\nlast line"]
    orch("escalate", tid, "--reason-file", "-", input="spec contradicts itself\n")
    escalations = orch.json("show", tid)["escalations"]
    assert [e["body"] for e in escalations] == ["spec contradicts itself"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "give --text TEXT or --text-file PATH"),
        (["--text", "x", "--text-file", "-"], "not both"),
        (["--text-file", "no-such.log"], "cannot read --text-file no-such.log"),
        (["--text-file", "."], "cannot read --text-file ."),
    ],
)
def test_bad_text_sources_are_refused_and_change_nothing(
    orch: Orch, args: list[str], words: str
) -> None:
    tid = orch.create("untouched")
    err = refused(orch("error", tid, *args, "--json", check=False), words)
    assert err["code"] == "invalid_input"
    assert errors(orch, tid) == []
    empty = orch("error", tid, "--text-file", "-", input="  \n", check=False)
    assert empty.code == 2 and "error text is empty" in empty.err
