"""Real MCP clients (the SDK's) against real ``orch mcp`` processes, over stdio and HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORCH, Orch, clean_env

Connect = Callable[[str], AbstractAsyncContextManager[Client]]

INIT = {  # an initialize request as a raw JSON-RPC body, for probing the HTTP layer
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}


@asynccontextmanager
async def stdio(
    project: Path, agent: str | None, logging_callback: Any = None, **env: str
) -> AsyncIterator[Client]:
    """A client session with a fresh ``orch mcp`` process started as ``agent``'s client."""
    extra = {"ORCH_AGENT": agent} if agent else {}
    params = StdioServerParameters(
        command=str(ORCH), args=["mcp"], env={**clean_env(), **extra, **env}, cwd=project
    )
    async with Client(
        params, mode="legacy", cache=None, logging_callback=logging_callback
    ) as client:
        yield client


@asynccontextmanager
async def http(url: str, token: str, logging_callback: Any = None) -> AsyncIterator[Client]:
    """A client session over streamable HTTP, sending ``token`` as its bearer token."""
    async with httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as transport_client:
        transport = streamable_http_client(url, http_client=transport_client)
        async with Client(
            transport, mode="legacy", cache=None, logging_callback=logging_callback
        ) as client:
            yield client


def text(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    return "\n".join(c.text for c in content if getattr(c, "type", "") == "text")


async def call(client: Client, tool: str, **args: object) -> dict[str, object]:
    """Call a tool that must succeed; its JSON answer."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}({args}) failed: {text(result)}"
    data = json.loads(text(result))
    assert isinstance(data, dict)
    return data


async def call_error(client: Client, tool: str, **args: object) -> str:
    """Call a tool that must fail with a tool error (isError); its message."""
    result = await client.call_tool(tool, args)
    assert result.is_error, f"{tool}({args}) should have failed: {text(result)}"
    return text(result)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def http_server(
    project: Path,
    *args: str,
    timeout: float = 60,  # a deadline, not a wait: generous for a machine under load
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[HttpServer]:
    """``orch mcp --http`` on a free local port, ready (it answers /mcp) when yielded."""
    port = port or free_port()
    log = project.parent / f"orch-mcp-{port}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [str(ORCH), "mcp", "--http", "--port", str(port), *args],
            cwd=project,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_ready(url, proc, log, timeout)
        yield HttpServer(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Poll until the server answers HTTP (401 without a token): no fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"orch mcp --http exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.post(url, json={}, timeout=1).status_code == 401:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"orch mcp --http not ready after {timeout}s: {log.read_text()}")


def new_token(orch: Orch, agent: str) -> str:
    return str(orch.json("token", "create", "--agent", agent)["token"])


def board_state(project: Path) -> dict[str, str]:
    """Every task file and the operation log, by path: to prove nothing changed."""
    board = project / ".mcp"
    files = [*board.glob("tasks/*/*.md"), *board.glob("log/*")]
    return {str(p.relative_to(board)): p.read_text() for p in sorted(files)}
