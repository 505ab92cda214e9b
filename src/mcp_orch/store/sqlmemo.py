"""What a SQL store remembers between calls so that reading the same data again is cheap.

Both are filled only with what is true for good, so results stay fresh and correct across
replicas (each call still reads its rows from the database):

- ``RowMemo``: the object built from a raw row, keyed by that row's values. An agent or lease
  row that did not change costs a dict lookup instead of JSON decoding and time formatting; a
  row that changed is another key (a heartbeat's new ``last_seen`` is a new entry).
- ``TaskCache``: parsed tasks by (ID, revision). A revision names one committed version of a
  task for good, except that a rolled-back transaction's revision number is taken again by the
  next writer: so only committed versions enter (a row another transaction committed, or what
  a transaction saved, once its outermost block has committed).

Both are bounded (the oldest entries go first) and safe across threads: a lookup is one dict
read (atomic), an insertion and its eviction take a lock. Tasks, agents and leases are
immutable records, so one object is safely shared by every caller.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from ..domain.model import Task

T = TypeVar("T")


class RowMemo(Generic[T]):
    """``build(row, dialect)`` memoized by the row's values (``key(row)``: hashable). One
    store, one dialect: the dialect is not part of the key. What ``build`` returns must be
    true (a non-empty record)."""

    def __init__(
        self,
        build: Callable[[Any, Any], T],
        key: Callable[[Any], Hashable] | None = None,
        limit: int = 8192,
    ) -> None:
        self._build, self._key, self._limit = build, key, limit  # key None: the row itself
        self._seen: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def __call__(self, row: Any, dialect: Any) -> T:
        key = row if self._key is None else self._key(row)
        found = self._seen.get(key)
        return found if found is not None else self._add(key, row, dialect)

    def many(self, rows: list[Any], dialect: Any) -> tuple[T, ...]:
        """``self(row)`` of each row (one loop, no call per row that is known)."""
        get, add = self._seen.get, self._add
        if self._key is None:
            return tuple([get(row) or add(row, row, dialect) for row in rows])
        keys = map(self._key, rows)
        return tuple([get(k) or add(k, row, dialect) for k, row in zip(keys, rows, strict=True)])

    def _add(self, key: Hashable, row: Any, dialect: Any) -> T:
        built = self._build(row, dialect)
        with self._lock:
            seen = self._seen
            while len(seen) >= self._limit:
                del seen[next(iter(seen))]  # the oldest entry
            seen[key] = built
        return built

    def __len__(self) -> int:
        return len(self._seen)


class TaskCache:
    """Committed tasks by (ID, revision), least recently used dropped first."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._tasks: OrderedDict[tuple[str, int], Task] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, task_id: str, revision: int) -> Task | None:
        key = (task_id, revision)
        task = self._tasks.get(key)
        if task is not None:
            with self._lock:
                if key in self._tasks:
                    self._tasks.move_to_end(key)
        return task

    def put(self, task_id: str, revision: int, task: Task) -> None:
        with self._lock:
            self._tasks[(task_id, revision)] = task
            self._tasks.move_to_end((task_id, revision))
            while len(self._tasks) > self._limit:
                self._tasks.popitem(last=False)

    def __len__(self) -> int:
        return len(self._tasks)
