"""``orch token create --admin``: a person's token for ``orch serve`` (any step as any agent,
the registry), shown once and stored hashed like an agent's."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Orch

pytestmark = [pytest.mark.server]


def test_an_admin_token_is_a_persons_and_is_listed_as_such(orch: Orch) -> None:
    made = orch.json("token", "create", "--admin")
    assert str(made["token"]).startswith("orch_") and made["admin"] is True
    assert made["agent"] == "human"
    agents = orch.json("token", "create", "--agent", "cursor")
    assert "admin" not in agents  # an agent's token keeps the shape it always had
    listed = orch.json("token", "list")["tokens"]
    assert [t.get("admin", False) for t in listed] == [True, False]
    stored = (orch.cwd / ".mcp" / ".secrets" / "tokens.json").read_text()
    assert str(made["token"]) not in stored and json.loads(stored)["tokens"][0]["admin"] is True
    assert "a person" in orch("token", "create", "--admin").out


def test_admin_and_agent_together_is_refused(orch: Orch) -> None:
    refused = orch("token", "create", "--admin", "--agent", "cursor", "--json", check=False)
    assert refused.code == 2 and "either a person's or one agent's" in refused.err_json()["error"]
    assert orch.json("token", "list")["tokens"] == []
