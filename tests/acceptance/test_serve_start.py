"""``orch serve`` as a process: it starts (health, readiness, OpenAPI), refuses to start in one
line (a busy port, a store it cannot open, a newer schema), and stops cleanly on SIGTERM and
SIGINT with what it wrote kept."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.acceptance.mcp_support import free_port
from tests.acceptance.serve_support import Served, serving, start, stop, wait_healthy
from tests.conftest import ORCH, Orch, clean_env

pytestmark = [pytest.mark.server]


def refused_start(orch: Orch, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``orch serve`` that must exit at once: its exit code and stderr."""
    proc = subprocess.run(
        [str(ORCH), "serve", *args],
        cwd=orch.cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.returncode, proc.stderr


def test_it_serves_health_readiness_and_openapi(orch: Orch) -> None:
    with serving(orch, agents=("cursor",)) as served:
        assert served.ok(None, "GET", "/healthz") == {"ok": True}
        ready = served.ok(None, "GET", "/readyz")
        assert ready["ok"] is True and ready["store"].startswith("sqlite:///")
        assert (orch.cwd / ".mcp" / "orch.db").exists()  # the default: SQLite in .mcp/
        assert "orch serve: http://127.0.0.1:" in served.log.read_text()
        document = served.ok(None, "GET", "/openapi.json")
        assert document["openapi"].startswith("3.1")
        described = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
        assert described == _routes_of_the_app(), "the document and the routes differ"
        events = document["paths"]["/api/orchestrator/events"]["get"]["parameters"]
        bounds = {p["name"]: p for p in events if p["name"].startswith("since")}
        assert bounds["since_id"]["schema"] == {"type": "integer"}  # what a poller passes
        assert "ISO 8601" in bounds["since"]["description"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uvloop is Linux's, /proc too")
def test_it_runs_on_uvloop_and_httptools(orch: Orch) -> None:
    """The dependencies uvicorn picks when they are there: the faster loop and HTTP parser
    are loaded into the serving process (its memory map names their extension modules)."""
    with serving(orch) as served:
        assert served.ok(None, "GET", "/healthz") == {"ok": True}
        maps = Path(f"/proc/{served.process.pid}/maps").read_text()
        assert "/uvloop/" in maps and "/httptools/" in maps


def _routes_of_the_app() -> set[tuple[str, str]]:
    from mcp_orch.interfaces.http_api import routes

    return {
        (method, route.path.replace("{step}", step))
        for route in routes(None)  # type: ignore[arg-type]
        for method in (route.methods or ()) - {"HEAD"}
        for step in (
            ("claim", "submit", "feedback", "complete", "fail", "escalate", "progress")
            if "{step}" in route.path
            else ("",)
        )
    }


def test_a_busy_port_is_one_line_and_exit_2(orch: Orch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, err = refused_start(orch, "--port", str(port))
    assert code == 2 and "already in use" in err and "--port" in err


def test_a_store_it_cannot_open_is_one_line(orch: Orch) -> None:
    code, err = refused_start(orch, "--port", str(free_port()), "--db", "mysql://db.example/orch")
    assert code == 2 and "unknown store" in err
    code, err = refused_start(
        orch,
        "--port",
        str(free_port()),
        env={"ORCH_DB_URL": "postgresql://postgres:secret@127.0.0.1:1/x"},
    )
    assert code == 10 and "cannot" in err and "secret" not in err


def test_a_newer_schema_is_refused(orch: Orch) -> None:
    with serving(orch):  # migrates .mcp/orch.db
        pass
    with sqlite3.connect(orch.cwd / ".mcp" / "orch.db") as db:
        db.execute("INSERT INTO _migrations VALUES (99, 'from the future', '2030-01-01')")
    code, err = refused_start(orch, "--port", str(free_port()))
    assert code == 10 and "schema 99" in err and "upgrade" in err


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_it_cleanly_and_keep_what_it_wrote(
    orch: Orch, how: signal.Signals
) -> None:
    with serving(orch, agents=("chatgpt",)) as served:
        tid = served.ready("Survives a restart")
        served.process.send_signal(how)
        assert served.process.wait(20) == 0
        assert "orch serve: stopped" in served.log.read_text()
        assert "Traceback" not in served.log.read_text()
    proc, log, port = start(orch.cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, log)
        again = Served(base, proc, log, served.tokens)
        assert again.ok("chatgpt", "GET", f"tasks/{tid}")["title"] == "Survives a restart"
    finally:
        assert stop(proc) == 0


def test_healthz_answers_while_a_request_is_refused(orch: Orch) -> None:
    """A refusal never takes the server down: the next request is served."""
    with serving(orch) as served:
        for _ in range(3):
            answer = httpx.post(f"{served.base}/api/orchestrator/next", content=b"{", timeout=10)
            assert answer.status_code == 401
        assert served.ok(None, "GET", "/healthz") == {"ok": True}
