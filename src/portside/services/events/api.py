"""Amazon EventBridge: buses, rules and targets, PutEvents, and delivery from portside's
internal bus (S3, ECS, schedules, PutEvents) to SQS, ECS RunTask, other buses and Logs.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import json
import time
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import Connection, Table, update

from portside.auth.actions import Action, Check
from portside.context import RequestContext
from portside.services import tag_lists
from portside.services.events.buses import BusesApi, find_bus
from portside.services.events.common import (
    Request,
    Response,
    bus_not_found,
    checked_tags,
    rule_not_found,
    validation,
)
from portside.services.events.delivery import PRINCIPAL, Deliverer
from portside.services.events.model import buses_table, rules_table
from portside.services.events.names import (
    BusRef,
    RuleRef,
    bus_ref,
    parse_bus_arn,
    parse_rule_arn,
)
from portside.services.events.publishing import PublishingApi
from portside.services.events.routes import Routes
from portside.services.events.rules import RulesApi, find_rule, rule_key
from portside.services.events.scheduling import Scheduler
from portside.services.events.targets import TargetsApi


def _rule_arn(ctx: RequestContext, params: dict[str, Any]) -> str:
    name = params.get("Name") or params.get("Rule") or "*"
    return RuleRef(bus_ref(ctx, params.get("EventBusName")), name).arn


def _bus_arn(member: str) -> Any:
    return lambda ctx, params: bus_ref(ctx, params.get(member)).arn


_RULE_OPERATIONS = ("PutRule", "DescribeRule", "DeleteRule", "EnableRule", "DisableRule",
                    "PutTargets", "RemoveTargets", "ListTargetsByRule")
ACTIONS: dict[str, Action | tuple[Action, ...]] = {
    **{op: Action(f"events:{op}", _rule_arn) for op in _RULE_OPERATIONS},
    **{op: Action(f"events:{op}", _bus_arn("Name"))
       for op in ("CreateEventBus", "DeleteEventBus", "DescribeEventBus", "UpdateEventBus")},
    **{op: Action(f"events:{op}", _bus_arn("EventBusName"))
       for op in ("PutPermission", "RemovePermission")},
    **{op: Action(f"events:{op}", "{ResourceARN}")
       for op in ("TagResource", "UntagResource", "ListTagsForResource")},
}


class Events(BusesApi, RulesApi, TargetsApi, PublishingApi):
    name = "events"
    actions = ACTIONS

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.clock = time.time  # tests move time by replacing it
        self.routes = Routes(runtime.store)
        self.deliverer = Deliverer(runtime, self.routes, lambda: self.clock())
        self.scheduler = Scheduler(runtime, lambda: self.clock())

    def start(self) -> None:
        self.runtime.bus.subscribe("events", self.deliverer.on_bus_events)

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self.deliverer.run(), self.scheduler.run()]

    def reset(self) -> None:
        self.routes.reset()
        self.deliverer.reset()

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        """PutEvents needs events:PutEvents on each bus its entries name (another account's
        bus through that bus's policy). A rule or target given a role passes it to
        EventBridge: iam:PassRole on it, with iam:PassedToService events.amazonaws.com."""
        if operation == "PutEvents":
            buses = dict.fromkeys(bus_ref(ctx, e.get("EventBusName")).arn
                                  for e in params.get("Entries") or [])
            return [Check("events:PutEvents", arn) for arn in buses]
        found = super().authorization_checks(ctx, operation, params)
        roles = [params.get("RoleArn")] if operation == "PutRule" else (
            [t.get("RoleArn") for t in params.get("Targets") or []]
            if operation == "PutTargets" else [])
        found += [Check("iam:PassRole", role, {"iam:PassedToService": PRINCIPAL})
                  for role in dict.fromkeys(r for r in roles if r)]
        return found

    # -- tags --------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, request: Request) -> Response:
        with self.runtime.store.begin() as conn:
            table, where, tags = self._tagged(conn, ctx, request["ResourceARN"])
            conn.execute(update(table).where(*where).values(tags=json.dumps(
                checked_tags(tag_lists.merged(tags, request["Tags"], validation)))))
        return {}

    def untag_resource(self, ctx: RequestContext, request: Request) -> Response:
        with self.runtime.store.begin() as conn:
            table, where, tags = self._tagged(conn, ctx, request["ResourceARN"])
            conn.execute(update(table).where(*where).values(
                tags=json.dumps(tag_lists.without(tags, request["TagKeys"]))))
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, request: Request) -> Response:
        with self.runtime.store.begin() as conn:
            _, _, tags = self._tagged(conn, ctx, request["ResourceARN"])
        return {"Tags": tags}

    def _tagged(self, conn: Connection, ctx: RequestContext,
                arn: str) -> tuple[Table, tuple[Any, ...], list[dict[str, str]]]:
        """The table and row key of the caller's rule or bus `arn` names, and its tags."""
        rule = parse_rule_arn(arn)
        if rule is not None:
            own = (rule.bus.account_id, rule.bus.region) == (ctx.account_id, ctx.region)
            row = find_rule(conn, rule) if own else None
            if row is None:
                raise rule_not_found(rule.name, rule.bus.name)
            return rules_table, rule_key(rule), json.loads(row.tags)
        bus = parse_bus_arn(arn) or BusRef("", "", arn)
        own = (bus.account_id, bus.region) == (ctx.account_id, ctx.region)
        row = find_bus(conn, bus) if own else None
        if row is None:
            raise bus_not_found(bus.name)
        where = (buses_table.c.account_id == bus.account_id, buses_table.c.region == bus.region,
                 buses_table.c.name == bus.name)
        return buses_table, where, json.loads(row.tags)
