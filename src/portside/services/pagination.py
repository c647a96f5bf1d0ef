"""Keyset paging for list operations: an opaque NextToken that names the last item returned.

A token holds the sort key of the page's last item, not an offset, so items created or
deleted between two calls neither repeat nor hide others. Tokens are scoped to one listing
(`scope`): a token of another operation, or not issued by portside, is refused with the
service's own error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from portside.protocol.errors import AwsError

T = TypeVar("T")
Key = list[Any]  # JSON-able values compared in order, e.g. [created, name]


def encode_token(scope: str, key: Key) -> str:
    return base64.urlsafe_b64encode(f"{scope}\n{json.dumps(key)}".encode()).decode()


def decode_token(scope: str, token: str, invalid: Callable[[], AwsError]) -> Key:
    """The key a token of `scope` names; `invalid()` is raised for any other token."""
    try:
        found, _, text = base64.urlsafe_b64decode(token.encode("ascii")).decode().partition("\n")
        key = json.loads(text) if found == scope else None
    except (UnicodeError, binascii.Error, ValueError):
        key = None
    if not isinstance(key, list):
        raise invalid()
    return key


def page(items: Sequence[T], key: Callable[[T], Key], limit: int, token: str | None, *,
         scope: str, invalid: Callable[[], AwsError],
         descending: bool = False) -> tuple[list[T], str | None]:
    """The page of `items` (already in listing order, by `key`) after `token`, at most `limit`
    long, and the token for the next page when more remain."""
    start = 0
    if token:
        after = decode_token(scope, token, invalid)
        try:
            start = next((i for i, item in enumerate(items)
                          if (key(item) < after if descending else key(item) > after)),
                         len(items))
        except TypeError:  # a key of other types than this listing's
            raise invalid() from None
    chunk = list(items[start:start + limit])
    more = start + limit < len(items)
    return chunk, encode_token(scope, key(chunk[-1])) if more and chunk else None
