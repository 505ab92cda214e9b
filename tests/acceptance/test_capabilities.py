"""``--capability`` on create and prep: what an agent needs to take a task (issue 10)."""

from __future__ import annotations

import anyio
import pytest

from tests.acceptance.mcp_support import call, stdio
from tests.conftest import Orch

pytestmark = pytest.mark.cli


def test_capabilities_are_kept_in_the_file_and_listed(orch: Orch) -> None:
    tid = orch.create("Login page", "--capability", "frontend", "--capability", "backend,css")
    assert orch.json("show", tid)["capabilities"] == ["frontend", "backend", "css"]
    (path,) = (orch.cwd / ".mcp" / "tasks" / "pending").glob(f"{tid}-*.md")
    assert "\n## Capabilities: frontend, backend, css\n" in path.read_text(encoding="utf-8")
    listed = orch.json("status")["tasks"]
    assert isinstance(listed, list) and listed[0]["capabilities"] == ["frontend", "backend", "css"]
    orch("prep", tid, "--goal", "g", "--capability", "mobile", "--agent", "chatgpt")
    assert orch.json("show", tid)["capabilities"] == ["mobile"]
    orch("prep", tid, "--notes", "n", "--agent", "chatgpt")  # not given: kept
    assert orch.json("show", tid)["capabilities"] == ["mobile"]
    orch("prep", tid, "--capability", "", "--agent", "chatgpt")  # cleared
    assert orch.json("show", tid)["capabilities"] == []
    (now,) = (orch.cwd / ".mcp" / "tasks" / "ready").glob(f"{tid}-*.md")
    assert "Capabilities" not in now.read_text(encoding="utf-8")


def test_a_bad_capability_is_refused_and_nothing_is_created(orch: Orch) -> None:
    bad = orch("create", "x", "--capability", "back end!", "--json", check=False)
    assert bad.code == 2 and bad.err_json()["code"] == "invalid_input"
    assert "not a valid capability" in str(bad.err_json()["error"])
    assert orch.json("status")["tasks"] == []


@pytest.mark.server
def test_a_planner_over_mcp_names_what_a_task_needs(orch: Orch) -> None:
    async def main() -> dict[str, object]:
        async with stdio(orch.cwd, "chatgpt") as planner:
            return await call(
                planner, "create_task", title="Login page", capabilities=["frontend", "css"]
            )

    made = anyio.run(main)
    assert orch.json("show", str(made["id"]))["capabilities"] == ["frontend", "css"]
