"""SendMessage's rules: what a message may carry, and the row and answer it becomes.

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portside.ids import new_uuid
from portside.protocol.errors import error
from portside.services.sqs import message_attributes as attrs
from portside.services.sqs.fifo import content_deduplication_id, deduplication_scope
from portside.services.sqs.registry import Queue

MAX_DELAY = 900
# MessageGroupId and MessageDeduplicationId: 1 to 128 alphanumerics and punctuation.
_TOKEN = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
TRACE_HEADER = "AWSTraceHeader"


@dataclass
class Outgoing:
    """A validated message on its way into a queue."""

    row: dict[str, Any]
    answer: dict[str, Any]  # MessageId and the MD5s; SequenceNumber is added once stored
    scope: str | None = None  # FIFO: the deduplication scope
    entry_id: str | None = None  # batch entries: the caller's Id


def message_size(request: Mapping[str, Any]) -> int:
    """The size SQS limits: the body's UTF-8 bytes and the message attributes' bytes. A lone
    surrogate (JSON can carry one) counts its three bytes; `prepare` refuses it."""
    body = request.get("MessageBody") or ""
    attributes = request.get("MessageAttributes")
    return len(body.encode(errors="surrogatepass")) + (
        attrs.attributes_size(attributes) if attributes else 0)


def prepare(queue: Queue, request: Mapping[str, Any], sender_id: str, now: float,
            size: int) -> Outgoing:
    """Validate one SendMessage request (or batch entry) of `size` (its `message_size`, which a
    batch needs first for its total) for `queue`; raise its AWS error."""
    body = request.get("MessageBody") or ""
    if not body:
        raise error("MissingParameter", "The request must contain the parameter MessageBody.")
    bad = attrs.forbidden_character(body)
    if bad is not None:
        raise error("InvalidMessageContents", f"Invalid binary character '#x{ord(bad):X}' was "
                    "found in the message body, the set of allowed characters is #x9 | #xA | #xD "
                    "| #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
    attributes = request.get("MessageAttributes") or {}
    if attributes:
        attrs.validate_attributes(attributes)
    limit = queue.seconds("MaximumMessageSize")
    if size > limit:
        raise error("InvalidParameterValue", "One or more parameters are invalid. Reason: "
                    f"Message must be shorter than {limit} bytes.")
    system = request.get("MessageSystemAttributes")
    trace_header = _trace_header(system) if system else None
    group_id, deduplication_id = _fifo_ids(queue, request, body)
    message_id = new_uuid()
    answer: dict[str, Any] = {"MessageId": message_id, "MD5OfMessageBody": attrs.body_md5(body)}
    if attributes:
        answer["MD5OfMessageAttributes"] = attrs.attributes_md5(attributes)
    if trace_header is not None:
        answer["MD5OfMessageSystemAttributes"] = attrs.attributes_md5(system)
    row = {
        "queue_id": queue.id, "message_id": message_id, "body": body,
        "sealed_body": None,
        "md5_body": answer["MD5OfMessageBody"],
        "attributes": json.dumps(attrs.to_json(attributes)) if attributes else None,
        "md5_attributes": answer.get("MD5OfMessageAttributes"), "trace_header": trace_header,
        "sender_id": sender_id, "sent": now, "visible_at": now + _delay(queue, request),
        "receive_count": 0, "group_id": group_id, "deduplication_id": deduplication_id,
    }
    scope = deduplication_scope(deduplication_id, group_id, queue.deduplication_per_group) \
        if deduplication_id and group_id and queue.fifo else None
    return Outgoing(row, answer, scope)


def _delay(queue: Queue, request: Mapping[str, Any]) -> int:
    delay = request.get("DelaySeconds")
    if delay is None:
        return queue.seconds("DelaySeconds")
    if queue.fifo and delay != 0:
        # FIFO queues delay whole queues only (SendMessage API reference, DelaySeconds).
        raise error("InvalidParameterValue", f"Value {delay} for parameter DelaySeconds is "
                    "invalid. Reason: The request include parameter that is not valid for this "
                    "queue type.")
    if not 0 <= delay <= MAX_DELAY:
        raise error("InvalidParameterValue", f"Value {delay} for parameter DelaySeconds is "
                    f"invalid. Reason: DelaySeconds must be >= 0 and <= {MAX_DELAY}.")
    return delay


def _trace_header(system: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The AWSTraceHeader system attribute, the only one SendMessage takes."""
    for name, value in system.items():
        if name != TRACE_HEADER or value.get("DataType") != "String" or \
                not value.get("StringValue"):
            raise error("InvalidParameterValue", f"Message system attribute '{name}' is invalid: "
                        f"only {TRACE_HEADER}, of type String with a value, is supported.")
    value = system.get(TRACE_HEADER)
    return value["StringValue"] if value else None


def _fifo_ids(queue: Queue, request: Mapping[str, Any], body: str) -> tuple[str | None, str | None]:
    """MessageGroupId (required by FIFO queues; optional, for fair queues, on standard ones)
    and MessageDeduplicationId (FIFO only; from the body with content-based deduplication)."""
    group_id = request.get("MessageGroupId")
    deduplication_id = request.get("MessageDeduplicationId")
    if group_id is None and deduplication_id is None and not queue.fifo:
        return None, None  # the common case
    for name, value in (("MessageGroupId", group_id),
                        ("MessageDeduplicationId", deduplication_id)):
        if value is not None and not _TOKEN.fullmatch(value):
            raise error("InvalidParameterValue", f"Value {value} for parameter {name} is invalid. "
                        f"Reason: {name} can only include alphanumeric and punctuation "
                        "characters. 1 to 128 in length.")
    if not queue.fifo:
        if deduplication_id is not None:
            raise error("InvalidParameterValue", f"Value {deduplication_id} for parameter "
                        "MessageDeduplicationId is invalid. Reason: The request include "
                        "parameter that is not valid for this queue type.")
        return group_id, None
    if group_id is None:
        raise error("MissingParameter", "The request must contain the parameter MessageGroupId.")
    if deduplication_id is None:
        if not queue.content_based_deduplication:
            raise error("InvalidParameterValue", "The queue should either have "
                        "ContentBasedDeduplication enabled or MessageDeduplicationId provided "
                        "explicitly")
        deduplication_id = content_deduplication_id(body)
    return group_id, deduplication_id
