"""``orch mcp`` (serve the board to agents) and ``orch token`` (the bearer tokens of --http).

Imported on every ``orch`` call to register these commands, so it imports nothing heavy: the
MCP SDK is imported inside ``cmd_mcp`` only (a test checks ``orch status`` never loads it).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from ..domain.errors import InvalidInput
from . import cli

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..service import Service

DEFAULT_PORT = 8765


def _board() -> str:
    from ..board.locate import find_board

    return find_board()


def cmd_mcp(args: argparse.Namespace) -> int:
    from .remote import heartbeats, through_service

    # While `orch serve` runs, the tools' writes go through it (asked at every call: this
    # server lives as long as the editor's session), and the session is its agent's heartbeat.
    service = through_service(cli.open_service(), _board(), every_call=True)
    try:
        if args.http:
            from .. import tokens

            board = _board()
            public = args.public_url
            if public is None and not tokens.load(board):
                sys.stderr.write(
                    "orch mcp: no tokens yet, so every request gets 401 "
                    "(create one: orch token create --agent codex; "
                    "ChatGPT connects by OAuth: add --public-url)\n"
                )
            allow = [*(args.allow_host or []), *([public.host] if public else [])]
            from .mcp_http import run_http

            gc.enable()  # ``orch`` turns it off for short commands; a server runs for hours
            run_http(
                service, board, host=args.host, port=args.port, allow_hosts=allow, public_url=public
            )
        else:
            import threading

            from .mcp_server import agent_from_env, run_stdio

            gc.enable()
            agent = args.agent or agent_from_env()
            stop = threading.Event()
            if agent:
                heartbeats(_board(), agent, service.config.heartbeat_every, stop)
            try:
                run_stdio(service, _board(), agent)
            finally:
                stop.set()
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("mcp", "uvicorn"):
            raise InvalidInput(
                f"the MCP SDK is missing ({exc.name}), though mcp-orch depends on it",
                "reinstall: pip install --force-reinstall mcp-orch",
            ) from None
        raise
    return 0


def port_number(text: str) -> int:
    """``--port``: checked when the command line is parsed, not when the server binds."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (a number from 1 to 65535)")
    return int(text)


def public_url(text: str) -> object:
    """``--public-url``: checked when the command line is parsed (a usage error, exit 2)."""
    from ..oauth.urls import parse_public_url

    try:
        return parse_public_url(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} ({exc.hint})") from None


def cmd_token(args: argparse.Namespace) -> int:
    from .. import tokens

    board = _board()
    if args.action == "create":
        agent, service = _token_agent(args)
        token, record = tokens.create(board, agent, service.now(), admin=args.admin)
        who = "a person (admin: any step, any agent, the registry)" if args.admin else agent
        cli.emit(
            args,
            {**record.to_dict(), "token": token},
            f"{token}\n  token {record.id} acts as {who}; it is shown only this once.\n"
            f"  clients send it as: Authorization: Bearer {token[:9]}...",
        )
    elif args.action == "list":
        records = tokens.load(board)
        cli.emit(
            args,
            {"tokens": [r.to_dict() for r in records]},
            "\n".join(f"{r.id}  {r.agent:<12} {r.created}" for r in records)
            or "no tokens (create one: orch token create --agent NAME)",
        )
    else:
        if not args.id:
            raise InvalidInput("which token?", "orch token revoke ID (see orch token list)")
        gone = tokens.revoke(board, args.id)
        cli.emit(
            args,
            {"revoked": [r.to_dict() for r in gone]},
            "\n".join(f"revoked {r.id} ({r.agent})" for r in gone),
        )
    return 0


def _token_agent(args: argparse.Namespace) -> tuple[str, Service]:
    """Who a new token acts as: a known agent (``--agent``, ``$ORCH_AGENT``), or with
    ``--admin`` a person (``human``), who may take any step as any agent."""
    from ..domain.roles import PERSON
    from ..inputs import check_agent

    service = cli.open_service()
    if args.admin:
        if args.agent:
            raise InvalidInput(
                "--admin and --agent: a token is either a person's or one agent's",
                "drop --agent for a person's token, or --admin for an agent's",
            )
        return PERSON, service
    given = args.agent or os.environ.get(cli.ENV_AGENT)
    if not given:  # a token always acts as one agent: no person default here
        raise InvalidInput(
            "which agent is the token for? no agent given",
            f"pass --agent NAME (e.g. --agent chatgpt) or set {cli.ENV_AGENT}; "
            "a person's token: --admin",
        )
    agent = check_agent(given)
    service.ensure_known(agent)
    return agent, service


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = cli.add_command(
        sub,
        "mcp",
        cmd_mcp,
        "serve the board to agents over MCP (stdio; --http for remote clients)",
        "orch mcp --http --public-url https://orch.example.com   # OAuth, e.g. ChatGPT",
    )
    p.add_argument(
        "--agent", metavar="NAME", help=f"stdio: who is calling (default: ${cli.ENV_AGENT})"
    )
    p.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp instead")
    p.add_argument("--host", default="127.0.0.1", help="--http: address to bind (127.0.0.1)")
    p.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"--http: port ({DEFAULT_PORT})"
    )
    p.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="--http: a public host name the server is reached by (tunnel, proxy); repeatable",
    )

    p.add_argument(
        "--public-url",
        type=public_url,
        metavar="URL",
        help="--http: the HTTPS origin clients reach this server at; turns on OAuth "
        "(ChatGPT), e.g. https://orch.example.com",
    )

    p = cli.add_command(
        sub,
        "token",
        cmd_token,
        "bearer tokens for orch mcp --http: create (shown once), list, revoke",
        "orch token create --agent codex",
    )
    p.add_argument(
        "action",
        choices=["create", "list", "revoke"],
        help="create: a new token for --agent, printed once; list: ids, agents, dates "
        "(never a token); revoke: one token or all of an agent's",
    )
    p.add_argument("id", nargs="?", help="revoke: the token's id, or an agent name (all of its)")
    p.add_argument("--agent", metavar="NAME", help="create: the agent the token acts as")
    p.add_argument(
        "--admin",
        action="store_true",
        help="create: a person's token for orch serve (any step as any agent, the registry)",
    )


cli.EXTRA_COMMANDS.append(register)
