"""Delivering events to targets, at least once.

Two steps, each durable. The internal bus's subscriber matches every event against the enabled
rules of its bus and writes one delivery row per (rule, target); the bus moves its cursor only
after that commits, so a crash before it means the event is matched again (the row's key makes
the second write a no-op). The delivery loop then calls each target and deletes the row once
the target took the event. A failure retries with exponential backoff and jitter within the
target's RetryPolicy (by default 185 retries within 24 hours); errors no retry can mend
(missing permissions, a missing resource) and exhausted budgets go to the target's dead-letter
queue, or are dropped without one, as AWS does.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, delete, func, insert, select, update

from portside.auth.identity import Principal
from portside.context import RequestContext
from portside.events.bus import BusEvent
from portside.gateway.authorize import authorize
from portside.gateway.inprocess import call, service_context, session_context
from portside.ids import new_uuid
from portside.protocol.errors import AwsError
from portside.services.events import transform
from portside.services.events.model import deliveries_table
from portside.services.events.names import DEFAULT_BUS, BusRef, TargetArn, parse_target_arn
from portside.services.events.publishing import ENVELOPE, INTERNAL_SOURCE, envelope, iso
from portside.services.events.routes import Route, Routes
from portside.services.events.targets import target_kind
from portside.services.sqs.names import parse_queue_arn, queue_url

if TYPE_CHECKING:
    from portside.runtime import Runtime

log = logging.getLogger("portside.events")

PRINCIPAL = "events.amazonaws.com"
DEFAULT_RETRIES = 185
DEFAULT_MAX_AGE = 86_400
FIRST_BACKOFF = 1.0  # seconds before the first retry; doubling up to MAX_BACKOFF
MAX_BACKOFF = 300.0
BATCH = 100
IDLE_WAKE = 1.0
SESSION_REUSE = 3000.0  # seconds a role session is reused (sessions last an hour)
# An event crosses at most two bus-to-bus hops (source, intermediate, destination); this also
# ends a rule that forwards its bus's events to itself.
MAX_HOPS = 2
INTERNAL_PREFIX = "portside."


@dataclass
class DeliveryFailure(Exception):
    """Why a target did not take an event, in the ERROR_CODE terms of dead-letter messages."""

    code: str
    message: str
    retriable: bool

    @classmethod
    def from_error(cls, exc: AwsError) -> DeliveryFailure:
        if exc.code.startswith("AccessDenied"):
            return cls("NO_PERMISSIONS", exc.message, False)
        if exc.status >= 500 or "Throttl" in exc.code:
            code = "THROTTLING" if "Throttl" in exc.code else "INTERNAL_ERROR"
            return cls(code, exc.message, True)
        if "NotFound" in exc.code or "NonExistent" in exc.code:
            return cls("NO_RESOURCE", exc.message, False)
        return cls("INVALID_PARAMETER", exc.message, False)


@dataclass(frozen=True)
class Matched:
    """An event routed to a bus; `rule` set when only that rule may take it (a schedule)."""

    bus: BusRef
    event: dict[str, Any]
    ingested: float
    rule: str | None = None
    hops: int = 0


class Deliverer:
    def __init__(self, runtime: Runtime, routes: Routes, clock: Callable[[], float]) -> None:
        self.runtime = runtime
        self.routes = routes
        self.clock = clock
        self._wake = asyncio.Event()
        self._sessions: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def reset(self) -> None:
        self._sessions.clear()

    # -- matching: the internal bus's subscriber -------------------------------------------------

    async def on_bus_events(self, events: list[BusEvent]) -> None:
        rows: list[dict[str, Any]] = []
        for bus_event in events:
            matched = self.routed(bus_event)
            if matched is None:
                continue
            for route in self._routes_for(matched):
                rows += [self._row(bus_event.seq, matched, route, target)
                         for target in route.targets]
        if rows:
            self._record(rows)
            self._wake.set()

    def routed(self, bus_event: BusEvent) -> Matched | None:
        """The bus an internal bus event is for: an envelope names it; AWS services' events
        go to their account's default bus; portside's other internal events are not
        EventBridge's."""
        event = bus_event.event
        source = event.get("source")
        if source == INTERNAL_SOURCE and event.get("detail-type") == ENVELOPE:
            detail = event["detail"]
            return Matched(BusRef(bus_event.account_id, bus_event.region, detail["bus"]),
                           detail["event"], detail["ingested"], detail.get("rule"),
                           detail.get("hops", 0))
        if not isinstance(source, str) or source.startswith(INTERNAL_PREFIX):
            return None
        return Matched(BusRef(bus_event.account_id, bus_event.region, DEFAULT_BUS), event,
                       self.clock())

    def _routes_for(self, matched: Matched) -> list[Route]:
        if matched.rule is None:
            return self.routes.matching(matched.bus, matched.event)
        route = self.routes.of(matched.bus).get(matched.rule)
        return [route] if route is not None and route.enabled else []

    def _row(self, seq: int, matched: Matched, route: Route,
             target: dict[str, Any]) -> dict[str, Any]:
        return {
            "key": f"{seq}|{route.rule.arn}|{target['Id']}",
            "account_id": matched.bus.account_id, "region": matched.bus.region,
            "rule_arn": route.rule.arn, "rule_name": route.rule.name,
            "target": json.dumps(target), "event": json.dumps(matched.event),
            "ingested": matched.ingested, "hops": matched.hops, "attempts": 0,
            "due": self.clock(),
        }

    def _record(self, rows: list[dict[str, Any]]) -> None:
        """Write the rows whose keys are not there yet (a bus event seen twice adds none)."""
        with self.runtime.store.begin() as conn:
            known = set(conn.execute(select(deliveries_table.c.key).where(
                deliveries_table.c.key.in_([r["key"] for r in rows]))).scalars())
            fresh = [r for r in rows if r["key"] not in known]
            if fresh:
                conn.execute(insert(deliveries_table), fresh)

    # -- delivering --------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver forever: at once when a row is written, else when the next retry is due."""
        self._wake = asyncio.Event()  # of this loop: the first pass looks at every row anyway
        while True:
            self._wake.clear()
            try:
                next_due = await self.deliver_due()
            except Exception:  # the store failed: the rows stay, and are looked at again
                log.exception("delivering events failed; trying again")
                next_due = None
            delay = IDLE_WAKE if next_due is None else min(IDLE_WAKE, next_due - self.clock())
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)

    async def deliver_due(self) -> float | None:
        """Attempt every delivery that is due; return when the next one will be."""
        now = self.clock()
        with self.runtime.store.begin() as conn:
            rows = conn.execute(select(deliveries_table).where(deliveries_table.c.due <= now)
                                .order_by(deliveries_table.c.due).limit(BATCH)).all()
        for row in rows:
            await self._attempt(row)
        if len(rows) == BATCH:
            return now
        with self.runtime.store.begin() as conn:
            return conn.execute(select(func.min(deliveries_table.c.due))).scalar()

    async def _attempt(self, row: Row) -> None:
        target, event = json.loads(row.target), json.loads(row.event)
        try:
            await self.deliver(row, target, event)
        except DeliveryFailure as failure:
            await self._failed(row, target, event, failure)
            return
        except Exception as exc:  # a fault of portside's: retried like any internal error
            log.exception("delivering event %s to %s failed", event.get("id"), target["Arn"])
            await self._failed(row, target, event, DeliveryFailure("INTERNAL_ERROR", str(exc),
                                                                   True))
            return
        self._forget(row)

    async def _failed(self, row: Row, target: dict[str, Any], event: dict[str, Any],
                      failure: DeliveryFailure) -> None:
        policy = target.get("RetryPolicy") or {}
        retries = policy.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        max_age = policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)
        now = self.clock()
        wait = backoff(row.attempts)
        exhausted = None
        if failure.retriable:
            if row.attempts >= retries:
                exhausted = "MaximumRetryAttempts"
            elif now + wait - row.ingested > max_age:
                exhausted = "MaximumEventAgeInSeconds"
            else:
                with self.runtime.store.begin() as conn:
                    conn.execute(update(deliveries_table).where(
                        deliveries_table.c.id == row.id).values(
                        attempts=row.attempts + 1, due=now + wait))
                return
        log.info("event %s to %s failed (%s: %s)", event.get("id"), target.get("Arn"),
                 failure.code, failure.message)
        await self._dead_letter(row, target, event, failure, exhausted)
        self._forget(row)

    def _forget(self, row: Row) -> None:
        with self.runtime.store.begin() as conn:
            conn.execute(delete(deliveries_table).where(deliveries_table.c.id == row.id))

    async def _dead_letter(self, row: Row, target: dict[str, Any], event: dict[str, Any],
                           failure: DeliveryFailure, exhausted: str | None) -> None:
        """Send the event to the target's dead-letter queue with AWS's attributes; without
        one (or if that fails too) the event is dropped."""
        arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        found = parse_queue_arn(arn) if arn else None
        if found is None:
            return
        region, queue = found
        attributes = {"RULE_ARN": row.rule_arn, "TARGET_ARN": target["Arn"],
                      "ERROR_CODE": failure.code, "ERROR_MESSAGE": failure.message,
                      "RETRY_ATTEMPTS": str(row.attempts)}
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        ctx = service_context(PRINCIPAL, row.account_id, region, source_arn=row.rule_arn)
        try:
            await call(self.runtime, ctx, "sqs", "SendMessage", {
                "QueueUrl": queue_url("localhost", queue.account_id, queue.name),
                "MessageBody": transform.to_json(event),
                "MessageAttributes": {k: {"DataType": "String", "StringValue": v[:262_144]}
                                      for k, v in attributes.items() if v}})
        except AwsError as exc:
            log.warning("dropped event %s: its dead-letter queue %s refused it (%s)",
                        event.get("id"), arn, exc.code)

    # -- targets -----------------------------------------------------------------------------

    async def deliver(self, row: Row, target: dict[str, Any], event: dict[str, Any]) -> None:
        """Hand `event` to `target` as the target's role, or as EventBridge itself."""
        arn = parse_target_arn(target["Arn"])
        kind = target_kind(arn) if arn is not None else None
        if arn is None or kind is None:
            raise DeliveryFailure("INVALID_PARAMETER", f"Unsupported target {target['Arn']}",
                                  False)
        facts = transform.Delivery(row.rule_arn, row.rule_name, iso(row.ingested))
        payload = transform.target_input(target, event, facts)
        try:
            try:
                await self._call_target(kind, row, target, arn, event, payload)
            except AwsError as exc:
                # A reused role session may belong to a role since deleted and made again
                # under its name (a new role id): denied, it gets one try with a new session.
                if not (exc.code.startswith("AccessDenied") and self._drop_session(row, target)):
                    raise
                await self._call_target(kind, row, target, arn, event, payload)
        except AwsError as exc:
            raise DeliveryFailure.from_error(exc) from None

    async def _call_target(self, kind: str, row: Row, target: dict[str, Any], arn: TargetArn,
                           event: dict[str, Any], payload: str) -> None:
        ctx = self._caller(row, target, arn)
        if kind == "sqs":
            await self._send_to_queue(ctx, target, arn, payload)
        elif kind == "ecs":
            await self._run_task(ctx, row, target, payload)
        elif kind == "events":
            self._put_on_bus(ctx, row, target, arn, event)
        else:
            await self._put_log_event(ctx, arn, event, payload)

    def _drop_session(self, row: Row, target: dict[str, Any]) -> bool:
        """Forget the reused session of the target's role, if there was one."""
        role_arn = target.get("RoleArn")
        return bool(role_arn) and self._sessions.pop((role_arn, row.rule_arn), None) is not None

    def _caller(self, row: Row, target: dict[str, Any], arn: TargetArn) -> RequestContext:
        """The target role's session when the target names one; otherwise EventBridge's
        service principal, which the target's resource policy must allow."""
        role_arn = target.get("RoleArn")
        if not role_arn:
            return service_context(PRINCIPAL, row.account_id, arn.region,
                                   source_arn=row.rule_arn)
        key = (role_arn, row.rule_arn)
        cached = self._sessions.get(key)
        if cached is None or cached[0] <= self.clock():
            sts = self.runtime.services["sts"]
            try:
                credentials = sts.assume_role_for_service(  # type: ignore[attr-defined]
                    PRINCIPAL, role_arn, f"events-{new_uuid()[:8]}", source_arn=row.rule_arn,
                    source_account=row.account_id)
            except AwsError as exc:
                raise DeliveryFailure("FAILED_TO_ASSUME_ROLE", exc.message, False) from None
            cached = self._sessions[key] = (self.clock() + SESSION_REUSE, credentials)
        return session_context(self.runtime, cached[1], arn.region, PRINCIPAL)

    async def _send_to_queue(self, ctx: RequestContext, target: dict[str, Any],
                             arn: TargetArn, payload: str) -> None:
        params = {"QueueUrl": queue_url("localhost", arn.account_id, arn.resource),
                  "MessageBody": payload}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            params["MessageGroupId"] = group
        await call(self.runtime, ctx, "sqs", "SendMessage", params)

    async def _run_task(self, ctx: RequestContext, row: Row, target: dict[str, Any],
                        payload: str) -> None:
        """RunTask on the target's cluster; the target's input, if any, is the `overrides`.
        The client token names this delivery and attempt: a delivery repeated after a crash
        (before its row was deleted) gets the tasks already started instead of new ones."""
        params = run_task_request(target, row.rule_name)
        params["clientToken"] = client_token(row.key, row.attempts)
        if any(m in target for m in ("Input", "InputPath", "InputTransformer")):
            try:
                overrides = json.loads(payload)
            except ValueError:
                overrides = None
            if not isinstance(overrides, dict):
                raise DeliveryFailure("INVALID_JSON", "The target input is not a JSON object "
                                      "of ECS task overrides.", False)
            params["overrides"] = overrides
        result = await call(self.runtime, ctx, "ecs", "RunTask", params)
        if result.get("failures") and not result.get("tasks"):
            raise DeliveryFailure("ERROR_FROM_TARGET", json.dumps(result["failures"]), True)

    def _put_on_bus(self, ctx: RequestContext, row: Row, target: dict[str, Any],
                    arn: TargetArn, event: dict[str, Any]) -> None:
        """The same event onto another bus, if the caller may PutEvents there: the role's
        session, or without a role the rule's account (which the bus's policy must allow)."""
        bus = BusRef(arn.account_id, arn.region, arn.resource.split("/", 1)[1])
        if row.hops >= MAX_HOPS:
            raise DeliveryFailure("THIRD_ACCOUNT_HOP_DETECTED", f"The event was already "
                                  f"forwarded {row.hops} times.", False)
        if not target.get("RoleArn"):
            ctx = replace(ctx, principal=Principal.root(row.account_id))
        authorize(self.runtime, ctx, self.runtime.services["events"], "PutEvents",
                  {"Entries": [{"EventBusName": bus.arn}]})
        with self.runtime.store.begin() as conn:
            self.runtime.bus.publish(conn, bus.account_id, bus.region,
                                     envelope(bus, event, self.clock(), hops=row.hops + 1))

    async def _put_log_event(self, ctx: RequestContext, arn: TargetArn, event: dict[str, Any],
                             payload: str) -> None:
        """One log event per event in a stream named after the event, through the Logs
        service's handlers (an error until that service exists)."""
        group = arn.resource.split(":", 1)[1].removesuffix(":*")
        stream = event.get("id") or new_uuid()
        await call(self.runtime, ctx, "logs", "CreateLogStream",
                   {"logGroupName": group, "logStreamName": stream})
        await call(self.runtime, ctx, "logs", "PutLogEvents", {
            "logGroupName": group, "logStreamName": stream,
            "logEvents": [{"timestamp": int(self.clock() * 1000), "message": payload}]})


def backoff(attempts: int) -> float:
    """Exponential backoff with jitter: about 1, 2, 4 … seconds, at most 5 minutes."""
    ceiling = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(attempts, 16))
    return ceiling / 2 + random.random() * ceiling / 2


def client_token(key: str, attempts: int) -> str:
    """RunTask's idempotency token (at most 64 characters) for one attempt of a delivery."""
    return hashlib.sha256(f"{key}#{attempts}".encode()).hexdigest()


def run_task_request(target: dict[str, Any], rule_name: str) -> dict[str, Any]:
    """The RunTask request of an ECS target: EcsParameters in ECS's own casing, the target's
    cluster, and `startedBy` naming the rule as EventBridge does."""
    ecs = target["EcsParameters"]
    request: dict[str, Any] = {
        "cluster": target["Arn"], "taskDefinition": ecs["TaskDefinitionArn"],
        "count": ecs.get("TaskCount", 1), "startedBy": f"events-rule/{rule_name}"[:128],
    }
    simple = {"LaunchType": "launchType", "PlatformVersion": "platformVersion",
              "Group": "group", "PropagateTags": "propagateTags",
              "EnableECSManagedTags": "enableECSManagedTags",
              "EnableExecuteCommand": "enableExecuteCommand", "ReferenceId": "referenceId",
              "CapacityProviderStrategy": "capacityProviderStrategy",
              "PlacementConstraints": "placementConstraints",
              "PlacementStrategy": "placementStrategy"}
    for member, name in simple.items():
        if member in ecs:
            request[name] = ecs[member]
    vpc = (ecs.get("NetworkConfiguration") or {}).get("awsvpcConfiguration")
    if vpc is not None:
        casing = {"Subnets": "subnets", "SecurityGroups": "securityGroups",
                  "AssignPublicIp": "assignPublicIp"}
        request["networkConfiguration"] = {"awsvpcConfiguration": {
            casing[k]: v for k, v in vpc.items() if k in casing}}
    if ecs.get("Tags"):
        request["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in ecs["Tags"]]
    return request
