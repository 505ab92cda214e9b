"""The file board's operation log: ``.mcp/log/orch.jsonl``, one JSON event per line.

Appends are all-or-nothing lines (``fsutil.append_line``); a line that cannot be written after
a change took effect is a warning, never an error (the task file is the commit point).
``EventLog`` is the log half of ``FileStore``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..domain.errors import StorageError
from ..domain.events import Event
from .fsutil import append_line, atomic_write, open_append, os_reason, storage_error

TYPE_CHECKING = False
if TYPE_CHECKING:  # the store imports this module; only the type checker needs the reverse
    from .filetx import FileTx

MAX_EVENTS_READ = 1 << 20  # one read of new log lines; the rest is read on the next call


def _what(event: Event) -> str:
    return f"{event.op} {event.task} was done" if event.outcome == "ok" else f"{event.op} refused"


def read_event(line: str, loads: Callable[[str], object]) -> tuple[int, Event | None]:
    """The event of one log line, and where it starts: 0 for a whole line; for a torn line (a
    piece of an unfinished event, then a whole one: logs written before appends were
    all-or-nothing hold these) the whole event at its end; ``(-1, None)`` when there is none."""
    start = 0
    while start != -1:
        try:
            return start, Event.from_dict(loads(line[start:]))  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError):
            start = line.find('{"', start + 1)  # a quote inside a JSON string is escaped
    return -1, None


class EventLog:
    """The operation log of a board (mixed into ``FileStore``)."""

    log_path: str
    _log_fd: int | None
    _warnings: list[str]
    _tx: FileTx | None

    def record(self, event: Event) -> None:
        """Append one event: in the open transaction, when it commits; outside one (doctor,
        a refused step), now. Never raises: a line that cannot be written is a warning.

        The task file is the commit point; a log line that cannot be written after it is a
        warning (``take_warnings``), so nobody is told to run again what was already done.
        """
        if self._tx is not None:
            self._tx.record(event)
        else:
            self.append_event(event)

    def record_refused(self, event: Event) -> None:
        self.append_event(event)

    def append_event(self, event: Event) -> None:
        try:
            fd = self._log_fd if self._log_fd is not None else open_append(self.log_path)
        except StorageError as exc:
            self._warnings.append(f"{_what(event)}, but {exc.message}")
            return
        import json

        try:
            append_line(fd, json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False))
        except OSError as exc:
            reason, _ = os_reason(exc)
            self._warnings.append(
                f"{_what(event)}, but its line in the operation log could not be written "
                f"({reason}); the board is right, only 'orch log' will not show it"
            )
        finally:
            if fd != self._log_fd:
                os.close(fd)

    def rewrite_log(self, data: bytes) -> None:
        """Replace the log's bytes (doctor's repair of torn lines). Only inside a transaction,
        whose own appends then go to the new file."""
        atomic_write(self.log_path, data)
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = open_append(self.log_path)

    def warn(self, text: str) -> None:
        """Keep what could not be written after a commit point, for ``take_warnings``."""
        self._warnings.append(text)

    def take_warnings(self) -> list[str]:
        """What could not be written after a change took effect; each is returned once."""
        warnings, self._warnings = self._warnings, []
        return warnings

    def events(self, task_id: str | None = None, limit: int = 100) -> list[Event]:
        import json

        try:
            with open(self.log_path, encoding="utf-8") as handle:
                lines = handle.readlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise storage_error(exc, "read the log") from exc
        out: list[Event] = []
        for line in reversed(lines):
            _, event = read_event(line, json.loads)
            if event is None:
                continue  # a torn line, and no whole event after it
            if task_id is None or event.task == task_id:
                out.append(event)
                if len(out) >= limit:
                    break
        return out[::-1]

    def events_after(self, cursor: int | None) -> tuple[list[Event], int]:
        import json

        try:
            size = os.stat(self.log_path).st_size
        except FileNotFoundError:
            return [], 0
        except OSError as exc:
            raise storage_error(exc, "read the log") from exc
        if cursor is None or cursor > size:  # from now on; or the log was replaced: restart
            return [], size
        if cursor == size:
            return [], cursor
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(cursor)
                data = handle.read(min(size - cursor, MAX_EVENTS_READ))
        except OSError as exc:
            raise storage_error(exc, "read the log") from exc
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        if end == 0 and len(data) == MAX_EVENTS_READ:
            return [], cursor + len(data)  # no line ends in a whole read: not a log line
        out: list[Event] = []
        for line in data[:end].splitlines():
            try:
                out.append(Event.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a torn line of a killed writer
        return out, cursor + end
