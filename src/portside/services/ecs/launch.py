"""What a new task is: its reservation on the host, and the Task document ECS answers for it.

A task reserves the task-level CPU and memory, else the sum over its containers (`cpu`; the
`memoryReservation`, else `memory`), and every static host port of a `bridge` or `host` task
(awsvpc tasks and dynamic `hostPort: 0` mappings reserve none).
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
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

    @cached_property
    def common(self) -> dict[str, Any]:
        """The members of the Task document that are alike for every task of the launch
        (strings, and the overrides every task shares already), worked out once: a RunTask of
        ten tasks builds ten documents."""
        definition = self.definition
        common: dict[str, Any] = {
            "clusterArn": cluster_arn(self.region, self.account_id, self.cluster),
            "desiredStatus": TaskStatus.RUNNING.value,
            "enableExecuteCommand": False,
            "group": self.group,
            "healthStatus": "UNKNOWN",
            "launchType": self.launch_type,
            "overrides": self.overrides,
            "taskDefinitionArn": definition["taskDefinitionArn"],
            "version": 1,
        }
        for member in ("cpu", "memory"):
            if definition.get(member):
                common[member] = str(definition[member])
        if self.capacity_provider is not None:
            common["capacityProviderName"] = self.capacity_provider
        if self.started_by is not None:
            common["startedBy"] = self.started_by
        if self.fargate:
            common["platformVersion"] = self.platform_version or FARGATE_PLATFORM_VERSION
            common["platformFamily"] = (definition.get("runtimePlatform") or {}).get(
                "operatingSystemFamily", "Linux").title()
        return common

    @cached_property
    def architecture(self) -> str:
        family = (self.definition.get("runtimePlatform") or {}).get("cpuArchitecture",
                                                                     "X86_64")
        return "arm64" if family == "ARM64" else "x86_64"

    @cached_property
    def containers(self) -> list[dict[str, str]]:
        """Each container's members that every task of the launch has alike (strings)."""
        shown = []
        for container in self.definition["containerDefinitions"]:
            doc = {"name": container["name"], "image": container.get("image", ""),
                   "lastStatus": "PENDING", "healthStatus": "UNKNOWN",
                   "cpu": str(container.get("cpu") or 0)}
            for member in ("memory", "memoryReservation"):
                if container.get(member) is not None:
                    doc[member] = str(container[member])
            shown.append(doc)
        return shown


def new_task(launch: Launch, host_id: str | None, instance_arn: str | None, zone: str,
             subnet: str | None, now: float) -> Task:
    """A task as RunTask answers it: PROVISIONING with its ENI precreated (awsvpc), else
    PENDING, with every container PENDING. Its lists and dicts are its own (a later change of
    one task must not reach another); only strings and the overrides are shared."""
    ident = new_id()
    arn = task_arn(launch.region, launch.account_id, launch.cluster, ident)
    attachments = []
    if launch.vpc is not None:
        attachments.append({"id": new_uuid(), "type": ENI, "status": "PRECREATED",
                            "details": [{"name": "subnetId", "value": subnet}]})
    doc: dict[str, Any] = {
        "attachments": attachments,
        "attributes": [{"name": "ecs.cpu-architecture", "value": launch.architecture}],
        "availabilityZone": zone,
        "containers": [{"containerArn": container_arn(launch.region, launch.account_id,
                                                      launch.cluster, ident),
                        "taskArn": arn, "networkInterfaces": [], **container}
                       for container in launch.containers],
        "createdAt": now,
        "lastStatus": (TaskStatus.PROVISIONING if attachments else TaskStatus.PENDING).value,
        "taskArn": arn,
        **launch.common,
    }
    if instance_arn is not None:
        doc["containerInstanceArn"] = instance_arn
    if launch.fargate:
        doc["ephemeralStorage"] = {"sizeInGiB": (launch.definition.get("ephemeralStorage")
                                                 or {}).get("sizeInGiB",
                                                            FARGATE_DEFAULT_EPHEMERAL_GIB)}
    return Task(id=ident, account_id=launch.account_id, region=launch.region,
                cluster=launch.cluster, family=launch.definition["family"], host_id=host_id,
                reservation=launch.reservation, definition=launch.definition, doc=doc,
                tags=list(launch.tags))


