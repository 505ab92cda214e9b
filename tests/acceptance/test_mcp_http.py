"""``orch mcp --http`` and ``orch token``: a request without a valid bearer token gets 401 and
changes nothing; a token is shown once, stored only as a hash, never committed; the token
decides who the agent is."""

from __future__ import annotations

import json
import socket
import subprocess

import anyio
import httpx
import pytest

from tests.acceptance.mcp_support import (
    INIT,
    board_state,
    call,
    call_error,
    http,
    http_server,
    new_token,
)
from tests.conftest import ORCH, Orch, clean_env, git, set_roles

pytestmark = [pytest.mark.server]

CREATE = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "create_task", "arguments": {"title": "should never exist"}},
}
HEADERS = {"Accept": "application/json, text/event-stream"}


def test_requests_without_a_valid_token_get_401_and_change_nothing(orch: Orch) -> None:
    task_id = orch.ready("Untouchable")
    good = new_token(orch, "cursor")
    set_roles(orch.cwd, implementer=["cursor", "mallory"])  # a token is made for a known agent
    revoked = new_token(orch, "mallory")
    orch("token", "revoke", "mallory")
    before = board_state(orch.cwd)
    with http_server(orch.cwd) as server:
        for auth in (
            None,
            "Bearer orch_not-a-real-token",
            f"Bearer {good}x",
            f"Bearer {revoked}",
            f"Basic {good}",
            good,
        ):
            headers = {**HEADERS, **({"Authorization": auth} if auth else {})}
            for body in (INIT, CREATE):
                answer = httpx.post(server.url, json=body, headers=headers, timeout=10)
                assert answer.status_code == 401, (auth, answer.text)
                assert "should never exist" not in answer.text

        async def sdk_client_with_wrong_token() -> None:
            async with http(server.url, "orch_wrong"):
                pass

        with pytest.raises(BaseException) as refused:
            anyio.run(sdk_client_with_wrong_token)
        assert "error response" in " ".join(_messages(refused.value))  # the SDK hides the 401

        async def the_right_token_works() -> None:
            async with http(server.url, good) as client:
                assert (await call(client, "get_task", task_id=task_id))["status"] == "ready"

        anyio.run(the_right_token_works)
    assert board_state(orch.cwd) == before


def _messages(exc: BaseException) -> list[str]:
    """Every message in an exception (group) tree: the SDK reports through task groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [m for sub in exc.exceptions for m in _messages(sub)]
    return [str(exc), *(_messages(exc.__cause__) if exc.__cause__ else [])]


def test_the_token_decides_who_the_agent_is(orch: Orch) -> None:
    set_roles(orch.cwd, implementer=["cursor", "chatgpt-connector"])
    task_id = orch.ready("Claimed over HTTP")
    token = new_token(orch, "chatgpt-connector")
    with http_server(orch.cwd) as server:

        async def main() -> None:
            async with http(server.url, token) as client:
                message = await call_error(client, "claim_task", task_id=task_id, agent="cursor")
                assert "acts as chatgpt-connector" in message
                claimed = await call(client, "claim_task", task_id=task_id)
                assert claimed["agent"] == "chatgpt-connector"

        anyio.run(main)
    assert orch.json("show", task_id)["agent"] == "chatgpt-connector"


def test_revoking_a_token_takes_effect_without_a_restart(orch: Orch) -> None:
    token = new_token(orch, "cursor")
    with http_server(orch.cwd) as server:
        probe = {**HEADERS, "Authorization": f"Bearer {token}"}
        assert httpx.post(server.url, json=INIT, headers=probe, timeout=10).status_code == 200
        orch("token", "revoke", "cursor")
        assert httpx.post(server.url, json=INIT, headers=probe, timeout=10).status_code == 401


def test_tokens_are_shown_once_stored_hashed_and_never_committed(orch: Orch) -> None:
    created = orch.json("token", "create", "--agent", "chatgpt")
    token = str(created["token"])
    assert token.startswith("orch_") and len(token) > 40
    listed = orch.json("token", "list")["tokens"]
    assert listed == [{"id": created["id"], "agent": "chatgpt", "created": created["created"]}]
    assert token not in orch("token", "list").out
    secrets = orch.cwd / ".mcp" / ".secrets"
    stored = (secrets / "tokens.json").read_text()
    assert token not in stored and json.loads(stored)["tokens"][0]["sha256"]
    assert (secrets / "tokens.json").stat().st_mode & 0o077 == 0
    git(orch.cwd, "add", "-A")
    staged = git(orch.cwd, "diff", "--cached", "--name-only").stdout
    assert ".mcp/config.yaml" in staged and ".secrets" not in staged
    assert "no token" in orch("token", "revoke", "tk-nope", check=False).err
    orch("token", "revoke", str(created["id"]))
    assert orch.json("token", "list")["tokens"] == []
    assert "--agent" in orch("token", "create", check=False).err


def test_http_binds_to_loopback_by_default(orch: Orch) -> None:
    new_token(orch, "cursor")
    with http_server(orch.cwd) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert "serving http://127.0.0.1:" in server.log.read_text()


def test_a_public_host_name_must_be_allowed(orch: Orch) -> None:
    """Behind a tunnel the Host header is the public name; DNS-rebinding protection refuses it
    unless the name is given with --allow-host."""
    token = new_token(orch, "chatgpt")
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "Host": "orch.example.test"}
    with http_server(orch.cwd) as server:
        refused = httpx.post(server.url, json=INIT, headers=headers, timeout=10)
        assert refused.status_code in (400, 403, 421), refused.text
    with http_server(orch.cwd, "--allow-host", "orch.example.test") as server:
        assert httpx.post(server.url, json=INIT, headers=headers, timeout=10).status_code == 200


def _serve(orch: Orch, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORCH), "mcp", "--http", *args],
        cwd=orch.cwd,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(orch: Orch, port: str) -> None:
    proc = _serve(orch, "--port", port)
    assert proc.returncode == 2, proc.stderr
    assert f"--port: '{port}' is not a port (a number from 1 to 65535)" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal" not in proc.stderr
    assert "serving" not in proc.stderr


def test_a_port_in_use_is_named_before_claiming_to_serve(orch: Orch) -> None:
    new_token(orch, "cursor")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = _serve(orch, "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    assert f"cannot serve on 127.0.0.1:{port}: the address is already in use" in proc.stderr
    assert "pick another --port" in proc.stderr
    assert "serving" not in proc.stderr and "Traceback" not in proc.stderr
