"""Received messages as ReceiveMessage answers them: the attributes asked for, and digests that
match exactly what is returned."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from portside.services.sqs import message_attributes as attrs
from portside.services.sqs.delivery import Received
from portside.services.sqs.fifo import sequence_number
from portside.services.sqs.receipts import Receipt, encode_receipt
from portside.services.sqs.registry import Queue

SYSTEM_ATTRIBUTES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                     "ApproximateFirstReceiveTimestamp", "SequenceNumber",
                     "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader",
                     "DeadLetterQueueSourceArn")


@dataclass(frozen=True)
class View:
    """Which attributes a ReceiveMessage asked for."""

    system: frozenset[str]
    message_attributes: tuple[str, ...]

    @classmethod
    def of(cls, request: dict[str, Any]) -> View:
        # AttributeNames is the older name of MessageSystemAttributeNames; both are honoured.
        names = set(request.get("AttributeNames") or ()) | \
            set(request.get("MessageSystemAttributeNames") or ())
        system = frozenset(SYSTEM_ATTRIBUTES) if "All" in names else frozenset(names)
        return cls(system, tuple(request.get("MessageAttributeNames") or ()))

    def render(self, queue: Queue, received: Iterable[Received],
               body: Callable[[Row], str]) -> list[dict[str, Any]]:
        """The messages as ReceiveMessage returns them; `body` gives a row's plaintext body
        (encryption.py)."""
        return [self._message(queue, r, body(r.row)) for r in received]

    def _message(self, queue: Queue, received: Received, body: str) -> dict[str, Any]:
        row = received.row
        message: dict[str, Any] = {
            "MessageId": row.message_id,
            "ReceiptHandle": encode_receipt(Receipt(queue.id, row.id, received.token)),
            "MD5OfBody": row.md5_body,
            "Body": body,
        }
        system = self._system(queue, received) if self.system else {}
        if system:
            message["Attributes"] = system
        if row.attributes and self.message_attributes:
            stored = json.loads(row.attributes)
            chosen = attrs.select_attributes(stored, list(self.message_attributes))
            if chosen:
                values = attrs.from_json(chosen)
                message["MessageAttributes"] = values
                message["MD5OfMessageAttributes"] = row.md5_attributes \
                    if len(chosen) == len(stored) else attrs.attributes_md5(values)
        return message

    def _system(self, queue: Queue, received: Received) -> dict[str, str]:
        row = received.row
        values = {
            "SenderId": row.sender_id,
            "SentTimestamp": _millis(row.sent),
            "ApproximateReceiveCount": str(received.receive_count),
            "ApproximateFirstReceiveTimestamp": _millis(received.first_received),
            "MessageGroupId": row.group_id,
            "AWSTraceHeader": row.trace_header,
            "DeadLetterQueueSourceArn": row.source_arn,
        }
        if queue.fifo:
            values["SequenceNumber"] = sequence_number(row.id)
            values["MessageDeduplicationId"] = row.deduplication_id
        return {k: v for k, v in values.items() if k in self.system and v is not None}


def _millis(seconds: float) -> str:
    return str(int(seconds * 1000))
