"""The two SQL dialects the stores speak: what differs between SQLite and PostgreSQL.

The SQL itself is written once (``sqltx.py``) with ``?`` marks; a dialect converts the marks
and the values whose types differ: lists (JSON text / ``text[]``), flags (0/1 / boolean),
times (the board's ISO text / ``timestamptz``) and event payloads (JSON text / ``jsonb``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ..domain.model import format_time, parse_time

# What ``format_time`` writes: such a text is its own normalized form (no parse, no format).
CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


class Dialect:
    """SQLite's: every value is text or an integer."""

    name = "sqlite"
    lock_row = ""  # what ends a SELECT that reads a row the transaction will write
    outcome = "json_extract(payload_json, '$.outcome')"
    collate = ""  # what makes text sort as Python's str does (SQLite's BINARY already does)
    release_savepoints = True  # RELEASE a savepoint when its block ends (see PostgreSQL's)
    # The first write of a transaction: take the next store revision (see sqltx.py).
    touch = "UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value"

    def __init__(self) -> None:
        self._queries: dict[str, str] = {}

    def q(self, sql: str) -> str:
        """``sql`` with this dialect's parameter marks."""
        return sql

    def arr(self, items: tuple[str, ...]) -> Any:
        return json.dumps(list(items), ensure_ascii=False)

    def unarr(self, value: Any) -> tuple[str, ...]:
        return tuple(json.loads(value)) if value and value != "[]" else ()

    def flag(self, value: bool) -> Any:
        return int(value)

    def time(self, text: str) -> Any:
        """A time for a column that decides leases: normalized, so text compares as time."""
        if CANONICAL_TIME.match(text):
            return text
        moment = parse_time(text) if text else None
        return format_time(moment) if moment is not None else text

    def untime(self, value: Any) -> str:
        return str(value) if value else ""

    def payload(self, data: dict[str, Any]) -> Any:
        return json.dumps(data, sort_keys=True, ensure_ascii=False)

    def unpayload(self, value: Any) -> dict[str, Any]:
        return dict(json.loads(value)) if value else {}


class PostgresDialect(Dialect):
    """PostgreSQL's: arrays, booleans, ``timestamptz`` and ``jsonb``."""

    name = "postgres"
    lock_row = " FOR UPDATE"
    outcome = "payload_json->>'outcome'"
    collate = ' COLLATE "C"'
    # A savepoint is left established when its block ends (a RELEASE would be one more round
    # trip): ROLLBACK TO goes to the newest savepoint of a name, the one its block opened, and
    # the next block of that depth releases it in the same statement as its own SAVEPOINT (so
    # the transaction holds at most one per depth; the commit ends those left).
    release_savepoints = False

    def q(self, sql: str) -> str:
        done = self._queries.get(sql)
        if done is None:
            # No query of ours has a '?' or '%' inside a literal: the marks are plain to swap.
            done = self._queries[sql] = sql.replace("%", "%%").replace("?", "%s")
        return done

    def arr(self, items: tuple[str, ...]) -> Any:
        return list(items)

    def unarr(self, value: Any) -> tuple[str, ...]:
        return tuple(value or ())

    def flag(self, value: bool) -> Any:
        return bool(value)

    def time(self, text: str) -> Any:
        return parse_time(text) if text else None

    def untime(self, value: Any) -> str:
        if isinstance(value, datetime):
            return format_time(value)
        return str(value) if value else ""

    def payload(self, data: dict[str, Any]) -> Any:
        from psycopg.types.json import Jsonb

        return Jsonb(data)

    def unpayload(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return dict(json.loads(value))
        return dict(value or {})
