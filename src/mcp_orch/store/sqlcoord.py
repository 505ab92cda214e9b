"""The coordination part of a SQL ``Tx``: the agent registry, leases and their fences.

"At most one holder per task" is the database's rule: ``leases.task_id`` is the primary key,
so a second grant cannot be inserted whatever the code does (on PostgreSQL a concurrent grant
waits for the first to commit, then inserts nothing). Each task's fence lives in ``fences``, a
counter that only goes up and outlives the lease, so a holder that lost its lease and comes
back holds a fence that can never match again.

Lease times: by default the caller's clock (the strings it passes), which is the only clock a
single SQLite service has. With ``db_clock`` (PostgreSQL replicas) the database's ``now()``
decides: a grant keeps the caller's duration (``expires_at - now``) from the database's now, a
renewal extends by that same duration, and ``expired`` asks the database what time it is, so
replicas whose clocks disagree still agree on which leases ran out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..domain.agents import Agent, Lease
from ..domain.errors import AlreadyClaimed
from ..domain.model import Status, parse_time
from ..domain.policy import Summary
from .sqlschema import ASSIGNABLE
from .sqltx import (
    AGENT_COLUMNS,
    CHUNK,
    LEASE_COLUMNS,
    SUMMARY_COLUMNS,
    SqlTx,
    summary_of,
)


def _definition(agent: Agent) -> tuple[object, ...]:
    """What an agent is (not how it is doing): as the memory store judges news for waiters."""
    return (agent.role, tuple(agent.capabilities), agent.max_tasks, agent.source)


def _ttl_ms(expires_at: str, now: str) -> int:
    end, start = parse_time(expires_at), parse_time(now)
    if end is None or start is None:
        return 0
    return max(0, int((end - start).total_seconds() * 1000))


_DEFINITION = "SELECT role, capabilities, max_tasks, source FROM agents"  # as _definition
_UPSERT = (
    f"INSERT INTO agents ({AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
    "capabilities = excluded.capabilities, max_tasks = excluded.max_tasks, "
    "status = excluded.status, source = excluded.source, "
    "last_seen = excluded.last_seen, error = excluded.error"
)


class CoordinationTx(SqlTx):
    """``SqlTx`` plus seam v2's coordination methods."""

    # ------------------------------------------------------------------ agents

    def agents(self) -> tuple[Agent, ...]:
        if self.registry_read is not None:  # read here, and not written since
            return self.registry_read
        self.registry_read = self._registry()
        return self.registry_read

    def _registry(self) -> tuple[Agent, ...]:
        rows = self._x(f"SELECT {AGENT_COLUMNS} FROM agents ORDER BY name").fetchall()
        last = self.memos.registry
        if last is not None and last[0] == rows:
            return last[1]  # the same rows: the same tuple (``roles_with`` knows it then)
        made = self.memos.agents.many(rows, self.d)
        self.memos.registry = (rows, made)
        return made

    def agent(self, name: str) -> Agent | None:
        found = self.agents_read[name] = self._agent(name)  # for ``put_agent``, if it is next
        return found

    def _agent(self, name: str) -> Agent | None:
        row = self._x(f"SELECT {AGENT_COLUMNS} FROM agents WHERE name = ?", (name,)).fetchone()
        return self.memos.agents(row, self.d) if row else None

    def put_agent(self, agent: Agent) -> None:
        self.registry_read = None
        d = self.d
        values = (
            agent.name,
            agent.role,
            d.arr(tuple(agent.capabilities)),
            agent.max_tasks,
            agent.status,
            agent.source,
            d.time(agent.last_seen) if agent.last_seen else self._no_time(),
            agent.error,
        )
        if d.name == "postgres":
            # One round trip: the entry as it was (the statement's snapshot) and the upsert.
            sql = f"WITH old AS ({_DEFINITION} WHERE name = ?), up AS ({_UPSERT}) SELECT * FROM old"
            row = self._x(sql, (agent.name, *values)).fetchone()
            if row is None or (row[0], tuple(row[1]), *row[2:]) != _definition(agent):
                self._touch()  # news for waiters; a heartbeat's refresh of last_seen is not
            return
        read = self.agents_read  # the entry as this transaction read it last: no query
        before = read.pop(agent.name) if agent.name in read else self._agent(agent.name)
        if before is None or _definition(before) != _definition(agent):
            self._touch()
        self._x(_UPSERT, values)

    def set_agent_status(self, seen: Agent, status: str, error: str) -> bool:
        # One conditional UPDATE: of two replicas aging one agent, the second finds the row
        # changed (on PostgreSQL it waits for the first's commit, then re-checks the WHERE).
        self.registry_read = None
        same = "IS NOT DISTINCT FROM" if self.d.name == "postgres" else "IS"
        last = self.d.time(seen.last_seen) if seen.last_seen else self._no_time()
        cur = self._x(
            f"UPDATE agents SET status = ?, error = ? WHERE name = ? AND status = ? "
            f"AND last_seen {same} ?",
            (status, error, seen.name, seen.status, last),
        )
        return bool(cur.rowcount == 1)

    def _no_time(self) -> Any:
        return None if self.d.name == "postgres" else ""

    def remove_agent(self, name: str) -> None:
        self.agents_read.pop(name, None)
        self.registry_read = None
        if self._x("DELETE FROM agents WHERE name = ?", (name,)).rowcount:
            self._touch()

    # ------------------------------------------------------------------ leases

    def lease(self, task_id: str) -> Lease | None:
        read = self.leases_read  # read here already, and not written since: no query
        if task_id in read:
            return read[task_id]
        row = self._x(
            f"SELECT {LEASE_COLUMNS} FROM leases WHERE task_id = ?", (task_id,)
        ).fetchone()
        found = read[task_id] = self.memos.leases(row, self.d) if row else None
        return found

    def leases(self, agent: str | None = None) -> tuple[Lease, ...]:
        """Every lease (of ``agent``), soonest to expire first."""
        where, params = ("", ()) if agent is None else (" WHERE agent = ?", (agent,))
        sql = f"SELECT {LEASE_COLUMNS} FROM leases{where} ORDER BY expires_at, task_id"
        return self.memos.leases.many(self._x(sql, params).fetchall(), self.d)

    def lease_counts(self, agents: Iterable[str] | None = None) -> dict[str, int]:
        """One ``GROUP BY`` (of ``agents`` only: their index entries, not every lease)."""
        if agents is None:
            rows = self._x("SELECT agent, count(*) FROM leases GROUP BY agent").fetchall()
            return {row[0]: int(row[1]) for row in rows}
        known = self.counts_read  # counted here, and kept up to date by grant and release
        names = list(dict.fromkeys(agents))
        missing = [name for name in names if name not in known]
        if missing:
            sql = "SELECT agent, count(*) FROM leases WHERE agent IN ({}) "
            counted = self._counts(sql, missing)
            known.update({name: counted.get(name, 0) for name in missing})
        return {name: known[name] for name in names if known[name]}

    def unleased_held(self, agents: Iterable[str]) -> dict[str, int]:
        """One query per 500 agents (not two per agent: ``held_by`` and ``leases``)."""
        sql = (
            "SELECT holder, count(*) FROM tasks WHERE holder IN ({}) AND NOT EXISTS "
            "(SELECT 1 FROM leases WHERE leases.task_id = tasks.id) "
        )
        return self._counts(sql, agents)

    def _counts(self, head: str, names: Iterable[str]) -> dict[str, int]:
        """Name -> count of ``head`` (a SELECT of a name and a count whose ``{}`` is the
        names' marks) grouped by name, 500 names a query."""
        wanted = list(dict.fromkeys(names))
        out: dict[str, int] = {}
        for start in range(0, len(wanted), CHUNK):
            part = wanted[start : start + CHUNK]
            sql = head.format(", ".join("?" * len(part))) + "GROUP BY 1"
            out.update({row[0]: int(row[1]) for row in self._x(sql, part).fetchall()})
        return out

    def assignable(
        self, limit: int | None = None, status: Status | None = None
    ) -> tuple[Summary, ...]:
        """Ready or review tasks (only ``status``, when given), not escalated, with no lease,
        in ``Summary.sort_key`` order (one query, on the ``tasks_assignable`` partial index)."""
        c = self.d.collate
        only, params = (" AND status = ?", [status.value]) if status is not None else ("", [])
        sql = (
            f"SELECT {SUMMARY_COLUMNS} FROM tasks WHERE {ASSIGNABLE}{only} AND NOT EXISTS "
            "(SELECT 1 FROM leases WHERE leases.task_id = tasks.id) "
            f"ORDER BY priority, created{c}, id{c}"
        )
        if limit is None:
            return tuple(summary_of(row, self.d) for row in self._x(sql, params).fetchall())
        rows = self._x(sql + " LIMIT ?", (*params, max(limit, 0))).fetchall()
        return tuple(summary_of(row, self.d) for row in rows)

    def fence(self, task_id: str) -> int:
        row = self._x("SELECT fence FROM fences WHERE task_id = ?", (task_id,)).fetchone()
        return int(row[0]) if row else 0

    def _held(self, task_id: str) -> AlreadyClaimed:
        held = self.lease(task_id)
        who = f"{held.agent} (fence {held.fence})" if held else "another agent"
        return AlreadyClaimed(
            f"{task_id} is already leased to {who}",
            "pick another task, or wait until its lease is released or runs out",
        )

    def grant(self, task_id: str, agent: str, expires_at: str, now: str) -> Lease:
        self._touch()
        self.leases_read.pop(task_id, None)
        # One statement: the fence goes up and the lease is inserted with it. No look first:
        # the primary key decides (on PostgreSQL a concurrent grant waits for the first to
        # commit, then inserts nothing), and the refusal rolls the fence back with the tx.
        if self.d.name != "postgres":  # SQLite has no INSERT inside WITH: two statements
            self._x(self._FENCE_UP, (task_id,))
        row = self._x(*self._lease_insert(task_id, agent, expires_at, now)).fetchone()
        if row is None:
            raise self._held(task_id)
        granted = self.leases_read[task_id] = self.memos.leases(row, self.d)
        if agent in self.counts_read:
            self.counts_read[agent] += 1
        return granted

    _FENCE_UP = (
        "INSERT INTO fences (task_id, fence) VALUES (?, 1) ON CONFLICT (task_id) "
        "DO UPDATE SET fence = fences.fence + 1 RETURNING fence"
    )

    def _lease_insert(
        self, task_id: str, agent: str, expires_at: str, now: str
    ) -> tuple[str, tuple[Any, ...]]:
        """The fence bump and lease INSERT, and its parameters (the module docstring says
        which clock decides)."""
        ttl = _ttl_ms(expires_at, now)
        tail = f" ON CONFLICT (task_id) DO NOTHING RETURNING {LEASE_COLUMNS}"
        if self.d.name != "postgres":
            columns = "task_id, agent, fence, expires_at, acquired_at, ttl_ms"
            values: tuple[Any, ...] = (
                task_id,
                agent,
                self.d.time(expires_at),
                self.d.time(now),
                ttl,
                task_id,
            )
            sql = (
                f"INSERT INTO leases ({columns}) SELECT ?, ?, fence, ?, ?, ? FROM fences "
                "WHERE task_id = ?"  # a WHERE: SQLite's parser needs it before ON CONFLICT
            )
            return sql + tail, values
        head = f"WITH f AS ({self._FENCE_UP}) "
        tail = " FROM f" + tail
        columns = "task_id, agent, fence, expires_at, acquired_at, ttl"
        ms = "? * interval '1 millisecond'"
        if self.db_clock:
            sql = f"INSERT INTO leases ({columns}) SELECT ?, ?, f.fence, now() + {ms}, now(), {ms}"
            return head + sql + tail, (task_id, task_id, agent, ttl, ttl)
        sql = f"INSERT INTO leases ({columns}) SELECT ?, ?, f.fence, ?, ?, {ms}"
        values = (task_id, task_id, agent, self.d.time(expires_at), self.d.time(now), ttl)
        return head + sql + tail, values

    def renew(self, task_id: str, agent: str, fence: int, expires_at: str) -> bool:
        # Not a revision bump: a heartbeat changes no task, and must not wake every waiter.
        self.leases_read.pop(task_id, None)
        where = " WHERE task_id = ? AND agent = ? AND fence = ?"
        if self.db_clock:
            cur = self._x(
                "UPDATE leases SET expires_at = now() + ttl" + where, (task_id, agent, fence)
            )
        else:
            params = (self.d.time(expires_at), task_id, agent, fence)
            cur = self._x("UPDATE leases SET expires_at = ?" + where, params)
        return bool(cur.rowcount == 1)

    def renew_all(self, agent: str, expires_at: str) -> tuple[Lease, ...]:
        # One UPDATE however many leases the agent holds (a heartbeat's renewal).
        self.leases_read.clear()
        back = f" WHERE agent = ? RETURNING {LEASE_COLUMNS}"
        if self.db_clock:
            rows = self._x("UPDATE leases SET expires_at = now() + ttl" + back, (agent,))
        else:
            rows = self._x(
                "UPDATE leases SET expires_at = ?" + back, (self.d.time(expires_at), agent)
            )
        renewed = self.memos.leases.many(rows.fetchall(), self.d)
        return tuple(sorted(renewed, key=lambda x: x.task_id))

    def release(self, task_id: str, fence: int | None = None) -> bool:
        self.leases_read.pop(task_id, None)
        self.counts_read.clear()  # whose lease it was is not known here: count again
        if fence is None:
            cur = self._x("DELETE FROM leases WHERE task_id = ?", (task_id,))
        else:
            cur = self._x("DELETE FROM leases WHERE task_id = ? AND fence = ?", (task_id, fence))
        if cur.rowcount != 1:
            return False
        self._touch()
        return True

    def expired(self, now: str) -> tuple[Lease, ...]:
        """Leases whose time is up at ``now`` (a lease is good until, not at, its expiry)."""
        until, params = ("now()", ()) if self.db_clock else ("?", (self.d.time(now),))
        sql = f"SELECT {LEASE_COLUMNS} FROM leases WHERE expires_at <= {until}"
        rows = self._x(sql + " ORDER BY expires_at, task_id", params).fetchall()
        return self.memos.leases.many(rows, self.d)
