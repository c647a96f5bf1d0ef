"""Rules: an event pattern, a schedule, or both, on one bus; enabled or disabled.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from portside.context import RequestContext
from portside.services.base import Service
from portside.services.events.buses import existing_bus
from portside.services.events.common import (
    Request,
    Response,
    bus_not_found,
    checked_tags,
    page,
    rule_not_found,
    validation,
)
from portside.services.events.model import rules_table, targets_table
from portside.services.events.names import DEFAULT_BUS, BusRef, RuleRef, bus_ref
from portside.services.events.patterns import compile_pattern
from portside.services.events.routes import DISABLED, Routes
from portside.services.events.schedules import InvalidSchedule, parse_schedule

ENABLED = "ENABLED"
# TestEventPattern: "the following fields are mandatory" (API_TestEventPattern.html).
EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


def own_bus(ctx: RequestContext, name_or_arn: str | None) -> BusRef:
    """The bus a rule call names; rules live on the caller's own buses only."""
    ref = bus_ref(ctx, name_or_arn)
    if (ref.account_id, ref.region) != (ctx.account_id, ctx.region):
        raise bus_not_found(ref.name)
    return ref


def find_rule(conn: Connection, rule: RuleRef) -> Row | None:
    return conn.execute(select(rules_table).where(*rule_key(rule))).first()


def existing_rule(conn: Connection, rule: RuleRef) -> Row:
    row = find_rule(conn, rule)
    if row is None:
        raise rule_not_found(rule.name, rule.bus.name)
    return row


def rule_key(rule: RuleRef) -> tuple[Any, ...]:
    return (rules_table.c.account_id == rule.bus.account_id,
            rules_table.c.region == rule.bus.region, rules_table.c.bus == rule.bus.name,
            rules_table.c.name == rule.name)


def rule_shape(row: Row) -> dict[str, Any]:
    rule = RuleRef(BusRef(row.account_id, row.region, row.bus), row.name)
    shape: dict[str, Any] = {"Name": row.name, "Arn": rule.arn}
    if row.event_pattern:
        shape["EventPattern"] = row.event_pattern
    if row.schedule:
        shape["ScheduleExpression"] = row.schedule
    shape["State"] = row.state
    if row.description:
        shape["Description"] = row.description
    if row.role_arn:
        shape["RoleArn"] = row.role_arn
    shape["EventBusName"] = row.bus
    return shape


def check_schedule(expression: str, bus: BusRef) -> None:
    if bus.name != DEFAULT_BUS:
        raise validation("ScheduleExpression is supported only on the default event bus.")
    try:
        parse_schedule(expression)
    except InvalidSchedule:
        raise validation("Parameter ScheduleExpression is not valid.") from None


class RulesApi(Service):
    """The rule operations of the EventBridge service."""

    routes: Routes
    clock: Callable[[], float]

    def put_rule(self, ctx: RequestContext, request: Request) -> Response:
        """Create or replace a rule: what a PutRule omits is no longer set; tags are kept."""
        bus = own_bus(ctx, request.get("EventBusName"))
        rule = RuleRef(bus, request["Name"])
        pattern, schedule = request.get("EventPattern"), request.get("ScheduleExpression")
        if not pattern and not schedule:
            raise validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if pattern:
            compile_pattern(pattern)
        if schedule:
            check_schedule(schedule, bus)
        now = self.clock()
        values = {"event_pattern": pattern or None, "schedule": schedule or None,
                  "state": request.get("State") or ENABLED,
                  "description": request.get("Description") or None,
                  "role_arn": request.get("RoleArn") or None}
        with self.runtime.store.begin() as conn:
            existing_bus(conn, bus)
            row = find_rule(conn, rule)
            if row is None:
                conn.execute(insert(rules_table).values(
                    account_id=bus.account_id, region=bus.region, bus=bus.name, name=rule.name,
                    tags=json.dumps(checked_tags(request.get("Tags") or [])), created=now,
                    anchor=now,
                    last_fired=None, **values))
            else:
                if row.schedule != values["schedule"] or (
                        row.state == DISABLED and values["state"] != DISABLED):
                    values.update(anchor=now, last_fired=None)
                conn.execute(update(rules_table).where(*rule_key(rule)).values(**values))
        self.routes.forget(bus)
        return {"RuleArn": rule.arn}

    def describe_rule(self, ctx: RequestContext, request: Request) -> Response:
        rule = RuleRef(own_bus(ctx, request.get("EventBusName")), request["Name"])
        with self.runtime.store.begin() as conn:
            row = existing_rule(conn, rule)
        return {**rule_shape(row), "CreatedBy": row.account_id}

    def enable_rule(self, ctx: RequestContext, request: Request) -> Response:
        return self._set_state(ctx, request, ENABLED)

    def disable_rule(self, ctx: RequestContext, request: Request) -> Response:
        return self._set_state(ctx, request, DISABLED)

    def _set_state(self, ctx: RequestContext, request: Request, state: str) -> Response:
        """A schedule counts afresh from when its rule is enabled again."""
        rule = RuleRef(own_bus(ctx, request.get("EventBusName")), request["Name"])
        with self.runtime.store.begin() as conn:
            row = existing_rule(conn, rule)
            values: dict[str, Any] = {"state": state}
            if row.state == DISABLED and state != DISABLED:
                values.update(anchor=self.clock(), last_fired=None)
            conn.execute(update(rules_table).where(*rule_key(rule)).values(**values))
        self.routes.forget(rule.bus)
        return {}

    def list_rules(self, ctx: RequestContext, request: Request) -> Response:
        bus = own_bus(ctx, request.get("EventBusName"))
        prefix = request.get("NamePrefix") or ""
        with self.runtime.store.begin() as conn:
            existing_bus(conn, bus)
            rows = self._rules_of(conn, bus)
        chosen, token = page([r for r in rows if r.name.startswith(prefix)],
                             lambda r: r.name, request, f"ListRules:{bus.name}:{prefix}")
        response: Response = {"Rules": [rule_shape(r) for r in chosen]}
        if token:
            response["NextToken"] = token
        return response

    def delete_rule(self, ctx: RequestContext, request: Request) -> Response:
        """A rule with targets stays; deleting one that is not there succeeds."""
        rule = RuleRef(own_bus(ctx, request.get("EventBusName")), request["Name"])
        with self.runtime.store.begin() as conn:
            if find_rule(conn, rule) is None:
                return {}
            has_targets = conn.execute(select(targets_table.c.target_id).where(
                targets_table.c.account_id == rule.bus.account_id,
                targets_table.c.region == rule.bus.region,
                targets_table.c.bus == rule.bus.name,
                targets_table.c.rule == rule.name).limit(1)).first()
            if has_targets:
                raise validation("Rule can't be deleted since it has targets.")
            conn.execute(delete(rules_table).where(*rule_key(rule)))
        self.routes.forget(rule.bus)
        return {}

    def list_rule_names_by_target(self, ctx: RequestContext, request: Request) -> Response:
        bus = own_bus(ctx, request.get("EventBusName"))
        with self.runtime.store.begin() as conn:
            existing_bus(conn, bus)
        names = sorted(name for name, route in self.routes.of(bus).items()
                       if any(t["Arn"] == request["TargetArn"] for t in route.targets))
        chosen, token = page(names, lambda n: n, request,
                             f"ListRuleNamesByTarget:{bus.name}:{request['TargetArn']}")
        response: Response = {"RuleNames": chosen}
        if token:
            response["NextToken"] = token
        return response

    def test_event_pattern(self, ctx: RequestContext, request: Request) -> Response:
        pattern = compile_pattern(request["EventPattern"])
        try:
            event = json.loads(request["Event"])
        except ValueError:
            raise validation("Parameter Event is not valid.") from None
        if not isinstance(event, dict) or any(f not in event for f in EVENT_FIELDS):
            raise validation("Parameter Event is not valid.")
        return {"Result": pattern.matches(event)}

    def _rules_of(self, conn: Connection, bus: BusRef) -> list[Row]:
        return list(conn.execute(select(rules_table).where(
            rules_table.c.account_id == bus.account_id, rules_table.c.region == bus.region,
            rules_table.c.bus == bus.name).order_by(rules_table.c.name)).all())
