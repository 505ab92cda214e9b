"""``orch hooks install | uninstall | status``: wire mcp-orch into a repo's hooks, and undo it.

Three layouts, chosen in this order (``--mode`` overrides):

- **pre-commit framework** (a ``.pre-commit-config.yaml`` at the root): a ``repo: local`` entry
  is added to that file (see ``precommit``); ``.git/hooks`` is not touched.
- **husky** (``core.hooksPath`` is ``.husky/_`` or ``.husky``): a marked block is appended to
  ``.husky/commit-msg`` and ``.husky/post-commit`` (created when missing). Husky runs them with
  ``sh -e``, so a failing line of yours above still stops the hook before ours runs.
- **git** (``.git/hooks`` or wherever ``core.hooksPath`` points): a small wrapper per stage.
  An existing hook is renamed to ``<stage>.orch-chained`` beside it (bytes, mode and symlink
  untouched) and the wrapper runs it first with the same arguments; if it fails, the wrapper
  exits with its code and mcp-orch does nothing, so it blocks exactly as before.

Every file touched is recorded in ``.mcp/hooks-backup/manifest.json`` with a copy of its
original bytes (that folder ignores itself in git); ``uninstall`` puts each file back byte for
byte and mode for mode, or, if you edited it since, removes only what mcp-orch added.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import shutil
import stat
from collections.abc import Callable

from ..board.fsutil import atomic_write, remove_if_present
from ..domain.errors import InvalidInput
from ..domain.record import Record
from ..executable import running_orch
from . import precommit
from .gitinfo import git
from .runner import PENDING

STAGES = ("commit-msg", "post-commit")
MODES = ("auto", "git", "husky", "pre-commit")
BACKUP_DIR = os.path.join(".mcp", "hooks-backup")
MANIFEST = "manifest.json"
CHAINED = ".orch-chained"
MARK = "mcp-orch hook (orch hooks install)"
BLOCK_BEGIN, BLOCK_END = precommit.BEGIN, precommit.END  # one marked block, in any file


class Layout(Record):
    mode: str  # git | husky | pre-commit
    where: str  # the hooks folder, or the pre-commit config file


class Report(Record):
    mode: str
    where: str
    lines: tuple[str, ...]
    installed: bool


def detect(root: str, mode: str = "auto") -> Layout:
    """Which layout this repository uses (or ``mode`` when it is not ``auto``)."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}", "use one of: " + ", ".join(MODES))
    config = os.path.join(root, precommit.CONFIG)
    if mode == "pre-commit" or (mode == "auto" and os.path.isfile(config)):
        return Layout("pre-commit", config)
    hooks_path = git("config", "core.hooksPath", cwd=root).rstrip("/")
    husky = os.path.join(root, ".husky")
    if mode == "husky" or (
        mode == "auto" and hooks_path in (".husky/_", ".husky") and os.path.isdir(husky)
    ):
        return Layout("husky", husky)
    where = git("rev-parse", "--path-format=absolute", "--git-path", "hooks", cwd=root)
    if not where:
        raise InvalidInput(f"{root} is not a git repository", "run 'git init' first")
    return Layout("git", where)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(path: str, data: bytes, mode: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, data)
    os.chmod(path, mode)


def _backup_dir(root: str) -> str:
    path = os.path.join(root, BACKUP_DIR)
    os.makedirs(path, exist_ok=True)
    ignore = os.path.join(path, ".gitignore")
    if not os.path.exists(ignore):
        atomic_write(ignore, "# local backups of mcp-orch's hook installation\n*\n")
    return path


def load_manifest(root: str) -> dict[str, object] | None:
    raw = _read(os.path.join(root, BACKUP_DIR, MANIFEST))
    return json.loads(raw) if raw else None


# ---------------------------------------------------------------------- install


def wrapper(stage: str, orch: str, chained: bool) -> str:
    """The plain git hook for ``stage``: the original (if any) first, then mcp-orch."""
    lines = ["#!/bin/sh", f"# {MARK}; 'orch hooks uninstall' puts back what was here before."]
    if chained:
        lines += [
            f'chained="$(dirname "$0")/{stage}{CHAINED}"',
            "# your original hook, unchanged, first: if it fails, the commit fails as before",
            'if [ -x "$chained" ]; then "$chained" "$@" || exit $?; fi',
        ]
    exe = shlex.quote(orch)
    lines += [
        "# cheap exits in the shell: no Python start when there is nothing to do",
        'case "${ORCH_HOOKS:-}" in 0 | false | no | off) exit 0 ;; esac',
    ]
    if stage == "post-commit":
        lines.append(f'[ -f "$(git rev-parse --git-path {PENDING})" ] || exit 0')
    lines += [
        f'if [ -x {exe} ]; then exec {exe} hook {stage} "$@"; fi',
        f'if command -v orch >/dev/null 2>&1; then exec orch hook {stage} "$@"; fi',
        'echo "mcp-orch: orch not found; its hook was skipped" >&2',
        "exit 0",
    ]
    return "\n".join(lines) + "\n"


def husky_block(stage: str) -> str:
    if stage == "post-commit":  # nothing to record unless our commit-msg passed this commit
        body = (
            f'if [ -f "$(git rev-parse --git-path {PENDING})" ] && command -v orch >/dev/null 2>&1;'
            f" then orch hook {stage}; fi"
        )
    else:
        body = (
            f'if command -v orch >/dev/null 2>&1; then orch hook {stage} "$@"; '
            'else echo "mcp-orch: orch not on PATH; its hook was skipped" >&2; fi'
        )
    return f"{BLOCK_BEGIN}\n{body}\n{BLOCK_END}\n"


def install(root: str, mode: str = "auto", orch: str | None = None) -> Report:
    """Install for the detected layout; a second install changes nothing."""
    manifest = load_manifest(root)
    if manifest is not None:
        return Report(
            str(manifest["mode"]),
            str(manifest["where"]),
            ("already installed (orch hooks status shows where)",),
            False,
        )
    layout = detect(root, mode)
    backups = _backup_dir(root)
    entries: list[dict[str, object]] = []
    lines: list[str] = []
    if layout.mode == "pre-commit":
        entries.append(_append(layout.where, backups, precommit.add_block))
        lines.append(f"added a 'repo: local' entry to {precommit.CONFIG}")
        lines.append(f"make sure pre-commit runs these stages: {precommit.INSTALL_TYPES}")
    elif layout.mode == "husky":
        for stage in STAGES:
            path = os.path.join(layout.where, stage)
            block = husky_block(stage)
            entries.append(_append(path, backups, functools.partial(_with_block, block=block)))
            lines.append(f"{stage}: mcp-orch block in .husky/{stage}")
    else:
        exe = orch or running_orch()
        for stage in STAGES:
            entry = _install_git(layout.where, stage, exe, backups)
            entries.append(entry)
            kept = f" (your hook kept as {stage}{CHAINED}, runs first)" if entry["backup"] else ""
            lines.append(f"{stage}: {os.path.join(layout.where, stage)}{kept}")
    data = {"version": 1, "mode": layout.mode, "where": layout.where, "entries": entries}
    atomic_write(os.path.join(backups, MANIFEST), json.dumps(data, indent=2) + "\n")
    return Report(layout.mode, layout.where, tuple(lines), True)


def _with_block(text: str, block: str) -> str:
    if not text:
        return "#!/usr/bin/env sh\n" + block
    return text + ("" if text.endswith("\n") else "\n") + block


def _append(path: str, backups: str, change: Callable[[str], str]) -> dict[str, object]:
    """Rewrite a text file through ``change``, keeping its original bytes in the backups."""
    original = _read(path)
    mode = stat.S_IMODE(os.stat(path).st_mode) if original is not None else 0o755
    backup = ""
    if original is not None:
        backup = _save_backup(backups, path, original)
    new = change(original.decode("utf-8") if original else "").encode("utf-8")
    _write(path, new, mode)
    return {"path": path, "kind": "appended", "backup": backup, "mode": mode, "written": _sha(new)}


def _save_backup(backups: str, path: str, data: bytes) -> str:
    name = _sha(path.encode())[:12] + "-" + os.path.basename(path)
    atomic_write(os.path.join(backups, name), data)
    return name


def _install_git(hooks: str, stage: str, orch: str, backups: str) -> dict[str, object]:
    path = os.path.join(hooks, stage)
    chained = path + CHAINED
    entry: dict[str, object] = {"path": path, "kind": "created", "backup": "", "mode": 0o755}
    if os.path.lexists(path):
        entry["kind"] = "chained"
        if os.path.islink(path):
            entry["link"] = os.readlink(path)
        else:
            entry["mode"] = stat.S_IMODE(os.stat(path).st_mode)
            entry["backup"] = _save_backup(backups, path, _read(path) or b"")
        entry["backup"] = entry["backup"] or "link"
        os.rename(path, chained)  # the original keeps its bytes, mode and inode
    data = wrapper(stage, orch, chained=entry["kind"] == "chained").encode()
    _write(path, data, 0o755)
    entry["written"] = _sha(data)
    return entry


# ---------------------------------------------------------------------- uninstall


def uninstall(root: str) -> Report:
    """Put every file back as it was before ``install``; report what could not be."""
    manifest = load_manifest(root)
    if manifest is None:
        return Report("", "", ("nothing to uninstall: mcp-orch hooks are not installed",), False)
    backups = os.path.join(root, BACKUP_DIR)
    lines = []
    for entry in manifest["entries"]:  # type: ignore[attr-defined]
        lines.append(_restore(entry, backups))
    shutil.rmtree(backups, ignore_errors=True)
    return Report(str(manifest["mode"]), str(manifest["where"]), tuple(lines), True)


def _restore(entry: dict[str, object], backups: str) -> str:
    path = str(entry["path"])
    current = _read(path)
    ours = current is not None and _sha(current) == entry["written"]
    original = _read(os.path.join(backups, str(entry["backup"]))) if entry["backup"] else None
    mode = int(entry["mode"])  # type: ignore[call-overload]
    if entry["kind"] == "chained":
        chained = path + CHAINED
        if os.path.lexists(chained):
            os.replace(chained, path)
        elif "link" in entry:
            remove_if_present(path)
            os.symlink(str(entry["link"]), path)
        elif original is not None:
            _write(path, original, mode)
        note = "" if ours else " (the wrapper had been edited; your original is back)"
        return f"restored {path}{note}"
    if ours or current is None:
        if original is None:
            remove_if_present(path)
            return f"removed {path}"
        _write(path, original, mode)
        return f"restored {path}"
    stripped = precommit.remove_block(current.decode("utf-8", "replace"))
    if stripped is None:
        stripped = _drop_block(current.decode("utf-8", "replace"))
    if stripped is None:
        return f"left {path}: it changed since install and holds no mcp-orch block"
    _write(path, stripped.encode("utf-8"), mode)
    return f"removed the mcp-orch block from {path} (the rest changed since install; kept)"


def _drop_block(text: str) -> str | None:
    start, end = text.find(BLOCK_BEGIN), text.find(BLOCK_END)
    if start < 0 or end < start:
        return None
    return text[:start] + text[end + len(BLOCK_END) + 1 :]


# ---------------------------------------------------------------------- status


def status(root: str) -> Report:
    """What is installed where, and whether each piece is still as mcp-orch left it."""
    manifest = load_manifest(root)
    if manifest is None:
        layout = detect(root)
        return Report(
            layout.mode,
            layout.where,
            (f"not installed (orch hooks install would use {layout.mode}: {layout.where})",),
            False,
        )
    lines = []
    for entry in manifest["entries"]:  # type: ignore[attr-defined]
        path = str(entry["path"])
        data = _read(path)
        state = (
            "missing"
            if data is None
            else "installed"
            if _sha(data) == entry["written"]
            else "changed since install"
        )
        chained = f", runs your original {os.path.basename(path)}{CHAINED} first" * (
            entry["kind"] == "chained"
        )
        lines.append(f"{path}: {state}{chained}")
    if manifest["mode"] == "pre-commit":
        hooks = git("rev-parse", "--path-format=absolute", "--git-path", "hooks", cwd=root)
        for stage in STAGES:
            script = _read(os.path.join(hooks, stage)) or b""
            if b"pre-commit" not in script:
                lines.append(
                    f"warning: pre-commit does not run {stage} yet: {precommit.INSTALL_TYPES}"
                )
    return Report(str(manifest["mode"]), str(manifest["where"]), tuple(lines), True)
