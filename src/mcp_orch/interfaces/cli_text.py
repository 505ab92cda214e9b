"""The words the CLI says for an operation (``domain.ops.Op``): an ``orch`` command line.

The service hands the CLI operations, never text to paste into a shell; this module is where
they become command lines, with everything needed to run them (the agent too), so a hint can
be run as printed. MCP words the same operations as tool calls (``mcp_text``).
"""

from __future__ import annotations

from ..domain.ops import Hint, Op, word
from ..domain.policy import Decision

# How each argument is given: its flag ("" for the positional title) and its placeholder.
FLAG: dict[str, tuple[str, str]] = {
    "title": ("", '"TITLE"'),
    "goal": ("--goal", "TEXT"),
    "acceptance": ("--ac", "TEXT"),
    "ready_def": ("--dor", "TEXT"),
    "done_def": ("--dod", "TEXT"),
    "note": ("--note", "TEXT"),
    "text": ("--text", "TEXT"),
    "reason": ("--reason", "TEXT"),
    "to": ("--to", "STATUS"),
    "priority": ("--priority", "P1"),
    "wait": ("--wait", ""),
    "all": ("--all", ""),
    "fix": ("--fix", ""),
}
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@")


def quoted(value: str) -> str:
    """``value`` as one shell word."""
    if value and all(c in _SAFE for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def command(o: Op) -> str:
    """``orch VERB [ID] ["TITLE"] [--flag VALUE]... [--agent NAME]``."""
    words = ["orch", o.name]  # each operation's command has its name
    if o.task_id:
        words.append(o.task_id)
    if "title" in o.needs:
        words.append(FLAG["title"][1])
    for name, value in o.args:
        words += [FLAG[name][0], quoted(value)] if value else [FLAG[name][0]]
    for name in o.needs:
        if name != "title":
            words += FLAG[name]
    if o.agent:
        words += ["--agent", quoted(o.agent)]
    return " ".join(words)


def hint(parts: Hint) -> str:
    return word(parts, command)


def decision_command(d: Decision) -> str:
    """The command of a ``next`` answer; alternatives follow as a shell comment."""
    if not d.ops:
        return ""
    joiner = "then" if d.action == "escalation" else "or"
    return "  # ".join([command(d.ops[0]), *(f"{joiner}: {command(o)}" for o in d.ops[1:])])
