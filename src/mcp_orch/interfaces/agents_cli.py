"""``orch agents list|add|remove|update``: the agent registry.

While ``orch serve`` runs for the project (``.mcp/service.json``), the commands change the
service's registry live, through its API (no restart; removing an agent puts its tasks back
in the queue). Without a service they edit ``.mcp/agents.yaml``, which the service reads at
start. Each says which it did.
"""

from __future__ import annotations

import argparse

from ..domain.errors import InvalidInput
from . import cli

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..domain.agents import Agent
    from .remote import Remote

EXAMPLES = """example:
  orch agents list
  orch agents add cursor --role implementer --capability backend --capability frontend --max-tasks 3
  orch agents update cursor --max-tasks 2          # only what you name changes
  orch agents update cursor --capability backend   # --capability replaces the list
  orch agents remove cursor                        # with a service: its tasks go back to the queue
with 'orch serve' running these change its registry live; otherwise they edit .mcp/agents.yaml
(read when the service starts). --json on each."""


def _board() -> str:
    from ..board.locate import find_board

    return find_board(None)


def _service(board: str) -> Remote | None:
    from .remote import find_service

    return find_service(board)


def _line(agent: dict[str, object]) -> str:
    caps = agent.get("capabilities") or ()
    shown = ", ".join(str(c) for c in caps) if isinstance(caps, list | tuple) else str(caps)
    parts = [str(agent.get("name")), str(agent.get("role", "") or "")]
    parts.append(f"capabilities: {shown or 'none'}")
    if "max_tasks" in agent:
        parts.append(f"max_tasks: {agent['max_tasks']}")
    if "status" in agent:
        parts.append(str(agent["status"]))
    current = agent.get("current_tasks")
    if isinstance(current, list | tuple) and current:
        parts.append("holds " + ", ".join(str(t) for t in current))
    return "  ".join(p for p in parts if p)


def _as_dict(agent: Agent) -> dict[str, object]:
    return {
        "name": agent.name,
        "role": agent.role,
        "capabilities": list(agent.capabilities),
        "max_tasks": agent.max_tasks,
    }


def _where(via: str, board: str) -> str:
    if via == "service":
        return "live, in the running service; .mcp/agents.yaml unchanged"
    return ".mcp/agents.yaml; the service reads it at start"


def cmd_agents(args: argparse.Namespace) -> int:
    board = _board()
    remote = _service(board)
    if args.action == "list":
        return _list(args, board, remote)
    if not args.name:
        raise InvalidInput("no agent named", f"e.g. orch agents {args.action} cursor")
    from ..inputs import check_agent

    name = check_agent(args.name)
    if args.action == "remove":
        return _remove(args, board, remote, name)
    return _put(args, board, remote, name)


def _list(args: argparse.Namespace, board: str, remote: Remote | None) -> int:
    from .. import agents_file

    if remote is not None:
        result = remote.call("agents.list", {})
        agents = [dict(a) for a in result] if isinstance(result, list | tuple) else []
        via = "service"
    else:
        agents = [_as_dict(a) for a in agents_file.read(board)]
        via = "file"
    text = "\n".join(_line(a) for a in agents) or "no agents"
    cli.emit(args, {"agents": agents, "via": via}, f"{text}\n({_where(via, board)})")
    return 0


def _put(args: argparse.Namespace, board: str, remote: Remote | None, name: str) -> int:
    from .. import agents_file

    changes: dict[str, object] = {}
    if args.role is not None:
        changes["role"] = args.role
    if args.capability is not None:
        changes["capabilities"] = [c for c in args.capability if c.strip()]
    if args.max_tasks is not None:
        changes["max_tasks"] = args.max_tasks
    if args.action == "add" and "role" not in changes:
        raise InvalidInput("a new agent needs a role", f"orch agents add {name} --role implementer")
    if args.action == "update" and not changes:
        raise InvalidInput("nothing to change", f"e.g. orch agents update {name} --max-tasks 2")
    note = ""
    if remote is not None:
        if args.action == "add":
            new = agents_file.make(
                name,
                changes["role"],
                changes.get("capabilities", []),
                changes.get("max_tasks", 1),
                where=f"agent {name}",
            )
            result = remote.call("agents.add", _as_dict(new))
        else:
            result = remote.call("agents.update", {"_args": [name], **changes})
        agent = dict(result) if isinstance(result, dict) else {"name": name}
        via = "service"
    else:
        base = agents_file.find(board, name) if args.action == "update" else None
        new = agents_file.make(
            name,
            changes.get("role", base.role if base else None),
            changes.get("capabilities", list(base.capabilities) if base else []),
            changes.get("max_tasks", base.max_tasks if base else 1),
            where=f"agent {name}",
        )
        kept = (agents_file.add if base is None else agents_file.update)(board, new)
        agent, via = _as_dict(new), "file"
        note = "" if kept else "; the file was rewritten whole (its list was not in block style)"
    verb = "added" if args.action == "add" else "updated"
    text = f"{verb} {_line(agent)}\n({_where(via, board)}{note})"
    cli.emit(args, {"agent": agent, "via": via}, text)
    return 0


def _remove(args: argparse.Namespace, board: str, remote: Remote | None, name: str) -> int:
    from .. import agents_file

    requeued: list[str] = []
    if remote is not None:
        result = remote.call("agents.remove", {"_args": [name]})
        requeued = [str(t) for t in result] if isinstance(result, list | tuple) else []
        via = "service"
    else:
        agents_file.remove(board, name)
        via = "file"
    text = f"removed {name}"
    if requeued:
        text += f"; back in the queue: {', '.join(requeued)}"
    data = {"removed": name, "requeued": requeued, "via": via}
    cli.emit(args, data, f"{text}\n({_where(via, board)})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = cli.add_command(
        sub,
        "agents",
        cmd_agents,
        "list, add, remove or update the agents the service assigns work to",
        "orch agents add cursor --role implementer --capability backend --max-tasks 3",
    )
    p.epilog = EXAMPLES
    p.add_argument("action", choices=("list", "add", "remove", "update"), help="what to do")
    p.add_argument("name", nargs="?", metavar="NAME", help="the agent (add, remove, update)")
    p.add_argument("--role", choices=("planner", "implementer", "reviewer"), help="its role")
    p.add_argument(
        "--capability",
        action="append",
        metavar="NAME",
        help="what it can do, e.g. backend (repeatable; replaces the list on update)",
    )
    p.add_argument(
        "--max-tasks", type=cli.positive_int, metavar="N", help="tasks it may hold at once"
    )


cli.EXTRA_COMMANDS.append(register)
