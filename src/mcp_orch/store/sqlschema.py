"""The SQL stores' schema: numbered, named, forward-only migrations, one list per dialect.

A migration is never edited once released: a change of schema is a new entry at the end
(``migrations.py`` applies the missing ones in order and records each in ``_migrations``).
SQLite keeps TEXT/INTEGER and JSON text for lists; PostgreSQL uses its own types (arrays,
booleans, ``timestamptz`` for the times that decide leases, ``jsonb`` for event payloads). Both
carry the same constraints, so "at most one holder per task" is the database's rule on either:
``leases.task_id`` is the primary key, so a second lease for a task cannot even be inserted.
On PostgreSQL a trigger on the revision row sends the ``NOTIFY orch`` of every change
(delivered when, and only if, its transaction commits).

``tasks.body`` is the task's Markdown exactly as ``board.format.render`` writes it: the file
mirror is a plain write of that column, and the task model is the board's, parsed once. The
other columns of ``tasks`` are what listing and scheduling read without parsing a body.
"""

from __future__ import annotations

STATUSES = "'pending','ready','in-progress','review','done','failed'"
AGENT_STATUSES = "'available','busy','error','offline'"

_SQLITE_1 = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (key, value) VALUES ('revision', 0);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ({STATUSES})),
  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 2),
  holder TEXT,
  implementer TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL,
  created TEXT NOT NULL,
  updated TEXT NOT NULL,
  depends TEXT NOT NULL DEFAULT '[]',
  capabilities TEXT NOT NULL DEFAULT '[]',
  open_feedback INTEGER NOT NULL DEFAULT 0,
  escalated INTEGER NOT NULL DEFAULT 0,
  revision INTEGER NOT NULL CHECK (revision > 0),
  body TEXT NOT NULL);
CREATE INDEX tasks_ready ON tasks (priority, created, id) WHERE status = 'ready';
CREATE INDEX tasks_holder ON tasks (holder) WHERE holder IS NOT NULL;
CREATE INDEX tasks_implementer ON tasks (implementer);
CREATE INDEX tasks_revision ON tasks (revision);
CREATE TABLE attachments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX attachments_task ON attachments (task_id, id);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  practice_id TEXT NOT NULL DEFAULT 'system',
  actor TEXT NOT NULL,
  task_id TEXT,
  agent TEXT,
  payload_json TEXT NOT NULL,
  occurred_at TEXT NOT NULL);
CREATE INDEX events_task ON events (task_id, id);
CREATE INDEX events_actor ON events (actor);
CREATE INDEX events_agent ON events (agent);
CREATE TABLE agents (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  capabilities TEXT NOT NULL DEFAULT '[]',
  max_tasks INTEGER NOT NULL DEFAULT 1,
  status TEXT NOT NULL CHECK (status IN ({AGENT_STATUSES})),
  source TEXT NOT NULL DEFAULT 'yaml',
  last_seen TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '');
CREATE TABLE fences (task_id TEXT PRIMARY KEY, fence INTEGER NOT NULL CHECK (fence > 0));
CREATE TABLE leases (
  task_id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  fence INTEGER NOT NULL,
  expires_at TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  ttl_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX leases_agent ON leases (agent);
CREATE INDEX leases_expiry ON leases (expires_at);
"""

_POSTGRES_1 = f"""
CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO meta (key, value) VALUES ('revision', 0);
CREATE FUNCTION orch_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('orch', '{{"revision": ' || NEW.value || '}}');
  RETURN NEW;
END $$;
CREATE TRIGGER meta_notify AFTER UPDATE ON meta FOR EACH ROW EXECUTE FUNCTION orch_notify();
CREATE TABLE tasks (
  id text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ({STATUSES})),
  priority smallint NOT NULL CHECK (priority BETWEEN 0 AND 2),
  holder text,
  implementer text NOT NULL DEFAULT '',
  title text NOT NULL,
  created text NOT NULL,
  updated text NOT NULL,
  depends text[] NOT NULL DEFAULT '{{}}',
  capabilities text[] NOT NULL DEFAULT '{{}}',
  open_feedback integer NOT NULL DEFAULT 0,
  escalated boolean NOT NULL DEFAULT false,
  revision bigint NOT NULL CHECK (revision > 0),
  body text NOT NULL);
CREATE INDEX tasks_ready ON tasks (priority, created, id) WHERE status = 'ready';
CREATE INDEX tasks_holder ON tasks (holder) WHERE holder IS NOT NULL;
CREATE INDEX tasks_implementer ON tasks (implementer);
CREATE INDEX tasks_revision ON tasks (revision);
CREATE TABLE attachments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id text NOT NULL, name text NOT NULL, body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX attachments_task ON attachments (task_id, id);
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type text NOT NULL,
  practice_id text NOT NULL DEFAULT 'system',
  actor text NOT NULL,
  task_id text,
  agent text,
  payload_json jsonb NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX events_task ON events (task_id, id);
CREATE INDEX events_actor ON events (actor);
CREATE INDEX events_agent ON events (agent);
CREATE TABLE agents (
  name text PRIMARY KEY,
  role text NOT NULL,
  capabilities text[] NOT NULL DEFAULT '{{}}',
  max_tasks integer NOT NULL DEFAULT 1,
  status text NOT NULL CHECK (status IN ({AGENT_STATUSES})),
  source text NOT NULL DEFAULT 'yaml',
  last_seen timestamptz,
  error text NOT NULL DEFAULT '');
CREATE TABLE fences (task_id text PRIMARY KEY, fence bigint NOT NULL CHECK (fence > 0));
CREATE TABLE leases (
  task_id text PRIMARY KEY,
  agent text NOT NULL,
  fence bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  acquired_at timestamptz NOT NULL,
  ttl interval NOT NULL DEFAULT '0');
CREATE INDEX leases_agent ON leases (agent);
CREATE INDEX leases_expiry ON leases (expires_at);
"""

# What the assigner may hand out (``CoordinationTx.assignable``); the partial index below has
# this very condition, so the query reads it in order and stops at its LIMIT.
ASSIGNABLE = "status IN ('ready', 'review') AND NOT escalated"

_SQLITE_2 = f"CREATE INDEX tasks_assignable ON tasks (priority, created, id) WHERE {ASSIGNABLE}"
_POSTGRES_2 = (
    'CREATE INDEX tasks_assignable ON tasks (priority, created COLLATE "C", id COLLATE "C") '
    f"WHERE {ASSIGNABLE}"
)

# (number, name, SQL); numbers start at 1 and have no gaps.
SQLITE: tuple[tuple[int, str, str], ...] = (
    (1, "initial", _SQLITE_1),
    (2, "assignable index", _SQLITE_2),
)
POSTGRES: tuple[tuple[int, str, str], ...] = (
    (1, "initial", _POSTGRES_1),
    (2, "assignable index", _POSTGRES_2),
)


def statements(script: str) -> list[str]:
    """The statements of a migration script: split at ';' (none of ours has one inside a
    literal) except inside a ``$$`` function body."""
    out: list[str] = []
    for i, chunk in enumerate(script.split("$$")):
        if i % 2:  # inside $$ ... $$: part of the statement around it
            out[-1] += f"$${chunk}$$"
            continue
        parts = chunk.split(";")
        if out and i:
            out[-1] += parts.pop(0)
        out.extend(parts)
    return [part.strip() for part in out if part.strip()]
