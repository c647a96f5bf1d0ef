"""Queue names, URLs and ARNs: what clients send and what portside answers.

A queue URL is `http://<host>/<account>/<name>` with the host the client reached portside by,
so that the URL works from where it was asked. Users copy URLs between machines and SDKs build
them (`https://sqs.<region>.amazonaws.com/…`, the legacy `https://<region>.queue.amazonaws.com/…`),
so any scheme and host is accepted as long as the path names the account and the queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")
FIFO_SUFFIX = ".fifo"
MAX_NAME_LENGTH = 80  # the .fifo suffix included

_ACCOUNT = re.compile(r"[0-9]{12}")
_NAME_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?/(?P<account>[^/?#]+)/(?P<name>[^/?#]+)/?"
                  r"(?:[?#].*)?", re.DOTALL)
_ARN = re.compile(r"arn:[a-z-]+:sqs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):(?P<name>[^:]+)")


@dataclass(frozen=True)
class QueueRef:
    """A queue as a URL or an ARN names it; the region comes from the request."""

    account_id: str
    name: str


def is_fifo_name(name: str) -> bool:
    return name.endswith(FIFO_SUFFIX)


def is_valid_name(name: str) -> bool:
    """1 to 80 characters of alphanumerics, hyphens and underscores; FIFO names end in .fifo.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"""
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        return False
    base = name[: -len(FIFO_SUFFIX)] if is_fifo_name(name) else name
    return _NAME_CHARS.fullmatch(base) is not None


def queue_url(host: str, account_id: str, name: str) -> str:
    return f"http://{host}/{account_id}/{name}"


def parse_queue_url(url: str) -> QueueRef | None:
    """The account and name a queue URL's path gives, or None when it names no queue."""
    return _remembered(_parse_queue_url, url)


def _parse_queue_url(url: str) -> QueueRef | None:
    match = _URL.fullmatch(url)
    if match is None or not _ACCOUNT.fullmatch(match["account"]):
        return None
    if not is_valid_name(match["name"]):
        return None
    return QueueRef(match["account"], match["name"])


def queue_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{name}"


def parse_queue_arn(arn: str) -> tuple[str, QueueRef] | None:
    """The region and queue an SQS queue ARN names, or None for anything else."""
    return _remembered(_parse_queue_arn, arn)


def _parse_queue_arn(arn: str) -> tuple[str, QueueRef] | None:
    match = _ARN.fullmatch(arn)
    if match is None or not is_valid_name(match["name"]):
        return None
    return match["region"], QueueRef(match["account"], match["name"])


_REMEMBERED_LENGTH = 512  # longer text is parsed every time: the cache holds no caller's megabytes


@lru_cache(maxsize=4096)
def _remember(parse: Callable[[str], T], text: str) -> T:
    return parse(text)


def _remembered(parse: Callable[[str], T], text: str) -> T:
    """`parse(text)`, remembered for short text: every message call parses its queue's URL
    twice (for IAM and for the handler) and its ARN once (for the queue's policy)."""
    return _remember(parse, text) if len(text) <= _REMEMBERED_LENGTH else parse(text)
