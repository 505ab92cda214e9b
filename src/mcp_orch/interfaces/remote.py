"""The CLI through a running service: ``.mcp/service.json`` and the calls that go through it.

While ``orch serve`` runs for a project it is the board's one writer. It writes
``.mcp/service.json`` (its URL, its pid and a token of its own; mode 0600, git-ignored) and
removes it on exit. A command that writes (``create``, ``claim``, ``submit``, ...) then sends
the service operation it would have run on the files to the service instead, over HTTP/1.1 on
a standard-library socket (no httpx, no web stack, not even ``http.client`` on the CLI's
path), and gets back the very records
the operation returns (``Task``, ``ClaimResult``, ``NextAction``), so what the command prints
and its exit code are the same as on files. A refusal comes back as the same ``OrchError``
subclass, hint included. A stale file (its pid is gone, the port refuses) is ignored: the
command works on the files, as it does with no service.

The wire format is JSON with type tags (``encode``/``decode``): records travel as their fields
in order, enums by value, so nothing is lost on the way (a task keeps its history, notes and
hand-written extras exactly).
"""

from __future__ import annotations

import os
import sys

from ..domain.errors import OrchError, StorageError

# json and threading are imported where they are used: the usual command finds no service
# file (one stat) and must not pay ~2 ms of imports for the case where one runs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from ..service import Service

SERVICE_FILE = "service.json"
ROUTE = "/api/orchestrator/cli"
WAIT_CHUNK_S = 25.0  # a long `next --wait` is several requests: no server thread waits forever

# The service operations a CLI command may send (every one a write, or ``next``).
FORWARDED = frozenset(
    {
        "create",
        "prep",
        "claim",
        "submit",
        "request_changes",
        "complete",
        "fail",
        "add_error",
        "escalate",
        "resolve",
        "check",
        "next_action",
        "wait_next",
        "test_failed",
        "tests_passed",
    }
)


# ---------------------------------------------------------------------- service.json


def service_path(board: str) -> str:
    return os.path.join(board, SERVICE_FILE)


def write_service_file(board: str, url: str, token: str, pid: int | None = None) -> str:
    """Announce a running service to the CLI (``orch serve`` calls this once it listens).

    Several replicas may serve one project folder (PostgreSQL): the file lists every one still
    running: the newest at its top level (``url``, ``pid``, ``token``: what older readers
    read), the others under ``others``, so when one replica stops the CLI goes on through
    another instead of writing the files under a running service. Updated under the board's
    lock, written whole (temp file, rename) with mode 0600 from the start: the token is a
    person's (it may run any step as any agent), so no other user may read it even for a
    moment.
    """
    me = {"url": url.rstrip("/"), "pid": os.getpid() if pid is None else pid, "token": token}
    with _locked(board):
        others = [e for e in _entries(read_service_file(board)) if e.get("token") != token]
        _write(board, [me, *(e for e in others if _alive(e.get("pid")))])
    return service_path(board)


def remove_service_file(board: str, token: str) -> bool:
    """Take this service out of the file (removed when it was the last one running); False
    if the file does not name it."""
    with _locked(board):
        entries = _entries(read_service_file(board))
        if all(e.get("token") != token for e in entries):
            return False
        rest = [e for e in entries if e.get("token") != token and _alive(e.get("pid"))]
        if rest:
            _write(board, rest)
            return True
        try:
            os.unlink(service_path(board))
        except FileNotFoundError:
            return False
    return True


def read_service_file(board: str) -> dict[str, object] | None:
    import json

    try:
        with open(service_path(board), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    return data


def _entries(info: dict[str, object] | None) -> list[dict[str, object]]:
    """The services a file lists: its top level first, then ``others``."""
    if info is None:
        return []
    listed = info.get("others")
    others = listed if isinstance(listed, list) else []
    top = {k: info.get(k) for k in ("url", "pid", "token")}
    return [top, *(e for e in others if isinstance(e, dict) and isinstance(e.get("url"), str))]


def _write(board: str, entries: list[dict[str, object]]) -> None:
    import json

    path = service_path(board)
    data = {**entries[0], "others": entries[1:]}
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _locked(board: str) -> AbstractContextManager[None]:
    from ..board.fsutil import board_lock

    return board_lock(os.path.join(board, ".lock"))


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


def find_service(board: str) -> Remote | None:
    """The service running for ``board``, or None (no file, or a stale one: pid gone). With
    several replicas listed, the first one still running."""
    if not os.path.exists(service_path(board)):
        return None  # the usual case: one stat, nothing imported
    for info in _entries(read_service_file(board)):
        if _alive(info.get("pid")):
            return Remote(str(info["url"]), str(info.get("token", "")))
    return None


# ---------------------------------------------------------------------- the wire format


def encode(value: object) -> object:
    """``value`` as JSON data that ``decode`` turns back into the same records."""
    from enum import Enum

    if value is None or (isinstance(value, bool | int | float) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return {"$e": type(value).__name__, "v": value.value}
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"$r": type(value).__name__, "f": [encode(v) for v in value]}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"$d": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot send a {type(value).__name__} to or from the service")


def _types() -> dict[str, type]:
    """Every record and enum an operation takes or returns, by class name."""
    from ..domain import model, ops, policy
    from ..service import base, handoff
    from ..store import Problem, Snapshot

    found: dict[str, type] = {}
    for module in (model, ops, policy, base, handoff):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and (hasattr(obj, "_fields") or hasattr(obj, "__members__")):
                found.setdefault(name, obj)
    found.update(Problem=Problem, Snapshot=Snapshot)
    return found


def decode(data: object, types: dict[str, type] | None = None) -> object:
    """The value ``encode`` made ``data`` of (lists become tuples, as records hold them)."""
    if isinstance(data, list):
        return tuple(decode(v, types) for v in data)
    if not isinstance(data, dict):
        return data
    types = types if types is not None else _types()
    if "$r" in data or "$e" in data:
        name = str(data.get("$r") or data.get("$e"))
        cls = types.get(name)
        if cls is None:
            raise ValueError(f"the service sent a {name}, which this orch does not know")
        if "$e" in data:
            return cls(data["v"])
        return cls(*(decode(v, types) for v in data["f"]))
    if "$d" in data:
        return {decode(k, types): decode(v, types) for k, v in data["$d"]}
    return {k: decode(v, types) for k, v in data.items()}


def error_data(exc: OrchError) -> dict[str, object]:
    """An ``OrchError`` as the API's error body, plus what rebuilds it exactly (``raise_error``)."""
    extra = {k: v for k, v in vars(exc).items() if k not in ("message", "hint_parts")}
    return {
        "error": {"code": exc.code, "message": exc.message, "hint": exc.hint},
        "raw": {
            "class": type(exc).__name__,
            "exit_code": exc.exit_code,
            "hint_parts": encode(exc.hint_parts),
            "extra": {k: v for k, v in extra.items() if isinstance(v, str | int)},
        },
    }


def _error_classes() -> dict[str, type[OrchError]]:
    found: dict[str, type[OrchError]] = {}
    todo: list[type[OrchError]] = [OrchError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return found


def rebuild_error(body: dict[str, object]) -> OrchError:
    """The ``OrchError`` the service raised, from its error body (a plain ``OrchError`` with
    the same code, message and exit code when this orch does not know its class)."""
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(err, dict)
    raw = body.get("raw") if isinstance(body.get("raw"), dict) else {}
    assert isinstance(raw, dict)
    message = str(err.get("message", "the service refused"))
    hint = decode(raw["hint_parts"]) if "hint_parts" in raw else str(err.get("hint", ""))
    cls = _error_classes().get(str(raw.get("class", "")), OrchError)
    exc = cls.__new__(cls)
    OrchError.__init__(exc, message, hint)  # type: ignore[arg-type]
    for key, value in dict(raw.get("extra") or {}).items():
        setattr(exc, key, value)
    if cls is OrchError:
        exc.code = str(err.get("code", "error"))
        exc.exit_code = int(str(raw.get("exit_code", 1)))
    return exc


# ---------------------------------------------------------------------- the client


class Unreachable(Exception):
    """The service did not take the request at all (nothing was sent): use the files."""


class Remote:
    """One running service, as the CLI talks to it: HTTP/1.1 over a plain socket (the
    standard library's ``http.client`` pulls in the ``email`` package, ~10 ms of a 40 ms
    command; the service's answers are one JSON body with a Content-Length)."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        rest = url.split("://", 1)[-1].split("/", 1)[0]
        if rest.startswith("["):  # [::1]:8700
            host, _, tail = rest[1:].partition("]")
            port = tail.lstrip(":")
        else:
            host, _, port = rest.partition(":")
        self.url = url
        self.host = host or "127.0.0.1"
        self.port = int(port) if port.isdigit() else 80
        self.token = token
        self.timeout = timeout

    def call(self, op: str, args: dict[str, object], timeout: float | None = None) -> object:
        """Run the service operation ``op`` there; its result, or the ``OrchError`` it raised.

        ``Unreachable`` when the connection is refused (nothing was sent, nothing can have
        happened); once the request is sent, a lost answer is a ``StorageError`` that says the
        step may have happened (it is never retried on the files, which could do it twice).
        """
        import json
        import socket

        body = json.dumps({"op": op, "args": encode(args)}).encode("utf-8")
        head = (
            f"POST {ROUTE} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        try:
            conn = socket.create_connection((self.host, self.port), timeout or self.timeout)
        except OSError as exc:
            raise Unreachable(str(exc)) from None
        try:
            conn.sendall(head + body)
            status, data = _response(conn)
        except (OSError, ValueError) as exc:
            raise StorageError(
                f"the service at {self.url} did not answer ({exc}); the step may have happened",
                "look with 'orch show ID' before running it again",
            ) from None
        finally:
            conn.close()
        return self._answer(status, data)

    def _answer(self, status: int, data: bytes) -> object:
        import json

        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise StorageError(
                f"the service at {self.url} answered {status} with no result",
                "see the output of 'orch serve'; stop it to work on the files alone",
            )
        if status >= 400 or "error" in parsed:
            raise rebuild_error(parsed)
        return decode(parsed.get("result"))


def _response(conn: object) -> tuple[int, bytes]:
    """The status and body of one HTTP/1.1 answer on ``conn`` (a socket)."""
    chunks: list[bytes] = []
    while True:
        piece = conn.recv(65536)  # type: ignore[attr-defined]
        if not piece:
            break
        chunks.append(piece)
        data = b"".join(chunks)
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            length = _content_length(data[:end])
            if length is not None and len(data) >= end + 4 + length:
                break
    data = b"".join(chunks)
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("no answer")
    status = int(data.split(b" ", 2)[1])
    length = _content_length(data[:end])
    body = data[end + 4 :]
    return status, body if length is None else body[:length]


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


class RemoteService:
    """A ``Service`` whose writes run in the service: the CLI's handlers use it unchanged.

    The operations in ``FORWARDED`` are sent to the service; everything else (reading a task,
    the board, the config, the clock) is the local file service's, which the service's mirror
    keeps current.
    """

    def __init__(self, local: Service, remote: Remote | None, board: str = "") -> None:
        self._local = local
        self._remote = remote
        self._board = board  # given: look for the service at every call (a long-lived server)
        self._warnings: list[str] = []

    def around(self, fresh: Service) -> Service:
        """A call's own local service, with writes still sent to the running service."""
        stand_in: Service = RemoteService(fresh, self._remote, self._board)  # type: ignore[assignment]
        return stand_in

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:  # e.g. the MCP server's fresh config: the local service runs what stays local
            setattr(self._local, name, value)

    def __getattr__(self, name: str) -> object:
        if name in FORWARDED:
            return self._forward(name)
        return getattr(self._local, name)

    def _forward(self, op: str) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            if self._board:
                self._remote = find_service(self._board)
            if self._remote is None:
                method: Callable[..., object] = getattr(self._local, op)
                return method(*args, **kwargs)
            try:
                if op == "wait_next":
                    return self._wait(list(args), kwargs)
                return self._call(op, {"_args": list(args), **kwargs})
            except Unreachable:
                # Refused before anything was sent (a service that just stopped, a stale
                # file whose pid was reused): nothing happened there, so do it here.
                self._unreachable()
                local: Callable[..., object] = getattr(self._local, op)
                return local(*args, **kwargs)

        return call

    def _unreachable(self) -> None:
        url = self._remote.url if self._remote is not None else "?"
        sys.stderr.write(
            f"orch: note: the service at {url} does not answer; working on the files\n"
        )

    def _call(self, op: str, kwargs: dict[str, object], timeout: float | None = None) -> object:
        assert self._remote is not None
        result = self._remote.call(op, kwargs, timeout)
        if isinstance(result, dict) and "value" in result:
            self._warnings.extend(str(w) for w in result.get("warnings") or ())
            return result["value"]
        return result

    def _wait(self, args: list[object], kwargs: dict[str, object]) -> object:
        """``next --wait`` in pieces of at most ``WAIT_CHUNK_S``: the same answer, and no
        request (nor server thread) is held open for hours."""
        timeout = kwargs.pop("timeout", None)
        clock = self._local.clock
        deadline = None if timeout is None else clock.monotonic() + float(str(timeout))
        while True:
            left = WAIT_CHUNK_S if deadline is None else max(0.0, deadline - clock.monotonic())
            piece = min(left, WAIT_CHUNK_S)
            ask = {"_args": args, **kwargs, "timeout": piece}
            result = self._call("wait_next", ask, timeout=piece + 30)
            action = getattr(getattr(result, "decision", None), "action", "")
            if action not in ("wait", "idle") or (deadline is not None and piece >= left):
                return result

    def take_warnings(self) -> list[str]:
        warnings, self._warnings = self._warnings, []
        return [*warnings, *self._local.take_warnings()]


def through_service(local: Service, board: str, *, every_call: bool = False) -> Service:
    """``local``, or the running service's stand-in for it when one runs for ``board``
    (duck-typed: it answers every attribute a handler uses). ``every_call``: for a process
    that lives long (``orch mcp``), whether a service runs is asked at each call instead."""
    if every_call:
        dynamic: Service = RemoteService(local, None, board)  # type: ignore[assignment]
        return dynamic
    remote = find_service(board)
    if remote is None:
        return local
    stand_in: Service = RemoteService(local, remote)  # type: ignore[assignment]
    return stand_in


def heartbeats(board: str, agent: str, every: float, stop: threading.Event) -> threading.Thread:
    """While ``stop`` is not set, tell the running service (if any) every ``every`` seconds
    that ``agent`` is alive: an editor's MCP session (``orch mcp``) is its agent's heartbeat,
    so agents write no code for it. A service that is not there, or refuses, is asked again
    next time; nothing is said (the session works on the files meanwhile)."""
    import threading

    def beat() -> None:
        while not stop.wait(every):
            remote = find_service(board)
            if remote is None:
                continue
            try:
                remote.call("agents.heartbeat", {"_args": [agent]}, timeout=every)
            except (Unreachable, OrchError):
                continue

    thread = threading.Thread(target=beat, name="orch-heartbeat", daemon=True)
    thread.start()
    return thread
