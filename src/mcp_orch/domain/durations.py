"""Duration strings of the settings (``500ms``, ``6s``, ``10m``, ``2h``) as seconds."""

from __future__ import annotations

import re

from .errors import InvalidInput

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$")


def parse_duration(text: object, where: str = "duration") -> float:
    """Seconds for ``text``: a number and a unit (ms, s, m, h), e.g. ``6s``; more than zero.

    A bare number is refused: ``10`` could mean seconds or minutes, and a lease that lasts 60
    times longer than meant is a silent outage.
    """
    value = text.strip().lower() if isinstance(text, str) else ""
    match = _DURATION_RE.match(value)
    if isinstance(text, bool) or match is None or float(match.group(1)) <= 0:
        raise InvalidInput(
            f"{where}: {text!r} is not a duration",
            "write a number and a unit: 500ms, 6s, 10m or 2h",
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """The shortest duration string that reads back as ``seconds`` (6.0 -> ``6s``)."""
    for unit in ("h", "m", "s"):
        count = seconds / _UNITS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{round(seconds * 1000)}ms"
