"""One error root for every interface.

Each error says what happened (``message``) and what to do about it (``hint``). Interfaces map
them at one boundary: the CLI to an exit code and one line on stderr, MCP to a tool error,
HTTP to a 4xx JSON body. ``code`` is a stable machine-readable name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .ops import Hint, Op, hint_of, plain, word


class OrchError(Exception):
    """Base of every error a user or agent can cause or fix.

    The hint may name operations (``Op``): each interface words them in its own terms
    (``worded_hint``); ``hint`` is a wording of no interface, for places that have none.
    """

    code = "error"
    exit_code = 1

    def __init__(self, message: str, hint: str | Sequence[str | Op] = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint_parts: Hint = hint_of(hint)

    @property
    def hint(self) -> str:
        return word(self.hint_parts, plain)

    def worded_hint(self, say: Callable[[Op], str]) -> str:
        return word(self.hint_parts, say)

    def to_dict(self) -> dict[str, str]:
        return {"error": self.message, "hint": self.hint, "code": self.code}


class InvalidInput(OrchError):
    """An argument is malformed (a bad ID, an unknown priority, empty text)."""

    code = "invalid_input"
    exit_code = 2


class BoardNotFound(OrchError):
    code = "board_not_found"
    exit_code = 3


class TaskNotFound(OrchError):
    code = "task_not_found"
    exit_code = 4


class IllegalTransition(OrchError):
    code = "illegal_transition"
    exit_code = 5


class AlreadyClaimed(OrchError):
    code = "already_claimed"
    exit_code = 6


class NotAllowed(OrchError):
    """The agent's role does not allow this step (only a reviewer approves, and not its own
    work). The message names who may do it."""

    code = "not_allowed"
    exit_code = 11


class UnknownAgent(InvalidInput):
    """An agent name in no role that never worked on the board: most likely a typo."""

    code = "unknown_agent"


class AgentBusy(OrchError):
    """The agent already holds as many in-progress tasks as the config allows."""

    code = "agent_busy"
    exit_code = 6


class DependencyError(OrchError):
    """An unknown dependency, a cycle, or a dependency that is not done yet."""

    code = "dependency"
    exit_code = 7


class MalformedTask(OrchError):
    """A task file that cannot be parsed. It is never rewritten, moved or deleted."""

    code = "malformed_task"
    exit_code = 8

    def __init__(self, message: str, hint: str = "", *, path: str = "", line: int = 0) -> None:
        super().__init__(message, hint)
        self.path = path
        self.line = line

    def to_dict(self) -> dict[str, str]:
        d = super().to_dict()
        d["path"] = self.path
        d["line"] = str(self.line)
        return d


class BoardConflict(OrchError):
    """The board is in a state no command should guess about (e.g. one ID in two folders)."""

    code = "board_conflict"
    exit_code = 9


class AgentNotFound(OrchError):
    """No agent of that name in the orchestrator's registry."""

    code = "agent_not_found"
    exit_code = 4


class LeaseLost(OrchError):
    """An agent's write on a task it no longer holds: its lease expired or the task was given
    to another agent (the fence moved on). Nothing changed; the agent drops the task (HTTP 409
    ``lease_lost``)."""

    code = "lease_lost"
    exit_code = 12


class RevisionConflict(BoardConflict):
    """A save over a revision newer than the one read: another writer got there first.

    A subclass of ``BoardConflict`` (its exit code): the board changed under the step, and
    running it again reads the new state."""

    code = "revision_conflict"


class StorageError(OrchError):
    """The file system or database refused (permission denied, disk full, lock timeout)."""

    code = "storage"
    exit_code = 10


class InternalError(OrchError):
    """A bug in orch (an exception no operation expected). Carries the traceback for a report."""

    code = "internal"
    exit_code = 1
    trace = ""

    @classmethod
    def of(cls, exc: BaseException, trace: str) -> InternalError:
        error = cls(
            f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in orch, not in what you gave it; please report it with the traceback",
        )
        error.trace = trace
        return error

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "traceback": self.trace}
