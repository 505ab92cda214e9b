"""The JSON shapes of ``--json`` and the MCP tools, as types: what ``present`` builds.

A public interface (agents parse it): add keys, never rename or remove; the README's
``--json`` section documents each shape and a test holds the two together, and the commands'
real output to both. Only type checkers and tests import this module: the CLI would pay for
``typing`` on every command (``present`` imports it under ``TYPE_CHECKING``).
"""

from __future__ import annotations

from typing import TypedDict


class CheckJSON(TypedDict):
    """An item of a checklist (acceptance criteria, definition of ready or done)."""

    text: str
    done: bool


class NoteJSON(TypedDict):
    """A feedback, error-context or escalation note."""

    key: str
    at: str
    author: str
    body: str
    source: str
    open: bool
    resolved_at: str
    ref: str


class GitJSON(TypedDict):
    branch: str
    commit: str
    pr: str


# "from" is a keyword, so this one is spelt as a call.
HistoryJSON = TypedDict(
    "HistoryJSON",
    {"at": str, "agent": str, "op": str, "from": str | None, "to": str, "note": str},
)


class SectionJSON(TypedDict):
    """A section written by hand: its heading, its text, the known section it follows."""

    heading: str
    text: str
    after: str | None


class _HeadJSON(TypedDict):
    """The keys a task and its summary share."""

    id: str
    title: str
    status: str
    priority: str
    agent: str | None
    implementer: str | None
    depends: list[str]
    capabilities: list[str]  # what an agent needs to take it (backend, frontend)
    created: str
    updated: str
    escalated: bool


class TaskJSON(_HeadJSON):
    """A whole task (``show``, every step that moves one, ``next``)."""

    goal: str
    acceptance_criteria: list[CheckJSON]
    definition_of_ready: list[CheckJSON]
    definition_of_done: list[CheckJSON]
    files: list[str]
    notes: str
    open_feedback: list[NoteJSON]
    feedback: list[NoteJSON]
    errors: list[NoteJSON]
    escalations: list[NoteJSON]
    git: GitJSON
    history: list[HistoryJSON]
    more_sections: list[SectionJSON]


class ClaimJSON(TaskJSON):
    changed: bool  # false: the agent already held it


class CreateJSON(TypedDict):
    id: str
    status: str
    title: str


class SummaryJSON(_HeadJSON):
    """A task in a listing (``status``)."""

    age_seconds: int | None
    open_feedback: int  # how many notes are open


class ProblemJSON(TypedDict):
    """Something wrong on the board (a malformed file, a duplicate ID, a cycle...)."""

    kind: str
    message: str
    hint: str
    path: str
    line: int
    task: str


class StatusJSON(TypedDict):
    tasks: list[SummaryJSON]
    total: int
    offset: int
    counts: dict[str, int]
    escalated: list[str]
    problems: list[ProblemJSON]


class OpJSON(TypedDict):
    """An operation to run next, as data (``domain.ops.Op``)."""

    name: str
    task_id: str | None
    agent: str | None
    args: dict[str, str]
    needs: list[str]


class DecisionJSON(TypedDict):
    """What ``next`` answers."""

    action: str
    task: TaskJSON | None
    reason: str
    command: str
    op: OpJSON | None
    ops: list[OpJSON]
    problems: list[ProblemJSON]
    problems_total: int


class FeedbackItemJSON(NoteJSON):
    task: str


class FeedbackListJSON(TypedDict):
    feedback: list[FeedbackItemJSON]


class EventJSON(TypedDict):
    """A line of the operation log, every key present ("" when empty)."""

    at: str
    agent: str
    op: str
    task: str
    from_status: str
    to_status: str
    outcome: str
    note: str


class LogJSON(TypedDict):
    events: list[EventJSON]
