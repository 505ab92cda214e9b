"""The operation log's health, for ``orch doctor``: torn lines.

Appends are all-or-nothing (``fsutil.append_line``), but a log can still hold a torn line: one
written before they were, or one whose piece could not be taken back (the truncate failed
too). A torn line starts with a piece of an event that never finished; when the next event was
appended to it, that whole event follows the piece on the same line. A repair drops only the
pieces: every whole event is kept byte for byte, in its place.
"""

from __future__ import annotations

import json

from ..domain.record import Record
from .eventlog import read_event


class TornLine(Record):
    line: int  # 1-based
    piece: int  # bytes of the unfinished event
    kept: bool  # a whole event followed the piece on the same line (a repair keeps it)


def scan(data: bytes) -> tuple[list[TornLine], bytes]:
    """The torn lines in the log's bytes, and the bytes with their pieces removed."""
    torn: list[TornLine] = []
    out: list[bytes] = []
    for number, raw in enumerate(data.splitlines(keepends=True), 1):
        text = raw.decode("utf-8", "replace")
        start, event = read_event(text, json.loads)
        if start == 0:
            out.append(raw if raw.endswith(b"\n") else raw + b"\n")
            continue
        whole = text[start:].encode("utf-8") if event is not None else b""
        torn.append(
            TornLine(
                line=number,
                piece=len(raw.rstrip(b"\n")) - len(whole.rstrip(b"\n")),
                kept=bool(whole),
            )
        )
        if whole:
            out.append(whole if whole.endswith(b"\n") else whole + b"\n")
    return torn, b"".join(out)
