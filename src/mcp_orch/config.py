"""``.mcp/config.yaml``: roles, limits, ID prefix, quality gates.

YAML costs ~15 ms to import, more than the rest of a command's start-up, so the parsed config
is cached (marshal, like the index: ``board.fsutil.save_cache``) beside the index, keyed by the YAML
file's mtime and size. Editing the YAML is always seen.
"""

from __future__ import annotations

import os
import sys

from .board.fsutil import load_cache, save_cache
from .domain.errors import InvalidInput
from .domain.ids import check_prefix
from .domain.record import Record
from .domain.roles import ROLES

TYPE_CHECKING = False  # not typing's: importing typing costs start-up time on every command
if TYPE_CHECKING:
    from yaml import Node

DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "planner": ("chatgpt",),
    # the agents 'orch init --clients' names (Cursor, Claude Code, VS Code's Copilot) are known
    "implementer": ("cursor", "claude", "copilot"),
    "reviewer": ("codex",),
}

TEMPLATE = """\
# mcp-orch board configuration (see the README, section "Configuration").
# Which agent plays which role; an agent may appear under several roles, and a role may list
# several agents. Only a planner creates and preps, only an implementer claims and submits,
# only a reviewer approves or sends feedback (never its own work); a person (--agent human)
# may do anything. An agent in no role is refused. `enforce: false` under roles turns this off.
roles:
  planner: [{planner}]
  implementer: [{implementer}]
  reviewer: [{reviewer}]

# How many in-progress tasks one agent may hold at once (AC4.1: one by default).
max_in_progress: 1

# Prefix of new task IDs (T -> T-7k3m9q2x).
id_prefix: T

# Quality-gate commands the git hooks run on a commit that belongs to a task (empty: none).
test_command: [{test_command}]
"""


class Config(Record):
    roles: dict[str, tuple[str, ...]] = DEFAULT_ROLES
    enforce_roles: bool = True  # roles: {enforce: false} lets any agent run any step
    max_in_progress: int = 1
    id_prefix: str = "T"
    test_command: tuple[str, ...] = ()
    # The orchestrator service's timers (``orchestrator:`` in the YAML), in seconds.
    lease_ttl: float = 6.0  # a task's lease lasts this long unless its holder renews it
    heartbeat_every: float = 2.0  # how often `orch mcp` and agents call in
    agent_timeout: float = 600.0  # an agent silent this long goes from error to offline
    stall_after: float = 7200.0  # in progress this long without progress: stalled
    digest_every: float = 7200.0  # how often a digest of the board is made
    escalate_after: float = 300.0  # an error or conflict unsolved this long is escalated
    sweep_every: float = 1.0  # how often the sweeper looks for expired leases
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
    enforce = roles_raw.get("enforce", True)
    if not isinstance(enforce, bool):
        raise InvalidInput(
            ".mcp/config.yaml: roles.enforce must be true or false", "for example: enforce: false"
        )
    for role, names in roles_raw.items():
        if role == "enforce":
            continue
        if role not in ROLES:
            raise InvalidInput(
                f".mcp/config.yaml: unknown role {role!r}",
                "roles are: " + ", ".join(ROLES) + " (and enforce: true or false)",
            )
        roles[role] = _as_names(names, f"roles.{role}")
    limit = data.get("max_in_progress", 1)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidInput(
            ".mcp/config.yaml: max_in_progress must be a whole number of at least 1",
            "for example: max_in_progress: 1",
        )
    tests = data.get("test_command") or ()
    timers = _orchestrator(data["orchestrator"]) if "orchestrator" in data else {}
    return Config(
        roles=roles,
        enforce_roles=enforce,
        max_in_progress=limit,
        id_prefix=check_prefix(str(data.get("id_prefix") or "T")),
        test_command=(tests,) if isinstance(tests, str) else _as_names(tests, "test_command"),
        raw=data,
        **timers,
    )


ORCHESTRATOR_KEYS = (
    "lease_ttl",
    "heartbeat_every",
    "agent_timeout",
    "stall_after",
    "digest_every",
    "escalate_after",
    "sweep_every",
)


def _orchestrator(section: object) -> dict[str, float]:
    """The ``orchestrator:`` settings as seconds; an unknown key is refused, as an unknown
    role is (a misspelt ``lease_tll`` silently ignored would keep the default)."""
    from .domain.durations import parse_duration  # deferred: only a board that sets them

    if section is None:
        return {}
    if not isinstance(section, dict):
        raise InvalidInput(
            ".mcp/config.yaml: orchestrator must be a mapping of settings",
            "for example: orchestrator: {lease_ttl: 6s}",
        )
    timers: dict[str, float] = {}
    for key, value in section.items():
        if key not in ORCHESTRATOR_KEYS:
            raise InvalidInput(
                f".mcp/config.yaml: unknown setting orchestrator.{key}",
                "the settings are: " + ", ".join(ORCHESTRATOR_KEYS),
            )
        timers[key] = parse_duration(value, f".mcp/config.yaml: orchestrator.{key}")
    return timers


def load(board: str) -> Config:
    path = os.path.join(board, "config.yaml")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Config()
    key = [st.st_mtime_ns, st.st_size]
    cache = _cache_path(board)
    cached = load_cache(cache)
    if cached.get("key") == key and isinstance(cached.get("data"), dict):
        return from_mapping(cached["data"])  # type: ignore[arg-type]
    data = _parse_yaml(path)
    config = from_mapping(data)
    save_cache(cache, {"key": key, "data": data})  # a YAML date cannot be cached: parsed again
    return config


def _cache_path(board: str) -> str:
    return os.path.join(board, ".cache", f"config-{sys.implementation.cache_tag}.marshal")


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


# ---------------------------------------------------------------------- editing test_command


def set_test_command(board: str, commands: tuple[str, ...]) -> bool:
    """Make ``test_command`` in the board's config.yaml say ``commands``; True if it changed.

    Only that key's text is replaced: comments, other keys and their layout stay byte for byte,
    which the YAML parsed again must prove. A form that cannot be edited that way is refused,
    with the line to write by hand.
    """
    path = os.path.join(board, "config.yaml")
    try:
        with open(path, encoding="utf-8", newline="") as handle:  # newline="": keep CRLF
            text = handle.read()
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", "check the file") from None
    before = _parse_yaml(path)
    if from_mapping(before).test_command == commands:
        return False
    edited = _with_test_command(text, commands, path)
    if _parsed_or_none(edited) != {**before, "test_command": list(commands)}:
        raise _refusal(path, commands, "the edit would change more than that key")
    from .board.fsutil import atomic_write

    atomic_write(path, edited)
    try:
        os.unlink(_cache_path(board))  # the same size within one clock tick would look unchanged
    except OSError:
        pass
    return True


def _with_test_command(text: str, commands: tuple[str, ...], path: str) -> str:
    import json

    import yaml

    nl = "\r\n" if "\r\n" in text else "\n"
    quoted = [json.dumps(c, ensure_ascii=False) for c in commands]
    found = _test_command_node(text, commands, path)
    if found is None:  # add the key as the file's last line
        sep = nl if text and not text.endswith("\n") else ""
        return f"{text}{sep}test_command: [{', '.join(quoted)}]{nl}"
    key, value = found
    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
    start, end = value.start_mark.index, value.end_mark.index
    block = isinstance(value, yaml.SequenceNode) and not value.flow_style
    if block:  # a block list ends at its last item; the lines after it are not ours
        end = items[-1].end_mark.index
    gaps, at = "", start
    for item in items:
        gaps, at = gaps + text[at : item.start_mark.index], item.end_mark.index
    if "#" in gaps + text[at:end]:
        raise _refusal(path, commands, "a comment inside its value would be lost")
    if block and commands:  # it stays a block list, at its indentation
        new = (nl + " " * value.start_mark.column).join("- " + q for q in quoted)
    elif block:
        start, new = text.index(":", key.end_mark.index) + 1, " []"
    else:  # an empty value (`test_command:`) sits just after the colon
        new = ("" if end > start else " ") + f"[{', '.join(quoted)}]"
    return text[:start] + new + text[end:]


def _test_command_node(text: str, commands: tuple[str, ...], path: str) -> tuple[Node, Node] | None:
    """The key and value nodes of ``test_command``, None if absent; refused if not editable."""
    import yaml

    root = yaml.compose(text)
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise _refusal(path, commands, "the file is not a plain block of settings")
    pairs = [(k, v) for k, v in root.value if k.value == "test_command"]
    if len(pairs) > 1:
        raise _refusal(path, commands, "the key appears more than once")
    if not pairs:
        return None
    value = pairs[0][1]
    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
    if not all(isinstance(i, yaml.ScalarNode) and i.style in (None, "'", '"') for i in items):
        raise _refusal(path, commands, "its value is not a plain command, [list] or - list")
    return pairs[0]


def _parsed_or_none(text: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return None


def _refusal(path: str, commands: tuple[str, ...], why: str) -> InvalidInput:
    import json

    flow = "[" + ", ".join(json.dumps(c, ensure_ascii=False) for c in commands) + "]"
    return InvalidInput(
        f"{path}: test_command was not changed: {why}",
        f"edit the file by hand so that it reads: test_command: {flow}",
    )
