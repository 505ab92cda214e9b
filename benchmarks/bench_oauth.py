"""What OAuth costs a tool call: ``get_task`` over streamable HTTP with an OAuth access token
against the same call with a static bearer token (issue 11: no more than the static token).

    .venv/bin/python benchmarks/bench_oauth.py [--tasks 1000] [--calls 200]

Everything is real: a git repo in a temp dir, one ``orch mcp --http --public-url`` process,
the OAuth token obtained through DCR, the consent page and ``orch auth approve``; the SDK's
client sends the calls. The two sessions are open at once and their calls alternate, so both
see the same machine load; each call is timed at the client.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
from bench_mcp import ORCH, make_board, use_bytecode
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith("ORCH_") and k != "PYTHONDONTWRITEBYTECODE"  # see main
}


def orch_json(root: Path, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [ORCH, *args, "--json"], cwd=root, env=ENV, check=True, capture_output=True, text=True
    ).stdout
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


@contextmanager
def server(root: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    args = [ORCH, "mcp", "--http", "--port", str(port), "--public-url", base]
    proc = subprocess.Popen(args, cwd=root, env=ENV, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.post(base + "/mcp", json={}, timeout=1).status_code == 401:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def oauth_token(root: Path, base: str) -> str:
    """An access token the way a client gets one: register, consent with a code, redeem."""
    callback = "http://127.0.0.1:9/callback"  # never visited: the code is read off the redirect
    client = httpx.post(
        base + "/register",
        json={"redirect_uris": [callback], "token_endpoint_auth_method": "none"},
    ).json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    query = {
        "response_type": "code",
        "client_id": client,
        "redirect_uri": callback,
        "code_challenge": challenge.rstrip("="),
        "resource": base + "/mcp",
        "state": "s",
    }
    consent = httpx.get(f"{base}/authorize?{urlencode(query)}").headers["location"]
    page = httpx.get(consent).text
    request_id = re.search(r'name="request" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {
        "request": request_id,
        "approval": str(orch_json(root, "auth", "approve")["code"]),
        "agent": "chatgpt",
        "decision": "allow",
    }
    back = httpx.post(base + "/consent", data=form).headers["location"]
    code = parse_qs(urlsplit(back).query)["code"][0]
    token = httpx.post(
        base + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback,
            "client_id": client,
            "code_verifier": verifier,
            "resource": base + "/mcp",
        },
    ).json()
    return str(token["access_token"])


async def alternate(
    base: str, tokens: dict[str, str], ids: list[str], calls: int
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in tokens}
    async with AsyncExitStack() as stack:
        clients = {}
        for name, token in tokens.items():
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            )
            transport = streamable_http_client(base + "/mcp", http_client=http)
            clients[name] = await stack.enter_async_context(
                Client(transport, mode="legacy", cache=None)
            )
        for client in clients.values():
            await client.call_tool("get_task", {"task_id": ids[0]})  # warm
        for i in range(calls):
            for name, client in clients.items():
                start = time.perf_counter()
                result = await client.call_tool("get_task", {"task_id": ids[i % len(ids)]})
                samples[name].append((time.perf_counter() - start) * 1000)
                assert not result.is_error, result
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    use_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        ids = make_board(root, args.tasks)
        static = str(orch_json(root, "token", "create", "--agent", "codex")["token"])
        with server(root) as base:
            tokens = {"static bearer token": static, "OAuth access token": oauth_token(root, base)}
            trips = anyio.run(alternate, base, tokens, ids, args.calls)
    print(f"get_task over HTTP, {args.tasks} tasks, {args.calls} calls each, alternating\n")
    print(f"{'token':<22} {'median':>10} {'p95':>10}")
    print("-" * 44)
    for name, values in trips.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{name:<22} {statistics.median(values):>7.2f} ms {p95:>7.2f} ms")
    oauth, static_ms = (
        statistics.median(trips[n]) for n in ("OAuth access token", "static bearer token")
    )
    verdict = "no more than" if oauth <= static_ms else "MORE than"
    print(f"\nOAuth {oauth:.2f} ms vs static {static_ms:.2f} ms: {verdict} a static token")


if __name__ == "__main__":
    sys.exit(main())
