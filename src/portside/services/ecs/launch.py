"""What a new task is: its reservation on the host, and the Task document ECS answers for it.

A task reserves the task-level CPU and memory, else the sum over its containers (`cpu`; the
`memoryReservation`, else `memory`), and every static host port of a `bridge` or `host` task
(awsvpc tasks and dynamic `hostPort: 0` mappings reserve none).
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.ids import new_uuid
from portside.services.ecs.arns import cluster_arn, container_arn, new_id, task_arn
from portside.services.ecs.lifecycle import TaskStatus
from portside.services.ecs.records import Reservation, Task

FARGATE_PLATFORM_VERSION = "1.4.0"
FARGATE_DEFAULT_EPHEMERAL_GIB = 20
ENI = "ElasticNetworkInterface"


def reservation(definition: Mapping[str, Any]) -> Reservation:
    containers = definition["containerDefinitions"]
    cpu = int(definition["cpu"]) if definition.get("cpu") else sum(
        c.get("cpu") or 0 for c in containers)
    memory = int(definition["memory"]) if definition.get("memory") else sum(
        c.get("memoryReservation") or c.get("memory") or 0 for c in containers)
    mode = definition.get("networkMode") or "bridge"
    tcp: set[int] = set()
    udp: set[int] = set()
    if mode in ("bridge", "host"):
        for container in containers:
            for mapping in container.get("portMappings") or ():
                port = mapping.get("hostPort") or (
                    mapping.get("containerPort") if mode == "host" else 0)
                if port:
                    (udp if mapping.get("protocol") == "udp" else tcp).add(port)
    return Reservation(cpu, memory, tuple(sorted(tcp)), tuple(sorted(udp)))


@dataclass
class Launch:
    """Everything the tasks of one RunTask or StartTask share."""

    account_id: str
    region: str
    cluster: str
    definition: dict[str, Any]  # overrides applied
    overrides: dict[str, Any]  # as DescribeTasks shows them
    group: str
    launch_type: str
    capacity_provider: str | None = None
    started_by: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    vpc: dict[str, Any] | None = None  # the awsvpcConfiguration of an awsvpc task
    platform_version: str | None = None
    reservation: Reservation = field(default_factory=Reservation)

    @property
    def fargate(self) -> bool:
        return self.launch_type == "FARGATE"


def new_task(launch: Launch, host_id: str | None, instance_arn: str | None, zone: str,
             subnet: str | None, now: float) -> Task:
    """A task as RunTask answers it: PROVISIONING with its ENI precreated (awsvpc), else
    PENDING, with every container PENDING."""
    ident = new_id()
    arn = task_arn(launch.region, launch.account_id, launch.cluster, ident)
    definition = launch.definition
    attachments = []
    if launch.vpc is not None:
        attachments.append({"id": new_uuid(), "type": ENI, "status": "PRECREATED",
                            "details": [{"name": "subnetId", "value": subnet}]})
    doc: dict[str, Any] = {
        "attachments": attachments,
        "attributes": [{"name": "ecs.cpu-architecture", "value": _architecture(definition)}],
        "availabilityZone": zone,
        "clusterArn": cluster_arn(launch.region, launch.account_id, launch.cluster),
        "containers": [_container(launch, ident, arn, c)
                       for c in definition["containerDefinitions"]],
        "createdAt": now,
        "desiredStatus": TaskStatus.RUNNING.value,
        "enableExecuteCommand": False,
        "group": launch.group,
        "healthStatus": "UNKNOWN",
        "lastStatus": (TaskStatus.PROVISIONING if attachments else TaskStatus.PENDING).value,
        "launchType": launch.launch_type,
        "overrides": launch.overrides,
        "taskArn": arn,
        "taskDefinitionArn": definition["taskDefinitionArn"],
        "version": 1,
    }
    for member in ("cpu", "memory"):
        if definition.get(member):
            doc[member] = str(definition[member])
    if instance_arn is not None:
        doc["containerInstanceArn"] = instance_arn
    if launch.capacity_provider is not None:
        doc["capacityProviderName"] = launch.capacity_provider
    if launch.started_by is not None:
        doc["startedBy"] = launch.started_by
    if launch.fargate:
        doc["platformVersion"] = launch.platform_version or FARGATE_PLATFORM_VERSION
        doc["platformFamily"] = (definition.get("runtimePlatform") or {}).get(
            "operatingSystemFamily", "Linux").title()
        doc["ephemeralStorage"] = {"sizeInGiB": (definition.get("ephemeralStorage") or {}).get(
            "sizeInGiB", FARGATE_DEFAULT_EPHEMERAL_GIB)}
    return Task(id=ident, account_id=launch.account_id, region=launch.region,
                cluster=launch.cluster, family=definition["family"], host_id=host_id,
                reservation=launch.reservation, definition=definition, doc=doc,
                tags=list(launch.tags))


def _container(launch: Launch, task_id: str, task_arn_: str,
               container: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "containerArn": container_arn(launch.region, launch.account_id, launch.cluster,
                                      task_id),
        "taskArn": task_arn_,
        "name": container["name"],
        "image": container.get("image", ""),
        "lastStatus": "PENDING",
        "networkInterfaces": [],
        "healthStatus": "UNKNOWN",
        "cpu": str(container.get("cpu") or 0),
    }
    for member in ("memory", "memoryReservation"):
        if container.get(member) is not None:
            doc[member] = str(container[member])
    return doc


def _architecture(definition: Mapping[str, Any]) -> str:
    family = (definition.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    return "arm64" if family == "ARM64" else "x86_64"
