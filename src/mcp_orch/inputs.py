"""What the service accepts from any interface: agent names, free text, priorities, statuses,
paths. Each check returns the clean value or raises ``InvalidInput`` saying what to give.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .domain.errors import InvalidInput
from .domain.ids import normalize_id
from .domain.model import Priority, Status
from .domain.roles import PERSON

MAX_TEXT = 100_000
_AGENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
# Control characters (but tab and newline) are dropped from text: an ANSI escape in a title
# would repaint the terminal of everyone who runs 'orch status'.
_CONTROL = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0D, 0x20), 0x7F])


def check_agent(agent: str | None, *, required: bool = True) -> str:
    """A valid agent name, or a clear error saying how to give one (a person when optional)."""
    name = (agent or "").strip()
    if not name:
        if required:
            raise InvalidInput(
                "who is acting? no agent given",
                f"name the acting agent (e.g. cursor), or {PERSON} for a person",
            )
        return PERSON
    if not _AGENT_RE.match(name):
        raise InvalidInput(
            f"{name!r} is not a valid agent name",
            "use letters, digits, '.', '_' or '-' (at most 40), e.g. cursor or claude-code",
        )
    return name


def check_text(
    text: str | None, what: str, *, required: bool = True, one_line: bool = False
) -> str:
    """Free text as the board stores it: as given (the renderer escapes what the file needs),
    UTF-8, no control characters, at most ``MAX_TEXT``, without blank lines at either end.

    A fenced code block left open is closed, unless the text becomes ``one_line``."""
    from .board.schema import trim  # deferred: reads need no parser

    value = trim((text or "").translate(_CONTROL)).rstrip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{what} is not valid UTF-8 text (it holds bytes that could not be decoded)",
            "give the text in UTF-8; check the encoding of the terminal or the calling program",
        ) from None
    if required and not value:
        raise InvalidInput(f"{what} is empty", f"give the {what} as text")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} is too long ({len(value)} characters)", "keep it under 100k")
    if one_line:
        return value
    from .board.format import close_fence  # deferred: reads need no parser

    return close_fence(value)


def check_items(items: Iterable[str], what: str) -> tuple[str, ...]:
    """Checklist texts, each on one line; blank ones dropped."""
    texts = (" ".join(check_text(t, what, required=False, one_line=True).split()) for t in items)
    return tuple(t for t in texts if t)


def check_title(title: str | None) -> str:
    name = " ".join(check_text(title, "title", one_line=True).split())
    if len(name) > 200:
        raise InvalidInput("the title is too long", "keep it under 200 characters")
    return name


def check_path(path: str) -> str:
    """A repo-relative path for "Files Affected": no absolute paths, no escaping with '..'."""
    clean = check_text(path, "path", required=False, one_line=True).replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if not clean or clean.startswith("/") or ".." in parts or "\n" in clean:
        raise InvalidInput(
            f"{path!r} is not a path inside the repository",
            "give paths relative to the repo root, e.g. src/app/login.py",
        )
    return "/".join(parts)


_CAPABILITY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]{0,39}$")


def check_capabilities(names: Iterable[str]) -> tuple[str, ...]:
    """What a task needs (``backend``, ``frontend``): names, comma-separated or one each, in
    the order given, without repeats."""
    found = [n.strip() for name in names for n in name.split(",") if n.strip()]
    for name in found:
        if not _CAPABILITY_RE.match(name):
            raise InvalidInput(
                f"{name!r} is not a valid capability",
                "use letters, digits, '.', '_', '/', '+' or '-' (at most 40), e.g. backend",
            )
    return tuple(dict.fromkeys(found))


RISKS = ("critical", "standard", "experimental")  # the spec's risk_level


def check_risk(text: str) -> str:
    """A task's risk level ("" when not said): one of ``RISKS``."""
    risk = text.strip().lower()
    if risk and risk not in RISKS:
        raise InvalidInput(f"unknown risk level {text!r}", "use " + ", ".join(RISKS))
    return risk


def check_estimate(text: str) -> str:
    """How long a task should take ("" when not said), as a duration string (``45m``)."""
    from .domain.durations import format_duration, parse_duration

    if not text.strip():
        return ""
    return format_duration(parse_duration(text, "estimate"))


def check_ids(ids: Iterable[str]) -> tuple[str, ...]:
    """Task IDs (dependencies), validated and normalized, without repeats."""
    return tuple(dict.fromkeys(normalize_id(i) for i in ids))


def parse_priority(text: str | None) -> Priority:
    try:
        return Priority((text or "P1").strip().upper())
    except ValueError:
        raise InvalidInput(f"unknown priority {text!r}", "use P0, P1 or P2") from None


def parse_status(text: str) -> Status:
    try:
        return Status(text.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown status {text!r}", "use one of: " + ", ".join(s.value for s in Status)
        ) from None
