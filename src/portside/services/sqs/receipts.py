"""Receipt handles: which receive of which message a DeleteMessage or ChangeMessageVisibility
names.

A handle carries the queue, the message's row and the token of one receive. Each receive draws
a new token, so a handle from an earlier receive is recognisably stale ("you must provide the
most recently received receipt handle", DeleteMessage API reference). Handles are opaque to
clients; they need to be unique, not secret.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from dataclasses import dataclass

_VERSION = "r1"
_TOKEN = re.compile(r"[0-9a-f]{16}")
_random = random.Random()


@dataclass(frozen=True)
class Receipt:
    queue_id: int
    row_id: int
    token: str


def new_token() -> str:
    return f"{_random.getrandbits(64):016x}"


def encode_receipt(receipt: Receipt) -> str:
    text = f"{_VERSION}:{receipt.queue_id}:{receipt.row_id}:{receipt.token}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_receipt(handle: str) -> Receipt | None:
    """The receipt a handle names, or None when portside never issued anything like it."""
    try:
        text = base64.urlsafe_b64decode(handle.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error, ValueError):
        return None
    parts = text.split(":")
    if len(parts) != 4 or parts[0] != _VERSION or not _TOKEN.fullmatch(parts[3]):
        return None
    queue_id, row_id = parts[1], parts[2]
    if not (queue_id.isdigit() and row_id.isdigit() and queue_id.isascii() and row_id.isascii()):
        return None
    if len(queue_id) > 19 or len(row_id) > 19:  # 64-bit row ids
        return None
    return Receipt(int(queue_id), int(row_id), parts[3])
