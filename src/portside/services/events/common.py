"""What the EventBridge handler families share: AWS's errors, paging, tags, time."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from portside.protocol.errors import AwsError, error

Request = dict[str, Any]
Response = dict[str, Any]
T = TypeVar("T")

MAX_PAGE = 100


def validation(message: str) -> AwsError:
    return error("ValidationException", message)


def rule_not_found(name: str, bus: str) -> AwsError:
    return error("ResourceNotFoundException", f"Rule {name} does not exist on EventBus {bus}.")


def bus_not_found(name: str) -> AwsError:
    return error("ResourceNotFoundException", f"Event bus {name} does not exist.")


def page(items: Sequence[T], key: Callable[[T], str],
         request: Request) -> tuple[list[T], str | None]:
    """One page of `items` (sorted by `key`) after the request's NextToken, at most Limit long;
    the token names the last key given, so a listing stays in place while items come and go."""
    limit = request.get("Limit") or MAX_PAGE
    after = _token_key(request["NextToken"]) if request.get("NextToken") else None
    rest = [i for i in items if after is None or key(i) > after]
    chosen = rest[:limit]
    more = len(rest) > limit
    return chosen, _token(key(chosen[-1])) if more and chosen else None


def _token(last: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([last]).encode()).decode()


def _token_key(token: str) -> str:
    try:
        (last,) = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, TypeError):
        raise validation("The nextToken provided is invalid.") from None
    if not isinstance(last, str):
        raise validation("The nextToken provided is invalid.")
    return last


def merge_tags(current: list[dict[str, str]], added: list[dict[str, str]]) -> list[dict[str, str]]:
    """Tags by key, later values winning, in the order keys first appeared."""
    merged = {t["Key"]: t["Value"] for t in current}
    merged.update({t["Key"]: t["Value"] for t in added})
    return [{"Key": k, "Value": v} for k, v in merged.items()]
