"""mcp-orch: a shared task board through which AI coding agents hand work to each other."""

__version__ = "0.1.0"
