"""The SQL stores' memos (``store.sqlmemo``): bounded, and a row or revision seen is not
built again."""

from __future__ import annotations

from typing import Any

from mcp_orch.domain.model import Task
from mcp_orch.store.sqlmemo import RowMemo, TaskCache


def test_a_row_memo_builds_each_distinct_row_once_and_keeps_at_most_its_limit() -> None:
    built: list[Any] = []

    def build(row: Any, dialect: Any) -> tuple[str, ...]:
        built.append(row)
        return (f"{row[0]}-{dialect}",)

    memo: RowMemo[tuple[str, ...]] = RowMemo(build, limit=2)
    assert memo(("a", 1), "d") == ("a-d",)
    assert memo.many([("a", 1), ("b", 2), ("a", 1)], "d") == (("a-d",), ("b-d",), ("a-d",))
    assert built == [("a", 1), ("b", 2)]
    memo(("c", 3), "d")  # a third row: the oldest goes
    assert len(memo) == 2
    memo(("a", 1), "d")
    assert built == [("a", 1), ("b", 2), ("c", 3), ("a", 1)]


def test_a_row_memo_with_a_key_uses_it_for_unhashable_rows() -> None:
    memo: RowMemo[tuple[str, ...]] = RowMemo(
        lambda row, _: (str(row[1]),), key=lambda row: (row[0], tuple(row[1]))
    )
    rows = [("a", ["x"]), ("a", ["x"]), ("a", ["y"])]
    first, again, other = memo.many(rows, None)
    assert first is again and other == ("['y']",) and len(memo) == 2


def test_the_task_cache_drops_the_least_recently_used_first() -> None:
    cache = TaskCache(limit=2)
    one, two, three = (Task(id=f"T-{n}", title=str(n)) for n in (1, 2, 3))
    cache.put("T-1", 1, one)
    cache.put("T-2", 1, two)
    assert cache.get("T-1", 1) is one  # T-1 used: T-2 is now the oldest
    assert cache.get("T-1", 2) is None  # another revision is another version
    cache.put("T-3", 1, three)
    assert cache.get("T-2", 1) is None and cache.get("T-1", 1) is one
    assert cache.get("T-3", 1) is three and len(cache) == 2
