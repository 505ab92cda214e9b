"""One page of the event log, filtered where the events are kept.

``events_page(store, query)`` answers ``GET /api/orchestrator/events``: a SQL store filters,
counts and pages in the database (``SqlStore.events_page``), the memory store in its list; a
store without the method (the file board) falls back to reading its whole log and filtering it
here, which is what every request did before.

``since`` is a time (any ISO 8601; events at or after it), ``since_id`` an event's id (events
recorded after it: what a poller passes with the last id it saw). Only SQL stores give events
ids; elsewhere ``since_id`` is refused (what is wrong, what to send instead).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.errors import InvalidInput
from ..domain.events import Event
from ..domain.model import format_time, parse_time
from ..domain.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import TaskStore


class EventQuery(Record):
    task_id: str | None = None
    type: str = ""  # the event's type (its op: claim, submit, assign, ...)
    since: str = ""  # normalized by ``query``: the board's time format, which sorts as text
    since_id: int = 0  # 0: no bound
    offset: int = 0
    limit: int = 100


class EventPage(Record):
    events: tuple[Event, ...]  # oldest first
    total: int  # how many events match, over all pages


def query(
    *,
    task_id: str | None = None,
    type: str = "",
    since: str = "",
    since_id: int = 0,
    offset: int = 0,
    limit: int = 100,
) -> EventQuery:
    """An ``EventQuery`` with ``since`` read as a time; ``InvalidInput`` if it is none."""
    moment = parse_time(since) if since else None
    if since and moment is None:
        raise InvalidInput(
            f"since is not a time: {since!r}",
            "send an ISO 8601 time (2026-11-25T13:00:00Z), or since_id=ID for events after one",
        )
    normal = format_time(moment) if moment is not None else ""
    return EventQuery(task_id, type, normal, since_id, offset, limit)


def events_page(store: TaskStore, q: EventQuery) -> EventPage:
    """The page ``q`` asks for, from the store's own ``events_page`` when it has one."""
    own = getattr(store, "events_page", None)
    if own is not None:
        page: EventPage = own(q)
        return page
    return page_of(store.events(q.task_id, 10**9), q)


def page_of(events: Iterable[Event], q: EventQuery) -> EventPage:
    """Filter and page ``events`` (oldest first) in Python: the fallback."""
    picked = [e for e in events if _matches(e, q)]
    return EventPage(tuple(picked[q.offset : q.offset + q.limit]), len(picked))


def _matches(e: Event, q: EventQuery) -> bool:
    if q.since_id and not e.id:
        raise InvalidInput(
            "the events of this board have no ids, so since_id cannot be used",
            "page with since=TIME (and offset) instead",
        )
    return (
        (q.task_id is None or e.task == q.task_id)
        and (not q.type or e.op == q.type)
        and (not q.since or e.at >= q.since)
        and (not q.since_id or int(e.id) > q.since_id)
    )
