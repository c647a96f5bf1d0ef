"""Task metadata endpoint v4 (reference/aws-semantics.md §3): the task and container documents
a container reads at `ECS_CONTAINER_METADATA_URI_V4`, built from the agent's view of the task
and Docker's inspect and stats output."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import docker.errors

if TYPE_CHECKING:
    from portside.agent.docker_agent import DockerAgent, TaskRun


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _container(agent: DockerAgent, run: TaskRun, definition: dict[str, Any]) -> dict[str, Any]:
    name = definition["name"]
    docker_id = run.docker_ids.get(name)
    report = run.containers.get(name, {})
    doc: dict[str, Any] = {
        "DockerId": docker_id, "Name": name, "DockerName": name, "Image": definition["image"],
        "Labels": {}, "DesiredStatus": run.desired, "KnownStatus": report.get("status",
                                                                             "PENDING"),
        "Limits": {"CPU": definition.get("cpu", 0), "Memory": definition.get("memory", 0)},
        "Type": "NORMAL", "Ports": report.get("networkBindings") or [],
        "ContainerARN": next((c.get("containerArn") for c in (run.task or {}).get(
            "containers", ()) if c.get("name") == name), None),
    }
    if "exitCode" in report:
        doc["ExitCode"] = report["exitCode"]
    if docker_id is None:
        return doc
    try:
        inspected = agent.docker.api.inspect_container(docker_id)
    except docker.errors.NotFound:
        return doc
    state = inspected["State"]
    doc.update(ImageID=inspected["Image"], Labels=inspected["Config"].get("Labels") or {},
               CreatedAt=inspected["Created"], StartedAt=state.get("StartedAt"))
    if state.get("Health"):
        doc["Health"] = {"status": state["Health"]["Status"].upper()}
    address = run.network.get("address") or next(
        (n.get("IPAddress") for n in inspected["NetworkSettings"]["Networks"].values()
         if n.get("IPAddress")), None)
    doc["Networks"] = [{"NetworkMode": run.mode,
                        "IPv4Addresses": [address] if address else []}]
    if run.mode == "awsvpc":
        doc["Networks"][0].update(
            AttachmentIndex=0, MACAddress=run.network.get("mac"),
            IPv4SubnetCIDRBlock="169.254.124.0/24",
            PrivateDNSName=f"ip-{(address or '').replace('.', '-')}.ec2.internal",
            SubnetGatewayIpv4Address=f"{run.network.get('gateway')}/24")
    return doc


def _task(agent: DockerAgent, run: TaskRun) -> dict[str, Any]:
    definition = run.definition or {}
    task = run.task or {}
    cpu = task.get("cpu") or definition.get("cpu")
    memory = task.get("memory") or definition.get("memory")
    limits: dict[str, Any] = {}
    if cpu:
        limits["CPU"] = int(cpu) / 1024
    if memory:
        limits["Memory"] = int(memory)
    return {
        "Cluster": run.cluster, "TaskARN": run.arn, "Family": definition.get("family"),
        "Revision": str(definition.get("revision", "")), "DesiredStatus": run.desired,
        "KnownStatus": run.known.value, "Limits": limits,
        "PullStartedAt": _iso(run.times.get("pullStartedAt")),
        "PullStoppedAt": _iso(run.times.get("pullStoppedAt")),
        "AvailabilityZone": task.get("availabilityZone"),
        "LaunchType": task.get("launchType", "EC2"),
        "Containers": [_container(agent, run, c)
                       for c in definition.get("containerDefinitions", ())],
    }


def _stats(agent: DockerAgent, docker_id: str | None) -> Any:
    if docker_id is None:
        return None
    try:
        return agent.docker.api.stats(docker_id, stream=False)
    except docker.errors.NotFound:
        return None


def answer(agent: DockerAgent, run: TaskRun, container: str | None,
           path: str) -> tuple[int, Any]:
    """(status, body) for one v4 path below the container's base URI."""
    path = path.strip("/")
    definitions = {c["name"]: c for c in (run.definition or {}).get("containerDefinitions", ())}
    if path == "":
        if container not in definitions:
            return 400, {"code": "InvalidIdInRequest", "message": "Unknown container."}
        return 200, _container(agent, run, definitions[container])
    if path == "task":
        return 200, _task(agent, run)
    if path == "taskWithTags":
        return 200, {**_task(agent, run),
                     "TaskTags": {t["key"]: t["value"] for t in run.tags}}
    if path == "stats":
        return 200, _stats(agent, run.docker_ids.get(container or ""))
    if path == "task/stats":
        return 200, {docker_id: _stats(agent, docker_id)
                     for docker_id in run.docker_ids.values()}
    return 404, {"code": "NotFound", "message": f"No metadata at /{path}."}
