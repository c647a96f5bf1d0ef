"""Capacity providers: FARGATE and FARGATE_SPOT, built in, and the ones an account creates for
its own container instances; capacity provider strategies and how a RunTask splits over one.

portside has no EC2 Auto Scaling: CreateCapacityProvider accepts any well-formed
`autoScalingGroupArn` and keeps it as given, but nothing scales. A container instance belongs
to a provider when its agent registers with the attribute `portside.capacity-provider` naming
it (`portside agent --capacity-provider NAME`); tasks placed through that provider go only to
those instances.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-capacity-providers.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from portside.context import RequestContext
from portside.protocol.errors import error
from portside.services.base import Service
from portside.services.ecs import paging, tagging
from portside.services.ecs.arns import capacity_provider_arn
from portside.services.ecs.common import dumps, invalid, now
from portside.services.ecs.model import capacity_providers, clusters

Request = dict[str, Any]
Response = dict[str, Any]

FARGATE = "FARGATE"
FARGATE_SPOT = "FARGATE_SPOT"
BUILT_IN = (FARGATE, FARGATE_SPOT)
MEMBERSHIP_ATTRIBUTE = "portside.capacity-provider"
MAX_STRATEGY_ITEMS = 6  # "A capacity provider strategy may contain a maximum of 6 providers"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_ASG_ARN = re.compile(r"arn:aws[a-z-]*:autoscaling:[a-z0-9-]+:\d{12}:autoScalingGroup:"
                      r"[0-9a-f-]+:autoScalingGroupName/[^:]{1,255}")
_RESERVED_PREFIXES = ("aws", "ecs", "fargate")


def provider_names(conn: Connection, ctx: RequestContext) -> set[str]:
    """Every provider a cluster of the caller may use: the built-in ones and its own."""
    own = conn.execute(select(capacity_providers.c.name).where(
        capacity_providers.c.account_id == ctx.account_id,
        capacity_providers.c.region == ctx.region,
        capacity_providers.c.status == "ACTIVE")).scalars().all()
    return {*BUILT_IN, *own}


def check_strategy(providers: Sequence[str], strategy: Sequence[Mapping[str, Any]],
                   known: set[str]) -> None:
    """A cluster's providers must exist; its default strategy may only name them."""
    for name in providers:
        if name not in known:
            raise invalid(f"The specified capacity provider '{name}' does not exist.")
    for item in strategy:
        if item["capacityProvider"] not in providers:
            raise invalid("The specified capacity provider strategy cannot contain a capacity "
                          "provider that is not associated with the cluster.")
    check_strategy_items(strategy)


def check_strategy_items(strategy: Sequence[Mapping[str, Any]]) -> None:
    """The rules of any capacity provider strategy (CapacityProviderStrategyItem)."""
    if len(strategy) > MAX_STRATEGY_ITEMS:
        raise invalid(f"A capacity provider strategy can contain at most "
                      f"{MAX_STRATEGY_ITEMS} capacity providers.")
    names = [item["capacityProvider"] for item in strategy]
    if len(set(names)) != len(names):
        raise invalid("A capacity provider strategy cannot contain duplicate capacity "
                      "providers.")
    for item in strategy:
        if not 0 <= item.get("weight", 0) <= 1000:
            raise invalid("The weight of a capacity provider must be between 0 and 1000.")
        if not 0 <= item.get("base", 0) <= 100000:
            raise invalid("The base of a capacity provider must be between 0 and 100000.")
    if sum(1 for item in strategy if item.get("base", 0) > 0) > 1:
        raise invalid("Only one capacity provider in a strategy can have a base defined.")
    fargate = {n in BUILT_IN for n in names}
    if len(fargate) > 1:
        raise invalid("The specified capacity provider strategy cannot contain a mix of "
                      "capacity providers using Auto Scaling groups and Fargate providers.")
    if strategy and not any(item.get("weight", 0) > 0 for item in strategy):
        raise invalid("The capacity provider strategy must have at least one capacity "
                      "provider with a weight greater than zero.")


def split(strategy: Sequence[Mapping[str, Any]], count: int) -> list[str]:
    """The provider of each of `count` tasks: the first `base` go to the provider with a base,
    the rest in proportion to the weights (each to the provider furthest below its share)."""
    chosen: list[str] = []
    for item in strategy:
        chosen += [item["capacityProvider"]] * min(item.get("base", 0), count - len(chosen))
    weighted = [item for item in strategy if item.get("weight", 0) > 0]
    total = sum(item["weight"] for item in weighted)
    given = dict.fromkeys((item["capacityProvider"] for item in weighted), 0)
    for placed in range(count - len(chosen)):
        best = max(weighted, key=lambda item: item["weight"] * (placed + 1) / total
                   - given[item["capacityProvider"]])
        given[best["capacityProvider"]] += 1
        chosen.append(best["capacityProvider"])
    return chosen


def _describe_provider(row: Row | None, name: str, ctx: RequestContext,
                       include_tags: bool) -> dict[str, Any]:
    if row is None:
        doc: dict[str, Any] = {"capacityProviderArn": capacity_provider_arn(
            ctx.region, ctx.account_id, name), "name": name, "status": "ACTIVE",
            "type": name}
        if include_tags:
            doc["tags"] = []
        return doc
    doc = {"capacityProviderArn": capacity_provider_arn(row.region, row.account_id, row.name),
           "name": row.name, "status": row.status, "type": "EC2_AUTOSCALING",
           "updateStatus": row.update_status}
    if row.auto_scaling_group_provider:
        doc["autoScalingGroupProvider"] = json.loads(row.auto_scaling_group_provider)
    if include_tags:
        doc["tags"] = json.loads(row.tags)
    return doc


class CapacityProvidersApi(Service):
    def create_capacity_provider(self, ctx: RequestContext, request: Request) -> Response:
        name = request["name"]
        if not _NAME.fullmatch(name):
            raise invalid("Capacity provider names may contain up to 255 letters, numbers, "
                          "underscores, and hyphens.")
        if name.lower().startswith(_RESERVED_PREFIXES):
            raise invalid("The specified capacity provider name is invalid. Capacity provider "
                          "names can't be prefixed with 'aws', 'ecs', or 'fargate'.")
        if request.get("managedInstancesProvider"):
            raise error("UnsupportedFeatureException",
                        "portside does not provide ECS Managed Instances.")
        asg = request.get("autoScalingGroupProvider")
        if asg is None:
            raise invalid("autoScalingGroupProvider is required.")
        if not _ASG_ARN.fullmatch(asg["autoScalingGroupArn"]):
            raise invalid("The specified Auto Scaling group ARN is not valid.")
        asg = {"managedTerminationProtection": "DISABLED", "managedDraining": "ENABLED",
               **asg}
        tags = tagging.validated(request.get("tags") or [])
        with self.runtime.store.begin() as conn:
            existing = conn.execute(select(capacity_providers).where(
                capacity_providers.c.account_id == ctx.account_id,
                capacity_providers.c.region == ctx.region,
                capacity_providers.c.name == name)).first()
            if existing is not None and existing.status == "ACTIVE":
                raise invalid("The specified capacity provider already exists. To change the "
                              "configuration of an existing capacity provider, update the "
                              "capacity provider.")
            values = {"account_id": ctx.account_id, "region": ctx.region, "name": name,
                      "status": "ACTIVE", "update_status": None,
                      "auto_scaling_group_provider": dumps(asg), "tags": dumps(tags),
                      "created_at": now()}
            if existing is None:
                conn.execute(insert(capacity_providers).values(values))
            else:
                conn.execute(update(capacity_providers).where(
                    capacity_providers.c.id == existing.id).values(values))
            row = self._provider_row(conn, ctx, name)
        return {"capacityProvider": _describe_provider(row, name, ctx, True)}

    def describe_capacity_providers(self, ctx: RequestContext, request: Request) -> Response:
        include_tags = "TAGS" in (request.get("include") or ())
        with self.runtime.store.begin() as conn:
            rows = {r.name: r for r in conn.execute(select(capacity_providers).where(
                capacity_providers.c.account_id == ctx.account_id,
                capacity_providers.c.region == ctx.region))}
        wanted = request.get("capacityProviders")
        if wanted is None:
            names = sorted({*BUILT_IN, *(n for n, r in rows.items() if r.status == "ACTIVE")})
            chunk, more = paging.page(names, request, lambda n: [n])
            return {"capacityProviders": [_describe_provider(rows.get(n), n, ctx, include_tags)
                                          for n in chunk], "failures": [], **more}
        found, failures = [], []
        for reference in wanted:
            name = reference.rsplit("/", 1)[-1] if reference.startswith("arn:") else reference
            if name in BUILT_IN or name in rows:
                found.append(_describe_provider(rows.get(name), name, ctx, include_tags))
            else:
                failures.append({"arn": capacity_provider_arn(ctx.region, ctx.account_id, name),
                                 "reason": "MISSING"})
        return {"capacityProviders": found, "failures": failures}

    def delete_capacity_provider(self, ctx: RequestContext, request: Request) -> Response:
        """A provider goes once no cluster uses it (PutClusterCapacityProviders first)."""
        reference = request["capacityProvider"]
        name = reference.rsplit("/", 1)[-1] if reference.startswith("arn:") else reference
        with self.runtime.store.begin() as conn:
            row = self._provider_row(conn, ctx, name)
            if row is None or row.status != "ACTIVE":
                raise invalid("The specified capacity provider does not exist.")
            in_use = conn.execute(select(clusters.c.capacity_providers).where(
                clusters.c.account_id == ctx.account_id, clusters.c.region == ctx.region,
                clusters.c.status == "ACTIVE")).scalars().all()
            if any(name in json.loads(names) for names in in_use):
                raise error("ResourceInUseException",
                            "The specified capacity provider is in use and cannot be removed.")
            conn.execute(update(capacity_providers).where(capacity_providers.c.id == row.id)
                         .values(status="INACTIVE", update_status="DELETE_COMPLETE"))
            row = self._provider_row(conn, ctx, name)
        return {"capacityProvider": _describe_provider(row, name, ctx, False)}

    def _provider_row(self, conn: Connection, ctx: RequestContext, name: str) -> Row | None:
        return conn.execute(select(capacity_providers).where(
            capacity_providers.c.account_id == ctx.account_id,
            capacity_providers.c.region == ctx.region,
            capacity_providers.c.name == name)).first()


def _read_tags(conn: Connection, arn: tagging.ResourceArn) -> tagging.Tags | None:
    row = conn.execute(select(capacity_providers.c.tags, capacity_providers.c.status).where(
        capacity_providers.c.account_id == arn.account_id,
        capacity_providers.c.region == arn.region,
        capacity_providers.c.name == arn.resource_id)).first()
    return json.loads(row.tags) if row is not None and row.status == "ACTIVE" else None


def _write_tags(conn: Connection, arn: tagging.ResourceArn, tags: tagging.Tags) -> None:
    conn.execute(update(capacity_providers).where(
        capacity_providers.c.account_id == arn.account_id,
        capacity_providers.c.region == arn.region,
        capacity_providers.c.name == arn.resource_id).values(tags=dumps(tags)))


tagging.register("capacity-provider", tagging.TagHolder(_read_tags, _write_tags))
