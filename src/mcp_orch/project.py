"""Setting a project up: ``orch init`` creates the board and wires it into the project's tools.

Idempotent: running it again creates only what is missing and never overwrites what a person
wrote (the config, the npm scripts they changed, other files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .board.files import FileStore
from .board.fsutil import atomic_write, storage_error
from .board.locate import BOARD_DIR, project_root
from .config import load, render_template, set_test_command

# The spec's npm scripts: the orch subcommand each runs.
NPM_SCRIPTS: dict[str, str] = {
    "mcp:status": "status",
    "mcp:next": "next",
    "mcp:create": "create",
    "mcp:claim": "claim",
    "mcp:review": "review",
    "mcp:complete": "complete",
}


def npm_scripts() -> dict[str, str]:
    """Each npm script's command line: ``orch status`` or, when PATH does not find the running
    ``orch``, its absolute path (npm runs scripts without the user's virtualenv)."""
    import shlex

    from .executable import orch_command

    orch = shlex.quote(orch_command())
    return {name: f"{orch} {sub}" for name, sub in NPM_SCRIPTS.items()}


@dataclass(kw_only=True, slots=True)
class InitResult:
    root: str
    board: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    by_hand: list[str] = field(default_factory=list)  # what orch could not do safely itself
    test_command: tuple[str, ...] = ()  # the commands in effect after init
    warnings: list[str] = field(default_factory=list)  # e.g. a gate whose program is missing


def detect_test_command(root_dir: str) -> tuple[str, ...]:
    """A sensible quality gate: the package.json ``test`` script, else pytest if it is used."""
    root = Path(root_dir)
    package = root / "package.json"
    if package.is_file():
        try:
            data = json.loads(package.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        test = (data.get("scripts") or {}).get("test", "") if isinstance(data, dict) else ""
        if test and "no test specified" not in test:
            return ("npm test",)
    markers = ("pytest.ini", "conftest.py", "tests/conftest.py")
    pyproject = root / "pyproject.toml"
    uses_pytest = any((root / m).exists() for m in markers) or (
        pyproject.is_file() and "[tool.pytest" in pyproject.read_text(encoding="utf-8")
    )
    if uses_pytest and shutil.which("pytest"):
        return ("pytest -q",)
    return ()


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# Words a shell runs itself: nothing on PATH to look for.
# fmt: off
_SHELL_WORDS = frozenset({
    "cd", ".", "source", "exec", "export", "set", "unset", "command", "true", "false", "test",
    "[", "!", "(", "{", "if", "for", "while", "case", "eval", "time",
})
# fmt: on


def unrunnable(command: str, root_dir: str) -> str:
    """Why ``command`` (a quality gate) would not start here ("" when it would): its program
    is not on PATH, or a path (``.venv/bin/pytest``, relative to the worktree's top, where the
    git hooks run it) that is not an executable file."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        return ""  # unbalanced quotes: the shell will say what it thinks
    while words and _ASSIGNMENT.match(words[0]):
        words.pop(0)  # FOO=1 pytest
    if not words or words[0] in _SHELL_WORDS:
        return ""
    program = words[0]
    if "/" in program:
        path = os.path.join(root_dir, os.path.expanduser(program))
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return ""
        return (
            f"test_command {command!r}: {program} is not an executable file in {root_dir} "
            "(the git hooks run the gate from the top of the worktree being committed)"
        )
    if shutil.which(program):
        return ""
    return (
        f"test_command {command!r}: {program} is not found on PATH, so the git hooks will "
        "block commits until it is (they run the gate with the committer's environment); "
        f"name it by path, e.g. .venv/bin/{program}, or put it on PATH"
    )


def init(
    start: str | None = None, *, test_command: tuple[str, ...] | None = None, detect: bool = True
) -> InitResult:
    """Set the board up in ``start``'s project; ``test_command`` replaces the configured one.

    Without ``test_command`` an existing config is left as it is; detection only fills in a
    new one.
    """
    root_dir = project_root(start)
    root = Path(root_dir)
    board = root / BOARD_DIR
    _, made = FileStore.initialize(str(board))
    result = InitResult(root=root_dir, board=str(board), created=made)
    wanted = None if test_command is None else tuple(c.strip() for c in test_command if c.strip())
    config = board / "config.yaml"
    name = f"{BOARD_DIR}/config.yaml"
    if not config.exists():
        if wanted is None:
            wanted = detect_test_command(root_dir) if detect else ()
        atomic_write(str(config), render_template(test_command=wanted))
        result.created.append(name)
    elif wanted is not None and set_test_command(str(board), wanted):
        result.updated.append(f"{name} (test_command)")
    else:
        result.kept.append(name)
    result.test_command = load(str(board)).test_command
    result.warnings += [w for c in result.test_command if (w := unrunnable(c, root_dir))]
    if (root / "package.json").is_file():
        _wire_npm(root / "package.json", result)
    return result


def _wire_npm(package: Path, result: InitResult) -> None:
    added, problem = add_npm_scripts(package)
    if added:
        result.created.append("package.json scripts: " + ", ".join(added))
    if problem:
        wanted = ", ".join(f"{json.dumps(n)}: {json.dumps(c)}" for n, c in npm_scripts().items())
        result.by_hand.append(
            f"package.json {problem}, so orch left it alone: "
            f'add the missing ones of these to its "scripts" by hand: {wanted}'
        )


# ---------------------------------------------------------------------- package.json

_WHITESPACE = " \t\r\n"  # JSON's own; nothing else may sit between tokens


class _Unsafe(Exception):
    """The scripts cannot be added as text without touching anything else."""


class _Member(NamedTuple):
    key: str
    key_start: int
    key_end: int
    value_start: int
    value_end: int


def add_npm_scripts(package: Path) -> tuple[list[str], str]:
    """Add the spec's missing ``mcp:*`` scripts; return them and why not, if they could not be.

    The new entries are inserted as text, in the layout of the entries around them, and every
    other byte of the file stays as it was (the parsed result must equal the original plus the
    scripts). A script the user already defined, even differently, is left alone. What cannot
    be done that way is reported for a person to do, never done by reformatting the file.
    """
    try:
        raw = package.read_bytes()  # bytes: text mode would turn CRLF into LF
        mode = package.stat().st_mode & 0o7777
    except OSError as exc:
        raise storage_error(exc, "read package.json") from exc
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    try:
        text = raw[len(bom) :].decode("utf-8")
        data = json.loads(text)
    except ValueError as exc:  # not ours to repair; npm says what is wrong with it
        return [], f"is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return [], "is not a JSON object"
    scripts = data.get("scripts", {})
    if not isinstance(scripts, dict):
        return [], 'has a "scripts" that is not an object'
    added = {name: cmd for name, cmd in npm_scripts().items() if name not in scripts}
    if not added:
        return [], ""
    expected = {**data, "scripts": {**scripts, **added}}
    try:
        edited = _insert_scripts(text, added)
        if json.dumps(json.loads(edited)) != json.dumps(expected):  # order matters too
            raise _Unsafe
    except (_Unsafe, ValueError):
        return [], "is laid out in a way orch cannot add to without reformatting it"
    atomic_write(str(package), bom + edited.encode("utf-8"))
    try:
        os.chmod(package, mode)  # the new file was created with the default mode
    except OSError:
        pass
    return list(added), ""


def _insert_scripts(text: str, added: dict[str, str]) -> str:
    top = _skip(text, 0)
    if text[top : top + 1] != "{":
        raise _Unsafe
    found = [m for m in _members(text, top)[0] if m.key == "scripts"]
    if len(found) > 1:
        raise _Unsafe
    if not found:  # add an empty object as the last member, then fill it like any other
        text = _insert_members(text, top, [('"scripts"', "{}")])
        found = [m for m in _members(text, top)[0] if m.key == "scripts"]
    entries = [(json.dumps(k, ensure_ascii=False), json.dumps(v)) for k, v in added.items()]
    return _insert_members(text, found[0].value_start, entries)


def _insert_members(text: str, brace: int, entries: list[tuple[str, str]]) -> str:
    """Insert ``"key": value`` entries after the last member of the object opened at ``brace``."""
    members, close = _members(text, brace)
    if not members:
        return text[:brace] + _filled_empty_object(text, brace, close, entries) + text[close + 1 :]
    last = members[-1]
    colon = text[last.key_end : last.value_start]
    line = text.rfind("\n", 0, last.key_start) + 1
    lead = text[line : last.key_start]
    if line > brace and not lead.strip(" \t"):  # one member a line: a new line each, same indent
        sep = "," + ("\r\n" if text[line - 2 : line] == "\r\n" else "\n") + lead
    else:  # members side by side: the same separator as between the last two
        between = text[members[-2].value_end : last.key_start] if len(members) > 1 else ", "
        sep = between if "\n" not in between else ", "
    if "\n" in colon:
        colon = ": "
    insert = "".join(f"{sep}{key}{colon}{value}" for key, value in entries)
    return text[: last.value_end] + insert + text[last.value_end :]


def _filled_empty_object(text: str, brace: int, close: int, entries: list[tuple[str, str]]) -> str:
    """``{}`` with ``entries``: on lines of their own if the object's surroundings are."""
    before = text[text.rfind("\n", 0, brace) + 1 : brace]  # this line, up to the brace
    outer = before[: len(before) - len(before.lstrip(" \t"))]
    own_line = before.strip(" \t").startswith('"') or "\n" in text[brace:close]
    if not own_line:
        return "{" + ", ".join(f"{key}: {value}" for key, value in entries) + "}"
    nl = "\r\n" if "\r\n" in text else "\n"
    inner = outer + _indent_unit(text)
    body = ("," + nl + inner).join(f"{key}: {value}" for key, value in entries)
    return "{" + nl + inner + body + nl + outer + "}"


def _indent_unit(text: str) -> str:
    """One level of the file's indentation (that of its first indented line; else 2 spaces)."""
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and line != stripped:
            return line[: len(line) - len(stripped)]
    return "  "


def _members(text: str, brace: int) -> tuple[list[_Member], int]:
    """The members of the JSON object opened at ``brace``, and where it closes."""
    members: list[_Member] = []
    at = _skip(text, brace + 1)
    while text[at : at + 1] != "}":
        if members:
            if text[at : at + 1] != ",":
                raise _Unsafe
            at = _skip(text, at + 1)
        key, key_end = _DECODER.raw_decode(text, at)
        colon = _skip(text, key_end)
        if not isinstance(key, str) or text[colon : colon + 1] != ":":
            raise _Unsafe
        value_start = _skip(text, colon + 1)
        value_end = _DECODER.raw_decode(text, value_start)[1]
        members.append(_Member(key, at, key_end, value_start, value_end))
        at = _skip(text, value_end)
    return members, at


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


_DECODER = json.JSONDecoder()
