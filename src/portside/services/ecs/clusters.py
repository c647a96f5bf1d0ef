"""Clusters: create (idempotent by name), describe with live counts, list, update, delete, and
the capacity providers a cluster uses with its default strategy.

A deleted cluster stays describable as INACTIVE; creating it again makes it ACTIVE afresh.
The `default` cluster exists once something creates it (the console, an agent registering
with no cluster named, or CreateCluster); RunTask on a missing cluster is
ClusterNotFoundException.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update

from portside.context import RequestContext
from portside.protocol.errors import error
from portside.services.base import Service
from portside.services.ecs import paging, tagging
from portside.services.ecs.arns import (
    DEFAULT_CLUSTER,
    cluster_arn,
    is_valid_cluster_name,
    parse_cluster,
)
from portside.services.ecs.capacity import check_strategy, provider_names
from portside.services.ecs.common import cluster_not_found, dumps, invalid, now
from portside.services.ecs.lifecycle import TaskStatus
from portside.services.ecs.model import clusters, container_instances, tasks
from portside.services.ecs.state import PENDING_STATES
from portside.store import first

Request = dict[str, Any]
Response = dict[str, Any]

CONTAINER_INSIGHTS = frozenset({"enabled", "disabled", "enhanced"})
_INCLUDES = frozenset({"ATTACHMENTS", "CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"})
_LIVE_INSTANCES = ("ACTIVE", "DRAINING")
_CLUSTER = select(clusters).where(clusters.c.account_id == bindparam("account_id"),
                                  clusters.c.region == bindparam("region"),
                                  clusters.c.name == bindparam("name"))


def find_cluster(conn: Connection, ctx: RequestContext, reference: str | None,
                 active: bool = True) -> Row:
    """The cluster a request names (by name or ARN, `default` when it names none) in the
    caller's account and region; ClusterNotFoundException when there is none (or, when
    `active`, when it was deleted)."""
    ref = parse_cluster(reference)
    if (ref.account_id or ctx.account_id) != ctx.account_id or (
            ref.region or ctx.region) != ctx.region:
        raise cluster_not_found()
    row = first(conn, _CLUSTER, {"account_id": ctx.account_id, "region": ctx.region,
                                 "name": ref.name})
    if row is None or (active and row.status != "ACTIVE"):
        raise cluster_not_found()
    return row


def _settings(given: Sequence[Mapping[str, str]] | None,
              current: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    merged = {s["name"]: s["value"] for s in current}
    for setting in given or ():
        if setting["name"] == "containerInsights" and setting["value"] not in CONTAINER_INSIGHTS:
            raise invalid("containerInsights must be one of enabled, disabled or enhanced.")
        merged[setting["name"]] = setting["value"]
    merged.setdefault("containerInsights", "disabled")
    return [{"name": k, "value": v} for k, v in merged.items()]


class ClustersApi(Service):
    # -- create, describe, list ---------------------------------------------------------------

    def create_cluster(self, ctx: RequestContext, request: Request) -> Response:
        name = request.get("clusterName") or DEFAULT_CLUSTER
        if not is_valid_cluster_name(name):
            raise invalid("Cluster name may contain up to 255 letters (uppercase and "
                          "lowercase), numbers, underscores, and hyphens.")
        tags = tagging.validated(request.get("tags") or [])
        providers = list(request.get("capacityProviders") or [])
        strategy = list(request.get("defaultCapacityProviderStrategy") or [])
        with self.runtime.store.begin() as conn:
            existing = conn.execute(select(clusters).where(
                clusters.c.account_id == ctx.account_id, clusters.c.region == ctx.region,
                clusters.c.name == name)).first()
            if existing is not None and existing.status == "ACTIVE":
                return {"cluster": self._describe_cluster(conn, existing, _INCLUDES)}
            known = provider_names(conn, ctx)
            check_strategy(providers, strategy, known)
            values = {
                "account_id": ctx.account_id, "region": ctx.region, "name": name,
                "status": "ACTIVE", "created_at": now(),
                "settings": dumps(_settings(request.get("settings"))),
                "configuration": dumps(request["configuration"])
                if request.get("configuration") else None,
                "service_connect_defaults": dumps(request["serviceConnectDefaults"])
                if request.get("serviceConnectDefaults") else None,
                "capacity_providers": dumps(providers), "default_strategy": dumps(strategy),
                "tags": dumps(tags),
            }
            if existing is None:
                conn.execute(insert(clusters).values(values))
            else:
                conn.execute(update(clusters).where(clusters.c.id == existing.id).values(values))
            row = self._cluster_row(conn, ctx, name)
            return {"cluster": self._describe_cluster(conn, row, _INCLUDES)}

    def describe_clusters(self, ctx: RequestContext, request: Request) -> Response:
        include = _includes(request.get("include"))
        found, failures = [], []
        with self.runtime.store.begin() as conn:
            for reference in request.get("clusters") or [DEFAULT_CLUSTER]:
                ref = parse_cluster(reference)
                row = None
                if (ref.account_id or ctx.account_id) == ctx.account_id and (
                        ref.region or ctx.region) == ctx.region:
                    row = self._cluster_row(conn, ctx, ref.name)
                if row is None:
                    failures.append({"arn": cluster_arn(ctx.region, ctx.account_id, ref.name)
                                     if ref.account_id is None else reference,
                                     "reason": "MISSING"})
                else:
                    found.append(self._describe_cluster(conn, row, include))
        return {"clusters": found, "failures": failures}

    def list_clusters(self, ctx: RequestContext, request: Request) -> Response:
        with self.runtime.store.begin() as conn:
            names = conn.execute(select(clusters.c.name).where(
                clusters.c.account_id == ctx.account_id, clusters.c.region == ctx.region,
                clusters.c.status == "ACTIVE").order_by(clusters.c.name)).scalars().all()
        chunk, more = paging.page(names, request, lambda n: [n])
        return {"clusterArns": [cluster_arn(ctx.region, ctx.account_id, n) for n in chunk],
                **more}

    # -- update, delete ---------------------------------------------------------------------

    def update_cluster(self, ctx: RequestContext, request: Request) -> Response:
        with self.runtime.store.begin() as conn:
            row = find_cluster(conn, ctx, request["cluster"])
            values: dict[str, Any] = {}
            if request.get("settings") is not None:
                values["settings"] = dumps(_settings(request["settings"],
                                                     json.loads(row.settings)))
            if request.get("configuration") is not None:
                values["configuration"] = dumps(request["configuration"])
            if request.get("serviceConnectDefaults") is not None:
                values["service_connect_defaults"] = dumps(request["serviceConnectDefaults"])
            if values:
                conn.execute(update(clusters).where(clusters.c.id == row.id).values(values))
            return {"cluster": self._describe_cluster(
                conn, self._cluster_row(conn, ctx, row.name), _INCLUDES)}

    def update_cluster_settings(self, ctx: RequestContext, request: Request) -> Response:
        with self.runtime.store.begin() as conn:
            row = find_cluster(conn, ctx, request["cluster"])
            conn.execute(update(clusters).where(clusters.c.id == row.id).values(
                settings=dumps(_settings(request["settings"], json.loads(row.settings)))))
            return {"cluster": self._describe_cluster(
                conn, self._cluster_row(conn, ctx, row.name), {"SETTINGS"})}

    def delete_cluster(self, ctx: RequestContext, request: Request) -> Response:
        """Only an empty cluster goes: no registered instance, no live task, no service."""
        with self.runtime.store.begin() as conn:
            row = find_cluster(conn, ctx, request["cluster"])
            counts = _counts(conn, row)
            if counts["registeredContainerInstancesCount"]:
                raise error("ClusterContainsContainerInstancesException",
                            "The Cluster cannot be deleted while Container Instances are "
                            "active or draining.")
            if _live_tasks(conn, row):
                raise error("ClusterContainsTasksException",
                            "The Cluster cannot be deleted while Tasks are active.")
            if counts["activeServicesCount"]:
                raise error("ClusterContainsServicesException",
                            "The Cluster cannot be deleted while Services are active.")
            conn.execute(update(clusters).where(clusters.c.id == row.id).values(
                status="INACTIVE", capacity_providers="[]", default_strategy="[]"))
            return {"cluster": self._describe_cluster(
                conn, self._cluster_row(conn, ctx, row.name), _INCLUDES)}

    # -- capacity providers of a cluster ----------------------------------------------------

    def put_cluster_capacity_providers(self, ctx: RequestContext, request: Request) -> Response:
        """Replace the cluster's providers and default strategy. A provider that live tasks
        still use can't be removed."""
        providers = list(request["capacityProviders"])
        strategy = list(request["defaultCapacityProviderStrategy"])
        with self.runtime.store.begin() as conn:
            row = find_cluster(conn, ctx, request["cluster"])
            check_strategy(providers, strategy, provider_names(conn, ctx))
            removed = set(json.loads(row.capacity_providers)) - set(providers)
            if removed and conn.execute(select(func.count()).select_from(tasks).where(
                    tasks.c.account_id == row.account_id, tasks.c.region == row.region,
                    tasks.c.cluster == row.name, tasks.c.released.is_(False),
                    tasks.c.capacity_provider_name.in_(removed))).scalar():
                raise error("ResourceInUseException",
                            "The specified capacity provider is in use and cannot be removed.")
            conn.execute(update(clusters).where(clusters.c.id == row.id).values(
                capacity_providers=dumps(providers), default_strategy=dumps(strategy)))
            return {"cluster": self._describe_cluster(
                conn, self._cluster_row(conn, ctx, row.name), _INCLUDES)}

    # -- helpers ----------------------------------------------------------------------------

    def _cluster_row(self, conn: Connection, ctx: RequestContext, name: str) -> Row | None:
        return conn.execute(select(clusters).where(
            clusters.c.account_id == ctx.account_id, clusters.c.region == ctx.region,
            clusters.c.name == name)).first()

    def _describe_cluster(self, conn: Connection, row: Row,
                          include: Iterable[str]) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "clusterArn": cluster_arn(row.region, row.account_id, row.name),
            "clusterName": row.name,
            "status": row.status,
            **_counts(conn, row),
            "capacityProviders": json.loads(row.capacity_providers),
            "defaultCapacityProviderStrategy": json.loads(row.default_strategy),
        }
        include = set(include)
        if "SETTINGS" in include:
            doc["settings"] = json.loads(row.settings)
        if "CONFIGURATIONS" in include and row.configuration:
            doc["configuration"] = json.loads(row.configuration)
        if row.service_connect_defaults:
            doc["serviceConnectDefaults"] = json.loads(row.service_connect_defaults)
        if "TAGS" in include:
            doc["tags"] = json.loads(row.tags)
        if "STATISTICS" in include:
            doc["statistics"] = _statistics(conn, row)
        if "ATTACHMENTS" in include:
            doc["attachments"] = []  # no Auto Scaling group resources to attach in portside
            doc["attachmentsStatus"] = "UPDATE_COMPLETE"
        return doc


def _includes(values: Iterable[str] | None) -> set[str]:
    include = set(values or ())
    unknown = include - _INCLUDES
    if unknown:
        raise invalid(f"Invalid include values: {', '.join(sorted(unknown))}.")
    return include


def _counts(conn: Connection, row: Row) -> dict[str, int]:
    instances = conn.execute(select(func.count()).select_from(container_instances).where(
        container_instances.c.account_id == row.account_id,
        container_instances.c.region == row.region, container_instances.c.cluster == row.name,
        container_instances.c.status.in_(_LIVE_INSTANCES))).scalar()
    by_status = dict(conn.execute(select(tasks.c.last_status, func.count()).where(
        tasks.c.account_id == row.account_id, tasks.c.region == row.region,
        tasks.c.cluster == row.name, tasks.c.released.is_(False),
    ).group_by(tasks.c.last_status)).all())
    return {"registeredContainerInstancesCount": instances,
            "runningTasksCount": by_status.get(TaskStatus.RUNNING.value, 0),
            "pendingTasksCount": sum(by_status.get(s.value, 0) for s in PENDING_STATES),
            "activeServicesCount": 0}


def _live_tasks(conn: Connection, row: Row) -> int:
    return conn.execute(select(func.count()).select_from(tasks).where(
        tasks.c.account_id == row.account_id, tasks.c.region == row.region,
        tasks.c.cluster == row.name, tasks.c.released.is_(False))).scalar()


def _statistics(conn: Connection, row: Row) -> list[dict[str, str]]:
    """Task counts by launch type, EXTERNAL counted with EC2 (services arrive with the
    services issue: zero here)."""
    counted = conn.execute(select(tasks.c.launch_type, tasks.c.last_status, func.count()).where(
        tasks.c.account_id == row.account_id, tasks.c.region == row.region,
        tasks.c.cluster == row.name, tasks.c.released.is_(False),
    ).group_by(tasks.c.launch_type, tasks.c.last_status)).all()
    stats = dict.fromkeys(("runningEC2TasksCount", "runningFargateTasksCount",
                           "pendingEC2TasksCount", "pendingFargateTasksCount",
                           "activeEC2ServiceCount", "activeFargateServiceCount",
                           "drainingEC2ServiceCount", "drainingFargateServiceCount"), 0)
    for launch_type, status, count in counted:
        kind = "Fargate" if launch_type == "FARGATE" else "EC2"
        if status == TaskStatus.RUNNING.value:
            stats[f"running{kind}TasksCount"] += count
        elif status in PENDING_STATES:
            stats[f"pending{kind}TasksCount"] += count
    return [{"name": k, "value": str(v)} for k, v in stats.items()]


def read_cluster_tags(conn: Connection, arn: tagging.ResourceArn) -> tagging.Tags | None:
    row = conn.execute(select(clusters.c.tags, clusters.c.status).where(
        clusters.c.account_id == arn.account_id, clusters.c.region == arn.region,
        clusters.c.name == arn.resource_id)).first()
    return json.loads(row.tags) if row is not None and row.status == "ACTIVE" else None


def write_cluster_tags(conn: Connection, arn: tagging.ResourceArn, tags: tagging.Tags) -> None:
    conn.execute(update(clusters).where(
        clusters.c.account_id == arn.account_id, clusters.c.region == arn.region,
        clusters.c.name == arn.resource_id).values(tags=dumps(tags)))


tagging.register("cluster", tagging.TagHolder(read_cluster_tags, write_cluster_tags))
