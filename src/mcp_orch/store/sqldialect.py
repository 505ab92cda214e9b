"""The two SQL dialects the stores speak: what differs between SQLite and PostgreSQL.

The SQL itself is written once (``sqltx.py``) with ``?`` marks; a dialect converts the marks
and the values whose types differ: lists (JSON text / ``text[]``), flags (0/1 / boolean),
times (the board's ISO text / ``timestamptz``) and event payloads (JSON text / ``jsonb``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..domain.model import format_time, parse_time


class Dialect:
    """SQLite's: every value is text or an integer."""

    name = "sqlite"
    lock_row = ""  # what ends a SELECT that reads a row the transaction will write
    outcome = "json_extract(payload_json, '$.outcome')"
    collate = ""  # what makes text sort as Python's str does (SQLite's BINARY already does)
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
