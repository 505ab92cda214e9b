"""Git integration: installing the hooks, and what they do on a commit (the feedback loop).

``install`` wires mcp-orch into plain ``.git/hooks`` (or ``core.hooksPath``), husky or the
pre-commit framework and undoes it byte for byte; ``runner`` is what runs on a commit;
``parsing`` reads failing test names out of test-runner output; ``feedback`` writes the
feedback files. The board operations themselves live in ``mcp_orch.service``.
"""
