"""Queue attributes: which exist, their defaults, their valid values, and the two JSON policies
(RedrivePolicy, RedriveAllowPolicy) SQS reads out of them.

Values travel as strings. A queue stores every settable attribute it has (defaults included), so
GetQueueAttributes answers from what is stored; the counters and timestamps are computed.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from portside.auth.policy import MalformedPolicy, PolicyKind, parse_policy
from portside.protocol.errors import AwsError, error
from portside.services.sqs.names import parse_queue_arn

# Computed on every GetQueueAttributes, never set.
COMPUTED = (
    "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
)
MAX_RECEIVE_COUNT = 1000
MAX_REDRIVE_SOURCES = 10
REDRIVE_PERMISSIONS = ("allowAll", "denyAll", "byQueue")


class InvalidValue(ValueError):
    """An attribute value outside its range; the message is the reason, if AWS gives one."""


Parser = Callable[[str], str]


def _integer(low: int, high: int) -> Parser:
    def parse(value: str) -> str:
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
            raise InvalidValue("")
        return str(int(text))

    return parse


def _choice(*allowed: str) -> Parser:
    def parse(value: str) -> str:
        if value not in allowed:
            raise InvalidValue("")
        return value

    return parse


def _boolean(value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise InvalidValue("")
    return value.lower()


def _any_text(value: str) -> str:
    return value


def _policy(value: str) -> str:
    try:
        parse_policy(value, PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise InvalidValue(exc.reason) from None
    return value


@dataclass(frozen=True)
class Redrive:
    """A RedrivePolicy: where messages go after `max_receive_count` receives."""

    dead_letter_target_arn: str
    max_receive_count: int

    def to_json(self) -> str:
        return json.dumps({"deadLetterTargetArn": self.dead_letter_target_arn,
                           "maxReceiveCount": self.max_receive_count}, separators=(",", ":"))


@dataclass(frozen=True)
class RedriveAllow:
    """A RedriveAllowPolicy: which source queues may name this queue as their dead-letter queue."""

    redrive_permission: str
    source_queue_arns: tuple[str, ...] = ()

    def allows(self, source_arn: str) -> bool:
        if self.redrive_permission == "byQueue":
            return source_arn in self.source_queue_arns
        return self.redrive_permission == "allowAll"

    def to_json(self) -> str:
        document: dict[str, object] = {"redrivePermission": self.redrive_permission}
        if self.redrive_permission == "byQueue":
            document["sourceQueueArns"] = list(self.source_queue_arns)
        return json.dumps(document, separators=(",", ":"))


def parse_redrive(value: str) -> Redrive:
    """A RedrivePolicy's JSON; maxReceiveCount may be a number or a numeric string."""
    document = _json_object(value)
    target = document.get("deadLetterTargetArn")
    if not isinstance(target, str) or parse_queue_arn(target) is None:
        raise InvalidValue("Invalid value for deadLetterTargetArn.")
    count = document.get("maxReceiveCount")
    if isinstance(count, str) and count.strip().isascii() and count.strip().isdigit():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or \
            not 1 <= count <= MAX_RECEIVE_COUNT:
        raise InvalidValue(f"Invalid value for maxReceiveCount: {count}, valid values are from "
                           f"1 to {MAX_RECEIVE_COUNT} both inclusive.")
    if set(document) - {"deadLetterTargetArn", "maxReceiveCount"}:
        raise InvalidValue("Only deadLetterTargetArn and maxReceiveCount are allowed.")
    return Redrive(target, count)


def parse_redrive_allow(value: str) -> RedriveAllow:
    document = _json_object(value)
    permission = document.get("redrivePermission")
    if permission not in REDRIVE_PERMISSIONS:
        raise InvalidValue("Invalid value for redrivePermission.")
    sources = document.get("sourceQueueArns")
    if permission != "byQueue":
        if sources is not None:
            raise InvalidValue("sourceQueueArns can be set only when redrivePermission is "
                               "byQueue.")
        return RedriveAllow(permission)
    if not isinstance(sources, list) or not 1 <= len(sources) <= MAX_REDRIVE_SOURCES or \
            not all(isinstance(a, str) and parse_queue_arn(a) for a in sources):
        raise InvalidValue(f"sourceQueueArns must list 1 to {MAX_REDRIVE_SOURCES} queue ARNs "
                           "when redrivePermission is byQueue.")
    if set(document) - {"redrivePermission", "sourceQueueArns"}:
        raise InvalidValue("Only redrivePermission and sourceQueueArns are allowed.")
    return RedriveAllow(permission, tuple(sources))


def _json_object(value: str) -> dict:
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        raise InvalidValue("Not valid JSON.") from None
    if not isinstance(document, dict):
        raise InvalidValue("Not a JSON object.")
    return document


@dataclass(frozen=True)
class Attribute:
    parse: Parser
    default: str | None = None  # None: absent until set
    fifo_only: bool = False
    create_only: bool = False
    removable: bool = False  # setting "" removes it


SETTABLE: dict[str, Attribute] = {
    "DelaySeconds": Attribute(_integer(0, 900), "0"),
    "MaximumMessageSize": Attribute(_integer(1024, 1_048_576), "1048576"),
    "MessageRetentionPeriod": Attribute(_integer(60, 1_209_600), "345600"),
    "ReceiveMessageWaitTimeSeconds": Attribute(_integer(0, 20), "0"),
    "VisibilityTimeout": Attribute(_integer(0, 43_200), "30"),
    "Policy": Attribute(_policy, removable=True),
    "RedrivePolicy": Attribute(lambda v: parse_redrive(v).to_json(), removable=True),
    "RedriveAllowPolicy": Attribute(lambda v: parse_redrive_allow(v).to_json(), removable=True),
    "KmsMasterKeyId": Attribute(_any_text, removable=True),
    "KmsDataKeyReusePeriodSeconds": Attribute(_integer(60, 86_400)),
    # New queues get SSE-SQS unless they ask for KMS (Developer Guide, "Encryption at rest").
    "SqsManagedSseEnabled": Attribute(_boolean, "true"),
    # The queue type: given at creation only, and implied by the name (`.fifo`) after that.
    "FifoQueue": Attribute(_boolean, create_only=True),
    "ContentBasedDeduplication": Attribute(_boolean, "false", fifo_only=True),
    "DeduplicationScope": Attribute(_choice("messageGroup", "queue"), "queue", fifo_only=True),
    "FifoThroughputLimit": Attribute(_choice("perQueue", "perMessageGroupId"), "perQueue",
                                     fifo_only=True),
}
KNOWN = frozenset(SETTABLE) | frozenset(COMPUTED)


def normalize(given: Mapping[str, str], *, fifo: bool, creating: bool) -> dict[str, str]:
    """The attributes of a CreateQueue or SetQueueAttributes call in their stored form.

    Raises InvalidAttributeName for a name the queue cannot have, InvalidAttributeValue for a
    value out of range."""
    normalized = {}
    for name, value in given.items():
        attribute = SETTABLE.get(name)
        if attribute is None or (attribute.fifo_only and not fifo) or \
                (attribute.create_only and not creating):
            raise error("InvalidAttributeName", f"Unknown Attribute {name}.")
        if value == "" and attribute.removable:
            normalized[name] = ""
            continue
        try:
            normalized[name] = attribute.parse(value)
        except InvalidValue as exc:
            raise invalid_value(name, str(exc)) from None
    return normalized


def invalid_value(name: str, reason: str = "") -> AwsError:
    message = f"Invalid value for the parameter {name}."
    return error("InvalidAttributeValue", f"{message} Reason: {reason}" if reason else message)


def defaults(fifo: bool) -> dict[str, str]:
    stored = {name: a.default for name, a in SETTABLE.items()
              if a.default is not None and (fifo or not a.fifo_only)}
    return {**stored, "FifoQueue": "true"} if fifo else stored


def apply(stored: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """Stored attributes after normalized changes; an empty value removes an optional one."""
    merged = dict(stored)
    for name, value in changes.items():
        if value == "" and SETTABLE[name].removable:
            merged.pop(name, None)
        else:
            merged[name] = value
    if changes.get("KmsMasterKeyId") and "SqsManagedSseEnabled" not in changes:
        merged["SqsManagedSseEnabled"] = "false"  # one server-side encryption at a time
    if merged.get("KmsMasterKeyId") and "KmsDataKeyReusePeriodSeconds" not in merged:
        merged["KmsDataKeyReusePeriodSeconds"] = "300"
    return merged


def differing(stored: Mapping[str, str], changes: Mapping[str, str]) -> str | None:
    """The first attribute CreateQueue gives a value other than the existing queue's, if any."""
    for name, value in changes.items():
        if stored.get(name, "") != value:
            return name
    return None
