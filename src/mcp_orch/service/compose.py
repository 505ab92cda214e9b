"""The composition root: the one place a ``Service`` is assembled from a board folder, its
configuration, a store URL and a clock. Every interface (CLI, hooks, MCP) builds its services
here, one per command or request: a service is cheap and holds no state shared between them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..config import Config
from . import Service
from .clock import SYSTEM, Clock

ENV_STORE = "ORCH_STORE"  # the store URL: files (default), memory, sqlite:///..., postgresql://...


def store_url(env: Mapping[str, str] | None = None) -> str:
    """The store URL this process uses: ``$ORCH_STORE``, else the file board."""
    return (os.environ if env is None else env).get(ENV_STORE, "").strip() or "files"


def build(
    board: str,
    clock: Clock = SYSTEM,
    *,
    config: Config | None = None,
    url: str | None = None,
) -> Service:
    """The service of the board folder ``board`` (``.mcp``): its config as it is now (unless
    given), the store ``url`` names (default: ``store_url()``), on ``clock``."""
    from .. import config as configuration
    from ..store.factory import open_store

    store = open_store(url or store_url(), board, clock.now)
    return Service(store, config if config is not None else configuration.load(board), clock)
