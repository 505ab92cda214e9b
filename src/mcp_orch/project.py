"""Setting a project up: ``orch init`` creates the board and wires it into the project's tools.

Idempotent: running it again creates only what is missing and never overwrites what a person
wrote (the config, the npm scripts they changed, other files).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .board.files import FileStore
from .board.fsutil import atomic_write, storage_error
from .board.locate import BOARD_DIR, project_root
from .config import render_template

NPM_SCRIPTS: dict[str, str] = {
    "mcp:status": "orch status",
    "mcp:next": "orch next",
    "mcp:create": "orch create",
    "mcp:claim": "orch claim",
    "mcp:review": "orch review",
    "mcp:complete": "orch complete",
}


@dataclass(kw_only=True, slots=True)
class InitResult:
    root: str
    board: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    test_command: tuple[str, ...] = ()


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


def init(
    start: str | None = None, *, test_command: tuple[str, ...] | None = None, detect: bool = True
) -> InitResult:
    root_dir = project_root(start)
    root = Path(root_dir)
    board = root / BOARD_DIR
    _, made = FileStore.initialize(str(board))
    result = InitResult(root=root_dir, board=str(board), created=made)
    config = board / "config.yaml"
    if config.exists():
        result.kept.append(f"{BOARD_DIR}/config.yaml")
    else:
        tests = (
            test_command
            if test_command is not None
            else (detect_test_command(root_dir) if detect else ())
        )
        result.test_command = tests
        atomic_write(str(config), render_template(test_command=tests))
        result.created.append(f"{BOARD_DIR}/config.yaml")
    if (root / "package.json").is_file():
        added = add_npm_scripts(root / "package.json")
        if added:
            result.created.append("package.json scripts: " + ", ".join(added))
    return result


def add_npm_scripts(package: Path) -> list[str]:
    """Add the spec's ``mcp:*`` scripts that are missing; nothing else in the file changes.

    The file is rewritten only when a script is added, keeping key order and the indentation
    it had; a script the user already defined (even differently) is left alone.
    """
    try:
        raw = package.read_text(encoding="utf-8")
    except OSError as exc:
        raise storage_error(exc, "read package.json") from exc
    try:
        data = json.loads(raw)
    except ValueError:
        return []  # not ours to repair; npm will say what is wrong with it
    if not isinstance(data, dict):
        return []
    scripts = data.setdefault("scripts", {})
    if not isinstance(scripts, dict):
        return []
    added = [name for name in NPM_SCRIPTS if name not in scripts]
    if not added:
        return []
    for name in added:
        scripts[name] = NPM_SCRIPTS[name]
    indent = _indent_of(raw)
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    atomic_write(str(package), text + ("\n" if raw.endswith("\n") else ""))
    return added


def _indent_of(raw: str) -> int | str:
    for line in raw.split("\n")[1:]:
        stripped = line.lstrip(" \t")
        if stripped and line != stripped:
            prefix = line[: len(line) - len(stripped)]
            return "\t" if prefix.startswith("\t") else len(prefix)
    return 2
