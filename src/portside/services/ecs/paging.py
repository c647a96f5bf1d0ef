"""ECS paging: `maxResults` (1–100, default 100) and an opaque `nextToken` in, `nextToken`
out while more remain.

The token names the last item of the page by its sort key, not by an offset, so an item
registered or deleted between two calls neither repeats nor hides another one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from portside.protocol.errors import error

T = TypeVar("T")
Key = list[Any]  # a sort key: JSON-able values compared in order, e.g. [family, revision]

MAX_RESULTS = 100
_PREFIX = "portside-ecs:"


def encode_token(key: Key) -> str:
    return base64.urlsafe_b64encode((_PREFIX + json.dumps(key)).encode()).decode()


def decode_token(token: str) -> Key:
    """The sort key a token names; InvalidParameterException for a token portside did not
    issue."""
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode()
        key = json.loads(text[len(_PREFIX):]) if text.startswith(_PREFIX) else None
    except (UnicodeError, binascii.Error, ValueError):
        key = None
    if not isinstance(key, list):
        raise error("InvalidParameterException", "Invalid nextToken.")  # wording: portside
    return key


def page(items: Sequence[T], request: Mapping[str, Any], key: Callable[[T], Key], *,
         descending: bool = False) -> tuple[list[T], dict[str, Any]]:
    """One page of `items`, sorted by `key` (descending when asked), and the paging members
    of the response."""
    limit = request.get("maxResults")
    if limit is None:
        limit = MAX_RESULTS
    elif not 1 <= limit <= MAX_RESULTS:
        raise error("InvalidParameterException",  # wording: portside
                    f"maxResults must be between 1 and {MAX_RESULTS}.")
    start = 0
    if request.get("nextToken"):
        after = decode_token(request["nextToken"])
        start = next((i for i, item in enumerate(items)
                      if _beyond(key(item), after, descending)), len(items))
    chunk = list(items[start:start + limit])
    if start + limit < len(items):
        return chunk, {"nextToken": encode_token(key(chunk[-1]))}
    return chunk, {}


def _beyond(key: Key, after: Key, descending: bool) -> bool:
    try:
        return key < after if descending else key > after
    except TypeError:  # a token whose key has other types than this listing's
        raise error("InvalidParameterException", "Invalid nextToken.") from None
