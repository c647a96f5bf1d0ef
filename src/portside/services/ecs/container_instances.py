"""Container instances: what an agent registers, their state (ACTIVE, DRAINING, INACTIVE),
their resources and attributes, and deregistration.

The built-in attributes (`ecs.availability-zone`, `ecs.instance-type`, `ecs.ami-id`,
`ecs.cpu-architecture`, `ecs.os-type`, the agent's capabilities) are what the agent reports
at registration, completed from the EC2 instance identity document when it sends one; without
one (portside has no EC2), the instance gets a generated `i-…` id (`mi-…` for an external
instance, which reports `ecs.capability.external`) and the zone `<region>a` unless the agent
names another.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterContainerInstance.html
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from portside.context import RequestContext
from portside.protocol.errors import error
from portside.services.base import Service
from portside.services.ecs import paging, tagging
from portside.services.ecs.arns import new_id, parse_child
from portside.services.ecs.capacity import MEMBERSHIP_ATTRIBUTE
from portside.services.ecs.clusters import find_cluster
from portside.services.ecs.common import dumps, invalid, now
from portside.services.ecs.lifecycle import StopCode, TaskStatus
from portside.services.ecs.model import container_instances, revisions, tasks
from portside.services.ecs.placement.query import compile_query
from portside.services.ecs.records import Task
from portside.services.ecs.state import (
    Capacity,
    Change,
    Host,
    ScopeView,
    cluster_scope,
    describe_instance,
    instance_host,
)

Request = dict[str, Any]
Response = dict[str, Any]

EXTERNAL_CAPABILITY = "ecs.capability.external"
CUSTOM_ATTRIBUTES_PER_INSTANCE = 10
_BUILT_IN_PREFIXES = ("ecs.", "com.amazonaws.ecs.", "portside.")
_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9_./\\-]{1,128}")
_ATTRIBUTE_VALUE = re.compile(r"[a-zA-Z0-9_.@:/\\ -]{1,128}")
_SETTABLE_STATES = ("ACTIVE", "DRAINING")
_RESOURCE_NAMES = ("CPU", "MEMORY", "PORTS", "PORTS_UDP")


def check_attribute(name: str, value: str | None) -> None:
    """Attribute names: up to 128 letters, numbers, hyphens, underscores, slashes, back
    slashes or periods; values add at signs, colons and inner spaces (PutAttributes)."""
    if not _ATTRIBUTE_NAME.fullmatch(name):
        raise invalid(f"Attribute name '{name}' is not valid: up to 128 letters, numbers, "
                      "hyphens, underscores, forward slashes, back slashes, or periods.")
    if value is not None and (not _ATTRIBUTE_VALUE.fullmatch(value) or value != value.strip()):
        raise invalid(f"Attribute value '{value}' is not valid: up to 128 letters, numbers, "
                      "hyphens, underscores, periods, at signs, forward slashes, back slashes, "
                      "colons, or spaces, not starting or ending with a space.")


def _custom_count(attributes: Mapping[str, str | None]) -> int:
    return sum(1 for name in attributes if not name.startswith(_BUILT_IN_PREFIXES))


def _identity(document: str | None) -> dict[str, Any]:
    if not document:
        return {}
    try:
        found = json.loads(document)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise invalid("The instance identity document is not valid JSON.")
    return found


def _resources(given: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """totalResources as registeredResources: CPU and MEMORY integers, PORTS and PORTS_UDP
    string sets of port numbers."""
    found = {r["name"]: r for r in given or ()}
    out = []
    for name in _RESOURCE_NAMES:
        entry = found.get(name, {})
        if name in ("CPU", "MEMORY"):
            value = entry.get("integerValue", entry.get("longValue", 0)) or 0
            if value < 0:
                raise invalid(f"The {name} resource can't be negative.")
            out.append({"name": name, "type": "INTEGER", "integerValue": int(value)})
        else:
            ports = entry.get("stringSetValue") or []
            if not all(p.isdigit() and 0 < int(p) < 65536 for p in ports):
                raise invalid(f"The {name} resource must list port numbers.")
            out.append({"name": name, "type": "STRINGSET",
                        "stringSetValue": sorted(set(ports), key=int)})
    return out


def _capacity(resources: list[dict[str, Any]]) -> Capacity:
    by_name = {r["name"]: r for r in resources}
    return Capacity(by_name["CPU"]["integerValue"], by_name["MEMORY"]["integerValue"],
                    frozenset(int(p) for p in by_name["PORTS"]["stringSetValue"]),
                    frozenset(int(p) for p in by_name["PORTS_UDP"]["stringSetValue"]))


class ContainerInstancesApi(Service):
    # -- registration -----------------------------------------------------------------------

    def register_container_instance(self, ctx: RequestContext, request: Request) -> Response:
        """Register (or, with `containerInstanceArn`, re-register after an agent restart) a
        host. Its agent is connected once it holds its channel (docs/agent-protocol.md)."""
        identity = _identity(request.get("instanceIdentityDocument"))
        given = {a["name"]: a.get("value") for a in request.get("attributes") or ()}
        for name, value in given.items():
            check_attribute(name, value)
        if _custom_count(given) > CUSTOM_ATTRIBUTES_PER_INSTANCE:
            raise error("AttributeLimitExceededException",
                        f"You can apply up to {CUSTOM_ATTRIBUTES_PER_INSTANCE} custom "
                        "attributes for each resource.")
        attributes = _built_in_attributes(ctx.region, identity, given)
        resources = _resources(request.get("totalResources"))
        tags = tagging.validated(request.get("tags") or [])
        at = now()
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
        provider = attributes.get(MEMBERSHIP_ATTRIBUTE)
        if provider and provider not in json.loads(cluster.capacity_providers):
            raise invalid(f"The capacity provider '{provider}' is not associated with the "
                          "cluster.")
        columns = {
            "status": "ACTIVE", "status_reason": None,
            "version_info": dumps(request.get("versionInfo") or {}),
            "registered_resources": dumps(resources), "attributes": dumps(attributes),
            "platform_devices": dumps(request.get("platformDevices") or []),
            "capacity_provider_name": provider,
        }
        with self.state.write(cluster_scope(ctx.account_id, ctx.region, cluster.name)) as (
                conn, view):
            if request.get("containerInstanceArn"):
                host = self._reregistered(view, request["containerInstanceArn"])
                host.registered = _capacity(resources)
                self.state.instance_changed(conn, view, host, at, **columns)
            else:
                ec2_id = identity.get("instanceId") or _generated_instance_id(attributes)
                host = self.state.add_instance(conn, view, {
                    **columns, "id": new_id(), "account_id": ctx.account_id,
                    "region": ctx.region, "cluster": cluster.name, "ec2_instance_id": ec2_id,
                    "agent_connected": False, "version": 1, "tags": dumps(tags),
                    "registered_at": at, "updated_at": at}, at)
            return {"containerInstance": describe_instance(host, include_tags=True)}

    def _reregistered(self, view: ScopeView, reference: str) -> Host:
        ref = parse_child(reference, "container-instance")
        host = view.hosts.get(ref.name)
        if host is None:
            raise invalid(f"Container instance {reference} is not registered in the cluster; "
                          "it may have been deregistered.")
        return host

    def deregister_container_instance(self, ctx: RequestContext, request: Request) -> Response:
        """An instance with live tasks goes only with `force`, which stops them: they are
        STOPPED here at once, and the agent, while it is still connected, is told to stop
        them."""
        at = now()
        stopped: list[Task] = []
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
        with self.state.write(cluster_scope(ctx.account_id, ctx.region, cluster.name)) as (
                conn, view):
            host = self._live_host(view, request["containerInstance"])
            if host.held and not request.get("force"):
                raise invalid("The container instance has tasks that are running or pending; "
                              "deregister it with force to stop them.")
            reason = f"Container instance {host.arn} was deregistered."
            for row in conn.execute(select(tasks).where(tasks.c.id.in_(list(host.held)))):
                task = Task.from_row(row)
                self.state.transition(conn, view, task, Change(
                    last_status=TaskStatus.STOPPED, stop_code=StopCode.USER_INITIATED,
                    stopped_reason=reason), at)
                stopped.append(task)
            self.state.instance_changed(conn, view, host, at, status="INACTIVE",
                                        agent_connected=False)
            found = describe_instance(host)
        self.agents.stop_and_close(host.id, stopped)
        return {"containerInstance": found}

    # -- reading ----------------------------------------------------------------------------

    def describe_container_instances(self, ctx: RequestContext, request: Request) -> Response:
        include_tags = "TAGS" in (request.get("include") or ())
        found, failures = [], []
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            view = self.state.view(conn, cluster_scope(ctx.account_id, ctx.region,
                                                       cluster.name))
            for reference in request["containerInstances"]:
                host = self._any_host(conn, view, reference)
                if host is None:
                    failures.append({"arn": reference, "reason": "MISSING"})
                else:
                    found.append(describe_instance(host, include_tags))
        return {"containerInstances": found, "failures": failures}

    def list_container_instances(self, ctx: RequestContext, request: Request) -> Response:
        """The live instances (of a status, when asked), filtered by a cluster query language
        expression. Deregistered (INACTIVE) ones are only describable."""
        status = request.get("status")
        query = compile_query(request["filter"]) if request.get("filter") else None
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            view = self.state.view(conn, cluster_scope(ctx.account_id, ctx.region,
                                                       cluster.name))
            hosts = list(view.hosts.values())
        if status is not None:
            hosts = [h for h in hosts if h.status == status]
        if query is not None:
            hosts = [h for h in hosts if query.matches(h.placement_view())]
        hosts.sort(key=lambda h: h.arn)
        chunk, more = paging.page(hosts, request, lambda h: [h.arn])
        return {"containerInstanceArns": [h.arn for h in chunk], **more}

    # -- state and attributes ---------------------------------------------------------------

    def update_container_instances_state(self, ctx: RequestContext,
                                         request: Request) -> Response:
        """ACTIVE or DRAINING. A DRAINING instance gets no new task; its running tasks go on
        (a service replaces its own tasks elsewhere, which arrives with services)."""
        status = request["status"]
        if status not in _SETTABLE_STATES:
            raise invalid("Container instances can only be updated to ACTIVE or DRAINING.")
        at = now()
        found, failures = [], []
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
        with self.state.write(cluster_scope(ctx.account_id, ctx.region, cluster.name)) as (
                conn, view):
            for reference in request["containerInstances"]:
                host = view.hosts.get(parse_child(reference, "container-instance").name)
                if host is None:
                    failures.append({"arn": reference, "reason": "MISSING"})
                    continue
                if host.status != status:
                    self.state.instance_changed(conn, view, host, at, status=status)
                found.append(describe_instance(host))
        return {"containerInstances": found, "failures": failures}

    def put_attributes(self, ctx: RequestContext, request: Request) -> Response:
        attributes = request["attributes"]
        for attribute in attributes:
            _check_target(attribute)
            check_attribute(attribute["name"], attribute.get("value"))
        at = now()
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
        with self.state.write(cluster_scope(ctx.account_id, ctx.region, cluster.name)) as (
                conn, view):
            changes: dict[str, dict[str, str | None]] = {}
            for attribute in attributes:
                host = self._target(view, attribute["targetId"])
                merged = changes.setdefault(host.id, dict(host.attributes))
                merged[attribute["name"]] = attribute.get("value")
            for host_id, merged in changes.items():
                if _custom_count(merged) > CUSTOM_ATTRIBUTES_PER_INSTANCE:
                    raise error("AttributeLimitExceededException",
                                f"You can apply up to {CUSTOM_ATTRIBUTES_PER_INSTANCE} custom "
                                "attributes for each resource.")
                self.state.instance_changed(conn, view, view.hosts[host_id], at,
                                            attributes=dumps(merged))
        return {"attributes": attributes}

    def delete_attributes(self, ctx: RequestContext, request: Request) -> Response:
        attributes = request["attributes"]
        for attribute in attributes:
            _check_target(attribute)
        at = now()
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
        with self.state.write(cluster_scope(ctx.account_id, ctx.region, cluster.name)) as (
                conn, view):
            changes: dict[str, dict[str, str | None]] = {}
            for attribute in attributes:
                host = self._target(view, attribute["targetId"])
                changes.setdefault(host.id, dict(host.attributes)).pop(attribute["name"], None)
            for host_id, remaining in changes.items():
                self.state.instance_changed(conn, view, view.hosts[host_id], at,
                                            attributes=dumps(remaining))
        return {"attributes": attributes}

    def list_attributes(self, ctx: RequestContext, request: Request) -> Response:
        """The attributes of the cluster's instances, optionally one name (and value)."""
        if request["targetType"] != "container-instance":
            raise invalid("targetType must be container-instance.")
        name, value = request.get("attributeName"), request.get("attributeValue")
        if value is not None and name is None:
            raise invalid("attributeValue requires attributeName.")
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            view = self.state.view(conn, cluster_scope(ctx.account_id, ctx.region,
                                                       cluster.name))
            found = []
            for host in sorted(view.hosts.values(), key=lambda h: h.arn):
                for key, val in sorted(host.attributes.items()):
                    if (name is None or key == name) and (value is None or val == value):
                        entry = {"name": key, "targetType": "container-instance",
                                 "targetId": host.arn}
                        if val is not None:
                            entry["value"] = val
                        found.append(entry)
        chunk, more = paging.page(found, request, lambda a: [a["targetId"], a["name"]])
        return {"attributes": chunk, **more}

    # -- the agent's entry point ------------------------------------------------------------

    def discover_poll_endpoint(self, ctx: RequestContext, request: Request) -> Response:
        """Where the instance's agent holds its channel: this endpoint, as the agent reached
        it, under /_portside/agent (docs/agent-protocol.md)."""
        base = f"http://{ctx.host}" if ctx.host else self.runtime.settings.endpoint
        endpoint = base.rstrip("/") + "/_portside/agent"
        return {"endpoint": endpoint, "telemetryEndpoint": endpoint,
                "serviceConnectEndpoint": endpoint}

    # -- helpers ----------------------------------------------------------------------------

    def _live_host(self, view: ScopeView, reference: str) -> Host:
        host = view.hosts.get(parse_child(reference, "container-instance").name)
        if host is None:
            raise invalid("The referenced container instance was not found.")
        return host

    def _target(self, view: ScopeView, reference: str) -> Host:
        host = view.hosts.get(parse_child(reference, "container-instance").name)
        if host is None:
            raise error("TargetNotFoundException",
                        f"Could not find {reference}. Check the target and try again.")
        return host

    def _any_host(self, conn: Connection, view: ScopeView, reference: str) -> Host | None:
        """A live instance from the scope, or a deregistered one from the store."""
        ident = parse_child(reference, "container-instance").name
        host = view.hosts.get(ident)
        if host is not None:
            return host
        row = conn.execute(select(container_instances).where(
            container_instances.c.id == ident)).mappings().first()
        if row is None or view.scope != cluster_scope(row["account_id"], row["region"],
                                                      row["cluster"]):
            return None
        return instance_host(dict(row))


def _check_target(attribute: Mapping[str, Any]) -> None:
    if attribute.get("targetType", "container-instance") != "container-instance":
        raise invalid("targetType must be container-instance.")
    if not attribute.get("targetId"):
        raise invalid("targetId is required: the container instance the attribute is for.")


def _built_in_attributes(region: str, identity: Mapping[str, Any],
                         given: Mapping[str, str | None]) -> dict[str, str | None]:
    """The agent's attributes, completed from the identity document (which, like EC2's word
    on an instance, wins) and with a zone and an OS type when nobody named them."""
    attributes = dict(given)
    from_identity = {"ecs.availability-zone": identity.get("availabilityZone"),
                     "ecs.instance-type": identity.get("instanceType"),
                     "ecs.ami-id": identity.get("imageId"),
                     "ecs.cpu-architecture": identity.get("architecture")}
    attributes.update({k: v for k, v in from_identity.items() if v})
    attributes.setdefault("ecs.availability-zone", f"{region}a")
    attributes.setdefault("ecs.os-type", "linux")
    return attributes


def _generated_instance_id(attributes: Mapping[str, str | None]) -> str:
    prefix = "mi-" if EXTERNAL_CAPABILITY in attributes else "i-"
    return prefix + secrets.token_hex(9)[:17]


def _read_tags(conn: Connection, arn: tagging.ResourceArn) -> tagging.Tags | None:
    ident = arn.resource_id.rsplit("/", 1)[-1]
    row = conn.execute(select(container_instances.c.tags, container_instances.c.status).where(
        container_instances.c.id == ident,
        container_instances.c.account_id == arn.account_id,
        container_instances.c.region == arn.region)).first()
    return json.loads(row.tags) if row is not None and row.status != "INACTIVE" else None


def _write_tags(conn: Connection, arn: tagging.ResourceArn, tags: tagging.Tags) -> None:
    """Write the tags, and move the cluster's revision on so that cached copies reload."""
    ident = arn.resource_id.rsplit("/", 1)[-1]
    conn.execute(update(container_instances).where(container_instances.c.id == ident)
                 .values(tags=dumps(tags)))
    cluster = conn.execute(select(container_instances.c.cluster).where(
        container_instances.c.id == ident)).scalar_one()
    conn.execute(update(revisions).where(
        revisions.c.scope == cluster_scope(arn.account_id, arn.region, cluster))
        .values(revision=revisions.c.revision + 1))


tagging.register("container-instance", tagging.TagHolder(_read_tags, _write_tags))
