"""Names and ARNs of EventBridge resources, and what a target ARN points at.
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portside.context import RequestContext

DEFAULT_BUS = "default"
_BUS_ARN = re.compile(
    r"arn:aws[\w-]*:events:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):event-bus/(?P<name>.+)")
_RULE_ARN = re.compile(
    r"arn:aws[\w-]*:events:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):rule/(?P<path>.+)")
_ARN = re.compile(r"arn:aws[\w-]*:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
                  r"(?P<account>\d{12})?:(?P<resource>.+)")


@dataclass(frozen=True)
class BusRef:
    account_id: str
    region: str
    name: str

    @property
    def arn(self) -> str:
        return bus_arn(self.region, self.account_id, self.name)


@dataclass(frozen=True)
class RuleRef:
    bus: BusRef
    name: str

    @property
    def arn(self) -> str:
        return rule_arn(self.bus, self.name)


@dataclass(frozen=True)
class TargetArn:
    service: str  # sqs, ecs, events, logs, lambda …
    region: str
    account_id: str
    resource: str  # after the account: the queue name, cluster/…, event-bus/…, log-group:…


def bus_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:event-bus/{name}"


def rule_arn(bus: BusRef, name: str) -> str:
    """Rules of the default bus are `rule/<name>`; of a custom bus, `rule/<bus>/<name>`."""
    path = name if bus.name == DEFAULT_BUS else f"{bus.name}/{name}"
    return f"arn:aws:events:{bus.region}:{bus.account_id}:rule/{path}"


def bus_ref(ctx: RequestContext, name_or_arn: str | None) -> BusRef:
    """The bus an EventBusName names: a name in the caller's account and region, or an ARN
    (which may name another account's bus); none is the default bus."""
    if not name_or_arn:
        return BusRef(ctx.account_id, ctx.region, DEFAULT_BUS)
    match = _BUS_ARN.fullmatch(name_or_arn)
    if match:
        return BusRef(match["account"], match["region"], match["name"])
    return BusRef(ctx.account_id, ctx.region, name_or_arn)


def parse_bus_arn(arn: str) -> BusRef | None:
    match = _BUS_ARN.fullmatch(arn)
    return BusRef(match["account"], match["region"], match["name"]) if match else None


def parse_rule_arn(arn: str) -> RuleRef | None:
    match = _RULE_ARN.fullmatch(arn)
    if not match:
        return None
    bus, _, name = match["path"].rpartition("/")
    return RuleRef(BusRef(match["account"], match["region"], bus or DEFAULT_BUS), name)


def parse_target_arn(arn: str) -> TargetArn | None:
    match = _ARN.fullmatch(arn)
    if not match or not match["account"]:
        return None
    return TargetArn(match["service"], match["region"], match["account"], match["resource"])
