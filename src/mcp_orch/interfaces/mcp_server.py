"""The MCP server: the board's operations as MCP tools, for agents to drive themselves.

Thin like the CLI: each tool checks who is calling, calls one service method and renders the
result with ``present``, bounded by ``mcp_text`` (no answer grows with the board or a task's
past). Ten tools, descriptions that say when to use them, and a whole
``tools/list`` under 2,000 tokens (a test holds it there), so a client's context window pays
little for them; each with MCP annotations (read-only, destructive, idempotent) and every
parameter described. The resources and prompts are in ``mcp_resources``, completions and log
notifications in ``mcp_live``. The SDK is imported only by these ``mcp_*`` modules, which only
``orch mcp`` imports.

The tools are ``async`` although the service is synchronous: the SDK runs synchronous tools in
worker threads, and one ``Service`` (with its store's in-memory index) must not be used by two
threads at once. An async tool runs on the event loop, so calls are serialized in-process; the
board's file lock serializes them against other processes.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Annotated, Any, Literal

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import config
from ..board.fsutil import storage_error
from ..domain.errors import InternalError, InvalidInput, OrchError
from ..domain.model import Task
from ..service import Service
from . import mcp_live, present
from .mcp_live import Live, Reader, reader_of
from .mcp_resources import add_prompts, add_resources
from .mcp_text import (
    INSTRUCTIONS,
    decision_call,
    section_page,
    status_page,
    task_answer,
    tool_call,
    tool_name,
)

MAX_PAGE = 200

Section = Literal[
    "history",
    "feedback",
    "open_feedback",
    "errors",
    "escalations",
    "acceptance_criteria",
    "definition_of_ready",
    "definition_of_done",
    "files",
]

TaskId = Annotated[str, Field(description="e.g. T-7k3m9q2x")]
_CHECKLIST_KEYS = ("acceptance_criteria", "definition_of_ready", "definition_of_done")
Agent = Annotated[str, Field(description="who acts, e.g. cursor")]
Picks = Annotated[list[str] | None, Field(description='item numbers, or "all"')]
Note = Annotated[str, Field(description="what you did and how you tested it")]

# MCP tool annotations: (readOnlyHint, destructiveHint, idempotentHint). Destructive: it can
# replace what was there (prep's lists) or end a task (give_up). Idempotent: the same call again
# changes nothing more (a re-claim by the holder is a no-op).
ANNOTATIONS: dict[str, tuple[bool, bool, bool]] = {
    "next_task": (True, False, True),
    "create_task": (False, False, False),
    "prep_task": (False, True, True),
    "claim_task": (False, False, True),
    "submit_task": (False, False, False),
    "review_task": (False, False, False),
    "report_error": (False, True, False),
    "escalate_task": (False, False, False),
    "get_task": (True, False, True),
    "board_status": (True, False, True),
    "check_task": (False, False, True),
}


def error_text(exc: OrchError) -> str:
    """The CLI's message for the same error (``orch: message (hint)`` without the prefix)."""
    hint = exc.worded_hint(tool_call)  # operations as tool calls: a planner may have no shell
    return f"{exc.message} ({hint})" if hint else exc.message


@contextmanager
def tool_errors() -> Iterator[None]:
    """The one error boundary of every tool: a domain error becomes a tool error (isError)."""
    try:
        yield
    except OrchError as exc:
        raise ToolError(error_text(exc)) from None
    except OSError as exc:
        raise ToolError(error_text(storage_error(exc, "complete the call"))) from None
    except ToolError:
        raise
    except Exception as exc:  # a bug: the client gets its name, the server's log the trace
        traceback.print_exc(file=sys.stderr)
        raise ToolError(error_text(InternalError.of(exc, ""))) from None


class Identity:
    """Who is calling: the token's agent over HTTP, ORCH_AGENT (or --agent) over stdio, and
    the ``agent`` argument only for a server started without one. A server with an identity
    refuses to act as anyone else, over either transport."""

    def __init__(self, default: str | None, *, http: bool) -> None:
        self.default = default
        self.http = http

    @property
    def known(self) -> bool:
        """Whether the server knows who calls without being told (then tools take no agent)."""
        return self.http or bool(self.default)

    def current(self) -> str | None:
        """Who this request acts as, when the server knows (the token's agent, ORCH_AGENT)."""
        if self.http:
            token = get_access_token()
            return token.client_id if token else None
        return self.default

    def __call__(self, given: str, *, required: bool = True) -> str | None:
        name = given.strip()
        if self.http:
            token = get_access_token()
            bound = token.client_id if token else None
            if name and bound and name != bound:
                raise ToolError(f"this connection acts as {bound} (its token); omit agent")
            name = bound or name
        elif name and self.default and name != self.default:
            raise ToolError(
                f"this server acts as {self.default} (its ORCH_AGENT or --agent); omit agent"
            )
        name = name or self.default or ""
        if not name and required:
            raise ToolError(
                "who is acting? no agent given (pass agent, e.g. cursor, "
                "or set ORCH_AGENT in this server's MCP config)"
            )
        return name or None


def dump(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def brief(task: Task, then: str) -> str:
    """A moved task in a few fields (get_task has the rest) and what happens next."""
    return dump(
        {
            "id": task.id,
            "status": task.status.value,
            "title": task.title,
            "agent": task.agent or None,
            "implementer": task.implementer or None,
            "open_feedback": len(task.open_feedback),
            "next": then,
        }
    )


def check_page(offset: int, limit: int = 1) -> None:
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(
            f"bad page (offset {offset}, limit {limit})",
            f"offset >= 0 and 1 <= limit <= {MAX_PAGE}",
        )


# The services a tool call opened (``live``), so ``warned`` can say what each could not write.
_OPENED: ContextVar[list[Service] | None] = ContextVar("orch_opened", default=None)


def live(service: Service, board: str | None) -> Callable[[], Service]:
    """A ``Service`` of its own for each call, with .mcp/config.yaml as it is now: roles,
    limits or the test command edited while the server runs apply to the next call, no
    restart, and no call changes what another one holds. Cheap: ``config.load`` re-parses
    only when the file's mtime or size changed, and each worker thread keeps one store (the
    file board's index stays warm; no two calls running at once share one)."""
    local = threading.local()

    def current() -> Service:
        if board is None or service.shared:
            return service  # in-process use, or orch serve's one service: the one it was given
        from ..service.compose import build
        from ..store.factory import open_store

        store = getattr(local, "store", None)
        if store is None:
            store = local.store = open_store(service.store.url, board, service.clock.now)
        built = build(board, service.clock, config=config.load(board), store=store)
        fresh: Service = service.around(built)  # type: ignore[assignment]
        opened = _OPENED.get()
        if opened is not None:
            opened.append(fresh)
        return fresh

    return current


def build_tools(
    service: Service, who: Identity, board: str | None = None
) -> list[Callable[..., Any]]:
    """The tools, as (blocking) functions whose docstrings are their descriptions; ``warned``
    runs each in a worker thread."""
    fresh = live(service, board)

    def next_task(agent: Agent = "") -> str:
        """Start here, and call again after every handoff: what you should do now (continue,
        fix, review, claim, prep, wait, idle), why, the task with its context and open
        feedback, and the tool to call next."""
        with tool_errors():
            result = fresh().next_action(who(agent))
            d = result.decision
            data = present.decision_dict(d, None, result.problems, decision_call(d))
            task = task_answer(result.task) if result.task else None
            return dump({**data, "task": task, "tool": tool_name(d.ops[0]) if d.ops else None})

    def create_task(
        title: Annotated[str, Field(description="short, imperative")],
        priority: Annotated[str, Field(description="P0 (urgent), P1 or P2")] = "P1",
        goal: Annotated[str, Field(description="what and why")] = "",
        depends: Annotated[list[str] | None, Field(description="task IDs done first")] = None,
        capabilities: Annotated[list[str] | None, Field(description="skills it needs")] = None,
        agent: Agent = "",
    ) -> str:
        """Planner: add a task stub (pending), then define it with prep_task so it becomes
        ready."""
        with tool_errors():
            task = fresh().create(
                title,
                priority=priority,
                depends=depends or (),
                agent=who(agent),
                goal=goal,
                capabilities=capabilities or (),
            )
            return brief(task, f"define it: prep_task {task.id}")

    def prep_task(
        task_id: TaskId,
        goal: Annotated[str, Field(description="what and why")] = "",
        acceptance_criteria: Annotated[
            list[str] | None, Field(description="testable criteria")
        ] = None,
        definition_of_ready: Annotated[list[str] | None, Field(description="DoR items")] = None,
        definition_of_done: Annotated[list[str] | None, Field(description="DoD items")] = None,
        files: Annotated[list[str] | None, Field(description="repo paths it touches")] = None,
        notes: Annotated[str, Field(description="approach, pitfalls")] = "",
        depends: Annotated[list[str] | None, Field(description="task IDs done first")] = None,
        priority: Annotated[str, Field(description="P0, P1 or P2")] = "",
        agent: Agent = "",
    ) -> str:
        """Planner: define a task so an implementer can work without asking: goal, acceptance
        criteria, DoR, DoD, files (repo paths), notes. Moves pending -> ready. Given lists
        replace the old ones; omitted fields are kept."""
        with tool_errors():
            task = fresh().prep(
                task_id,
                agent=who(agent),
                goal=goal or None,
                acceptance=acceptance_criteria or (),
                ready_def=definition_of_ready or (),
                done_def=definition_of_done or (),
                files=files or (),
                notes=notes or None,
                depends=depends,
                priority=priority or None,
            )
            return brief(task, "an implementer claims it (next_task)")

    def claim_task(task_id: TaskId, agent: Agent = "") -> str:
        """Implementer: take a ready task before working on it (ready -> in-progress, exclusive;
        fails if another agent holds it). Returns the task: fix open feedback first."""
        with tool_errors():
            result = fresh().claim(task_id, agent=who(agent))
            return dump({**task_answer(result.task), "changed": result.changed})

    def submit_task(task_id: TaskId, note: Note = "", agent: Agent = "") -> str:
        """Implementer: hand your finished task to review (in-progress -> review). note: what
        you did and how you tested it. Open review feedback counts as addressed."""
        with tool_errors():
            task = fresh().submit(task_id, agent=who(agent), note=note)
            return brief(task, "the reviewer approves it or requests changes")

    def review_task(
        task_id: TaskId,
        approve: Annotated[bool, Field(description="true: done; false: send back")],
        feedback: Annotated[str, Field(description="what to change, where")] = "",
        agent: Agent = "",
    ) -> str:
        """Reviewer: decide on a task in review. approve=true: done. approve=false with
        feedback (what to change, where): back to its implementer, who sees it in next_task."""
        with tool_errors():
            if approve:
                task = fresh().complete(task_id, agent=who(agent), note=feedback)
                return brief(task, "done; nothing left to do on it")
            if not feedback.strip():
                raise InvalidInput("no feedback given", "say what must change, or approve=true")
            task = fresh().request_changes(task_id, agent=who(agent), text=feedback)
            return brief(task, f"back to {task.implementer or 'the implementer'} with feedback")

    def report_error(
        task_id: TaskId,
        text: Annotated[str, Field(description="output, trace, command run")],
        give_up: Annotated[bool, Field(description="true: mark the task failed")] = False,
        agent: Agent = "",
    ) -> str:
        """Keep error context on a task (failing test output, a trace, the command run) without
        moving it. give_up=true instead marks the task failed, with text as the reason."""
        with tool_errors():
            if give_up:
                task = fresh().fail(task_id, agent=who(agent), reason=text)
                return brief(task, f"a person decides: orch resolve {task.id} --to ready")
            task = fresh().add_error(task_id, agent=who(agent), text=text)
            return brief(task, "the error context is kept in the task")

    def escalate_task(
        task_id: TaskId,
        reason: Annotated[str, Field(description="what a person must decide")],
        agent: Agent = "",
    ) -> str:
        """Stuck? Flag a task for a person (unclear or contradictory spec, missing access, a
        decision above your role). It leaves every queue until a person resolves it."""
        with tool_errors():
            task = fresh().escalate(task_id, agent=who(agent), reason=reason)
            return brief(task, f"a person looks at it and runs: orch resolve {task.id}")

    def check_task(
        task_id: TaskId,
        acceptance_criteria: Picks = None,
        definition_of_ready: Picks = None,
        definition_of_done: Picks = None,
        done: Annotated[bool, Field(description="false unticks")] = True,
        agent: Agent = "",
    ) -> str:
        """Tick checklist items as met (numbers from 1, as get_task lists them); the task does
        not move. Ticking a ticked item changes nothing."""
        with tool_errors():
            task = fresh().check(
                task_id,
                agent=who(agent),
                ac=acceptance_criteria or (),
                dor=definition_of_ready or (),
                dod=definition_of_done or (),
                done=done,
            )
            data: Mapping[str, object] = present.task_dict(task)
            return dump(
                {
                    "id": task.id,
                    "status": task.status.value,
                    **{k: data[k] for k in _CHECKLIST_KEYS},
                }
            )

    def get_task(
        task_id: TaskId,
        section: Annotated[Section | None, Field(description="one list to page")] = None,
        offset: Annotated[int, Field(description="first item of the page")] = 0,
    ) -> str:
        """One task's context: goal, criteria, DoR, DoD, files, notes, feedback, errors,
        escalations, recent history; "omitted" counts what was left out. section (history,
        feedback...) with offset pages one list, oldest first."""
        with tool_errors():
            check_page(offset)
            task = fresh().show(task_id)
            return dump(section_page(task, section, offset) if section else task_answer(task))

    def board_status(
        offset: Annotated[int, Field(description="first task of the page")] = 0,
        limit: Annotated[int, Field(description="tasks per page, <=200")] = 50,
        include_closed: Annotated[bool, Field(description="also done/failed")] = False,
    ) -> str:
        """The board: counts per status, and one page of its tasks (most urgent first;
        done/failed only with include_closed), escalated IDs and problems. Page with
        offset/limit (<=200) until next_offset is null."""
        with tool_errors():
            check_page(offset, limit)
            board_now = fresh()
            data = status_page(
                board_now.status(), board_now.clock.now(), offset, limit, include_closed
            )
            return dump(data)

    return [
        next_task,
        create_task,
        prep_task,
        claim_task,
        submit_task,
        review_task,
        report_error,
        escalate_task,
        check_task,
        get_task,
        board_status,
    ]


def _compact(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles ("Task Id" for task_id) and empty defaults: they cost
    tokens and say nothing."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        if prop.get("default") == "":  # optional already says it; "" tells nothing more
            prop.pop("default")
        if prop.get("default", 0) is None:  # `list[str] | None = None`: say "array", not anyOf
            prop.pop("default")
            prop.update(next((s for s in prop.pop("anyOf", ()) if s.get("type") != "null"), {}))
    return schema


def warned(
    service: Service, fn: Callable[..., Any], serial: threading.Lock | None = None
) -> Callable[..., Any]:
    """``fn`` whose answer also says what could not be written after the call took effect
    (``warnings``: the call did happen; calling it again would do it twice). It runs in a
    worker thread (the service blocks: files, a lock, a database; never on the event loop);
    ``serial``: one call at a time (in-process use, where every call shares ``service``)."""

    def call(kwargs: dict[str, Any]) -> tuple[Any, list[str]]:
        opened: list[Service] = []
        _OPENED.set(opened)  # in this worker's copy of the request's context: what live() sees
        with serial or nullcontext():
            if serial is not None:
                service.take_warnings()  # the shared service: leftovers of a refused call
            try:
                answer = fn(**kwargs)
            finally:  # taken here, in this thread, also when the call fails (then dropped)
                warnings = [w for s in opened or [service] for w in s.take_warnings()]
        return answer, warnings

    @functools.wraps(fn)
    async def tool(**kwargs: Any) -> Any:
        answer, warnings = await anyio.to_thread.run_sync(call, kwargs)
        if not warnings:
            return answer
        for warning in warnings:
            print(f"orch mcp: warning: {warning}", file=sys.stderr)
        return dump({**json.loads(answer), "warnings": warnings})

    return tool


def tool_annotations(name: str) -> ToolAnnotations:
    read_only, destructive, idempotent = ANNOTATIONS.get(name, (False, False, False))
    return ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
    )


def make_tools(service: Service, who: Identity, board: str | None) -> list[Tool]:
    tools = []
    # One shared service on the file board (in-process use; orch serve --db files): its
    # store's index is not for two threads at once. SQL and memory stores lock themselves.
    shared = board is None or service.shared
    serial = threading.Lock() if shared and service.store.url == "files" else None
    for fn in build_tools(service, who, board):
        tool = Tool.from_function(
            warned(service, fn, serial),
            description=" ".join((fn.__doc__ or "").split()),
            annotations=tool_annotations(fn.__name__),
            structured_output=False,
        )
        tool.parameters = _compact(tool.parameters)
        if who.known:  # still accepted (and refused if it names another agent), not offered
            tool.parameters.get("properties", {}).pop("agent", None)
        tools.append(tool)
    return tools


def build_server(
    service: Service,
    *,
    board: str | None = None,
    agent: str | None = None,
    http: bool = False,
    **options: Any,
) -> MCPServer[Any]:
    """The MCP server of one board (its ``.mcp`` directory, whose config every call re-reads).
    ``options`` go to ``MCPServer`` (auth for HTTP)."""
    who = Identity(agent, http=http)
    fresh = live(service, board)
    extras = Live(Reader(lambda: reader_of(service, board), board), who.current)
    server: MCPServer[Any] = MCPServer(
        "orch",
        version=package_version(),
        instructions=INSTRUCTIONS,
        tools=make_tools(service, who, board),
        log_level="WARNING",
        lifespan=mcp_live.lifespan,
        middleware=[extras.middleware],
        **options,
    )
    extras.install(server)

    add_resources(server, fresh, error_text)
    add_prompts(server)
    return server


def package_version() -> str:
    """The installed mcp-orch's version, which the server reports in its serverInfo."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcp-orch")
    except PackageNotFoundError:  # run from a source tree without installing
        from .. import __version__

        return __version__


def agent_from_env() -> str | None:
    return os.environ.get("ORCH_AGENT", "").strip() or None


def run_stdio(service: Service, board: str, agent: str | None) -> None:
    build_server(service, board=board, agent=agent).run("stdio")
