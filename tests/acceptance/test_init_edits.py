"""``orch init`` edits two files a person owns: only ``test_command`` in .mcp/config.yaml (when
``--test-command`` is given) and only the missing ``mcp:*`` scripts in package.json. Every other
byte stays as it was, and a second run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import Orch

pytestmark = pytest.mark.cli

GATES = ("--test-command", "pytest -q", "--test-command", "npm test")
FLOW = '["pytest -q", "npm test"]'

# ---------------------------------------------------------------------- config.yaml


def test_test_command_updates_an_existing_config_and_reports_what_is_in_effect(
    project: Path,
) -> None:
    orch = Orch(project)
    orch("init", "--no-detect")
    config = project / ".mcp" / "config.yaml"
    before = config.read_text().replace("max_in_progress: 1", "max_in_progress:   2  # two")
    config.write_text(before + "# my own note\n")
    out = orch.json("init", *GATES)
    assert out["test_command"] == ["pytest -q", "npm test"]
    assert out["updated"] == [".mcp/config.yaml (test_command)"] and out["kept"] == []
    after = config.read_text()
    assert after == before.replace("test_command: []", f"test_command: {FLOW}") + "# my own note\n"
    # without --test-command an existing config is left alone, and its commands are reported
    (project / "package.json").write_text('{"scripts": {"test": "jest"}}\n')  # no re-detection
    again = orch.json("init")
    assert again["test_command"] == ["pytest -q", "npm test"] and again["updated"] == []
    assert ".mcp/config.yaml" in again["kept"]  # type: ignore[operator]
    assert config.read_text() == after
    text = orch("init", *GATES).out  # the same commands again: nothing to change
    assert config.read_text() == after
    assert (
        "nothing to do" in text
        and "test_command (run by the git hooks): pytest -q; npm test" in text
    )


PREFIX = "roles:\n  planner: [chatgpt]   # the planner\nmax_in_progress:   2\n\n# gates:\n"
SUFFIX = "# after the gates\nid_prefix: 'T'\n"


@pytest.mark.parametrize(
    ("value", "args", "edited"),
    [
        ("test_command: []   # none yet\n", GATES, f"test_command: {FLOW}   # none yet\n"),
        (
            "test_command:\n  - npm run lint\n  - 'npm run e2e'\n\n",
            GATES,
            'test_command:\n  - "pytest -q"\n  - "npm test"\n\n',
        ),
        ("test_command:\n- npm run lint\n", GATES, 'test_command:\n- "pytest -q"\n- "npm test"\n'),
        ("test_command: npm run lint # one\n", GATES, f"test_command: {FLOW} # one\n"),
        ("test_command:\n", GATES, f"test_command: {FLOW}\n"),
        ("test_command:\n  - npm run lint\n", ("--test-command", ""), "test_command: []\n"),
        ('test_command: ["npm run lint"]\n', ("--test-command", " "), "test_command: []\n"),
    ],
    ids=["flow", "block", "indentless", "scalar", "empty", "cleared-block", "cleared-flow"],
)
def test_only_the_test_command_text_changes(
    project: Path, value: str, args: tuple[str, ...], edited: str
) -> None:
    orch = Orch(project)
    orch("init", "--no-detect")
    config = project / ".mcp" / "config.yaml"
    config.write_text(PREFIX + value + SUFFIX)
    out = orch.json("init", *args)
    assert config.read_text() == PREFIX + edited + SUFFIX
    assert out["test_command"] == yaml.safe_load(edited)["test_command"]
    assert orch.json("init", *args)["updated"] == []  # idempotent


def test_a_missing_key_is_added_and_crlf_is_kept(project: Path) -> None:
    orch = Orch(project)
    orch("init", "--no-detect")
    config = project / ".mcp" / "config.yaml"
    config.write_bytes(b"# mine\r\nmax_in_progress: 2")  # no key, no final newline
    orch("init", *GATES)
    assert (
        config.read_bytes() == f"# mine\r\nmax_in_progress: 2\r\ntest_command: {FLOW}\r\n".encode()
    )
    block = b"# mine\r\ntest_command:\r\n  - npm run lint\r\nmax_in_progress: 2\r\n"
    config.write_bytes(block)
    orch("init", *GATES)
    assert config.read_bytes() == block.replace(
        b"  - npm run lint", b'  - "pytest -q"\r\n  - "npm test"'
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('test_command: [\n  "npm test",  # unit\n  "npm run e2e"\n]\n', "a comment inside"),
        ("test_command: |\n  npm test\n", "not a plain command"),
        ('test_command: &gates ["npm test"]\nalso: *gates\n', "more than that key"),
        ("test_command: []\ntest_command: [x]\n", "more than once"),
    ],
    ids=["comment-inside", "block-scalar", "anchor", "twice"],
)
def test_a_form_it_cannot_edit_safely_is_refused(project: Path, value: str, why: str) -> None:
    orch = Orch(project)
    orch("init", "--no-detect")
    config = project / ".mcp" / "config.yaml"
    config.write_text(PREFIX + value + SUFFIX)
    res = orch("init", "--test-command", "pytest -q", "--json", check=False)
    assert res.code == 2
    err = res.err_json()
    assert "test_command was not changed" in str(err["error"]) and why in str(err["error"])
    assert 'test_command: ["pytest -q"]' in str(err["hint"])
    assert config.read_text() == PREFIX + value + SUFFIX


# ---------------------------------------------------------------------- package.json

ALL = [
    ("mcp:status", "orch status"),
    ("mcp:next", "orch next"),
    ("mcp:create", "orch create"),
    ("mcp:claim", "orch claim"),
    ("mcp:review", "orch review"),
    ("mcp:complete", "orch complete"),
]


def _lines(indent: str, nl: str = "\n", skip: int = 0) -> str:
    return f",{nl}".join(f'{indent}"{k}": "{v}"' for k, v in ALL[skip:])


def _inline(skip: int = 0) -> str:
    return ", ".join(f'"{k}": "{v}"' for k, v in ALL[skip:])


SHAPES = {
    "4-spaces, own mcp:status kept, other objects on one line": (
        '{\n    "name": "demo",\n    "scripts": {\n        "test": "jest",\n'
        '        "mcp:status": "mine"\n    },\n    "devDependencies": {"jest": "^29"}\n}\n',
        '{\n    "name": "demo",\n    "scripts": {\n        "test": "jest",\n'
        f'        "mcp:status": "mine",\n{_lines(" " * 8, skip=1)}\n    }},\n'
        '    "devDependencies": {"jest": "^29"}\n}\n',
    ),
    "CRLF, no final newline": (
        '{\r\n  "name": "demo",\r\n  "scripts": {\r\n    "test": "jest"\r\n  }\r\n}',
        '{\r\n  "name": "demo",\r\n  "scripts": {\r\n    "test": "jest",\r\n'
        f"{_lines('    ', nl=chr(13) + chr(10))}\r\n  }}\r\n}}",
    ),
    "tabs, empty scripts": (
        '{\n\t"name": "demo",\n\t"scripts": {},\n\t"devDependencies": {"jest": "^29"}\n}\n',
        f'{{\n\t"name": "demo",\n\t"scripts": {{\n{_lines(chr(9) * 2)}\n\t}},\n'
        '\t"devDependencies": {"jest": "^29"}\n}\n',
    ),
    "no scripts key": (
        '{\n  "name": "demo",\n  "devDependencies": {"jest": "^29"}\n}\n',
        '{\n  "name": "demo",\n  "devDependencies": {"jest": "^29"},\n'
        f'  "scripts": {{\n{_lines("    ")}\n  }}\n}}\n',
    ),
    "one line, no scripts key": (
        '{"name": "demo", "version": "1.0.0"}',
        f'{{"name": "demo", "version": "1.0.0", "scripts": {{{_inline()}}}}}',
    ),
    "scripts on one line": (
        '{\n  "name": "demo",\n  "scripts": {"test": "jest", "build": "tsc"},\n  "x": 1\n}\n',
        f'{{\n  "name": "demo",\n  "scripts": {{"test": "jest", "build": "tsc", {_inline()}}},\n'
        '  "x": 1\n}\n',
    ),
}


@pytest.mark.parametrize(("before", "after"), SHAPES.values(), ids=list(SHAPES))
def test_npm_scripts_are_inserted_as_text(project: Path, before: str, after: str) -> None:
    package = project / "package.json"
    package.write_bytes(before.encode())
    orch = Orch(project)
    orch("init", "--no-detect")
    assert package.read_bytes() == after.encode()  # every byte but the inserted ones
    old, new = json.loads(before), json.loads(after)
    assert new == {**old, "scripts": {**dict(ALL), **old.get("scripts", {})}}  # theirs win
    mtime = package.stat().st_mtime_ns
    second = orch.json("init", "--no-detect")
    assert package.read_bytes() == after.encode() and package.stat().st_mtime_ns == mtime
    assert second["created"] == [] and second["by_hand"] == []


@pytest.mark.parametrize(
    "before",
    [
        '{"scripts": {"test": "jest"}, "scripts": {"lint": "eslint"}}\n',  # which one is npm's?
        '{\n  "name": "demo",\n}\n',  # not JSON: npm says what is wrong, orch does not repair it
        '{"scripts": ["orch status"]}\n',
    ],
    ids=["scripts-twice", "invalid", "scripts-not-an-object"],
)
def test_a_package_json_it_cannot_edit_safely_is_left_alone(project: Path, before: str) -> None:
    package = project / "package.json"
    package.write_text(before)
    out = Orch(project).json("init", "--no-detect")
    assert package.read_text() == before
    (note,) = out["by_hand"]  # type: ignore[misc]
    assert note.startswith("package.json ") and '"mcp:next": "orch next"' in note
    assert "by hand" in Orch(project)("init", "--no-detect").out.lower()
