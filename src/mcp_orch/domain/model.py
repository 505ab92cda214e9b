"""Task records: immutable, changed only through ``evolve``.

Records are named tuples (``record.Record``, typed as ``typing.NamedTuple``) rather than
dataclasses: the CLI starts on every agent call, and fourteen frozen dataclasses plus their
import cost ~18 ms of a 40 ms budget. Build them with keyword arguments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from .record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import at start-up; only the type checker needs it
    from typing import Literal, TypedDict, Unpack


class Status(StrEnum):
    """Where a task is. The board keeps each status in its own folder of the same name."""

    PENDING = "pending"  # a stub: the planner still has to flesh it out
    READY = "ready"  # defined and waiting for an implementer (new work, or sent back with feedback)
    IN_PROGRESS = "in-progress"  # held by exactly one implementer
    REVIEW = "review"  # submitted, waiting for a reviewer's verdict
    DONE = "done"  # approved by a reviewer
    FAILED = "failed"  # given up on; a person or the planner decides what next

    def __str__(self) -> str:
        return self.value


ALL_STATUSES: tuple[Status, ...] = tuple(Status)
ACTIVE_STATUSES: tuple[Status, ...] = (
    Status.PENDING,
    Status.READY,
    Status.IN_PROGRESS,
    Status.REVIEW,
)


class Priority(StrEnum):
    """P0 is the most urgent; ``rank`` sorts ascending from most to least urgent."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"

    @property
    def rank(self) -> int:
        return int(self.value[1])

    def __str__(self) -> str:
        return self.value


class CheckItem(Record):
    """One line of a checklist (acceptance criteria, definition of ready or done)."""

    text: str
    done: bool = False


class Note(Record):
    """A feedback, error-context or escalation entry. Appended, never overwritten.

    ``key`` is unique within its task and section (``FB-1``, ``E-2``, ``ESC-1``); ``source`` says
    where it came from (``review``, ``test``, ``fail``, ``manual``); ``ref`` points at a file that
    holds more (a feedback file of the hooks) when there is one.
    """

    key: str
    at: str
    author: str
    body: str
    source: str = ""
    open: bool = True
    resolved_at: str = ""
    ref: str = ""

    def resolve(self, now: str) -> Note:
        """The note closed at ``now`` (kept, never deleted)."""
        return self._replace(open=False, resolved_at=now) if self.open else self


class HistoryEntry(Record):
    """One handoff: who moved the task, when, from where to where, with what note."""

    at: str
    agent: str
    op: str
    from_status: str
    to_status: str
    note: str = ""


class GitContext(Record):
    branch: str = ""
    commit: str = ""
    pr: str = ""
    other: tuple[str, ...] = ()  # lines a person added to the section, kept as written


# The note sections of a task and the prefix of their keys (FB-1, E-1, ESC-1).
NOTE_KEYS = {"feedback": "FB", "errors": "E", "escalations": "ESC"}


if TYPE_CHECKING:

    class TaskChanges(TypedDict, total=False):
        """What ``Task.evolve`` may change: every field of ``Task``, each with its type, so a
        misspelt field or a wrong type fails the type check (a test holds it to ``Task``)."""

        id: str
        title: str
        status: Status
        priority: Priority
        agent: str
        implementer: str
        depends: tuple[str, ...]
        capabilities: tuple[str, ...]
        risk: str
        estimate: str
        created: str
        updated: str
        goal: str
        acceptance: tuple[CheckItem, ...]
        ready_def: tuple[CheckItem, ...]
        done_def: tuple[CheckItem, ...]
        files: tuple[str, ...]
        notes: str
        feedback: tuple[Note, ...]
        errors: tuple[Note, ...]
        escalations: tuple[Note, ...]
        git: GitContext
        history: tuple[HistoryEntry, ...]
        extra: tuple[tuple[str, str, str], ...]

    NoteSection = Literal["feedback", "errors", "escalations"]


class Task(Record):
    """A task with all the context an agent needs; the Markdown file renders exactly this."""

    id: str
    title: str
    status: Status = Status.PENDING
    priority: Priority = Priority.P1
    agent: str = ""  # the current holder; only an in-progress task has one
    implementer: str = ""  # who implemented it last: feedback goes back to this agent
    depends: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()  # what an agent needs to take it (backend, frontend)
    risk: str = ""  # the spec's risk_level: critical | standard | experimental ("": not said)
    estimate: str = ""  # the planner's estimate of its duration, a duration string ("45m")
    created: str = ""
    updated: str = ""
    goal: str = ""
    acceptance: tuple[CheckItem, ...] = ()
    ready_def: tuple[CheckItem, ...] = ()
    done_def: tuple[CheckItem, ...] = ()
    files: tuple[str, ...] = ()
    notes: str = ""
    feedback: tuple[Note, ...] = ()
    errors: tuple[Note, ...] = ()
    escalations: tuple[Note, ...] = ()
    git: GitContext = GitContext()
    history: tuple[HistoryEntry, ...] = ()
    # Text a person or agent added by hand, so a rewrite puts it back where it was:
    # (the known section a hand-written "## Section" follows, its heading, its body), or, for
    # lines inside a known section, ("<section>@<n>", "", text): after that section's n-th
    # entry (see board.format.inside_anchor).
    extra: tuple[tuple[str, str, str], ...] = ()

    def evolve(self, **changes: Unpack[TaskChanges]) -> Task:
        """The task with ``changes`` (fields by name, type-checked) and the rest as it was."""
        return self._replace(**changes)

    def add_note(
        self,
        section: NoteSection,
        *,
        at: str,
        author: str,
        body: str,
        source: str,
        open: bool = True,
        ref: str = "",
    ) -> Task:
        """The task with a note appended to ``section`` (feedback, errors or escalations)."""
        notes: tuple[Note, ...] = getattr(self, section)
        key = next_key(NOTE_KEYS[section], notes)
        note = Note(key=key, at=at, author=author, body=body, source=source, open=open, ref=ref)
        changes: TaskChanges = {}
        changes[section] = (*notes, note)
        return self.evolve(**changes)

    @property
    def open_feedback(self) -> tuple[Note, ...]:
        return tuple(n for n in self.feedback if n.open)

    @property
    def open_escalations(self) -> tuple[Note, ...]:
        return tuple(n for n in self.escalations if n.open)

    @property
    def escalated(self) -> bool:
        return any(n.open for n in self.escalations)


def format_time(moment: datetime) -> str:
    """The board's one timestamp format: UTC, milliseconds, ``Z`` (sorts as text)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.year >= 1000:  # isoformat: the same text, a third of strftime's cost
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime | None:
    """Read a timestamp written by ``format_time`` or by hand (any ISO 8601); None if unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def next_key(prefix: str, notes: tuple[Note, ...]) -> str:
    """The next free ``PREFIX-N`` key among ``notes``."""
    highest = 0
    for note in notes:
        head, _, num = note.key.rpartition("-")
        if head == prefix and num.isdigit():
            highest = max(highest, int(num))
    return f"{prefix}-{highest + 1}"
