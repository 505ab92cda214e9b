"""Group commit for a store whose writers take turns (SQLite: one writer; PostgreSQL: each
writing transaction holds the database's write lock from its first statement): the requests
that queue up while one runs are run together in ONE transaction, each in a savepoint of it,
and answered after its one commit, so 200 writes a second cost a handful of fsyncs (and, on
PostgreSQL, of lock turns and BEGIN/COMMIT round trips), not 200, and nothing is answered
before it is durable. Two replicas stay as safe as with one transaction per call: a batch is
one writing transaction like any other.

A call that fails is undone alone (its savepoint rolls back) and answers its own error; the
others in the batch go on. If the commit itself fails, nothing of the batch took effect and
every call in it answers that error (the store's, saying what to do). Each call sees the
writes of the calls before it in the batch, exactly as if they had run one after the other:
they do, on one thread, in one transaction. Only calls marked ``batch`` are gathered (an
agent's steps, submissions, heartbeats, ``next``); the others (the chores' passes, reads,
anything that may wait) run alone, in arrival order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

MAX_BATCH = 16  # calls in one transaction at most: the first one's answer waits for all
_STOP = object()


class _Call:
    """One queued call and the future its request awaits (once running, a cancelled request
    no longer stops it: what it does takes effect whole, or not at all)."""

    __slots__ = ("batch", "fn", "future")

    def __init__(self, fn: Callable[[], Any], batch: bool) -> None:
        self.fn, self.batch = fn, batch
        self.future: Future[Any] = Future()


class GroupCommit:
    """One worker thread running calls on ``store``, gathering the batchable ones."""

    def __init__(self, store: Any, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Call | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="orch-worker", daemon=True)
        self._thread.start()
        self.batches = 0  # transactions that gathered more than one call (for benchmarks)

    def submit(self, fn: Callable[[], Any], *, batch: bool = False) -> Future[Any]:
        call = _Call(fn, batch)
        self._queue.put(call)
        return call.future

    def shutdown(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(10)

    def _loop(self) -> None:
        held: object = None  # what gathering took that is not batchable (or the stop)
        while True:
            call = held if held is not None else self._queue.get()
            held = None
            if not isinstance(call, _Call):
                return  # _STOP: shutdown
            if not call.future.set_running_or_notify_cancel():
                continue  # its request was cancelled before it began: nothing to do
            calls = [call]
            while call.batch and len(calls) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(more, _Call) or not more.batch:
                    held = more
                    break
                if more.future.set_running_or_notify_cancel():
                    calls.append(more)
            if len(calls) == 1:
                _run_alone(call)
            else:
                self._run_together(calls)

    def _run_together(self, calls: list[_Call]) -> None:
        self.batches += 1
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self.store.transaction():
                for call in calls:
                    try:
                        with self.store.transaction():  # a savepoint: this call alone
                            outcomes.append((True, call.fn()))
                    except BaseException as exc:  # this call's own error: it answers it
                        outcomes.append((False, exc))
        except BaseException as exc:  # the commit failed: nothing of the batch took effect
            for call in calls:
                call.future.set_exception(exc)
            return
        for call, (ok, value) in zip(calls, outcomes, strict=True):
            if ok:
                call.future.set_result(value)
            else:
                call.future.set_exception(value)


def _run_alone(call: _Call) -> None:
    try:
        result = call.fn()
    except BaseException as exc:
        call.future.set_exception(exc)
        return
    call.future.set_result(result)
