"""``.mcp/config.yaml``: roles, limits, ID prefix, quality gates.

YAML costs ~15 ms to import, more than the rest of a command's start-up, so the parsed config
is cached (marshal, like the index: no import at all) beside the index, keyed by the YAML
file's mtime and size. Editing the YAML is always seen.
"""

from __future__ import annotations

import marshal
import os
import sys

from .domain.errors import InvalidInput
from .domain.ids import check_prefix
from .domain.policy import ROLES
from .domain.record import Record

DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "planner": ("chatgpt",),
    "implementer": ("cursor",),
    "reviewer": ("codex",),
}

TEMPLATE = """\
# mcp-orch board configuration (see the README, section "Configuration").
# Which agent plays which role; an agent may appear under several roles, and a role may list
# several agents. An agent not listed anywhere works as an implementer.
roles:
  planner: [{planner}]
  implementer: [{implementer}]
  reviewer: [{reviewer}]

# How many in-progress tasks one agent may hold at once (AC4.1: one by default).
max_in_progress: 1

# Prefix of new task IDs (T -> T-7k3m9q).
id_prefix: T

# Quality-gate commands the git hooks run on a commit that belongs to a task (empty: none).
test_command: [{test_command}]
"""


class Config(Record):
    roles: dict[str, tuple[str, ...]] = DEFAULT_ROLES
    max_in_progress: int = 1
    id_prefix: str = "T"
    test_command: tuple[str, ...] = ()
    raw: dict[str, object] = {}  # noqa: RUF012


def render_template(
    roles: dict[str, tuple[str, ...]] | None = None, test_command: tuple[str, ...] = ()
) -> str:
    import json

    chosen = roles or DEFAULT_ROLES
    return TEMPLATE.format(
        **{role: ", ".join(chosen.get(role, ())) for role in ROLES},
        test_command=", ".join(json.dumps(c) for c in test_command),
    )


def _as_names(value: object, where: str) -> tuple[str, ...]:
    if value is None or value == () or value == []:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise InvalidInput(
        f".mcp/config.yaml: {where} must be a name or a list of names",
        "for example: implementer: [cursor, claude]",
    )


def from_mapping(data: dict[str, object]) -> Config:
    """Validate the parsed YAML; unknown keys are kept in ``raw`` for later features."""
    roles_raw = data.get("roles") or {}
    if not isinstance(roles_raw, dict):
        raise InvalidInput(".mcp/config.yaml: roles must be a mapping", "see the README")
    roles = dict(DEFAULT_ROLES)
    for role, names in roles_raw.items():
        if role not in ROLES:
            raise InvalidInput(
                f".mcp/config.yaml: unknown role {role!r}", "roles are: " + ", ".join(ROLES)
            )
        roles[role] = _as_names(names, f"roles.{role}")
    limit = data.get("max_in_progress", 1)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidInput(
            ".mcp/config.yaml: max_in_progress must be a whole number of at least 1",
            "for example: max_in_progress: 1",
        )
    tests = data.get("test_command") or ()
    return Config(
        roles=roles,
        max_in_progress=limit,
        id_prefix=check_prefix(str(data.get("id_prefix") or "T")),
        test_command=(tests,) if isinstance(tests, str) else _as_names(tests, "test_command"),
        raw=data,
    )


def load(board: str) -> Config:
    path = os.path.join(board, "config.yaml")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Config()
    key = [st.st_mtime_ns, st.st_size]
    cache = os.path.join(board, ".cache", f"config-{sys.implementation.cache_tag}.marshal")
    try:
        with open(cache, "rb") as handle:
            cached = marshal.loads(handle.read())
        if cached.get("key") == key:
            return from_mapping(cached["data"])
    except (OSError, ValueError, EOFError, TypeError, KeyError, AttributeError):
        pass
    data = _parse_yaml(path)
    config = from_mapping(data)
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(marshal.dumps({"key": key, "data": data}))
        os.replace(tmp, cache)
    except (OSError, ValueError):  # ValueError: a value marshal cannot store (a YAML date)
        pass  # only a cache
    return config


def _parse_yaml(path: str) -> dict[str, object]:
    import yaml  # deferred: see the module docstring

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle.read())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInput(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})",
            "fix the file; 'orch init' writes a fresh one if you delete it",
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "check its permissions") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a mapping of settings", "see the README")
    return data
