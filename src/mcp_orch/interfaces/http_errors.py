"""How the HTTP API says no: every refusal is ``{"error": {"code", "message", "hint"}}`` with a
4xx status that names its kind, and nothing changed (the service rolls back what it refused).

``OrchError`` codes map to statuses here, in one table; the routes never pick a status
themselves. A hint that names operations is worded as the HTTP call to make.
"""

from __future__ import annotations

from typing import Any

from ..domain.errors import InvalidInput, OrchError
from ..domain.ops import Op

# An error's code -> the HTTP status it is answered with. Codes not listed fall back by class
# (an InvalidInput is 400; any other OrchError 409: the board's state forbids it now).
STATUS = {
    "invalid_input": 400,
    "unknown_agent": 400,
    "unauthorized": 401,
    "not_allowed": 403,
    "forbidden": 403,
    "task_not_found": 404,
    "agent_not_found": 404,
    "token_not_found": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "illegal_transition": 409,
    "already_claimed": 409,
    "agent_busy": 409,
    "dependency": 409,
    "board_conflict": 409,
    "malformed_task": 409,
    "lease_lost": 409,
    "revision_conflict": 409,
    "too_large": 413,
    "unsupported_media_type": 415,
    "storage": 503,
    "board_not_found": 503,
    "unavailable": 503,
    "internal": 500,
}


class HttpError(OrchError):
    """A refusal of the HTTP layer itself (no token, a body too large, an unknown route)."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.code = code


def status_of(error: OrchError) -> int:
    if error.code in STATUS:
        return STATUS[error.code]
    return 400 if isinstance(error, InvalidInput) else 409


ROUTES = {
    "create": "POST /api/orchestrator/tasks",
    "next": "POST /api/orchestrator/next",
    "status": "GET /api/orchestrator/tasks",
    "show": "GET /api/orchestrator/tasks/{id}",
    "feedback": "POST /api/orchestrator/tasks/{id}/feedback",
}


def http_call(op: Op) -> str:
    """An operation as the HTTP call that runs it (``POST /api/orchestrator/tasks/T-1/claim``);
    a step with no route (prep, resolve) is named as the ``orch`` command a person runs."""
    steps = ("claim", "submit", "complete", "fail", "escalate", "progress")
    route = ROUTES.get(op.name) or (
        f"POST /api/orchestrator/tasks/{{id}}/{op.name}" if op.name in steps else ""
    )
    if not route:
        from .cli_text import command

        return f"run `{command(op)}`"
    return route.replace("{id}", op.task_id or "{id}")


def error_body(error: OrchError) -> dict[str, Any]:
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "hint": error.worded_hint(http_call),
        }
    }
