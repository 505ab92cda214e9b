"""The file board: task files under ``.mcp/tasks/<status>/``, their format, lock and index."""
