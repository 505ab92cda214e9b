"""``orch auth`` and ``orch mcp --public-url`` as a user runs them: help with examples, JSON,
clear errors, secrets stored as hashes in a git-ignored 0600 file, nothing heavy imported."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Orch, git, heavy_imports

pytestmark = [pytest.mark.cli]


def test_auth_help_shows_every_action_with_an_example(orch: Orch) -> None:
    out = orch("auth", "--help").out
    for example in ("orch auth approve", "orch auth list", "orch auth revoke ChatGPT"):
        assert example in out
    assert "--json" in out


def test_approve_prints_a_one_time_code_and_stores_only_its_hash(orch: Orch) -> None:
    text = orch("auth", "approve").out
    code = text.split()[0]
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code), text
    assert "10 minutes" in text and "once" in text
    data = orch.json("auth", "approve", env={"ORCH_CLOCK": "2026-12-01T09:00:00+00:00"})
    assert data["expires"] == "2026-12-01T09:10:00.000Z"  # ten minutes
    stored = orch.cwd / ".mcp" / ".secrets" / "oauth.json"
    assert code not in stored.read_text() and str(data["code"]) not in stored.read_text()
    assert stored.stat().st_mode & 0o077 == 0
    git(orch.cwd, "add", "-A")
    assert ".secrets" not in git(orch.cwd, "diff", "--cached", "--name-only").stdout


def test_list_and_revoke_on_a_board_without_clients(orch: Orch) -> None:
    assert orch.json("auth", "list") == {"clients": []}
    assert "no OAuth clients" in orch("auth", "list").out
    missing = orch("auth", "revoke", "ChatGPT", "--json", check=False)
    assert missing.code == 4 and missing.err_json()["code"] == "client_not_found"
    assert "orch auth list" in missing.err_json()["hint"]
    bare = orch("auth", "revoke", check=False)
    assert bare.code == 2 and "which client?" in bare.err


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://orch.example.com", "plain HTTP"),
        ("https://orch.example.com/orch", "has a path"),
        ("https://orch.example.com/?a=1", "query"),
        ("ftp://orch.example.com", "not an http(s) URL"),
    ],
)
def test_a_public_url_oauth_cannot_use_is_a_usage_error(orch: Orch, url: str, why: str) -> None:
    proc = orch("mcp", "--http", "--public-url", url, check=False, timeout=30)
    assert proc.code == 2, proc.err
    assert why in proc.err and "Traceback" not in proc.err and "serving" not in proc.err


def test_auth_commands_do_not_import_the_sdk(orch: Orch) -> None:
    assert heavy_imports(orch.cwd, ["auth", "approve"], ["auth", "list"], ["status"]) == []
