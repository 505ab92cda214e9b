"""What a connected client asks for while it works, beside the operations: task IDs completed
as it types, and the board's news for one agent (what happened since it last looked).

Both are read-only and cheap on a big board: completion ranks the board once per change (the
store's change token, re-checked at least every ``RANK_TTL`` seconds so a hand edit in place
is seen too) and then only filters; news reads only the log lines added since the cursor.
Only ``orch mcp`` calls these, so the rules (``domain.attention``) are imported when used,
not by every CLI command.
"""

from __future__ import annotations

import time

from ..domain.errors import OrchError
from ..domain.policy import Summary, summarize
from .base import ServiceBase

TYPE_CHECKING = False  # not typing's (see store/__init__.py); attention is loaded when used
if TYPE_CHECKING:
    from ..domain.attention import Keys, Notice

RANK_TTL = 5.0  # seconds a ranking is reused while the change token stays the same
MAX_COMPLETIONS = 100  # the protocol's cap on completion values


class Completion(ServiceBase):
    _ranked: tuple[object, str | None, float, list[Keys]] | None = None

    def complete_task_id(
        self, agent: str | None, typed: str, limit: int = MAX_COMPLETIONS
    ) -> tuple[list[str], int]:
        """Task IDs for what was typed (an ID prefix or words of the title), ranked as ``next``
        ranks them for ``agent`` (its own work first): at most ``limit``, and how many match."""
        from ..domain.attention import pick

        return pick(self._ranking(agent), typed, limit)

    def _ranking(self, agent: str | None) -> list[Keys]:
        from ..domain.attention import rank, search_keys

        token = self.store.change_token()
        cached = self._ranked
        now = time.monotonic()
        if cached and cached[0] == token and cached[1] == agent and now - cached[2] < RANK_TTL:
            return cached[3]
        ranked = search_keys(rank(self.store.snapshot().tasks, agent, self.config.roles))
        self._ranked = (token, agent, now, ranked)
        return ranked


class News(ServiceBase):
    def log_cursor(self) -> int:
        """Where the board's news starts from now on (see ``news``)."""
        return self.store.events_after(None)[1]

    def news(self, agent: str, cursor: int) -> tuple[list[Notice], int]:
        """What ``agent`` should hear about since ``cursor``, and the cursor to ask from next."""
        from ..domain.attention import notices

        events, cursor = self.store.events_after(cursor)
        if not events:
            return [], cursor
        tasks: dict[str, Summary] = {}
        for tid in dict.fromkeys(e.task for e in events if e.task and e.outcome == "ok"):
            try:
                tasks[tid] = summarize(self.store.load(tid))
            except OrchError:
                continue  # gone or unreadable since: nothing to say about it
        return notices(events, tasks, agent, self.config.roles), cursor
