"""What every route of the HTTP API shares: who is calling (the bearer token), reading a JSON
body strictly (size, syntax, known keys, types), and the query string.

Everything here raises an ``OrchError`` (or ``HttpError``) for bad input, which the app's one
boundary answers as a 4xx; no route sees a body it has not validated.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ..domain.errors import InvalidInput
from ..domain.record import Record
from ..domain.roles import PERSON
from ..inputs import check_agent
from .http_errors import HttpError

MAX_BODY = 1024 * 1024  # bytes; a task with 100k characters of text fits ten times over


class Caller(Record):
    """Who a request comes from: the agent its token acts as, or a person (``admin``)."""

    agent: str
    admin: bool = False
    token_id: str = ""

    def acting(self, named: str | None) -> str:
        """Who the request acts as: its token's agent; a person's token may name anyone."""
        if named is not None:
            named = check_agent(named)
        if self.admin:
            return named or PERSON
        if named and named != self.agent:
            raise HttpError(
                "forbidden",
                f"this token acts as {self.agent}; it cannot act as {named}",
                "omit agent (the token names who acts), or use that agent's own token",
            )
        return self.agent

    def require_admin(self, what: str) -> None:
        if not self.admin:
            raise HttpError(
                "forbidden",
                f"{what} needs a person's token; this token acts as {self.agent}",
                "create one with: orch token create --admin",
            )


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(
            "unauthorized",
            "this route needs Authorization: Bearer <token>",
            "create a token with: orch token create --agent NAME (or --admin for a person)",
        )
    return token.strip()


async def read_json(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object (an empty body is ``{}``), at most ``MAX_BODY``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:  # a body without (or lying about) its length stops here too
            raise _too_large()
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"the body is not valid JSON ({exc})", "send a JSON object, e.g. {}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"the body is JSON {type(data).__name__}, not an object", "send a JSON object"
        )
    return data


def _too_large() -> HttpError:
    return HttpError(
        "too_large",
        f"the body is larger than {MAX_BODY // 1024} KiB",
        "send less text; long output belongs in a file the task names",
    )


def only(data: dict[str, Any], allowed: tuple[str, ...], where: str = "the body") -> None:
    """Refuse keys nobody reads: a typo (``notes`` for ``note``) must not be dropped silently."""
    unknown = sorted(k for k in data if k not in allowed)
    if unknown:
        raise InvalidInput(
            f"unknown field{'s' if len(unknown) > 1 else ''} in {where}: {', '.join(unknown)}",
            f"{where} takes {', '.join(allowed) if allowed else 'no fields'}",
        )


def text(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{key} is missing", f"give {key} as a string")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string, not {_kind(value)}", f"give {key} as text")
    return value


def integer(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer, not {_kind(value)}", f"e.g. {key}: 1")
    return value


def strings(data: dict[str, Any], key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{key} must be a list of strings", f'e.g. {key}: ["one", "two"]')
    return value


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object"})
    return names.get(type(value), "null")


def query_int(request: Request, key: str, default: int, high: int) -> int:
    raw = request.query_params.get(key)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > high:
        raise InvalidInput(f"{key}={raw!r} is not a number from 0 to {high}", f"e.g. {key}=0")
    return int(raw)


def query_only(request: Request, allowed: tuple[str, ...]) -> None:
    only(dict(request.query_params), allowed, "the query")


def jsonable(value: object) -> Any:
    """A record (named tuple), enum, tuple or dict of them as plain JSON values."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return jsonable(value.value)
    return value
