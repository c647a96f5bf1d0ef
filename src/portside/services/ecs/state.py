"""The scheduler's state: hosts and what tasks hold on them, kept in memory per placement scope,
and the one place where tasks are created and change state.

A scope is a cluster's container instances, or portside's Fargate capacity. Placing 10,000
tasks must not re-read a thousand instances per call, so each scope's hosts live in memory,
trusted only while the scope's revision in the store equals the copy's (another control-plane
process may have changed it); every write that changes a scope bumps its revision in the same
transaction, and a transaction that fails drops the copy. A cluster's copy carries the
placement engine's index of its instances, refreshed from the hosts whenever one changes.

`transition` is the single function that moves a task: it follows the lifecycle table, stamps
the timestamps, bumps `version`, releases the host's resources at STOPPED and publishes "ECS
Task State Change" in the transaction that records the change.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update

from portside.services.ecs import events
from portside.services.ecs.arns import cluster_arn, container_instance_arn
from portside.services.ecs.common import dumps
from portside.services.ecs.lifecycle import ENI_STEPS, STAMPS, StopCode, TaskStatus, task_path
from portside.services.ecs.model import (
    FARGATE_TASKS,
    container_instances,
    fargate_hosts,
    revisions,
    tasks,
)
from portside.services.ecs.placement.engine import InstanceView, PlacementState
from portside.services.ecs.records import Reservation, Task
from portside.store import executemany, first

if TYPE_CHECKING:
    from portside.events import EventBus
    from portside.events.bus import EncodedEvent, Publishable
    from portside.store import Store

FARGATE_SCOPE = "fargate"
PENDING_STATES = frozenset({TaskStatus.PROVISIONING, TaskStatus.PENDING, TaskStatus.ACTIVATING})
LIVE_INSTANCE_STATES = frozenset({"ACTIVE", "DRAINING"})

# Statements built once: the scheduler's hot path runs them for every task and instance.
READ_REVISION = select(revisions.c.revision).where(revisions.c.scope == bindparam("scope"))
WRITE_REVISION = update(revisions).where(revisions.c.scope == bindparam("b_scope")).values(
    revision=bindparam("b_revision"))
INSERT_TASK = insert(tasks)
TASK_BY_ID = select(tasks).where(tasks.c.id == bindparam("task_id"))
UPDATE_TASK = update(tasks).where(tasks.c.id == bindparam("b_id")).values(
    last_status=bindparam("b_last"), desired_status=bindparam("b_desired"),
    acked_status=bindparam("b_acked"), version=bindparam("b_version"),
    stopped_at=bindparam("b_stopped_at"), released=bindparam("b_released"),
    document=bindparam("b_document"))
TOUCH_INSTANCE = update(container_instances).where(
    container_instances.c.id == bindparam("b_id")).values(
    version=bindparam("b_version"), updated_at=bindparam("b_updated_at"))


def cluster_scope(account_id: str, region: str, cluster: str) -> str:
    return f"cluster/{account_id}/{region}/{cluster}"


def scope_of(task: Task) -> str:
    if task.doc.get("launchType") == "FARGATE":
        return FARGATE_SCOPE
    return cluster_scope(task.account_id, task.region, task.cluster)


@dataclass(frozen=True)
class Capacity:
    """What a host registered: CPU units, MiB of memory, and the host ports it keeps."""

    cpu: int
    memory: int
    ports: frozenset[int] = frozenset()
    ports_udp: frozenset[int] = frozenset()


@dataclass
class Held:
    """One unreleased task on a host, as the host's accounting needs it."""

    reservation: Reservation
    group: str
    status: TaskStatus
    counted: bool  # its desired status is RUNNING: it counts for spread and distinctInstance
    zone: str  # the task's availability zone
    cluster: str  # account/region/cluster: Fargate hosts run the tasks of every cluster


@dataclass
class Host:
    """A container instance (or a Fargate host) and what its tasks hold on it."""

    id: str
    registered: Capacity
    attributes: dict[str, str | None]
    agent_connected: bool
    status: str = "ACTIVE"
    arn: str = ""
    zones: tuple[str, ...] = ()  # a Fargate host's availability zone suffixes
    row: dict[str, Any] = field(default_factory=dict)  # a container instance's stored columns
    used_cpu: int = 0
    used_memory: int = 0
    used_ports: Counter[int] = field(default_factory=Counter)
    used_ports_udp: Counter[int] = field(default_factory=Counter)
    groups: Counter[str] = field(default_factory=Counter)
    held: dict[str, Held] = field(default_factory=dict)  # task id -> what it holds
    # The held tasks by last status: every change of a task describes its instance, which
    # counts its running and pending tasks.
    statuses: Counter[TaskStatus] = field(default_factory=Counter)
    # The JSON columns a description repeats, parsed once per change of the instance.
    version_info: dict[str, Any] = field(default_factory=dict)
    registered_resources: list[dict[str, Any]] = field(default_factory=list)
    described_attributes: list[dict[str, str]] = field(default_factory=list)

    def parse_columns(self) -> None:
        self.attributes = json.loads(self.row["attributes"])
        self.version_info = json.loads(self.row["version_info"])
        self.registered_resources = json.loads(self.row["registered_resources"])
        self.described_attributes = [{"name": k} if v is None else {"name": k, "value": v}
                                     for k, v in sorted(self.attributes.items())]

    @property
    def remaining_cpu(self) -> int:
        return self.registered.cpu - self.used_cpu

    @property
    def remaining_memory(self) -> int:
        return self.registered.memory - self.used_memory

    @property
    def running_tasks_count(self) -> int:
        return self.statuses[TaskStatus.RUNNING]

    @property
    def pending_tasks_count(self) -> int:
        statuses = self.statuses
        return sum(statuses[status] for status in PENDING_STATES)

    def ports_in_use(self) -> frozenset[int]:
        return self.registered.ports | {p for p, n in self.used_ports.items() if n > 0}

    def udp_ports_in_use(self) -> frozenset[int]:
        return self.registered.ports_udp | {p for p, n in self.used_ports_udp.items() if n > 0}

    def hold(self, task: Task) -> None:
        r = task.reservation
        counted = task.desired_status == TaskStatus.RUNNING
        status = task.last_status
        self.held[task.id] = Held(r, task.group, status, counted,
                                  task.doc.get("availabilityZone", ""),
                                  f"{task.account_id}/{task.region}/{task.cluster}")
        self.statuses[status] += 1
        self.used_cpu += r.cpu
        self.used_memory += r.memory
        if r.ports:
            self.used_ports.update(r.ports)
        if r.ports_udp:
            self.used_ports_udp.update(r.ports_udp)
        if counted:
            self.groups[task.group] += 1

    def uncount(self, task_id: str) -> None:
        """The task is asked to stop: it no longer counts in its group (placement looks at
        the desired status of tasks)."""
        held = self.held.get(task_id)
        if held is not None and held.counted:
            held.counted = False
            self.groups[held.group] -= 1

    def free(self, task_id: str) -> None:
        self.uncount(task_id)
        held = self.held.pop(task_id, None)
        if held is None:
            return
        self.statuses[held.status] -= 1
        r = held.reservation
        self.used_cpu -= r.cpu
        self.used_memory -= r.memory
        self.used_ports.subtract(r.ports)
        self.used_ports_udp.subtract(r.ports_udp)

    def advance(self, task_id: str, status: TaskStatus) -> None:
        """A held task reached a new last status."""
        held = self.held[task_id]
        self.statuses[held.status] -= 1
        self.statuses[status] += 1
        held.status = status

    def placement_view(self) -> InstanceView:
        return InstanceView(
            container_instance_arn=self.arn, remaining_cpu=self.remaining_cpu,
            remaining_memory=self.remaining_memory, reserved_ports=self.ports_in_use(),
            reserved_ports_udp=self.udp_ports_in_use(), status=self.status,
            agent_connected=self.agent_connected, attributes=self.attributes,
            ec2_instance_id=self.row.get("ec2_instance_id"),
            agent_version=self.version_info.get("agentVersion"),
            registered_at=datetime.fromtimestamp(self.row.get("registered_at", 0), UTC),
            running_tasks_count=self.running_tasks_count,
            task_groups={g: n for g, n in self.groups.items() if n > 0})


@dataclass
class ScopeView:
    scope: str
    revision: int
    hosts: dict[str, Host]
    placement: PlacementState = field(default_factory=PlacementState)
    by_arn: dict[str, Host] = field(default_factory=dict)

    def sync(self, host: Host) -> None:
        """Bring the placement index in step with a container instance."""
        if not host.arn:
            return
        if host.status in LIVE_INSTANCE_STATES:
            self.placement.put_instance(host.placement_view())
            self.by_arn[host.arn] = host
        else:
            self.placement.remove_instance(host.arn)
            self.by_arn.pop(host.arn, None)
            self.hosts.pop(host.id, None)


@dataclass(frozen=True)
class Change:
    """What happens to a task: a status it reached or is asked to reach, and why."""

    last_status: TaskStatus | None = None
    desired_status: TaskStatus | None = None
    stop_code: StopCode | None = None
    stopped_reason: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # other document members to set


class EcsState:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus
        self._views: dict[str, ScopeView] = {}

    def forget(self) -> None:
        self._views.clear()

    # -- scopes ---------------------------------------------------------------------------

    @contextmanager
    def write(self, scope: str,
              conn: Connection | None = None) -> Iterator[tuple[Connection, ScopeView]]:
        """Changes to one scope, with its hosts, in the caller's transaction (or one of its
        own); the revision is bumped at the end. If anything raises, the in-memory copy is
        dropped with the rolled-back transaction (and a copy whose revision the rolled-back
        bump moved on no longer matches the store's, so it reloads)."""
        if conn is None:
            with self.store.begin() as own, self.write(scope, own) as found:
                yield found
            return
        try:
            view = self.view(conn, scope)
            yield conn, view
            view.revision += 1
            executemany(conn, WRITE_REVISION, [{"b_scope": scope, "b_revision": view.revision}])
        except BaseException:
            self._views.pop(scope, None)
            raise

    def view(self, conn: Connection, scope: str) -> ScopeView:
        """The scope's hosts as of this transaction (read-only use needs no `write`)."""
        found = first(conn, READ_REVISION, {"scope": scope})
        revision = None if found is None else found.revision
        if revision is None:
            conn.execute(insert(revisions).values(scope=scope, revision=0))
            revision = 0
        cached = self._views.get(scope)
        if cached is not None and cached.revision == revision:
            return cached
        view = ScopeView(scope, revision, _load_hosts(conn, scope))
        for host in view.hosts.values():
            view.sync(host)
        self._views[scope] = view
        return view

    # -- tasks ----------------------------------------------------------------------------

    def create(self, conn: Connection, view: ScopeView, new: list[Task], now: float) -> None:
        """Record new tasks on their hosts, each with its first "ECS Task State Change", and
        each container instance that took some with its new resources (the placement index
        reserved them already)."""
        if not new:
            return
        rows, published = _encoded_rows(new, now)
        executemany(conn, INSERT_TASK, rows)
        touched: dict[str, Host] = {}
        for task in new:
            if task.host_id is not None:
                host = view.hosts[task.host_id]
                host.hold(task)
                touched[host.id] = host
        instances = [h for h in touched.values() if h.arn]
        for host in instances:
            host.row["version"] += 1
            host.row["updated_at"] = now
            published.append(_instance_event(host, now))
        executemany(conn, TOUCH_INSTANCE, [
            {"b_id": h.id, "b_version": h.row["version"], "b_updated_at": now}
            for h in instances])
        self.bus.publish_many(conn, published)

    def transition(self, conn: Connection, view: ScopeView | None, task: Task, change: Change,
                   now: float) -> bool:
        """Apply `change` to `task`: every lifecycle step it implies, in order, then the
        desired status and reason; False when it changes nothing (a repeated report)."""
        doc = task.doc
        changed = False
        if change.desired_status is not None and change.desired_status != task.desired_status:
            doc["desiredStatus"] = change.desired_status.value
            changed = True
            host = _host_of(view, task)
            if host is not None and change.desired_status == TaskStatus.STOPPED:
                host.uncount(task.id)
                view.sync(host)  # type: ignore[union-attr]
        if change.stop_code is not None and "stopCode" not in doc:
            doc["stopCode"] = change.stop_code.value
            changed = True
        if change.stopped_reason and "stoppedReason" not in doc:
            doc["stoppedReason"] = change.stopped_reason[:255]
            changed = True
        for key, value in change.fields.items():
            if value is not None and doc.get(key) != value:
                doc[key] = value
                changed = True
        steps: list[TaskStatus] = []
        if change.last_status is not None:
            through = ENI_STEPS if task.has_eni else ()
            steps = task_path(task.last_status, change.last_status, through)
        if not steps:
            if changed:
                self._save(conn, task, now)
            return changed
        for step in steps:
            doc["lastStatus"] = step.value
            stamp = STAMPS.get(step)
            if stamp is not None and stamp not in doc:
                doc[stamp] = now
            if step == TaskStatus.STOPPED:
                doc["desiredStatus"] = TaskStatus.STOPPED.value
                doc.setdefault("executionStoppedAt", now)
            self._save(conn, task, now)
            if step == TaskStatus.STOPPED:
                self._release(conn, view, task, now)
            else:
                host = _host_of(view, task)
                if host is not None:
                    host.advance(task.id, step)
                    view.sync(host)  # type: ignore[union-attr]  # runningTasksCount
        return True

    def _save(self, conn: Connection, task: Task, now: float) -> None:
        task.doc["version"] = task.doc["version"] + 1
        document, event = events.encode_task(task.account_id, task.region, task.doc,
                                             task.tags, now)
        conn.execute(UPDATE_TASK, task.changes(document))
        self.bus.publish(conn, task.account_id, task.region, event)

    def _release(self, conn: Connection, view: ScopeView | None, task: Task, now: float) -> None:
        """At STOPPED the host gets back what the task held; its instance says so."""
        task.released = True
        conn.execute(UPDATE_TASK, task.changes())
        host = _host_of(view, task)
        if host is None:
            return
        host.free(task.id)
        if host.arn:
            self.instance_changed(conn, view, host, now)  # type: ignore[arg-type]

    def acknowledge(self, conn: Connection, task: Task, status: str, now: float) -> None:
        """The host's agent has the task with this desired status; the first acknowledgment
        also means the task is connected to its host."""
        task.acked_status = status
        if task.doc.get("connectivity") != "CONNECTED" and not task.released:
            task.doc["connectivity"] = "CONNECTED"
            task.doc["connectivityAt"] = now
            self._save(conn, task, now)
        else:
            conn.execute(UPDATE_TASK, task.changes())

    # -- container instances --------------------------------------------------------------

    def instance_changed(self, conn: Connection, view: ScopeView, host: Host, now: float,
                         **columns: Any) -> None:
        """Record a change of a container instance (its columns, or only what its tasks hold
        there): a new version and an "ECS Container Instance State Change"."""
        row = host.row
        row.update(columns, version=row["version"] + 1, updated_at=now)
        host.status = row["status"]
        host.agent_connected = row["agent_connected"]
        host.parse_columns()
        conn.execute(update(container_instances).where(container_instances.c.id == host.id)
                     .values(row))
        view.sync(host)
        self.bus.publish(conn, *_instance_event(host, now))

    def add_instance(self, conn: Connection, view: ScopeView, row: dict[str, Any],
                     now: float) -> Host:
        """A newly registered container instance, with its first state change event."""
        conn.execute(insert(container_instances).values(row))
        host = instance_host({**row, "version": row["version"] - 1})
        view.hosts[host.id] = host
        self.instance_changed(conn, view, host, now)
        return host


def _encoded_rows(new: list[Task], now: float
                  ) -> tuple[list[dict[str, Any]], list[tuple[str, str, Publishable]]]:
    """New tasks' rows and their first "ECS Task State Change" events. The tasks of one call
    share their definition and reservation: each is encoded once."""
    definitions: dict[int, str] = {}
    reservations: dict[Reservation, str] = {}
    rows = []
    published: list[tuple[str, str, Publishable]] = []
    for task in new:
        definition = definitions.get(id(task.definition))
        if definition is None:
            definition = definitions[id(task.definition)] = dumps(task.definition)
        reserved = reservations.get(task.reservation)
        if reserved is None:
            reserved = reservations[task.reservation] = dumps(task.reservation.to_json())
        document, event = events.encode_task(task.account_id, task.region, task.doc,
                                             task.tags, now)
        rows.append(task.row(document, definition, reserved))
        published.append((task.account_id, task.region, event))
    return rows, published


def _instance_event(host: Host, now: float) -> tuple[str, str, EncodedEvent]:
    row = host.row
    detail = {"clusterArn": cluster_arn(row["region"], row["account_id"], row["cluster"]),
              **describe_instance(host)}
    return (row["account_id"], row["region"],
            events.instance_state_change(row["account_id"], row["region"], detail, now))


def _host_of(view: ScopeView | None, task: Task) -> Host | None:
    if view is None or task.host_id is None:
        return None
    host = view.hosts.get(task.host_id)
    return host if host is not None and task.id in host.held else None


# -- loading a scope -----------------------------------------------------------------------


def _load_hosts(conn: Connection, scope: str) -> dict[str, Host]:
    if scope == FARGATE_SCOPE:
        hosts = {r.id: Host(id=r.id, registered=Capacity(r.cpu, r.memory), attributes={},
                            agent_connected=r.agent_connected, zones=tuple(json.loads(r.zones)))
                 for r in conn.execute(select(fargate_hosts))}
        held = select(tasks).where(FARGATE_TASKS, tasks.c.released.is_(False),
                                   tasks.c.host_id.in_(select(fargate_hosts.c.id)))
    else:
        _, account_id, region, cluster = scope.split("/", 3)
        rows = conn.execute(select(container_instances).where(
            container_instances.c.account_id == account_id,
            container_instances.c.region == region, container_instances.c.cluster == cluster,
            container_instances.c.status != "INACTIVE")).mappings()
        hosts = {row["id"]: instance_host(dict(row)) for row in rows}
        held = select(tasks).where(tasks.c.account_id == account_id, tasks.c.region == region,
                                   tasks.c.cluster == cluster, tasks.c.released.is_(False),
                                   tasks.c.launch_type != "FARGATE",
                                   tasks.c.host_id.is_not(None))
    for row in conn.execute(held):
        host = hosts.get(row.host_id)
        if host is not None:
            host.hold(Task.from_row(row))
    return hosts


def instance_host(row: dict[str, Any]) -> Host:
    """A container instance's stored row as a host."""
    resources = {r["name"]: r for r in json.loads(row["registered_resources"])}
    capacity = Capacity(
        cpu=resources.get("CPU", {}).get("integerValue", 0),
        memory=resources.get("MEMORY", {}).get("integerValue", 0),
        ports=frozenset(int(p) for p in resources.get("PORTS", {}).get("stringSetValue", [])),
        ports_udp=frozenset(int(p) for p in
                            resources.get("PORTS_UDP", {}).get("stringSetValue", [])))
    host = Host(id=row["id"], registered=capacity, attributes={},
                agent_connected=row["agent_connected"], status=row["status"],
                arn=container_instance_arn(row["region"], row["account_id"], row["cluster"],
                                           row["id"]),
                row=row)
    host.parse_columns()
    return host


# -- describing ------------------------------------------------------------------------------


def _integer(name: str, value: int) -> dict[str, Any]:
    return {"name": name, "type": "INTEGER", "integerValue": value}


def _ports(name: str, ports: frozenset[int]) -> dict[str, Any]:
    return {"name": name, "type": "STRINGSET", "stringSetValue": [str(p) for p in sorted(ports)]}


def remaining_resources(host: Host) -> list[dict[str, Any]]:
    """CPU and MEMORY left; PORTS and PORTS_UDP list the ports taken (reserved or in use), as
    ECS reports them."""
    return [_integer("CPU", host.remaining_cpu), _integer("MEMORY", host.remaining_memory),
            _ports("PORTS", host.ports_in_use()), _ports("PORTS_UDP", host.udp_ports_in_use())]


def describe_instance(host: Host, include_tags: bool = False) -> dict[str, Any]:
    """A container instance as DescribeContainerInstances returns it."""
    row = host.row
    doc: dict[str, Any] = {
        "containerInstanceArn": host.arn,
        "ec2InstanceId": row["ec2_instance_id"],
        "version": row["version"],
        "versionInfo": host.version_info,
        "remainingResources": remaining_resources(host),
        "registeredResources": host.registered_resources,
        "status": row["status"],
        "agentConnected": row["agent_connected"],
        "runningTasksCount": host.running_tasks_count,
        "pendingTasksCount": host.pending_tasks_count,
        "attributes": host.described_attributes,
        "registeredAt": row["registered_at"],
        "attachments": [],
    }
    if row.get("status_reason"):
        doc["statusReason"] = row["status_reason"]
    if row.get("capacity_provider_name"):
        doc["capacityProviderName"] = row["capacity_provider_name"]
    if include_tags:
        doc["tags"] = json.loads(row["tags"])
    return doc
