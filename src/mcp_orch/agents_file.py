"""``.mcp/agents.yaml``: the static agent configuration the service reads at start.

```yaml
agents:
  - name: cursor
    role: implementer          # planner | implementer | reviewer
    capabilities: [backend, frontend]
    max_tasks: 3
```

``read`` validates the whole file (unknown keys, wrong types, duplicate names: a clear error
naming the entry). ``add``, ``update`` and ``remove`` edit it as text, so comments and the
layout around the entry they touch stay as they were; only when the list is not written in
block style (``agents: [...]``) is the file rewritten whole (the result says so). Every write
is atomic and re-read before it is kept: an edit that would not read back as intended is never
written.
"""

from __future__ import annotations

import json
import os
import re

from .domain.agents import Agent
from .domain.errors import InvalidInput

FILE = "agents.yaml"
HEADER = (
    "# The agents the orchestrator service (orch serve) assigns work to; read at start.\n"
    "# orch agents list|add|remove|update edits this file when no service runs.\n"
)
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-/]*$")
_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def path(board: str) -> str:
    return os.path.join(board, FILE)


def read(board: str) -> list[Agent]:
    """The agents the file lists (none when there is no file), read and validated exactly as
    the service reads them at start (``scheduler.registry.read_agents_yaml``)."""
    return _read_path(path(board))


def _read_path(where: str) -> list[Agent]:
    from .scheduler.registry import read_agents_yaml

    return read_agents_yaml(where)


def make(name: str, role: object, capabilities: object, max_tasks: object, *, where: str) -> Agent:
    """An ``Agent`` from values a person gave; ``InvalidInput`` naming what is wrong (the
    registry's own checks)."""
    from .scheduler.registry import checked_fields

    fields = {"name": name, "role": role, "capabilities": capabilities, "max_tasks": max_tasks}
    return Agent(**checked_fields(fields, where))


# ---------------------------------------------------------------------- editing


def add(board: str, agent: Agent) -> bool:
    """Add ``agent``; refused if the name is taken. Returns True if comments were kept."""
    agents = read(board)
    if any(a.name == agent.name for a in agents):
        raise InvalidInput(
            f"agent {agent.name} is already in {path(board)}",
            f"change it: orch agents update {agent.name} ...",
        )
    return _write(board, [*agents, agent])


def update(board: str, agent: Agent) -> bool:
    """Replace the entry of ``agent.name``."""
    agents = read(board)
    _index(agents, agent.name, board)
    return _write(board, [agent if a.name == agent.name else a for a in agents])


def remove(board: str, name: str) -> Agent:
    agents = read(board)
    gone = agents[_index(agents, name, board)]
    _write(board, [a for a in agents if a.name != name])
    return gone


def find(board: str, name: str) -> Agent:
    agents = read(board)
    return agents[_index(agents, name, board)]


def _index(agents: list[Agent], name: str, board: str) -> int:
    for i, agent in enumerate(agents):
        if agent.name == name:
            return i
    known = ", ".join(a.name for a in agents) or "none yet"
    raise InvalidInput(
        f"no agent {name} in {path(board)} (known: {known})",
        f"add it: orch agents add {name} --role implementer",
    )


def _write(board: str, agents: list[Agent]) -> bool:
    """Write the file listing ``agents``: edited in place when possible (True), else whole."""
    from .board.fsutil import atomic_write

    try:
        with open(path(board), encoding="utf-8") as handle:
            old: str | None = handle.read()
    except FileNotFoundError:
        old = None
    text = _edited(old, read(board), agents) if old is not None else None
    kept = text is not None or old is None
    if text is None:
        text = render(agents, _header(old))
    # Written beside the file, read back as the service will read it, then renamed over it:
    # an edit that would not read back as intended is never kept.
    check = os.path.join(board, f".{FILE}.{os.getpid()}.check.tmp")
    atomic_write(check, text)
    try:
        same = [_plain(a) for a in _read_path(check)] == [_plain(a) for a in agents]
    except InvalidInput:
        same = False
    if not same:
        os.unlink(check)
        raise InvalidInput(f"could not write {path(board)} safely", "edit it by hand")
    os.replace(check, path(board))
    return kept


def _plain(agent: Agent) -> tuple[object, ...]:
    return (agent.name, agent.role, tuple(agent.capabilities), agent.max_tasks)


def _header(old: str | None) -> str:
    """The comment lines the file starts with (kept by a whole rewrite), else ours."""
    if old is None:
        return HEADER
    lines = []
    for line in old.splitlines(keepends=True):
        if not line.lstrip().startswith("#") and line.strip():
            break
        lines.append(line)
    return "".join(lines) or HEADER


def _scalar(text: str) -> str:
    return text if _PLAIN.match(text) and text.lower() not in _SPECIAL else json.dumps(text)


def render_entry(agent: Agent, indent: str = "  ") -> str:
    caps = ", ".join(_scalar(c) for c in agent.capabilities)
    return (
        f"{indent}- name: {_scalar(agent.name)}\n"
        f"{indent}  role: {agent.role}\n"
        f"{indent}  capabilities: [{caps}]\n"
        f"{indent}  max_tasks: {agent.max_tasks}\n"
    )


def render(agents: list[Agent], header: str = HEADER) -> str:
    if not agents:
        return f"{header}agents: []\n"
    return f"{header}agents:\n" + "".join(render_entry(a) for a in agents)


def _blocks(text: str) -> tuple[list[tuple[int, int]], str] | None:
    """Each entry's lines ``[start, end)`` (its trailing comments belong to the next one) and
    the indent of its ``-``; None when the list is not in block style."""
    import yaml

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    value = next((v for k, v in root.value if k.value == "agents"), None)
    if not isinstance(value, yaml.SequenceNode) or value.flow_style or not value.value:
        return None
    lines = text.splitlines()
    spans = []
    for item in value.value:
        start, mark = item.start_mark.line, item.end_mark
        # The entry ends where the next token starts: a whole line ends it unless the entry's
        # own text runs up to the mark on that line (the file's last line, no newline).
        rest = lines[mark.line][: mark.column] if mark.line < len(lines) else ""
        end = min(mark.line + (bool(rest.strip())), len(lines))
        while end > start + 1 and (
            not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
        ):
            end -= 1
        spans.append((start, end))
    first = lines[spans[0][0]]
    return spans, first[: len(first) - len(first.lstrip())]


def _blank_or_comment(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _edited(text: str, before: list[Agent], agents: list[Agent]) -> str | None:
    """``text`` with the entries changed to ``agents`` (one added, changed or removed), the
    rest byte for byte; None when that cannot be done in place."""
    found = _blocks(text)
    if found is None:
        return None
    spans, indent = found
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    names = [a.name for a in agents]
    old_names = [a.name for a in before]
    if len(agents) == len(before) + 1 and names[:-1] == old_names:  # add at the end
        end = spans[-1][1]
        return "".join([*lines[:end], render_entry(agents[-1], indent), *lines[end:]])
    if len(agents) == len(before) - 1:  # remove one
        gone = next(i for i, n in enumerate(old_names) if n not in names)
        start, end = spans[gone]
        return "".join([*lines[:start], *lines[end:]])
    if names == old_names:  # change one
        pairs = zip(before, agents, strict=True)
        changed = [i for i, (a, b) in enumerate(pairs) if _plain(a) != _plain(b)]
        for i in reversed(changed):
            start, end = spans[i]
            lines[start:end] = [render_entry(agents[i], indent)]
        return "".join(lines)
    return None
