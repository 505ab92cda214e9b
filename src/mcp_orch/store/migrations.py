"""Apply the schema's migrations in order, once each, recorded in ``_migrations`` (llm-style).

Forward-only: a database that has a migration this code does not know (a newer orch migrated
it) is refused with one clear error, never written to. Each migration runs in its own
transaction with its ``_migrations`` row, so a crash leaves either all of it or none.
PostgreSQL callers hold an advisory lock around ``migrate`` so that replicas starting at once
apply each migration exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..domain.errors import StorageError


class Cursor(Protocol):
    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...


MIGRATIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS _migrations "
    "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


class NewerSchema(StorageError):
    """The database was migrated by a newer orch than this one."""

    code = "newer_schema"


def applied(cur: Cursor) -> dict[int, str]:
    """The migrations recorded in the database, by number."""
    cur.execute("SELECT id, name FROM _migrations ORDER BY id")
    return {int(row[0]): str(row[1]) for row in cur.fetchall()}


def migrate(
    cur: Cursor,
    atomic: Callable[[], AbstractContextManager[object]],
    known: Sequence[tuple[int, str, str]],
    *,
    where: str,
    placeholder: str,
    now: str,
) -> list[str]:
    """Apply the migrations of ``known`` the database lacks; return their names.

    ``atomic()`` opens one transaction on ``cur``'s connection; ``where`` names the database
    in errors; ``placeholder`` is the dialect's parameter mark (``?`` or ``%s``).
    """
    from .sqlschema import statements

    with atomic():
        cur.execute(MIGRATIONS_DDL)
        done = applied(cur)
    newest = max(done, default=0)
    top = known[-1][0] if known else 0
    if newest > top:
        raise NewerSchema(
            f"the database at {where} has schema {newest}, this orch knows up to {top}",
            "upgrade mcp-orch (pip install -U mcp-orch), or point --db at another database",
        )
    names: list[str] = []
    for number, name, script in known:
        if number in done:
            continue
        with atomic():
            for statement in statements(script):
                cur.execute(statement)
            cur.execute(
                "INSERT INTO _migrations (id, name, applied_at) "
                f"VALUES ({placeholder}, {placeholder}, {placeholder})",
                (number, name, now),
            )
        names.append(f"{number:04d}_{name}")
    return names
