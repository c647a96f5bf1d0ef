"""Identifiers that need to be unique, not secret: request ids, event ids.

`uuid.uuid4()` reads the kernel's random source on every call; a per-process PRNG is several
times cheaper on the request path. Secrets (keys, tokens) use the `secrets` module instead.
"""

from __future__ import annotations

import random
import uuid

_random = random.Random()


def new_uuid() -> str:
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))
