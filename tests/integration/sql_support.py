"""The SQL stores for tests: SQLite in a temp dir, PostgreSQL in a schema of its own.

Every PostgreSQL test gets a fresh schema on the machine's server (``ORCH_TEST_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``), dropped afterwards. Nothing is skipped: when
the server cannot be reached the test errors and says how to start it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("ORCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
START_PG = (
    "start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
    "(.ci/run does this), or point ORCH_TEST_PG at a server"
)


def pg_admin() -> Any:
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable ({exc}); {START_PG}")


@contextmanager
def pg_schema() -> Iterator[str]:
    """A new, empty schema, dropped with everything in it when the block ends."""
    name = f"orch_test_{uuid.uuid4().hex[:12]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextmanager
def sql_stores(kind: str, tmp_path: Path, **kwargs: Any) -> Iterator[Callable[[], Any]]:
    """A factory of stores on one database of ``kind`` (sqlite | postgres): each call opens
    another store (its own connections) on the same database."""
    opened: list[Any] = []
    if kind == "sqlite":
        from mcp_orch.store.sqlite import SqliteStore

        def make() -> Any:
            opened.append(SqliteStore(str(tmp_path / "orch.db"), **kwargs))
            return opened[-1]

        try:
            yield make
        finally:
            for store in opened:
                store.close()
        return
    from mcp_orch.store.postgres import PostgresStore

    with pg_schema() as schema:

        def make_pg(**more: Any) -> Any:
            options = {"db_clock": False, **kwargs, **more}
            opened.append(PostgresStore(PG_URL, schema=schema, **options))
            return opened[-1]

        try:
            yield make_pg
        finally:
            for store in opened:
                store.close()
