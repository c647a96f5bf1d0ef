"""What the EventBridge handler families share: AWS's errors, paging, tags."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from portside.protocol.errors import AwsError, error
from portside.services import pagination, tag_lists

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


def page(items: Sequence[T], key: Callable[[T], str], request: Request,
         scope: str) -> tuple[list[T], str | None]:
    """One page of `items` (sorted by `key`) after the request's NextToken, at most Limit
    long: the shared keyset paging, so a listing stays in place while items come and go."""
    return pagination.page(items, lambda item: [key(item)], request.get("Limit") or MAX_PAGE,
                           request.get("NextToken"), scope=scope,
                           invalid=lambda: validation("The nextToken provided is invalid."))


def checked_tags(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """Tags as AWS allows them on a rule or bus: at most 50, none in the `aws:` namespace."""
    tag_lists.check(tags, validation, lambda m: error("LimitExceededException", m))
    return tags
