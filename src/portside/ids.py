"""Identifiers that need to be unique, not secret: request ids, event ids.

`uuid.uuid4()` reads the kernel's random source on every call; a per-process PRNG is several
times cheaper on the request path. Secrets (keys, tokens) use the `secrets` module instead.
"""

from __future__ import annotations

import random

_random = random.Random()
# RFC 4122 version 4: the version nibble 4, the variant bits 10.
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid() -> str:
    """A random (version 4) UUID in its canonical text, formatted directly: building a
    `uuid.UUID` to print it cost several times as much, and RunTask makes two per task."""
    digits = f"{(_random.getrandbits(128) & _CLEAR) | _SET:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
