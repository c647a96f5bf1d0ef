"""FIFO queues: which messages a group may deliver now, and how deduplication ids are scoped.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html"""

from __future__ import annotations

import hashlib

import pytest

from portside.services.sqs.fifo import (
    Attempt,
    GroupGate,
    ReceiveAttempts,
    content_deduplication_id,
    deduplication_scope,
    sequence_number,
)


@pytest.mark.parametrize("invisible, candidate, admitted", [
    ([], ("g", 5), True),
    ([("g", 1, True)], ("g", 5), False),  # a message of the group is in flight
    ([("g", 9, True)], ("g", 5), False),  # in flight, even a later one, closes the group
    ([("h", 1, True)], ("g", 5), True),  # other groups are not held
    ([("g", 3, False)], ("g", 5), False),  # an earlier message is still delayed
    ([("g", 7, False)], ("g", 5), True),  # a later delayed message holds back nothing earlier
    ([("g", 7, False), ("g", 2, False)], ("g", 5), False),
])
def test_group_gate(invisible, candidate, admitted):
    assert GroupGate(invisible).admits(*candidate) is admitted


def test_content_based_deduplication_uses_the_sha256_of_the_body():
    assert content_deduplication_id("body") == hashlib.sha256(b"body").hexdigest()


def test_deduplication_scope_per_queue_or_per_group():
    assert deduplication_scope("d", "g1", per_group=False) == \
        deduplication_scope("d", "g2", per_group=False)
    assert deduplication_scope("d", "g1", per_group=True) != \
        deduplication_scope("d", "g2", per_group=True)


def test_sequence_numbers_sort_in_send_order():
    numbers = [sequence_number(i) for i in (1, 9, 10, 12345678901)]
    assert numbers == sorted(numbers) and all(len(n) == 20 for n in numbers)


def test_receive_attempts_last_five_minutes():
    attempts = ReceiveAttempts()
    attempts.remember(1, "a", Attempt(100.0, ((1, "t"),), 30))
    assert attempts.recall(1, "a", 99.0) is not None
    assert attempts.recall(2, "a", 99.0) is None
    assert attempts.recall(1, "a", 100.0) is None
    attempts.forget_expired(100.0)
    assert attempts.recall(1, "a", 0.0) is None
