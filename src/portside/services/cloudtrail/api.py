"""CloudTrail's event history: records written in batches, looked up with LookupEvents."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
)

from portside.context import RequestContext
from portside.protocol.errors import error
from portside.services.base import Service
from portside.services.cloudtrail.records import resource_names, username
from portside.store import metadata

events_table = Table(
    "cloudtrail_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_time", Float, nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("event_source", String(128), nullable=False),
    Column("username", String(256), nullable=False),
    Column("access_key_id", String(128)),
    Column("read_only", Boolean, nullable=False),
    Column("resources", Text, nullable=False),  # JSON list of {ResourceType?, ResourceName}
    Column("record", Text, nullable=False),  # the CloudTrail record, JSON
    Index("ix_cloudtrail_scope", "account_id", "region", "seq"),
)

log = logging.getLogger("portside.cloudtrail")

FLUSH_INTERVAL = 0.05  # seconds: the most audit history a kill -9 can cost

# The LookupAttributes key -> the column it filters (ResourceName/Type search the JSON list).
LOOKUP_COLUMNS = {
    "EventId": events_table.c.event_id,
    "EventName": events_table.c.event_name,
    "Username": events_table.c.username,
    "EventSource": events_table.c.event_source,
    "AccessKeyId": events_table.c.access_key_id,
}


class CloudTrail(Service):
    name = "cloudtrail"

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self._pending: list[dict[str, Any]] = []
        self._flush_scheduled = False

    # -- recording ---------------------------------------------------------------------------

    def record(self, ctx: RequestContext, record: dict[str, Any],
               params: dict[str, Any] | None) -> None:
        """Queue a record; records are written in one transaction per FLUSH_INTERVAL (or at
        once when no event loop runs). A commit per call would cost more than the call itself;
        CloudTrail, too, delivers events after the fact."""
        self._pending.append({
            "account_id": ctx.account_id,
            "region": ctx.region,
            "event_id": record["eventID"],
            "event_time": datetime.now(UTC).timestamp(),
            "event_name": record["eventName"],
            "event_source": record["eventSource"],
            "username": username(ctx),
            "access_key_id": ctx.access_key_id,
            "read_only": record["readOnly"],
            "resources": json.dumps(resource_names(params)),
            "record": json.dumps(record, separators=(",", ":")),
        })
        self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_later(FLUSH_INTERVAL, self._flush_on_loop)

    def _flush_on_loop(self) -> None:
        try:
            self.flush()
        except Exception:
            log.exception("writing %d CloudTrail records failed; trying again",
                          len(self._pending))
            self._schedule()

    def flush(self) -> None:
        """Write the queued records; if the write fails, they stay queued for the next."""
        self._flush_scheduled = False
        rows, self._pending = self._pending, []
        if not rows:
            return
        try:
            with self.runtime.store.begin() as conn:
                conn.execute(insert(events_table), rows)
        except BaseException:
            self._pending[:0] = rows
            raise

    def reset(self) -> None:
        self._pending.clear()

    # -- API ---------------------------------------------------------------------------------

    def lookup_events(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self.flush()
        t = events_table
        where = [t.c.account_id == ctx.account_id, t.c.region == ctx.region]
        where += _attribute_filter(request.get("LookupAttributes") or [])
        start, end = request.get("StartTime"), request.get("EndTime")
        if start and end and start > end:
            raise error("InvalidTimeRangeException",
                        "Start time must be equal to or less than end time.")
        if start:
            where.append(t.c.event_time >= start.timestamp())
        if end:
            where.append(t.c.event_time <= end.timestamp())
        if request.get("EventCategory"):
            return {"Events": []}  # Insights events: portside records none
        if token := request.get("NextToken"):
            where.append(t.c.seq < _decode_token(token))
        limit = request.get("MaxResults") or 50
        query = select(t).where(and_(*where)).order_by(t.c.seq.desc()).limit(limit + 1)
        with self.runtime.store.begin() as conn:
            rows = conn.execute(query).all()
        response: dict[str, Any] = {"Events": [_event(r) for r in rows[:limit]]}
        if len(rows) > limit:
            response["NextToken"] = _encode_token(rows[limit - 1].seq)
        return response


def _attribute_filter(attributes: list[dict[str, str]]) -> list:
    # "Currently the list can contain only one item." (LookupEvents API reference)
    if len(attributes) > 1:
        raise error("InvalidLookupAttributesException",
                    "You can only specify one lookup attribute.")
    if not attributes:
        return []
    key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
    if key in LOOKUP_COLUMNS:
        return [LOOKUP_COLUMNS[key] == value]
    if key == "ReadOnly":
        if value not in ("true", "false"):
            raise error("InvalidLookupAttributesException",
                        "ReadOnly lookup attribute value must be true or false.")
        return [events_table.c.read_only == (value == "true")]
    field = "ResourceName" if key == "ResourceName" else "ResourceType"
    return [events_table.c.resources.contains(json.dumps({field: value})[1:-1])]


def _event(row) -> dict[str, Any]:
    resources = json.loads(row.resources)
    event = {
        "EventId": row.event_id,
        "EventName": row.event_name,
        "ReadOnly": "true" if row.read_only else "false",
        "EventTime": datetime.fromtimestamp(row.event_time, UTC),
        "EventSource": row.event_source,
        "Username": row.username,
        "Resources": resources,
        "CloudTrailEvent": row.record,
    }
    if row.access_key_id:
        event["AccessKeyId"] = row.access_key_id
    return event


def _encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        kind, _, seq = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "seq":
            raise ValueError(token)
        return int(seq)
    except (ValueError, UnicodeError) as exc:
        raise error("InvalidNextTokenException", "Invalid NextToken.") from exc
