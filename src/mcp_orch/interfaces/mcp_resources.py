"""The MCP server's resources (``task://{task_id}{?page}``, ``board://status``) and its prompts
(one loop per role, each with an optional ``task_id``). Their words are in ``mcp_text``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from pydantic import Field

from ..board.format import render
from ..domain.errors import OrchError
from ..service import Service
from .mcp_text import (
    PAGE_CHARS,
    PROMPTS,
    board_markdown,
    markdown_page,
    prompt_text,
    status_page,
    task_markdown,
)


def add_resources(
    server: MCPServer[Any], fresh: Callable[[], Service], describe: Callable[[OrchError], str]
) -> None:
    """The resources, reading the board through ``fresh``; errors worded by ``describe``."""

    @server.resource(
        "task://{task_id}{?page}",
        name="task",
        mime_type="text/markdown",
        description="One task as its Markdown file (open feedback first); a file longer than "
        f"{PAGE_CHARS:,} characters comes in pages (?page=2...).",
    )
    async def task_resource(task_id: str, page: int = 1) -> str:
        def read() -> str:
            task = fresh().show(task_id)
            return markdown_page(task_markdown(task, render), task.id, page)

        try:
            return await anyio.to_thread.run_sync(read)  # blocking reads: not on the loop
        except OrchError as exc:
            raise ResourceError(describe(exc)) from None

    @server.resource(
        "board://status",
        name="board",
        mime_type="text/markdown",
        description="The board summary: counts, escalations, the most urgent active tasks.",
    )
    async def board_resource() -> str:
        def read() -> dict[str, Any]:
            board_now = fresh()
            return status_page(
                board_now.status(), board_now.clock.now(), 0, 50, include_closed=False
            )

        try:
            data = await anyio.to_thread.run_sync(read)
        except OrchError as exc:
            raise ResourceError(describe(exc)) from None
        return board_markdown(data)


def add_prompts(server: MCPServer[Any]) -> None:
    for role, (description, _) in PROMPTS.items():
        server.prompt(name=role, description=description)(_prompt(role))


def _prompt(role: str) -> Callable[..., str]:
    def prompt(
        task_id: Annotated[str, Field(description="a task to start from (optional)")] = "",
    ) -> str:
        return prompt_text(role, task_id)

    return prompt
