"""IAM's paging: `MaxItems` and `Marker` in, `IsTruncated` and `Marker` out.

The marker names the last item of the page (its sort key), not an offset, so an item deleted
between two calls neither repeats nor hides another one.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from portside.protocol.errors import error

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100
_PREFIX = "portside:"


def encode_marker(key: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + key).encode()).decode()


def decode_marker(marker: str) -> str:
    """The sort key a marker names; InvalidInput for a marker portside did not issue."""
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode()
    except (UnicodeError, binascii.Error, ValueError):
        text = ""
    if not text.startswith(_PREFIX):
        raise error("InvalidInput", "Invalid Marker.")
    return text[len(_PREFIX):]


def page(items: Sequence[T], request: Mapping[str, Any], key: Callable[[T], str],
         default: int = DEFAULT_MAX_ITEMS) -> tuple[list[T], dict[str, Any]]:
    """One page of `items`, which must be sorted by `key` ascending, and the paging members
    of the response (`IsTruncated`, and `Marker` when truncated)."""
    start = 0
    if request.get("Marker"):
        after = decode_marker(request["Marker"])
        start = bisect.bisect_right(items, after, key=key)
    limit = request.get("MaxItems") or default
    chunk = list(items[start:start + limit])
    if start + limit < len(items):
        return chunk, {"IsTruncated": True, "Marker": encode_marker(key(chunk[-1]))}
    return chunk, {"IsTruncated": False}
