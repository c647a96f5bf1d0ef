"""PutEvents, and how EventBridge's own events travel on portside's internal bus.

AWS services' events (S3 "Object Created", ECS "ECS Task State Change") are on the internal
bus already in EventBridge's shape; they go to their account's default bus in their region.
An event accepted by PutEvents names its bus, so it travels in an envelope of the internal
source `portside.events` that carries the bus's name, when EventBridge received it, how many
buses forwarded it, and for a scheduled event the one rule it is for.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from portside.context import RequestContext
from portside.ids import new_uuid
from portside.services.base import Service
from portside.services.events.common import Request, Response, validation
from portside.services.events.names import BusRef, bus_ref

INTERNAL_SOURCE = "portside.events"
ENVELOPE = "Event"
MAX_ENTRIES_BYTES = 256 * 1024
TIME_BYTES = 14  # a given Time counts 14 bytes (eb-putevent-size.html)


def envelope(bus: BusRef, event: dict[str, Any], ingested: float, *, rule: str | None = None,
             hops: int = 0) -> dict[str, Any]:
    """The internal bus event carrying `event` to `bus` (and only to `rule`, if given);
    `hops` counts the buses that forwarded it on."""
    detail: dict[str, Any] = {"bus": bus.name, "event": event, "ingested": ingested}
    if rule is not None:
        detail["rule"] = rule
    if hops:
        detail["hops"] = hops
    return {"source": INTERNAL_SOURCE, "detail-type": ENVELOPE, "detail": detail}


def iso(epoch: float) -> str:
    """Event times as EventBridge writes them: `2017-12-22T18:43:48Z`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it: Time 14 bytes, then the UTF-8 bytes of
    Source, DetailType, Detail and each resource."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        size += len((entry.get(member) or "").encode())
    return size + sum(len(r.encode()) for r in entry.get("Resources") or [] if r)


def entry_error(entry: dict[str, Any]) -> tuple[str, str] | None:
    """The per-entry ErrorCode and ErrorMessage AWS answers for an entry it refuses."""
    for member in ("Source", "DetailType", "Detail"):
        if not entry.get(member):
            return ("InvalidArgument", f"Parameter {member} is not valid. Reason: {member} is a "
                    "required argument.")
    if entry["Source"].startswith("aws."):
        return "NotAuthorizedForSourceException", "Not authorized for the source."
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    return None


def _event_time(value: Any, now: float) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return now


class PublishingApi(Service):
    """PutEvents: accepted events go on the internal bus, durable, before the answer."""

    clock: Callable[[], float]

    def put_events(self, ctx: RequestContext, request: Request) -> Response:
        entries = request["Entries"]
        if sum(entry_size(e) for e in entries) > MAX_ENTRIES_BYTES:
            raise validation("Total size of the entries in the request is over the limit.")
        now = self.clock()
        results: list[dict[str, str]] = []
        accepted: list[tuple[BusRef, dict[str, Any]]] = []
        for entry in entries:
            refused = entry_error(entry)
            if refused is not None:
                results.append({"ErrorCode": refused[0], "ErrorMessage": refused[1]})
                continue
            bus = bus_ref(ctx, entry.get("EventBusName"))
            event = {
                "version": "0", "id": new_uuid(), "detail-type": entry["DetailType"],
                "source": entry["Source"], "account": ctx.account_id,
                "time": iso(_event_time(entry.get("Time"), now)), "region": bus.region,
                "resources": list(entry.get("Resources") or []),
                "detail": json.loads(entry["Detail"]),
            }
            accepted.append((bus, event))
            results.append({"EventId": event["id"]})
        # An event on a bus that does not exist is accepted and reaches no rule, as in AWS.
        with self.runtime.store.begin() as conn:
            for bus, event in accepted:
                self.runtime.bus.publish(conn, bus.account_id, bus.region,
                                         envelope(bus, event, now))
        return {"FailedEntryCount": len(entries) - len(accepted), "Entries": results}
