"""Amazon CloudWatch Logs: log groups, streams, events, retention and tags (json protocol).

PutLogEvents stores a batch in one transaction; GetLogEvents pages a stream by (timestamp, id)
with `f/…` and `b/…` tokens; FilterLogEvents scans a group in timestamp order through the
filter-pattern matcher. The agent's awslogs driver calls `ingest` in process.
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from portside.auth.policy import MalformedPolicy
from portside.context import RequestContext
from portside.protocol.errors import AwsError, error
from portside.services import tag_lists
from portside.services.base import ResourcePolicy, Service
from portside.services.logs import events as store
from portside.services.logs import policies
from portside.services.logs.access import ACTIONS, group_name
from portside.services.logs.filters import FilterPatternError, matches, parse
from portside.services.logs.model import groups_table, policies_table, streams_table
from portside.services.logs.names import (
    RETENTION_DAYS,
    Position,
    decode_token,
    encode_token,
    group_arn,
    parse_group_arn,
    stream_arn,
)
from portside.services.pagination import decode_token as decode_page_token
from portside.services.pagination import encode_token as encode_page_token
from portside.services.pagination import page

MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes counted per event towards MAX_BATCH_BYTES
MAX_PAST_MS = 14 * store.DAY_MS
MAX_FUTURE_MS = 2 * 3_600_000
MAX_SPAN_MS = store.DAY_MS
MAX_EVENTS_READ = 10_000  # GetLogEvents' and FilterLogEvents' default and largest limit
MAX_RESPONSE_BYTES = 1_048_576  # and the size their events fit in
MAX_DESCRIBE = 50
RETENTION_SWEEP_INTERVAL = 60.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _invalid(message: str) -> AwsError:
    return error("InvalidParameterException", message)


def _bad_token() -> AwsError:
    return _invalid("The specified nextToken is invalid.")


def _no_group() -> AwsError:
    return error("ResourceNotFoundException", "The specified log group does not exist.")


def _no_stream() -> AwsError:
    return error("ResourceNotFoundException", "The specified log stream does not exist.")


class Logs(Service):
    name = "logs"
    actions = ACTIONS

    # -- log groups ---------------------------------------------------------------------------

    def create_log_group(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("kmsKeyId"):
            raise _invalid("portside does not encrypt log groups with KMS keys.")
        if request.get("logGroupClass", "STANDARD") != "STANDARD":
            raise _invalid("portside serves only the STANDARD log group class.")
        tags = request.get("tags") or {}
        _check_tags(tags)
        try:
            with self.runtime.store.begin() as conn:
                conn.execute(insert(groups_table).values(
                    account_id=ctx.account_id, region=ctx.region, name=request["logGroupName"],
                    created=_now_ms(), retention_days=None, tags=json.dumps(tags)))
        except IntegrityError:
            raise error("ResourceAlreadyExistsException",
                        "The specified log group already exists") from None
        return {}

    def delete_log_group(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, request["logGroupName"])
            conn.execute(delete(groups_table).where(groups_table.c.id == group.id))
        return {}

    def describe_log_groups(self, ctx: RequestContext,
                            request: dict[str, Any]) -> dict[str, Any]:
        prefix = request.get("logGroupNamePrefix")
        pattern = request.get("logGroupNamePattern")
        if prefix is not None and pattern is not None:
            raise _invalid("LogGroup name prefix and LogGroup name pattern are mutually "
                           "exclusive parameters.")
        wanted = {group_name({"logGroupIdentifier": i})
                  for i in request.get("logGroupIdentifiers") or []}
        g = groups_table.c
        with self.runtime.store.begin() as conn:
            rows = conn.execute(select(groups_table).where(
                g.account_id == ctx.account_id, g.region == ctx.region).order_by(g.name)).all()
            rows = [r for r in rows if r.name.startswith(prefix or "")
                    and (pattern is None or pattern.lower() in r.name.lower())
                    and (not wanted or r.name in wanted)]
            chunk, token = page(rows, lambda r: [r.name], request.get("limit") or MAX_DESCRIBE,
                                request.get("nextToken"), scope="DescribeLogGroups",
                                invalid=_bad_token)
            sizes = store.group_stored_bytes(conn, [r.id for r in chunk])
        response: dict[str, Any] = {"logGroups": [
            _group_view(r, sizes.get(r.id, 0)) for r in chunk]}
        if token:
            response["nextToken"] = token
        return response

    def put_retention_policy(self, ctx: RequestContext,
                             request: dict[str, Any]) -> dict[str, Any]:
        days = request["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise _invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' "
                           "failed to satisfy constraint: Member must satisfy enum value set: "
                           f"[{', '.join(map(str, RETENTION_DAYS))}]")
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, request["logGroupName"])
            conn.execute(update(groups_table).where(groups_table.c.id == group.id)
                         .values(retention_days=days))
            # AWS deletes expired events within days; portside does it at once, and the
            # background sweep catches events that age out later.
            store.expire(conn, _now_ms(), group.id)
        return {}

    def delete_retention_policy(self, ctx: RequestContext,
                                request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, request["logGroupName"])
            conn.execute(update(groups_table).where(groups_table.c.id == group.id)
                         .values(retention_days=None))
        return {}

    # -- log streams --------------------------------------------------------------------------

    def create_log_stream(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        _check_stream_name(request["logStreamName"])
        try:
            with self.runtime.store.begin() as conn:
                group = self._group(conn, ctx.account_id, ctx.region, request["logGroupName"])
                self._insert_stream(conn, group.id, request["logStreamName"])
        except IntegrityError:
            raise error("ResourceAlreadyExistsException",
                        "The specified log stream already exists") from None
        return {}

    def delete_log_stream(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, request["logGroupName"])
            stream = self._stream(conn, group.id, request["logStreamName"])
            conn.execute(delete(streams_table).where(streams_table.c.id == stream.id))
        return {}

    def describe_log_streams(self, ctx: RequestContext,
                             request: dict[str, Any]) -> dict[str, Any]:
        prefix = request.get("logStreamNamePrefix") or ""
        by_time = request.get("orderBy") == "LastEventTime"
        if by_time and prefix:
            raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        descending = bool(request.get("descending"))
        s = streams_table.c
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, _identified(request))
            rows = [r for r in conn.execute(select(streams_table).where(s.group_id == group.id))
                    if r.name.startswith(prefix)]

        def key(r: Row) -> list[Any]:
            return [r.last_event if r.last_event is not None else -1, r.name] if by_time \
                else [r.name]

        rows.sort(key=key, reverse=descending)
        chunk, token = page(rows, key, request.get("limit") or MAX_DESCRIBE,
                            request.get("nextToken"), descending=descending,
                            scope=f"DescribeLogStreams:{group.id}:{by_time}:{descending}",
                            invalid=_bad_token)
        response: dict[str, Any] = {"logStreams": [
            _stream_view(ctx, group.name, r) for r in chunk]}
        if token:
            response["nextToken"] = token
        return response

    # -- events -------------------------------------------------------------------------------

    def put_log_events(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        batch = [(e["timestamp"], e["message"]) for e in request["logEvents"]]
        _check_batch(batch)
        now = _now_ms()
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, request["logGroupName"])
            stream = self._stream(conn, group.id, request["logStreamName"])
            accepted, rejected = _admit(batch, now, group.retention_days)
            store.store_events(conn, group.id, stream.id, accepted, now)
        # The sequence token is ignored now, but clients still read one.
        response: dict[str, Any] = {"nextSequenceToken": f"{now:056d}"}
        if rejected:
            response["rejectedLogEventsInfo"] = rejected
        return response

    def get_log_events(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        limit = request.get("limit") or MAX_EVENTS_READ
        token = request.get("nextToken")
        decoded = decode_token(token) if token else None
        if token and decoded is None:
            raise _bad_token()
        if decoded is not None:
            direction, position = decoded
        elif request.get("startFromHead"):
            direction, position = "f", Position(-1, -1)
        else:
            direction, position = "b", store.END
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, _identified(request))
            stream = self._stream(conn, group.id, request["logStreamName"])
            found = store.read_stream(
                conn, group.id, stream.id, request.get("startTime"), request.get("endTime"),
                after=position if direction == "f" else None,
                before=position if direction == "b" else None, limit=limit)
        # Backward reads keep the events nearest their token: the end of what was read.
        found = _fitting(found[::-1])[::-1] if direction == "b" else _fitting(found)
        return {"events": [{"timestamp": e.timestamp, "message": e.message,
                            "ingestionTime": e.ingestion} for e in found],
                **_read_tokens(found, direction, position)}

    def filter_log_events(self, ctx: RequestContext,
                          request: dict[str, Any]) -> dict[str, Any]:
        names = request.get("logStreamNames")
        prefix = request.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive "
                           "parameters.")
        try:
            pattern = parse(request.get("filterPattern") or "")
        except FilterPatternError as e:
            raise _invalid(f"Invalid filter pattern: {e}") from None
        limit = request.get("limit") or MAX_EVENTS_READ
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, _identified(request))
            scope = f"FilterLogEvents:{group.id}"
            after = None
            if request.get("nextToken"):
                key = decode_page_token(scope, request["nextToken"], _bad_token)
                if len(key) != 2 or not all(isinstance(k, int) for k in key):
                    raise _bad_token()
                after = Position(*key)
            s = streams_table.c
            streams = {r.id: r.name for r in conn.execute(
                select(s.id, s.name).where(s.group_id == group.id))
                if (names is None or r.name in names) and r.name.startswith(prefix or "")}
            chosen = list(streams) if names is not None or prefix is not None else None
            found: list[store.Event] = []
            size, more = 0, False
            for event in store.scan_group(conn, group.id, chosen, request.get("startTime"),
                                          request.get("endTime"), after):
                if not matches(pattern, event.message):
                    continue
                size += _event_size(event)
                if len(found) == limit or (found and size > MAX_RESPONSE_BYTES):
                    more = True
                    break
                found.append(event)
        response: dict[str, Any] = {
            "events": [{"logStreamName": streams.get(e.stream_id, ""), "timestamp": e.timestamp,
                        "message": e.message, "ingestionTime": e.ingestion,
                        "eventId": f"{e.id:020d}"} for e in found],
            # AWS stopped filling searchedLogStreams in 2020; it is always empty.
            "searchedLogStreams": []}
        if more:
            response["nextToken"] = encode_page_token(scope, list(found[-1].position))
        return response

    def ingest(self, account_id: str, region: str, group: str, stream: str,
               events: list[tuple[int, str]], create_group: bool) -> None:
        """The agent's awslogs driver: store a container's output lines, `(timestamp ms,
        message)`, creating the stream on demand and the group when `awslogs-create-group` is
        true. A missing group otherwise raises ResourceNotFoundException, which the driver
        reports as AWS's does. Events are stored in timestamp order, without PutLogEvents'
        batch limits: the agent is not a client to be rate-limited."""
        try:
            self._ingest(account_id, region, group, stream, sorted(events), create_group)
        except IntegrityError:
            # Another container's first lines created the same group or stream meanwhile;
            # now both exist and the second attempt only inserts.
            self._ingest(account_id, region, group, stream, sorted(events), create_group)

    def _ingest(self, account_id: str, region: str, group: str, stream: str,
                events: list[tuple[int, str]], create_group: bool) -> None:
        now = _now_ms()
        with self.runtime.store.begin() as conn:
            found = self._find_group(conn, account_id, region, group)
            if found is None:
                if not create_group:
                    raise _no_group()
                conn.execute(insert(groups_table).values(
                    account_id=account_id, region=region, name=group, created=now,
                    retention_days=None, tags="{}"))
                found = self._group(conn, account_id, region, group)
            row = self._find_stream(conn, found.id, stream)
            stream_id = row.id if row else self._insert_stream(conn, found.id, stream)
            store.store_events(conn, found.id, stream_id, events, now)

    # -- tags ---------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self._retag(ctx, _arn_group(request["resourceArn"]), add=request["tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self._retag(ctx, _arn_group(request["resourceArn"]), remove=request["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext,
                               request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region,
                                _arn_group(request["resourceArn"]))
        return {"tags": json.loads(group.tags)}

    def tag_log_group(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self._retag(ctx, request["logGroupName"], add=request["tags"])
        return {}

    def untag_log_group(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self._retag(ctx, request["logGroupName"], remove=request["tags"])
        return {}

    def list_tags_log_group(self, ctx: RequestContext,
                            request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, request["logGroupName"])
        return {"tags": json.loads(group.tags)}

    def _retag(self, ctx: RequestContext, name: str, add: dict[str, str] | None = None,
               remove: Sequence[str] = ()) -> None:
        with self.runtime.store.begin() as conn:
            group = self._group(conn, ctx.account_id, ctx.region, name)
            tags = {k: v for k, v in json.loads(group.tags).items() if k not in remove}
            tags.update(add or {})
            _check_tags(tags)
            conn.execute(update(groups_table).where(groups_table.c.id == group.id)
                         .values(tags=json.dumps(tags)))

    # -- resource policies --------------------------------------------------------------------

    def put_resource_policy(self, ctx: RequestContext,
                            request: dict[str, Any]) -> dict[str, Any]:
        if request.get("resourceArn"):
            raise _invalid("portside serves account-level resource policies only; leave out "
                           "resourceArn.")
        name, document = request.get("policyName"), request.get("policyDocument")
        if not name or not document:
            raise _invalid("policyName and policyDocument are required.")
        try:
            policies.check(document)
        except MalformedPolicy as e:
            raise _invalid(f"Invalid policy document: {e}") from None
        p, now = policies_table.c, _now_ms()
        with self.runtime.store.begin() as conn:
            mine = (p.account_id == ctx.account_id, p.region == ctx.region)
            names = set(conn.execute(select(p.name).where(*mine)).scalars())
            if name not in names and len(names) >= policies.MAX_POLICIES:
                raise error("LimitExceededException", "Resource limit exceeded.")
            conn.execute(delete(policies_table).where(*mine, p.name == name))
            conn.execute(insert(policies_table).values(
                account_id=ctx.account_id, region=ctx.region, name=name, document=document,
                updated=now))
        return {"resourcePolicy": {"policyName": name, "policyDocument": document,
                                   "lastUpdatedTime": now, "policyScope": "ACCOUNT"}}

    def describe_resource_policies(self, ctx: RequestContext,
                                   request: dict[str, Any]) -> dict[str, Any]:
        p = policies_table.c
        with self.runtime.store.begin() as conn:
            rows = conn.execute(select(policies_table).where(
                p.account_id == ctx.account_id, p.region == ctx.region).order_by(p.name)).all()
        return {"resourcePolicies": [
            {"policyName": r.name, "policyDocument": r.document, "lastUpdatedTime": r.updated,
             "policyScope": "ACCOUNT"} for r in rows]}

    def delete_resource_policy(self, ctx: RequestContext,
                               request: dict[str, Any]) -> dict[str, Any]:
        p, name = policies_table.c, request.get("policyName") or ""
        with self.runtime.store.begin() as conn:
            gone = conn.execute(delete(policies_table).where(
                p.account_id == ctx.account_id, p.region == ctx.region,
                p.name == name)).rowcount
        if not gone:
            raise error("ResourceNotFoundException", f"Policy with name [{name}] does not "
                        "exist")
        return {}

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        """The account's resource policies, joined, for a call on one of its log groups."""
        parts = resource_arn.split(":", 5)
        if len(parts) < 6 or parts[2] != "logs" or not parts[5].startswith("log-group:"):
            return None
        p = policies_table.c
        with self.runtime.store.begin() as conn:
            documents = list(conn.execute(select(p.document).where(
                p.account_id == parts[4], p.region == parts[3]).order_by(p.name)).scalars())
        return ResourcePolicy(policies.joined(documents), parts[4]) if documents else None

    # -- retention ----------------------------------------------------------------------------

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._sweep_every()]

    async def _sweep_every(self) -> None:
        while True:
            self.expire(_now_ms())
            await asyncio.sleep(RETENTION_SWEEP_INTERVAL)

    def expire(self, now_ms: int) -> int:
        """Delete every event older than its group's retention at `now_ms`; answer how many."""
        with self.runtime.store.begin() as conn:
            return store.expire(conn, now_ms)

    # -- lookups ------------------------------------------------------------------------------

    @staticmethod
    def _find_group(conn: Connection, account_id: str, region: str, name: str) -> Row | None:
        g = groups_table.c
        return conn.execute(select(groups_table).where(
            g.account_id == account_id, g.region == region, g.name == name)).first()

    def _group(self, conn: Connection, account_id: str, region: str, name: str) -> Row:
        found = self._find_group(conn, account_id, region, name)
        if found is None:
            raise _no_group()
        return found

    @staticmethod
    def _find_stream(conn: Connection, group_id: int, name: str) -> Row | None:
        s = streams_table.c
        return conn.execute(select(streams_table).where(
            s.group_id == group_id, s.name == name)).first()

    def _stream(self, conn: Connection, group_id: int, name: str) -> Row:
        found = self._find_stream(conn, group_id, name)
        if found is None:
            raise _no_stream()
        return found

    @staticmethod
    def _insert_stream(conn: Connection, group_id: int, name: str) -> int:
        result = conn.execute(insert(streams_table).values(
            group_id=group_id, name=name, created=_now_ms(), stored_bytes=0))
        return result.inserted_primary_key[0]


def _identified(request: dict[str, Any]) -> str:
    """The group of a call that takes `logGroupName` or `logGroupIdentifier`, not both."""
    if request.get("logGroupName") and request.get("logGroupIdentifier"):
        raise _invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if not (request.get("logGroupName") or request.get("logGroupIdentifier")):
        raise _invalid("Should provide either name or ARN of the log group.")
    return group_name(request)


def _arn_group(arn: str) -> str:
    ref = parse_group_arn(arn)
    if ref is None:
        raise _invalid(f"Invalid ARN: {arn} is not a log group ARN.")
    return ref.name


def _check_stream_name(name: str) -> None:
    if ":" in name or "*" in name:
        raise _invalid("Log stream names cannot contain ':' or '*'.")


def _check_tags(tags: dict[str, str]) -> None:
    tag_lists.check([{"Key": k, "Value": v} for k, v in tags.items()], _invalid)


def _check_batch(batch: list[tuple[int, str]]) -> None:
    """The rules that fail a whole PutLogEvents call (the others reject single events)."""
    size = sum(len(message.encode()) + EVENT_OVERHEAD for _, message in batch)
    if size > MAX_BATCH_BYTES:
        raise _invalid(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    if any(later[0] < earlier[0] for earlier, later in zip(batch, batch[1:], strict=False)):
        raise _invalid("Log events in a single PutLogEvents request must be in chronological "
                       "order.")


def _admit(batch: list[tuple[int, str]], now: int,
           retention_days: int | None) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """Split a chronological batch into the events stored and AWS's rejectedLogEventsInfo:
    events older than 14 days (or than the group's retention) or more than 2 hours ahead are
    rejected while the rest is stored; the stored ones may span at most 24 hours."""
    too_old = sum(1 for ts, _ in batch if ts < now - MAX_PAST_MS)
    horizon = now - retention_days * store.DAY_MS if retention_days else None
    expired = sum(1 for ts, _ in batch if horizon is not None and ts < horizon)
    too_new = next((i for i, (ts, _) in enumerate(batch) if ts > now + MAX_FUTURE_MS),
                   len(batch))
    accepted = batch[max(too_old, expired):too_new]
    if accepted and accepted[-1][0] - accepted[0][0] > MAX_SPAN_MS:
        raise _invalid("The batch of log events in a single PutLogEvents request cannot span "
                       "more than 24 hours.")
    rejected: dict[str, int] = {}
    if too_new < len(batch):
        rejected["tooNewLogEventStartIndex"] = too_new
    if too_old:  # exclusive, as the API reference says; expired events likewise
        rejected["tooOldLogEventEndIndex"] = too_old
    if expired > too_old:
        rejected["expiredLogEventEndIndex"] = expired
    return accepted, rejected


def _event_size(event: store.Event) -> int:
    return len(event.message.encode()) + EVENT_OVERHEAD


def _fitting(events: list[store.Event]) -> list[store.Event]:
    """The leading events that fit in one response of MAX_RESPONSE_BYTES (at least one):
    AWS answers GetLogEvents and FilterLogEvents with at most 1 MB of events."""
    size = 0
    for count, event in enumerate(events):
        size += _event_size(event)
        if count and size > MAX_RESPONSE_BYTES:
            return events[:count]
    return events


def _read_tokens(found: list[store.Event], direction: str,
                 position: Position) -> dict[str, str]:
    """GetLogEvents' tokens: around the events returned, or — when none were — the position
    read from, so a client polling forward sees the same token until new events arrive."""
    if found:
        return {"nextForwardToken": encode_token("f", found[-1].position),
                "nextBackwardToken": encode_token("b", found[0].position)}
    if position == store.END:  # an empty stream read from its end: later reads start at 0
        position = Position(0, 0)
    position = Position(max(position.timestamp, 0), max(position.id, 0))
    return {"nextForwardToken": encode_token("f", position),
            "nextBackwardToken": encode_token("b", position)}


def _group_view(row: Row, stored_bytes: int) -> dict[str, Any]:
    arn = group_arn(row.region, row.account_id, row.name)
    view: dict[str, Any] = {"logGroupName": row.name, "creationTime": row.created,
                            "metricFilterCount": 0, "arn": f"{arn}:*", "logGroupArn": arn,
                            "storedBytes": stored_bytes, "logGroupClass": "STANDARD"}
    if row.retention_days is not None:
        view["retentionInDays"] = row.retention_days
    return view


def _stream_view(ctx: RequestContext, group: str, row: Row) -> dict[str, Any]:
    view: dict[str, Any] = {"logStreamName": row.name, "creationTime": row.created,
                            "arn": stream_arn(ctx.region, ctx.account_id, group, row.name),
                            "storedBytes": 0}  # deprecated by AWS, always 0
    if row.first_event is not None:
        view["firstEventTimestamp"] = row.first_event
    if row.last_event is not None:
        view["lastEventTimestamp"] = row.last_event
        view["lastIngestionTime"] = row.last_ingestion
        view["uploadSequenceToken"] = f"{row.last_ingestion:056d}"
    return view
