"""FIFO queues: message groups, deduplication and receive-attempt retries.

- Within a group, messages are delivered in send order, and while one of a group's messages is
  in flight the group delivers nothing else.
- A message whose deduplication id was seen in the last five minutes is accepted but not
  delivered again; content-based deduplication uses the SHA-256 of the body as the id.
- A ReceiveMessage retried with the same ReceiveRequestAttemptId within five minutes returns
  the same messages and receipt handles, as long as none of them changed since.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

DEDUPLICATION_WINDOW = 300.0  # seconds
ATTEMPT_WINDOW = 300.0


def content_deduplication_id(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def deduplication_scope(deduplication_id: str, group_id: str, per_group: bool) -> str:
    """The key a deduplication id is remembered under: with DeduplicationScope messageGroup,
    the same id in two groups names two messages."""
    return f"{group_id}\n{deduplication_id}" if per_group else deduplication_id


def sequence_number(row_id: int) -> str:
    """A message's SequenceNumber: increasing in send order, 20 digits like AWS's."""
    return f"{row_id:020d}"


class GroupGate:
    """Which visible messages of a FIFO queue may be delivered now, given the invisible ones.

    A group with a message in flight is closed. A message still delayed holds back the later
    messages of its group (not the earlier ones)."""

    def __init__(self, invisible: Iterable[tuple[str, int, bool]]) -> None:
        self._closed: set[str] = set()
        self._first_delayed: dict[str, int] = {}
        for group, row_id, in_flight in invisible:
            if in_flight:
                self._closed.add(group)
            elif row_id < self._first_delayed.get(group, row_id + 1):
                self._first_delayed[group] = row_id

    def admits(self, group: str, row_id: int) -> bool:
        if group in self._closed:
            return False
        first_delayed = self._first_delayed.get(group)
        return first_delayed is None or row_id < first_delayed


@dataclass(frozen=True)
class Attempt:
    expires: float
    receipts: tuple[tuple[int, str], ...]  # (row id, receipt token) of the messages returned
    visibility: int


class ReceiveAttempts:
    """ReceiveRequestAttemptIds seen in the last five minutes, per queue. Kept in memory: after
    a restart a retry receives anew, and the messages of the lost attempt come back when their
    visibility timeout ends."""

    def __init__(self) -> None:
        self._attempts: dict[tuple[int, str], Attempt] = {}

    def remember(self, queue_id: int, attempt_id: str, attempt: Attempt) -> None:
        self._attempts[(queue_id, attempt_id)] = attempt

    def recall(self, queue_id: int, attempt_id: str, now: float) -> Attempt | None:
        attempt = self._attempts.get((queue_id, attempt_id))
        return attempt if attempt is not None and attempt.expires > now else None

    def forget_expired(self, now: float) -> None:
        for key in [k for k, a in self._attempts.items() if a.expires <= now]:
            del self._attempts[key]

    def reset(self) -> None:
        self._attempts.clear()
