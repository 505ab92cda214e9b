"""``orch auth``: the OAuth side of ``orch mcp --http --public-url`` (ChatGPT and other remote
clients): approve a connection, list the connected clients, revoke one.

Imported on every ``orch`` call to register the command, so it imports nothing heavy; the
store it calls is plain Python (no MCP SDK).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..domain.errors import InvalidInput
from . import cli

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs an import on every orch call; the annotations need it only here
    from typing import Any

EXAMPLES = (
    "orch auth approve        # prints a one-time code for the consent page\n"
    "  orch auth list           # the connected clients and the agents they act as\n"
    "  orch auth revoke ChatGPT # by client name, client id or agent: ends its access"
)


def cmd_auth(args: argparse.Namespace) -> int:
    from ..board.locate import find_board
    from ..oauth import store

    board = find_board()
    now = cli.open_service().clock().timestamp()
    if args.action == "approve":
        from ..domain.model import format_time

        code, expires = store.approve(board, now)
        moment = datetime.fromtimestamp(expires, UTC)
        until = moment.strftime("%H:%M:%S UTC")
        cli.emit(
            args,
            {"code": code, "expires": format_time(moment)},
            f"{code}\n  enter it on the consent page within {store.APPROVAL_TTL // 60} minutes "
            f"(until {until}); it works once.",
        )
    elif args.action == "list":
        rows = store.connections(board, now)
        cli.emit(args, {"clients": rows}, "\n".join(_line(r) for r in rows) or _NONE)
    else:
        if not args.client:
            raise InvalidInput("which client?", "orch auth revoke CLIENT (see orch auth list)")
        gone = store.revoke_client(board, args.client, now)
        cli.emit(
            args,
            {"revoked": gone},
            "\n".join(
                f"revoked {r['name'] or r['client_id']}: it must be approved again" for r in gone
            ),
        )
    return 0


_NONE = "no OAuth clients (connect one to orch mcp --http --public-url URL)"


def _line(row: dict[str, Any]) -> str:
    agents = ",".join(row["agents"]) or "-"
    state = "connected" if row["connected"] else "not connected"
    where = ",".join(row["redirect_hosts"])
    return f"{row['name'] or '-'}  as {agents}  {state}  via {where}  {row['client_id']}"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = cli.add_command(
        sub,
        "auth",
        cmd_auth,
        "OAuth clients of orch mcp --http --public-url: approve a connection, list, revoke",
        EXAMPLES,
    )
    p.add_argument(
        "action",
        choices=["approve", "list", "revoke"],
        help="approve: print a one-time approval code (10 minutes) to enter on the consent "
        "page; list: clients, agents, redirect hosts; revoke: end a client's access "
        "(access and refresh tokens) at its next request",
    )
    p.add_argument(
        "client", nargs="?", help="revoke: a client id or name (orch auth list), or an agent"
    )


cli.EXTRA_COMMANDS.append(register)
