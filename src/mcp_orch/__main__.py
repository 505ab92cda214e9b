"""``python -m mcp_orch`` is ``orch``."""

from mcp_orch.interfaces.cli import run

run()
