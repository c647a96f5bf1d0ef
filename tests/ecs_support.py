"""What the ECS tests share: simulated hosts against a server, clusters of their own, task
definitions, and waiting for what agents report."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from portside.agent.channel import Identity
from portside.agent.simulated import HostSpec, SimulatedFleet, SimulatedHost

T = TypeVar("T")
REGION = "us-east-1"


def fleet_for(server: Any, region: str = REGION) -> SimulatedFleet:
    return SimulatedFleet(Identity(server.endpoint, region, "test", "test"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(check: Callable[[], T], timeout: float = 10.0, every: float = 0.02) -> T:
    """Poll `check` until it returns something truthy; its last answer otherwise fails."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {found!r}")
        time.sleep(every)


def tasks_in(ecs: Any, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]


def wait_status(ecs: Any, cluster: str, arns: list[str], status: str,
                timeout: float = 10.0) -> list[dict[str, Any]]:
    def reached() -> list[dict[str, Any]] | None:
        found = tasks_in(ecs, cluster, arns)
        return found if all(t["lastStatus"] == status for t in found) else None

    return wait_for(reached, timeout)


def instance(ecs: Any, cluster: str, host: SimulatedHost) -> dict[str, Any]:
    return ecs.describe_container_instances(
        cluster=cluster, containerInstances=[host.container_instance_arn])["containerInstances"][0]


def resource(instance_doc: dict[str, Any], name: str, which: str = "remainingResources") -> Any:
    entry = next(r for r in instance_doc[which] if r["name"] == name)
    return entry.get("integerValue", entry.get("stringSetValue"))


def container(name: str = "app", memory: int = 128, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "memory": memory, **extra}


def register(ecs: Any, family: str | None = None, **definition: Any) -> str:
    """A task definition (one 128 MiB container unless told otherwise); its ARN."""
    definition.setdefault("containerDefinitions", [container()])
    found = ecs.register_task_definition(family=family or unique("td"), **definition)
    return found["taskDefinition"]["taskDefinitionArn"]


def host(fleet: SimulatedFleet, cluster: str, **spec: Any) -> SimulatedHost:
    return fleet.add(HostSpec(cluster=cluster, **spec))


AWSVPC = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"],
                                  "securityGroups": ["sg-0123456789abcdef0"]}}
