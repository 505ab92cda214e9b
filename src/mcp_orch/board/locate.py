"""Find the one board a command works on, from any directory of any worktree of a repo.

Agents often work in git worktrees. Every worktree of a repo must see the same board, or claims
stop being exclusive; so inside a linked worktree we follow its ``.git`` file to the repo's
common directory and use the main working tree's ``.mcp/``. Plain file reads with ``os.path``
(no ``git`` subprocess, no pathlib import): this runs on every command.
"""

from __future__ import annotations

import os

from ..domain.errors import BoardNotFound

BOARD_DIR = ".mcp"
ENV_BOARD = "ORCH_BOARD"


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def main_worktree(git_file: str) -> str | None:
    """The main working tree of the linked worktree whose ``.git`` file is ``git_file``."""
    try:
        text = _read(git_file)
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = os.path.join(os.path.dirname(git_file), text[len("gitdir:") :].strip())
    commondir_file = os.path.join(gitdir, "commondir")
    if not os.path.isfile(commondir_file):
        return None  # a submodule: it is a repository of its own
    try:
        common = os.path.realpath(os.path.join(gitdir, _read(commondir_file)))
    except OSError:
        return None
    if os.path.basename(common) != ".git":
        return None  # a bare repository has no main working tree
    return os.path.dirname(common)


def project_root(start: str | None = None) -> str:
    """Where the board lives or would live: the main working tree, else ``start``."""
    here = os.path.realpath(start or os.getcwd())
    folder = here
    while True:
        dot_git = os.path.join(folder, ".git")
        if os.path.isfile(dot_git):
            return main_worktree(dot_git) or folder
        if os.path.isdir(os.path.join(folder, BOARD_DIR, "tasks")) or os.path.isdir(dot_git):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return here
        folder = parent


def find_board(start: str | None = None, env: dict[str, str] | None = None) -> str:
    """The ``.mcp`` directory to use; ``ORCH_BOARD`` (a project root or ``.mcp``) overrides."""
    environ = os.environ if env is None else env
    override = environ.get(ENV_BOARD, "").strip()
    if override:
        path = os.path.realpath(os.path.expanduser(override))
        board = path if os.path.basename(path) == BOARD_DIR else os.path.join(path, BOARD_DIR)
        if not os.path.isdir(os.path.join(board, "tasks")):
            raise BoardNotFound(
                f"{ENV_BOARD}={override} has no board ({board}/tasks is missing)",
                f"run 'orch init' in {os.path.dirname(board)}, or unset {ENV_BOARD}",
            )
        return board
    board = os.path.join(project_root(start), BOARD_DIR)
    if not os.path.isdir(os.path.join(board, "tasks")):
        raise BoardNotFound(
            f"no task board here ({board} not found)",
            "run 'orch init' in your project's root first (or set ORCH_BOARD)",
        )
    return board
