"""Task IDs: short, readable, random, so two clones creating tasks at once do not collide.

``T-7k3m9q2x``: a prefix, a dash and eight characters of Crockford-style base32 (no i, l, o,
u), 40 random bits. A sequential "highest + 1" ID collides as soon as two branches create
tasks. A random one can only collide between tasks created where neither saw the other (two
clones, two branches): k such tasks on each side collide with probability about k²/2⁴⁰, one in
a million at 1,000 each. Within one board a collision is detected and drawn again. (Six
characters, 30 bits, would make that one in a thousand.)
"""

from __future__ import annotations

import os
import re

from .errors import InvalidInput
from .ops import op

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
SUFFIX_LEN = 8
_ID_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,7})-([0-9A-Za-z]{3,16})$")
_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,7}$")


def new_id(prefix: str = "T", randbytes: bytes | None = None) -> str:
    """A fresh random ID; ``randbytes`` (at least 5 bytes) may be given for determinism."""
    raw = randbytes if randbytes is not None else os.urandom(5)
    value = int.from_bytes(raw[:5], "big")
    chars = []
    for _ in range(SUFFIX_LEN):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return f"{prefix.upper()}-{''.join(chars)}"


def check_prefix(prefix: str) -> str:
    if not _PREFIX_RE.match(prefix):
        raise InvalidInput(
            f"invalid ID prefix {prefix!r}",
            "use 1-8 letters or digits starting with a letter, e.g. 'T' or 'WEB'",
        )
    return prefix.upper()


def normalize_id(text: str) -> str:
    """Validate an ID typed by a user and return its canonical form (``PREFIX-suffix``).

    Only letters, digits and one dash pass, so an ID can never name a path outside the board.
    """
    match = _ID_RE.match(text.strip())
    if not match:
        raise InvalidInput(
            f"{text!r} is not a task ID",
            ("task IDs look like T-7k3m9q2x; the board lists them: ", op("status")),
        )
    return f"{match.group(1).upper()}-{match.group(2).lower()}"


def looks_like_id(text: str) -> bool:
    return bool(_ID_RE.match(text))
