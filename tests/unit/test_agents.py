"""Agents, leases, duration strings and the orchestrator's settings (issue 10's domain)."""

from __future__ import annotations

import pytest

from mcp_orch.config import Config, from_mapping
from mcp_orch.domain.agents import AGENT_STATUSES, Agent, AgentStatus, Lease
from mcp_orch.domain.durations import format_duration, parse_duration
from mcp_orch.domain.errors import InvalidInput


def test_agent_statuses_are_the_specs() -> None:
    assert AGENT_STATUSES == ("available", "busy", "error", "offline")
    assert str(AgentStatus.BUSY) == "busy"


def test_an_agent_never_heard_from_is_not_alive() -> None:
    agent = Agent(name="cursor", role="implementer", capabilities=("backend",), max_tasks=3)
    assert (agent.status, agent.source, agent.last_seen) == ("offline", "yaml", "")
    assert not agent.alive
    seen = agent._replace(status="available", last_seen="2026-01-01T00:00:00.000Z")
    assert seen.alive and seen._replace(status="busy").alive
    assert not seen._replace(status="error").alive
    assert not seen._replace(last_seen="").alive  # available but never called in since start


def test_an_agent_can_take_a_task_only_with_every_capability_it_names() -> None:
    agent = Agent(name="cursor", role="implementer", capabilities=("backend", "frontend"))
    assert agent.can(()) and agent.can(("backend",)) and agent.can(("frontend", "backend"))
    assert not agent.can(("backend", "mobile"))


def test_a_lease_expires_at_its_time() -> None:
    lease = Lease(
        task_id="T-aaaaaa",
        agent="cursor",
        fence=3,
        expires_at="2026-01-01T00:00:06.000Z",
        acquired_at="2026-01-01T00:00:00.000Z",
    )
    assert not lease.expired("2026-01-01T00:00:05.999Z")
    assert lease.expired("2026-01-01T00:00:06.000Z")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("6s", 6.0), ("10m", 600.0), ("2h", 7200.0), ("1.5s", 1.5), (" 2H ", 7200.0)],
)
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["10", "6 seconds", "-1s", "0s", "", "s", "1d", 6, True, None])
def test_a_bad_duration_says_how_to_write_one(bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration(bad, "orchestrator.lease_ttl")
    assert "orchestrator.lease_ttl" in caught.value.message
    assert "500ms, 6s, 10m or 2h" in caught.value.hint


@pytest.mark.parametrize("seconds", [0.5, 6.0, 600.0, 7200.0, 90.0, 1.5])
def test_a_formatted_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_orchestrator_settings_have_their_defaults() -> None:
    config = from_mapping({})
    assert config == Config()
    assert (config.lease_ttl, config.heartbeat_every, config.agent_timeout) == (6.0, 2.0, 600.0)
    assert (config.stall_after, config.digest_every) == (7200.0, 7200.0)
    assert (config.escalate_after, config.sweep_every) == (300.0, 1.0)


def test_orchestrator_settings_are_read_as_seconds() -> None:
    config = from_mapping({"orchestrator": {"lease_ttl": "500ms", "agent_timeout": "2h"}})
    assert (config.lease_ttl, config.agent_timeout, config.stall_after) == (0.5, 7200.0, 7200.0)
    assert from_mapping({"orchestrator": None}).lease_ttl == 6.0  # "orchestrator:" and nothing


@pytest.mark.parametrize(
    ("section", "said"),
    [
        ({"lease_tll": "6s"}, "unknown setting orchestrator.lease_tll"),
        ({"lease_ttl": 6}, "orchestrator.lease_ttl: 6 is not a duration"),
        ("6s", "orchestrator must be a mapping"),
    ],
)
def test_bad_orchestrator_settings_are_refused(section: object, said: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        from_mapping({"orchestrator": section})
    assert said in caught.value.message
