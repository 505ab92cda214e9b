"""``open_store``: the one place a store is chosen, by URL (the composition root calls it).

``files`` (the default: the Markdown board in ``.mcp/``), ``memory``, ``sqlite:///PATH``
(relative to the project root unless absolute) and ``postgresql://...``. The SQL stores are
imported only when asked for, so no command on the file board pays for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from ..domain.errors import InvalidInput, OrchError
from . import TaskStore

# scheme -> (module, class): the SQL backends' modules are loaded only when named
_SQL = {
    "sqlite": ("mcp_orch.store.sqlite", "SqliteStore"),
    "postgresql": ("mcp_orch.store.postgres", "PostgresStore"),
    "postgres": ("mcp_orch.store.postgres", "PostgresStore"),
}
URLS = "files, memory, sqlite:///PATH or postgresql://USER@HOST/DB"


def open_store(
    url: str, root: str | None, clock: Callable[[], datetime] | None = None
) -> TaskStore:
    """The store ``url`` names. ``root`` is the board folder (``.mcp``) for ``files`` and the
    base of a relative SQLite path; ``clock`` stamps what the file board notices (hand moves)."""
    url = (url or "files").strip()
    if url == "files":
        if root is None:
            raise InvalidInput("the file store needs a board folder", "run 'orch init' first")
        from ..board.files import FileStore

        return FileStore(root, clock)
    if url == "memory":
        from .memory import MemoryStore

        return MemoryStore()
    scheme = url.split(":", 1)[0].lower()
    if scheme not in _SQL or "://" not in url:
        raise InvalidInput(f"unknown store {url!r}", f"give one of: {URLS}")
    return _sql_store(scheme, url, root)


def sqlite_path(url: str, root: str | None) -> str:
    """The file a ``sqlite:///PATH`` URL names: relative paths are under ``root``'s parent
    (the project root, beside ``.mcp``), ``sqlite:///:memory:`` is SQLite's own."""
    path = url.split("://", 1)[1].removeprefix("/")  # sqlite:///rel, sqlite:////abs
    if path == ":memory:" or os.path.isabs(path):
        return path
    base = os.path.dirname(os.path.abspath(root)) if root else os.getcwd()
    return os.path.join(base, path)


def _sql_store(scheme: str, url: str, root: str | None) -> TaskStore:
    import importlib  # here, not at the top: with warnings, ~0.5 ms the file board never needs

    module_name, class_name = _SQL[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise OrchError(
            f"the {scheme} store is not available ({exc})",
            "install it (pip install 'mcp-orch[postgres]'), or use the file board: files",
        ) from exc
    store: TaskStore = getattr(module, class_name).open(url, root)
    return store
