"""Event notifications: which object changes a bucket reports, in which shape, to whom.

Two destinations are served. `EventBridgeConfiguration` sends every event of the bucket to the
region's default bus as "Object Created" / "Object Deleted"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html). `QueueConfigurations`
send S3's own event message (eventVersion 2.1,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html) to
SQS queues whose event types and key filters match.

Both are appended to the internal event bus inside the transaction that makes the change, so an
event exists exactly when the change does; queue messages are bus events of the internal source
`portside.s3`, which the deliverer (`QueueDeliverer`) sends to SQS at least once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from sqlalchemy import Connection

from portside.auth.identity import PrincipalType
from portside.context import RequestContext
from portside.events import EventBus
from portside.events.bus import BusEvent
from portside.gateway import inprocess
from portside.ids import new_uuid
from portside.protocol.errors import AwsError
from portside.services.s3.errors import error

if TYPE_CHECKING:
    from portside.runtime import Runtime

log = logging.getLogger("portside.s3")

INTERNAL_SOURCE = "portside.s3"  # bus events for portside's own deliverer, not for EventBridge
QUEUE_MESSAGE = "S3 Event Notification"
SERVICE_PRINCIPAL = "s3.amazonaws.com"

EVENT_TYPES = frozenset({
    "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectTagging:*", "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete",
    "s3:ObjectRestore:*", "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete", "s3:ReducedRedundancyLostObject", "s3:Replication:*",
    "s3:LifecycleExpiration:*", "s3:LifecycleTransition", "s3:IntelligentTiering",
    "s3:ObjectAcl:Put", "s3:TestEvent",
})

# EventBridge detail-type and reason of each S3 event name portside emits.
_DETAIL_TYPES = {"ObjectCreated": "Object Created", "ObjectRemoved": "Object Deleted"}
_REASONS = {"ObjectCreated:Put": "PutObject", "ObjectCreated:Copy": "CopyObject",
            "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
            "ObjectRemoved:Delete": "DeleteObject",
            "ObjectRemoved:DeleteMarkerCreated": "DeleteObject"}


@dataclass(frozen=True)
class ObjectEvent:
    """One change to one object, as notifications describe it."""

    name: str  # S3 event name without the `s3:` prefix, e.g. ObjectCreated:Put
    bucket: str
    key: str
    sequencer: str
    size: int | None = None
    etag: str | None = None  # quoted, as stored
    version_id: str | None = None  # only in versioning-enabled (or suspended) buckets


def validate(config: dict[str, Any]) -> None:
    """Refuse what S3 refuses in a NotificationConfiguration before looking at destinations."""
    for kind in ("QueueConfigurations", "TopicConfigurations",
                 "LambdaFunctionConfigurations"):
        for item in config.get(kind) or []:
            for event in item.get("Events") or []:
                if event not in EVENT_TYPES:
                    raise error("InvalidArgument", "The event is not supported for "
                                "notifications", ArgumentName="Event", ArgumentValue=event)
            rules = ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
            names = [r.get("Name", "").lower() for r in rules]
            for name in names:
                if name not in ("prefix", "suffix"):
                    raise error("InvalidArgument", "filter rule name must be either prefix or "
                                "suffix", ArgumentName="FilterRule.Name", ArgumentValue=name)
                if names.count(name) > 1:
                    raise error("InvalidArgument", f"Cannot specify more than one {name} rule "
                                "in a filter.", ArgumentName="FilterRule.Name",
                                ArgumentValue=name)


def unreachable_destinations(arns_and_reasons: list[tuple[str, str]]) -> AwsError:
    fields: dict[str, str] = {}
    for i, (arn, reason) in enumerate(arns_and_reasons, start=1):
        fields[f"ArgumentName{i}"] = arn
        fields[f"ArgumentValue{i}"] = reason
    return error("InvalidArgument", "Unable to validate the following destination "
                 "configurations", **fields)


def _filter_matches(item: dict[str, Any], key: str) -> bool:
    for rule in ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        name, value = rule.get("Name", "").lower(), rule.get("Value", "")
        if name == "prefix" and not key.startswith(value):
            return False
        if name == "suffix" and not key.endswith(value):
            return False
    return True


def _event_matches(patterns: list[str], name: str) -> bool:
    full = f"s3:{name}"
    return any(p == full or (p.endswith(":*") and full.startswith(p[:-1])) for p in patterns)


def matching_queues(config: dict[str, Any], event: ObjectEvent) -> list[dict[str, Any]]:
    return [q for q in config.get("QueueConfigurations") or []
            if _event_matches(q.get("Events") or [], event.name)
            and _filter_matches(q, event.key)]


def _iso_millis(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def event_record(ctx: RequestContext, event: ObjectEvent, owner: str, configuration_id: str,
                 when: datetime) -> dict[str, Any]:
    """One entry of an S3 event message's Records."""
    obj: dict[str, Any] = {"key": quote_plus(event.key, safe="/")}
    if event.size is not None:
        obj["size"] = event.size
    if event.etag is not None:
        obj["eTag"] = event.etag.strip('"')
    if event.version_id is not None:
        obj["versionId"] = event.version_id
    obj["sequencer"] = event.sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": ctx.region,
        "eventTime": _iso_millis(when),
        "eventName": event.name,
        "userIdentity": {"principalId": _principal_id(ctx)},
        "requestParameters": {"sourceIPAddress": ctx.source_ip},
        "responseElements": {"x-amz-request-id": ctx.request_id,
                             "x-amz-id-2": ctx.request_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": event.bucket, "ownerIdentity": {"principalId": owner},
                       "arn": f"arn:aws:s3:::{event.bucket}"},
            "object": obj,
        },
    }


def eventbridge_event(ctx: RequestContext, event: ObjectEvent, owner: str,
                      when: datetime) -> dict[str, Any]:
    """The event EventBridge receives for a bucket with EventBridgeConfiguration."""
    obj: dict[str, Any] = {"key": event.key}
    if event.size is not None:
        obj["size"] = event.size
    if event.etag is not None:
        obj["etag"] = event.etag.strip('"')
    if event.version_id is not None:
        obj["version-id"] = event.version_id
    obj["sequencer"] = event.sequencer
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": event.bucket},
        "object": obj,
        "request-id": ctx.request_id,
        "requester": ctx.account_id,
        "source-ip-address": ctx.source_ip,
        "reason": _REASONS[event.name],
    }
    if event.name.startswith("ObjectRemoved"):
        detail["deletion-type"] = ("Delete Marker Created"
                                   if event.name.endswith("DeleteMarkerCreated")
                                   else "Permanently Deleted")
    return {
        "version": "0",
        "id": new_uuid(),
        "detail-type": _DETAIL_TYPES[event.name.split(":")[0]],
        "source": "aws.s3",
        "account": owner,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": ctx.region,
        "resources": [f"arn:aws:s3:::{event.bucket}"],
        "detail": detail,
    }


def publish(bus: EventBus, conn: Connection, ctx: RequestContext, config: dict[str, Any] | None,
            owner: str, region: str, event: ObjectEvent) -> None:
    """Append what `event` notifies under the bucket's configuration, in the caller's
    transaction."""
    if not config:
        return
    when = datetime.now(UTC)
    if "EventBridgeConfiguration" in config and event.name in _REASONS:
        bus.publish(conn, owner, region, eventbridge_event(ctx, event, owner, when))
    for queue in matching_queues(config, event):
        record = event_record(ctx, event, owner, queue.get("Id") or "", when)
        _publish_message(bus, conn, owner, region, queue["QueueArn"], event.bucket,
                         {"Records": [record]})


def publish_test_event(bus: EventBus, conn: Connection, ctx: RequestContext, owner: str,
                       region: str, bucket: str, queue_arns: list[str]) -> None:
    """S3 sends each queue of a new configuration a test message."""
    message = {"Service": "Amazon S3", "Event": "s3:TestEvent",
               "Time": _iso_millis(datetime.now(UTC)), "Bucket": bucket,
               "RequestId": ctx.request_id, "HostId": ctx.request_id}
    for arn in queue_arns:
        _publish_message(bus, conn, owner, region, arn, bucket, message)


def _publish_message(bus: EventBus, conn: Connection, owner: str, region: str, queue_arn: str,
                     bucket: str, message: dict[str, Any]) -> None:
    bus.publish(conn, owner, region, {
        "source": INTERNAL_SOURCE, "detail-type": QUEUE_MESSAGE,
        "detail": {"queueArn": queue_arn, "bucket": bucket,
                   "message": json.dumps(message, separators=(",", ":"))},
    })


def _principal_id(ctx: RequestContext) -> str:
    principal = ctx.principal
    if principal.type is PrincipalType.ROOT:
        return principal.account_id
    return f"AWS:{principal.user_id}" if principal.user_id else "Anonymous"


@dataclass(frozen=True)
class QueueTarget:
    """A queue as S3 sends to it: its URL, and the context of S3's service principal acting for
    the bucket — the queue policy sees aws:SourceArn (the bucket) and aws:SourceAccount (its
    owner), as AWS's walkthrough policy expects."""

    url: str
    ctx: RequestContext


def queue_target(queue_arn: str, bucket: str, owner: str) -> QueueTarget | None:
    """The target for a queue ARN; None for an ARN that names no queue."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        return None
    region, account, name = parts[3], parts[4], parts[5]
    ctx = inprocess.service_context(SERVICE_PRINCIPAL, owner, region,
                                    source_arn=f"arn:aws:s3:::{bucket}")
    ctx.user_agent = "portside-s3"
    return QueueTarget(f"http://localhost/{account}/{name}", ctx)


class QueueDeliverer:
    """The bus subscriber that sends S3 event messages to SQS as s3.amazonaws.com, through the
    same authorization as any caller: the queue policy must allow it. A queue that no longer
    exists or no longer lets S3 send drops the message, as S3 does; any other failure raises,
    and the bus delivers the batch again."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, events: list[BusEvent]) -> None:
        for bus_event in events:
            event = bus_event.event
            if event.get("source") != INTERNAL_SOURCE or event.get(
                    "detail-type") != QUEUE_MESSAGE:
                continue
            detail = event["detail"]
            await self._send(detail["queueArn"], detail.get("bucket", ""), bus_event.account_id,
                             detail["message"])

    async def _send(self, queue_arn: str, bucket: str, owner: str, body: str) -> None:
        target = queue_target(queue_arn, bucket, owner)
        if target is None:
            log.warning("dropping an S3 event message for %s: not a queue", queue_arn)
            return
        try:
            await inprocess.call(self.runtime, target.ctx, "sqs", "SendMessage",
                                 {"QueueUrl": target.url, "MessageBody": body})
        except AwsError as exc:
            if not exc.sender_fault:
                raise  # the queue is there but failed: try again later
            log.warning("dropping an S3 event message for %s: %s %s", queue_arn, exc.code,
                        exc.message)
