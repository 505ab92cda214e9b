"""File-system primitives of the board: the lock, atomic writes, and clear storage errors."""

from __future__ import annotations

import errno
import marshal
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..domain.errors import StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: not supported yet (see README)
    fcntl = None  # type: ignore[assignment]

LOCK_TIMEOUT_S = 30.0

_REASONS = {
    errno.ENOSPC: ("the disk is full", "free some space and run the command again"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space and run the command again"),
    errno.EACCES: ("permission denied", "check the owner and mode of the .mcp/ folder"),
    errno.EPERM: ("permission denied", "check the owner and mode of the .mcp/ folder"),
    errno.EFBIG: (
        "a file would exceed the size this process may write",
        "raise the file size limit (ulimit -f) and run the command again",
    ),
    errno.EROFS: ("the file system is read-only", "run orch where the board can be written"),
    errno.ENOENT: ("a file or folder is missing", "run 'orch doctor' to check the board"),
}


def os_reason(exc: OSError) -> tuple[str, str]:
    """What went wrong in words, and what to do about it."""
    return _REASONS.get(exc.errno or 0, (exc.strerror or str(exc), "see the message"))


def storage_error(exc: OSError, action: str) -> StorageError:
    """An ``OSError`` as a message a person can act on (nothing was changed)."""
    reason, hint = os_reason(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return StorageError(f"could not {action}: {reason}{where}; nothing was changed", hint)


@contextmanager
def board_lock(
    path: str, timeout: float = LOCK_TIMEOUT_S, *, shared: bool = False
) -> Iterator[None]:
    """Hold the board's lock (``flock``: released by the kernel if we are killed).

    Writers hold it exclusively for a whole read-check-write. Readers hold it shared for the
    length of one scan of the folders, so a move never lands between the scans of two folders
    (which would show a task twice, or not at all); readers never wait for each other. A reader
    that cannot open the lock (a read-only checkout) reads without it.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if shared:
            yield
            return
        raise storage_error(exc, "open the board lock") from exc
    mode = 0 if fcntl is None else (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
    try:
        if fcntl is not None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StorageError(
                            f"the board is locked by another orch process for over {timeout:.0f}s",
                            f"check for a hung orch process; the lock is {path}",
                        ) from None
                    time.sleep(0.002)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, text: str | bytes, *, durable: bool = True) -> None:
    """Write ``text`` to ``path`` so that a reader or a crash sees the old or the new file whole.

    A temp file in the same directory (hidden, so the board never lists it), fsync, rename over
    the target, fsync the directory so the rename itself survives a power cut. Caches pass
    ``durable=False``: losing one to a power cut costs a rebuild, not data, and the two fsyncs
    are the slowest part of a write.
    """
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise storage_error(exc, f"write {name}") from exc
    if durable:
        fsync_dir(folder)


def remove_if_present(path: str) -> None:
    """Remove ``path``; one that is already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def load_cache(path: str) -> dict[str, object]:
    """A cache file ``save_cache`` wrote; empty if it is missing or damaged (rebuild it)."""
    try:
        with open(path, "rb") as handle:
            data = marshal.loads(handle.read())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def save_cache(path: str, data: dict[str, object]) -> bool:
    """Write a cache (marshal, not JSON: built in, no import, and it loads a 10,000-task index
    ~5x faster; not fsynced: a cache can always be rebuilt); False if that failed."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, marshal.dumps(data), durable=False)
    except (OSError, ValueError, StorageError):  # ValueError: a value marshal cannot store
        return False  # only a cache: what it holds stays in the files
    return True


def open_append(path: str) -> int:
    """A descriptor that appends to ``path`` (created, with its folder, when missing).

    Read and write: ``append_line`` reads the last byte to see whether a torn line ends the file.
    """
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise storage_error(exc, f"open {os.path.basename(path)} for appending") from exc


def append_line(fd: int, line: str) -> None:
    """Append one whole line, or nothing: the line is one ``write`` in append mode (whole
    lines, never interleaved); a write cut short (a full disk, a file size limit) is taken back
    by truncating to the old size, and the ``OSError`` raised.

    A file that does not end in a newline ends in a torn line (a writer that could not take its
    piece back): a newline goes first, so the torn piece never swallows this line. A lone
    surrogate (from undecodable command-line bytes) is written as its ``\\udcXX`` escape, which
    inside a JSON string is that same character.
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8", "backslashreplace")
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        data = b"\n" + data
    written = 0
    try:
        while written < len(data):
            # The first write is normally the whole line; a short one is followed by a second,
            # which either finishes the line or raises the reason (ENOSPC, EFBIG).
            written += os.write(fd, data[written:])
    except OSError:
        if written:
            _take_back(fd, size, written)
        raise


def _take_back(fd: int, size: int, written: int) -> None:
    """Truncate a torn append away, unless someone appended after it (then a reader skips it)."""
    try:
        if os.fstat(fd).st_size == size + written:
            os.ftruncate(fd, size)
    except OSError:
        pass
