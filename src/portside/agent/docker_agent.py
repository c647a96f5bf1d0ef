"""The Docker agent: registers this host as a container instance, holds the agent channel
(channel.py) and runs the tasks assigned to it as real containers on the local Docker Engine.

The model is the ECS agent's (STYLE.md): every task has a desired status (pushed by the
control plane) and a known status (what this host did); one asyncio task per ECS task moves
the known status towards the desired one through an explicit state machine —

    PENDING ──network──▶ (ENI ATTACHED for awsvpc) ──images──▶ containers started in
    dependsOn order ──▶ RUNNING ──(StopTask | an essential container exits)──▶ STOPPED

— and reports every step through the ECS API. Every container carries `portside.*` labels (the
agent, the task ARN, the container name, whether it is essential), so a restarted agent rebuilds
its view from Docker and re-adopts running containers instead of restarting them. Docker calls
are blocking (docker-py) and run in threads; container exits and health changes arrive on one
Docker event stream that wakes the task's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.models.containers import _create_container_args

from portside import __version__
from portside.agent import awslogs, envfiles, volumes
from portside.agent.capabilities import host_attributes
from portside.agent.cgroups import TaskCgroups
from portside.agent.channel import (
    Channel,
    Identity,
    register_container_instance,
    submit_report,
)
from portside.agent.endpoints import (
    TASK_ENDPOINT_ADDRESS,
    CredentialSource,
    EndpointServer,
    TaskEndpoints,
    ensure_task_endpoint_address,
)
from portside.agent.engine import engine_client
from portside.agent.execution import ExecutionRole
from portside.agent.images import PullError, TaskImages
from portside.agent.secrets import SecretError, resolve_task
from portside.agent.specs import (
    DEFAULT_STOP_TIMEOUT,
    LABEL,
    binds,
    create_args,
    dependency_met,
    docker_name,
    environment,
    network_bindings,
    start_order,
    volumes_from,
)
from portside.protocol.errors import AwsError
from portside.services.ecs.task_definition_rules import parse_task_cpu, parse_task_memory

log = logging.getLogger("portside.agent")

RESERVED_PORTS = (22, 2375, 2376, 51678, 51679)
AWSVPC_NETWORK = "portside-awsvpc"
AWSVPC_SUBNET = "169.254.124.0/24"
AWSVPC_GATEWAY = "169.254.124.1"
PAUSE_IMAGE = "portside-test/busybox:latest"
DEPENDENCY_POLL = 0.2  # seconds between checks of a dependsOn condition
DEPENDENCY_TIMEOUT = 300.0
RUNNING_RECHECK = 5.0  # a running task re-reads Docker this often even without events
CLEANUP_PATIENCE = 30.0  # seconds a stopped task's removal waits at most for starts to end
CLEANUP_POLL = 0.1
ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException)
# The container events a task's loop wakes for: an exit (its code), a health change, a removal.
WATCHED_EVENTS = ("die", "health_status", "destroy")


def agent_key(state_dir: Path) -> str:
    """The `portside.agent` label of every container of the agent keeping its state in
    `state_dir`: several agents on one host keep apart, and a restarted one finds its own."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]


def _publishes(run: TaskRun, container: dict[str, Any]) -> bool:
    """A bridge container with port mappings: Docker chooses its host ports."""
    return run.mode == "bridge" and bool(container.get("portMappings"))


class Known(enum.Enum):
    """The known status of a task on this host: the state machine's states."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@dataclass
class AgentSpec:
    cluster: str = "default"
    cpu: int | None = None  # units; default: the host's CPUs × 1024
    memory: int | None = None  # MiB; default: the host's memory
    zone: str | None = None  # default: <region>a
    instance_type: str | None = None
    attributes: dict[str, str | None] = field(default_factory=dict)
    state_dir: Path = Path(".")
    retention: float = 0.0  # seconds stopped containers are kept for inspection
    fargate_zones: tuple[str, ...] | None = None  # a host of portside's Fargate capacity


@dataclass
class TaskRun:
    """One task on this host: what the control plane wants and what Docker has."""

    arn: str
    cluster: str
    desired: str
    task: dict[str, Any] | None  # the task document as assigned (None: adopted, not yet)
    definition: dict[str, Any] | None
    attachment_arns: dict[str, str] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    known: Known = Known.PENDING
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> report
    docker_ids: dict[str, str] = field(default_factory=dict)  # name -> container id
    # Exit codes of its containers, by container id, as their `die` events told them
    exits: dict[str, int | None] = field(default_factory=dict)
    checked: float = 0.0  # when Docker was last read for its containers' states (monotonic)
    pause_id: str | None = None
    attachments: dict[str, str] = field(default_factory=dict)  # attachment id -> status
    network: dict[str, str] = field(default_factory=dict)  # awsvpc: address, mac, gateway
    times: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    driver: asyncio.Task | None = None
    endpoints: TaskEndpoints | None = None
    role: ExecutionRole | None = None  # the execution role, for the agent's own calls
    shippers: list[awslogs.Shipper] = field(default_factory=list)
    volumes: dict[str, str] = field(default_factory=dict)  # task volume -> host path or volume
    cgroup_parent: str | None = None  # the task's cgroup, holding task-level cpu/memory

    @property
    def mode(self) -> str:
        return (self.definition or {}).get("networkMode") or "bridge"


class DockerAgent:
    """One host's agent. `run()` serves until `stop()` or the instance is deregistered."""

    def __init__(self, identity: Identity, spec: AgentSpec,
                 credentials: CredentialSource | None = None,
                 docker_client: Any = None) -> None:
        self.identity = identity
        self.spec = spec
        self.ecs = identity.ecs_client()
        self.docker = docker_client or engine_client()
        self.tasks: dict[str, TaskRun] = {}
        self.channel: Channel | None = None
        self.container_instance_arn: str | None = self._saved_arn()
        # In-process (portside up) credentials come straight from STS; otherwise the control
        # plane assumes the role for the agent over the channel.
        self.credentials = credentials or self._channel_credentials
        self.endpoints = EndpointServer(identity.endpoint, self.credentials, self._metadata,
                                        spec.state_dir / "endpoints.json")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: threading.Thread | None = None
        self._stopped = threading.Event()
        self._watching = threading.Event()  # the event stream is open
        self._starting = 0  # tasks between PENDING and RUNNING
        self._cleaning = asyncio.Lock()  # one stopped task's removal at a time
        self._log_client: Any = None
        self.cgroups: TaskCgroups | None = None

    @property
    def agent_key(self) -> str:
        return agent_key(self.spec.state_dir)

    # -- life ----------------------------------------------------------------------------------

    async def start(self, timeout: float = 15.0) -> None:
        """Check Docker, re-adopt containers, register, open the channel, wait for the welcome.
        Raises docker.errors.DockerException when no engine answers: such a host must not
        register, or tasks would be placed where nothing can run them."""
        self._loop = asyncio.get_running_loop()
        version = await asyncio.to_thread(self.docker.version)
        info = await asyncio.to_thread(self.docker.info)
        self.cgroups = await asyncio.to_thread(TaskCgroups,
                                               driver=info.get("CgroupDriver", "cgroupfs"),
                                               scope=self.agent_key)
        if not await asyncio.to_thread(ensure_task_endpoint_address):
            raise RuntimeError(f"cannot put {TASK_ENDPOINT_ADDRESS} on the loopback interface "
                               "(the agent runs as root): tasks could not reach their endpoints")
        await asyncio.to_thread(self._adopt)
        await asyncio.to_thread(self.cgroups.prune)  # left by a stop before cleanup
        self.endpoints.retain(set(self.tasks))
        await self.endpoints.start()
        if self.spec.fargate_zones is not None:
            self.channel = await self._fargate_channel()
        else:
            await self._register(version.get("Version", "unknown"))
            self.channel = Channel(self.identity,
                                   container_instance_arn=self.container_instance_arn)
        self._events = threading.Thread(target=self._watch_events, daemon=True,
                                        name="portside-agent-events")
        self._events.start()
        # Tasks learn their containers' exits from the stream: open before any starts.
        await asyncio.to_thread(self._watching.wait, timeout)
        self._runner = asyncio.create_task(self.channel.run(self))
        await asyncio.wait_for(self.channel.connected.wait(), timeout)

    async def run(self) -> None:
        await self.start()
        await self._runner

    async def stop(self) -> None:
        """The agent stops; its tasks' containers go on (a restarted agent re-adopts them)."""
        self._stopped.set()
        if self.channel is not None:
            await self.channel.stop()
        for run in self.tasks.values():
            if run.driver is not None:
                run.driver.cancel()
            for shipper in run.shippers:
                shipper.cancel()
        await self.endpoints.stop()

    def _state_file(self) -> Path:
        return self.spec.state_dir / "agent.json"

    def _saved_arn(self) -> str | None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            return json.loads(self._state_file().read_text())["containerInstanceArn"]
        return None

    async def _fargate_channel(self) -> Channel:
        """A Fargate host registers no container instance: it says in its hello which zones
        and how much it serves, under an id it keeps across restarts (docs/agent-protocol.md)."""
        saved: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            saved = json.loads(self._state_file().read_text())
        host_id = saved.get("fargateHost") or uuid.uuid4().hex
        self.spec.state_dir.mkdir(parents=True, exist_ok=True)
        self._state_file().write_text(json.dumps({"fargateHost": host_id}))
        cpu, memory = await self._resources()
        return Channel(self.identity, fargate_host=host_id, hello={
            "zones": list(self.spec.fargate_zones or ()), "cpu": cpu, "memory": memory})

    async def _resources(self) -> tuple[int, int]:
        """CPU units and MiB offered: the spec's, else the host's."""
        cpu, memory = self.spec.cpu, self.spec.memory
        if cpu is None or memory is None:
            info = await asyncio.to_thread(self.docker.info)
            cpu = cpu or int(info.get("NCPU", 1)) * 1024
            memory = memory or int(info.get("MemTotal", 1 << 30)) // (1 << 20)
        return cpu, memory

    async def _register(self, docker_version: str) -> None:
        spec = self.spec
        cpu, memory = await self._resources()
        request: dict[str, Any] = {
            "cluster": spec.cluster,
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET",
                 "stringSetValue": [str(p) for p in RESERVED_PORTS]},
                {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []}],
            "versionInfo": {"agentVersion": __version__, "agentHash": "portside",
                            "dockerVersion": f"DockerVersion: {docker_version}"},
            "attributes": host_attributes(spec.zone or f"{self.identity.region}a",
                                          spec.instance_type, extra=spec.attributes),
        }
        if self.container_instance_arn is not None:
            request["containerInstanceArn"] = self.container_instance_arn
        self.container_instance_arn = await register_container_instance(self.ecs, request)
        spec.state_dir.mkdir(parents=True, exist_ok=True)
        self._state_file().write_text(json.dumps(
            {"containerInstanceArn": self.container_instance_arn}))

    # -- re-adoption -------------------------------------------------------------------------

    def _adopt(self) -> None:
        """Rebuild the view of tasks from this agent's labelled containers (after a restart)."""
        found = self.docker.containers.list(
            all=True, filters={"label": f"{LABEL}agent={self.agent_key}"})
        for container in found:
            labels = container.labels
            arn = labels[f"{LABEL}task-arn"]
            run = self.tasks.get(arn)
            if run is None:
                run = self.tasks[arn] = TaskRun(arn=arn, cluster=labels[f"{LABEL}cluster"],
                                                desired="RUNNING", task=None, definition=None,
                                                known=Known.RUNNING)
            if labels.get(f"{LABEL}role") == "pause":
                run.pause_id = container.id
                continue
            name = labels[f"{LABEL}container-name"]
            run.docker_ids[name] = container.id
            state = container.attrs["State"]
            report: dict[str, Any] = {"containerName": name, "runtimeId": container.id,
                                      "status": "RUNNING"}
            if state["Status"] == "created":  # the agent stopped between create and start
                try:
                    container.start()
                except docker.errors.APIError as exc:
                    report.update(status="STOPPED", reason=f"CannotStartContainerError: {exc}"
                                  [:255])
            elif state["Status"] in ("exited", "dead"):
                report.update(status="STOPPED", exitCode=state["ExitCode"])
            run.containers[name] = report

    # -- the Reconciler protocol ---------------------------------------------------------------

    def manifest(self) -> list[dict[str, Any]]:
        return [{**self._report(run), "taskArn": run.arn} for run in self.tasks.values()]

    async def reconcile(self, assignments: list[dict[str, Any]], full: bool) -> None:
        wanted = set()
        for assignment in assignments:
            arn = assignment["taskArn"]
            wanted.add(arn)
            run = self.tasks.get(arn)
            if run is None:
                if assignment["desiredStatus"] == "STOPPED":
                    continue  # a task this host does not run (any more)
                run = self.tasks[arn] = TaskRun(
                    arn=arn, cluster=assignment["task"]["clusterArn"], desired="RUNNING",
                    task=None, definition=None)
            elif "clusterArn" not in assignment["task"]:
                await self._forget(run)  # adopted, but the control plane no longer knows it
                continue
            if run.task is None:  # new, or adopted: now we know what it is
                task = assignment["task"]
                run.task, run.definition = task, assignment["definition"]
                run.cluster = task["clusterArn"]
                run.attachment_arns = assignment.get("attachmentArns") or {}
                run.tags = assignment.get("tags") or []
                run.attachments = {a["id"]: a["status"] for a in task.get("attachments") or ()}
                if run.known is Known.RUNNING:  # re-adopted: its ENI is attached already
                    run.attachments = dict.fromkeys(run.attachments, "ATTACHED")
                    self._resume_logs(run)
            if run.desired != assignment["desiredStatus"]:
                run.desired = assignment["desiredStatus"]
                run.changed.set()
            if run.driver is None:
                run.driver = asyncio.create_task(self._drive(run))
        if full:
            for arn in set(self.tasks) - wanted:
                await self._forget(self.tasks[arn])

    def _resume_logs(self, run: TaskRun) -> None:
        """A re-adopted task's awslogs containers: ship on from where this agent left off."""
        definition = run.definition or {}
        for docker_id in run.docker_ids.values():
            saved = awslogs.saved_position(self.spec.state_dir, docker_id)
            if saved is None:
                continue
            if run.role is None:
                run.role = ExecutionRole(self.identity, self.credentials, run.arn,
                                         definition.get("executionRoleArn"))
            target, stream, shipped = saved
            shipper = awslogs.Shipper(self._log_docker(), docker_id, run.role, target, stream,
                                      self.spec.state_dir, shipped)
            shipper.start()
            run.shippers.append(shipper)

    async def _forget(self, run: TaskRun) -> None:
        """The control plane no longer knows this task: stop it quietly."""
        self.tasks.pop(run.arn, None)
        if run.driver is not None:
            run.driver.cancel()
        for shipper in run.shippers:
            shipper.cancel()
        await asyncio.to_thread(self._remove_all, run)
        self.endpoints.forget(run.arn)

    # -- one task's loop ---------------------------------------------------------------------

    async def _drive(self, run: TaskRun) -> None:
        """Move the task's known status towards its desired status, reporting each step."""
        try:
            while run.known is not Known.STOPPED:
                run.changed.clear()
                if run.desired == "STOPPED":
                    await self._stop(run, None)
                elif run.known is Known.PENDING:
                    self._starting += 1
                    try:
                        await self._start(run)
                    finally:
                        self._starting -= 1
                else:
                    exited = await self._essential_exit(run)
                    if exited is not None:
                        await self._stop(run, exited)
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(run.changed.wait(),
                                               run.checked + RUNNING_RECHECK - time.monotonic())
            if self.spec.retention > 0:
                await asyncio.sleep(self.spec.retention)
            await self._clean_up(run)
            self.endpoints.forget(run.arn)
        except asyncio.CancelledError:
            pass
        except ENGINE_ERRORS as exc:
            # Never RUNNING with nothing behind it: the task stops, saying why.
            log.warning("task %s: Docker failed: %s", run.arn, exc)
            if run.known is not Known.STOPPED:
                await self._stop(run, None, reason=f"DockerError: the host's Docker Engine "
                                 f"failed: {str(exc)[:200]}")
        except Exception as exc:
            # A fault of the agent's own: the task stops saying so rather than waiting forever
            # in PENDING. Only the exception's type goes into the reason, which callers see.
            log.exception("task %s: the agent failed", run.arn)
            if run.known is not Known.STOPPED:
                await self._stop(run, None, reason=f"AgentError: the agent failed to run the "
                                 f"task ({type(exc).__name__}); see the agent's log")

    async def _clean_up(self, run: TaskRun) -> None:
        """Remove a stopped task's containers, one task at a time, once no task of this host is
        being started (after CLEANUP_PATIENCE seconds at most): removal is the engine's work too
        (~20 ms of dockerd's and containerd's CPU per container here, with its listing), and
        tasks waiting to start go first. ECS's agent waits hours before it cleans up a stopped
        task (ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION)."""
        deadline = time.monotonic() + CLEANUP_PATIENCE
        async with self._cleaning:
            while self._starting and time.monotonic() < deadline:
                await asyncio.sleep(CLEANUP_POLL)
            await asyncio.to_thread(self._remove_all, run)

    async def _start(self, run: TaskRun) -> None:
        definition = run.definition or {}
        containers = definition["containerDefinitions"]
        region = self.identity.region
        run.endpoints = self.endpoints.register(run.arn, definition.get("taskRoleArn"))
        run.role = ExecutionRole(self.identity, self.credentials, run.arn,
                                 definition.get("executionRoleArn"))
        if run.mode == "awsvpc":
            await self._attach_eni(run)
        # Secrets and log streams first, as ECS's agent fetches a task's resources: a task
        # missing one is never started (and none of its containers created).
        try:
            secrets = await resolve_task(run.role, containers, region)
            files = await envfiles.resolve_task(run.role, containers, region)
        except (SecretError, envfiles.EnvFileError) as exc:
            await self._fail(run, str(exc))
            return
        for name, variables in files.items():  # the definition's environment wins over files
            secrets[name]["files"] = variables
        targets: dict[str, awslogs.LogTarget] = {}
        for container in containers:
            target = awslogs.log_target(container, run.arn, region, {
                **((container.get("logConfiguration") or {}).get("options") or {}),
                **secrets[container["name"]]["log"]})
            if target is None:
                continue
            targets[container["name"]] = target
            if target.stream is not None:
                try:
                    await awslogs.prepare(run.role, target, target.stream)
                except awslogs.LogSetupError as exc:
                    await self._fail(run, str(exc), container=container["name"])
                    return
        if targets:
            await asyncio.to_thread(self._log_docker)  # built off the loop, once
        images = TaskImages(self.docker, run.role, self.identity, run.times)
        try:
            await images.prepare(containers)
        except PullError as exc:
            await self._fail(run, exc.reason, container=exc.container)
            return
        # Each step in a thread only when it has something to do: under a busy host a hop to a
        # thread and back waits for the CPU twice, on the way to the container's start.
        try:
            if definition.get("volumes"):
                run.volumes = await asyncio.to_thread(volumes.prepare, self.docker, run.arn,
                                                      definition, self._labels(run))
        except volumes.VolumeError as exc:
            await self._fail(run, str(exc))
            return
        except docker.errors.APIError as exc:
            await self._fail(run, f"CannotCreateVolumeError: {exc.explanation or exc}")
            return
        try:
            if definition.get("cpu") or definition.get("memory"):
                run.cgroup_parent = await asyncio.to_thread(self._task_cgroup, run)
        except (OSError, ValueError, AwsError) as exc:
            await self._fail(run, f"ResourceInitializationError: cannot create the task's "
                                  f"cgroup for its cpu and memory: {exc}")
            return
        for container in start_order(containers):
            name = container["name"]
            if run.desired == "STOPPED":
                return
            verdict = await self._await_dependencies(run, container)
            if verdict is not True:
                await self._stop(run, None, reason=f"DependencyConditionFailed: container "
                                 f"{name}'s dependencies cannot be met")
                return
            target = targets.get(name)
            # A log stream named after the container id is made between create and start;
            # otherwise both happen in one thread.
            stream_by_id = target is not None and target.stream is None
            try:
                created = await self._create_pulling(
                    run, container, secrets[name], images, start=not stream_by_id)
            except PullError as exc:
                await self._fail(run, exc.reason, container=exc.container)
                return
            except docker.errors.APIError as exc:
                await self._stop(run, None, reason=f"CannotCreateContainerError: "
                                 f"{exc.explanation or exc}", failed=name)
                return
            if created is None:
                return
            docker_id, start_error = created
            if images.digests.get(name):
                run.containers[name]["imageDigest"] = images.digests[name]
            if stream_by_id:
                try:
                    await awslogs.prepare(run.role, target, docker_id)
                except awslogs.LogSetupError as exc:
                    # never started: no container (and no exit code) of it is left
                    await asyncio.to_thread(self._discard, run, name)
                    await self._stop(run, None, reason=str(exc), failed=name)
                    return
                start_error = await asyncio.to_thread(self._start_container, docker_id)
            if start_error is not None:
                await self._stop(run, None, reason=f"CannotStartContainerError: "
                                 f"{start_error.explanation or start_error}", failed=name)
                return
            if target is not None:
                shipper = awslogs.Shipper(self._log_docker(), docker_id, run.role, target,
                                          target.stream or docker_id, self.spec.state_dir)
                shipper.start()
                run.shippers.append(shipper)
        del secrets  # values live no longer than their containers' creation
        bindings = (await asyncio.to_thread(self._bindings, run) if self._asks_docker(run)
                    else self._bindings(run))
        for name, report in run.containers.items():
            report["networkBindings"] = bindings.get(name, [])
        # Each container was running when its start answered; exits since come as events.
        run.checked = time.monotonic()
        run.known = Known.RUNNING
        await self._submit("SubmitTaskStateChange", **self._report(run))

    async def _create_pulling(self, run: TaskRun, container: dict[str, Any],
                              secrets: dict[str, dict[str, str]], images: TaskImages,
                              start: bool) -> tuple[str, docker.errors.APIError | None] | None:
        """`_create` in a thread; when the engine has not the image, its pull and the create
        again (the create is the look-up of a cached image: no engine call of its own). None
        when the task was stopped during the pull: nothing is created."""
        try:
            return await asyncio.to_thread(self._create, run, container, secrets, start)
        except docker.errors.ImageNotFound:
            await images.pull(container)
        if run.desired == "STOPPED":
            return None
        return await asyncio.to_thread(self._create, run, container, secrets, start)

    async def _attach_eni(self, run: TaskRun) -> None:
        """The task's network namespace: a pause container on the awsvpc network; its address
        is the ENI's, told to the control plane before the ENI is ATTACHED."""
        details = await asyncio.to_thread(self._create_pause, run)
        run.network = details
        for attachment_id in run.attachments:
            await self.channel.send_attachment_details(  # type: ignore[union-attr]
                run.arn, attachment_id, [
                    {"name": "privateIPv4Address", "value": details["address"]},
                    {"name": "macAddress", "value": details["mac"]},
                    {"name": "networkInterfaceId",
                     "value": "eni-" + attachment_id.replace("-", "")[:17]},
                    {"name": "privateDnsName", "value": f"ip-{details['address'].replace('.', '-')}"
                                                        ".ec2.internal"}])
            run.attachments[attachment_id] = "ATTACHED"
            await self._submit("SubmitAttachmentStateChanges", cluster=run.cluster,
                               attachments=[{"attachmentArn": run.attachment_arns[attachment_id],
                                             "status": "ATTACHED"}])

    async def _await_dependencies(self, run: TaskRun, container: dict[str, Any]) -> bool:
        deadline = time.monotonic() + DEPENDENCY_TIMEOUT
        for dependency in container.get("dependsOn") or ():
            while True:
                docker_id = run.docker_ids.get(dependency["containerName"])
                if docker_id is None:
                    return False
                inspected = await asyncio.to_thread(self.docker.api.inspect_container,
                                                    docker_id)
                verdict = dependency_met(dependency["condition"], inspected)
                if verdict is not None:
                    if not verdict:
                        return False
                    break
                if time.monotonic() > deadline or run.desired == "STOPPED":
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.changed.wait(), DEPENDENCY_POLL)
                run.changed.clear()
        return True

    async def _fail(self, run: TaskRun, reason: str, container: str | None = None) -> None:
        """The task cannot start: every container STOPPED without an exit code, the reason on
        the container that caused it and on the task — never RUNNING."""
        for definition in (run.definition or {}).get("containerDefinitions", ()):
            entry = run.containers.setdefault(definition["name"],
                                              {"containerName": definition["name"]})
            entry["status"] = "STOPPED"
            if container in (None, definition["name"]):
                entry["reason"] = reason
        await self._stop(run, None, reason=reason)

    async def _stop(self, run: TaskRun, exited: str | None, reason: str | None = None,
                    failed: str | None = None) -> None:
        """SIGTERM every container, SIGKILL after its stopTimeout, collect exit codes, report
        STOPPED. `exited` names the essential container whose exit stops the task."""
        definitions = {c["name"]: c for c in (run.definition or {}).get(
            "containerDefinitions", ())}
        await asyncio.gather(*(
            asyncio.to_thread(self._stop_container, docker_id,
                              int(definitions.get(name, {}).get("stopTimeout")
                                  or DEFAULT_STOP_TIMEOUT))
            for name, docker_id in run.docker_ids.items() if docker_id not in run.exits))
        for name, docker_id in run.docker_ids.items():
            if docker_id not in run.exits:  # stopped just now: its event may be on its way
                state = None
                with contextlib.suppress(*ENGINE_ERRORS):
                    state = await asyncio.to_thread(self._state, docker_id)
                run.exits[docker_id] = state.get("ExitCode") if state else None
            entry = run.containers.setdefault(name, {"containerName": name})
            entry.update(status="STOPPED", exitCode=run.exits[docker_id])
            entry.pop("networkBindings", None)
        for name in definitions:
            run.containers.setdefault(name, {"containerName": name, "status": "STOPPED"})
        if failed:
            run.containers[failed]["reason"] = reason
        if run.shippers:  # what the containers wrote last reaches their streams first
            await asyncio.gather(*(s.close() for s in run.shippers))
            run.shippers.clear()
        run.role = None  # its credentials and clients are not needed any more
        if run.pause_id is not None:
            await asyncio.to_thread(self._stop_container, run.pause_id, 1)
        run.attachments = dict.fromkeys(run.attachments, "DELETED")
        run.times["executionStoppedAt"] = time.time()
        run.known = Known.STOPPED
        report = self._report(run)
        if exited is not None:
            reason = f"Essential container in task exited ({exited})"
        if reason:
            report["reason"] = reason
        await self._submit("SubmitTaskStateChange", **report)

    def _report(self, run: TaskRun) -> dict[str, Any]:
        return {
            "cluster": run.cluster, "task": run.arn, "status": run.known.value,
            "containers": [{k: v for k, v in c.items() if v is not None}
                           for c in run.containers.values()],
            "attachments": [{"attachmentArn": run.attachment_arns[a], "status": s}
                            for a, s in run.attachments.items()
                            if s != "PRECREATED" and a in run.attachment_arns],
            **run.times}

    async def _submit(self, operation: str, **params: Any) -> None:
        await submit_report(self.ecs, operation, **params)

    # -- Docker (blocking; called in threads) ----------------------------------------------------

    def _labels(self, run: TaskRun, **extra: str) -> dict[str, str]:
        return {f"{LABEL}agent": self.agent_key, f"{LABEL}task-arn": run.arn,
                f"{LABEL}cluster": run.cluster, **{LABEL + k: v for k, v in extra.items()}}

    def _awsvpc_network(self) -> None:
        try:
            self.docker.networks.get(AWSVPC_NETWORK)
        except docker.errors.NotFound:
            pool = docker.types.IPAMPool(subnet=AWSVPC_SUBNET, gateway=AWSVPC_GATEWAY)
            with contextlib.suppress(docker.errors.APIError):  # another agent made it first
                self.docker.networks.create(
                    AWSVPC_NETWORK, driver="bridge", labels={f"{LABEL}managed": "true"},
                    ipam=docker.types.IPAMConfig(pool_configs=[pool]))

    def _create_pause(self, run: TaskRun) -> dict[str, str]:
        self._awsvpc_network()
        run.pause_id = self._create_container(
            image=PAUSE_IMAGE, command=["sleep", "2147483647"], detach=True,
            name=docker_name(run.arn, "~internal~pause"), network=AWSVPC_NETWORK,
            labels=self._labels(run, role="pause"), mem_limit="16m")
        self.docker.api.start(run.pause_id)
        settings = self.docker.api.inspect_container(run.pause_id)["NetworkSettings"]
        network = settings["Networks"][AWSVPC_NETWORK]
        return {"address": network["IPAddress"], "mac": network["MacAddress"],
                "gateway": network["Gateway"]}

    def _create(self, run: TaskRun, container: dict[str, Any],
                secrets: dict[str, dict[str, str]], start: bool
                ) -> tuple[str, docker.errors.APIError | None]:
        """Create the container, and start it when `start`: its id, and the start's error."""
        name = container["name"]
        mode = {"awsvpc": f"container:{run.pause_id}"}.get(run.mode, run.mode)
        injected = {"AWS_REGION": self.identity.region,
                    "AWS_DEFAULT_REGION": self.identity.region}
        if run.endpoints is not None:
            injected.update(self.endpoints.environment(run.endpoints, name))
        args = create_args(container, network_mode=mode, name=docker_name(run.arn, name),
                           labels=self._labels(run, **{
                               "container-name": name,
                               "essential": str(container.get("essential", True)).lower()}),
                           env={**environment(container, {**injected, **secrets["files"]}),
                                **secrets["env"]},
                           log_secrets=secrets["log"],
                           volume_binds=binds(container, run.volumes),
                           shared_volumes=volumes_from(container, run.docker_ids))
        if run.cgroup_parent:
            args["cgroup_parent"] = run.cgroup_parent
        args.update(self._namespaces(run))
        docker_id = self._create_container(**args)
        run.docker_ids[name] = docker_id
        run.containers[name] = {"containerName": name, "status": "RUNNING",
                                "runtimeId": docker_id}
        return docker_id, self._start_container(docker_id) if start else None

    def _start_container(self, docker_id: str) -> docker.errors.APIError | None:
        try:
            self.docker.api.start(docker_id)
        except docker.errors.APIError as exc:
            return exc
        return None

    def _create_container(self, **args: Any) -> str:
        """docker-py's `containers.create` (its arguments, translated by its own function) less
        the inspect it makes afterwards to build a Container object the agent does not use."""
        created = self.docker.api.create_container(**_create_container_args(
            {**args, "version": self.docker.api.api_version}))
        return created["Id"]

    @staticmethod
    def _namespaces(run: TaskRun) -> dict[str, str]:
        """The task's `pidMode`/`ipcMode`: `host`, or `task` — the first container's namespace,
        joined by the others (ECS holds it in a pause container)."""
        definition, found = run.definition or {}, {}
        first = next(iter(run.docker_ids.values()), None)
        for member, key in (("pidMode", "pid_mode"), ("ipcMode", "ipc_mode")):
            mode = definition.get(member)
            if mode == "host":
                found[key] = "host"
            elif mode == "task" and first is not None:
                found[key] = f"container:{first}"
            elif mode == "task" and key == "ipc_mode":
                found[key] = "shareable"
        return found

    def _task_cgroup(self, run: TaskRun) -> str | None:
        definition = run.definition or {}
        cpu, memory = definition.get("cpu"), definition.get("memory")
        if self.cgroups is None or not (cpu or memory):
            return None
        return self.cgroups.create(run.arn.rsplit("/", 1)[-1],
                                   parse_task_cpu(str(cpu)) if cpu else None,
                                   parse_task_memory(str(memory)) if memory else None)

    def _discard(self, run: TaskRun, name: str) -> None:
        docker_id = run.docker_ids.pop(name)
        run.containers[name] = {"containerName": name, "status": "STOPPED"}
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self.docker.api.remove_container(docker_id, force=True)

    def _log_docker(self) -> Any:
        """The Docker API client that follows containers' logs: its own connection pool, so
        that long-lived log streams do not take the connections of the agent's other calls."""
        if self._log_client is None:
            self._log_client = docker.DockerClient.from_env(version="auto",
                                                            max_pool_size=1024).api
        return self._log_client

    def _bindings(self, run: TaskRun) -> dict[str, list[dict[str, Any]]]:
        """Only a bridge container's published ports need Docker's word (the host ports it
        chose); the other modes' bindings are the definition's."""
        definitions = {c["name"]: c for c in (run.definition or {})["containerDefinitions"]}
        return {name: network_bindings(definitions[name], run.mode,
                                       self.docker.api.inspect_container(docker_id)
                                       if _publishes(run, definitions[name]) else {})
                for name, docker_id in run.docker_ids.items()}

    @staticmethod
    def _asks_docker(run: TaskRun) -> bool:
        """Whether `_bindings` makes an engine call (and so belongs in a thread)."""
        return any(_publishes(run, c) for c in (run.definition or {})["containerDefinitions"])

    def _state(self, docker_id: str) -> dict[str, Any] | None:
        try:
            return self.docker.api.inspect_container(docker_id)["State"]
        except docker.errors.NotFound:
            return None

    async def _essential_exit(self, run: TaskRun) -> str | None:
        """The name of an essential container that is no longer running, if any: as their
        events told, and as Docker says when it was last read RUNNING_RECHECK seconds ago (an
        event missed while the stream was down, a task adopted after a restart)."""
        essential = {d["name"]: run.docker_ids.get(d["name"]) for d in (
            run.definition or {}).get("containerDefinitions", ()) if d.get("essential", True)}
        if time.monotonic() - run.checked >= RUNNING_RECHECK:
            run.checked = time.monotonic()
            run.exits.update(await asyncio.to_thread(
                self._exits, [i for i in essential.values() if i is not None]))
        return next((name for name, docker_id in essential.items()
                     if docker_id is None or docker_id in run.exits), None)

    def _exits(self, docker_ids: list[str]) -> dict[str, int | None]:
        """The exit codes of those of these containers that are no longer running (None: gone)."""
        found: dict[str, int | None] = {}
        for docker_id in docker_ids:
            state = self._state(docker_id)
            if state is None or state["Status"] in ("exited", "dead"):
                found[docker_id] = state["ExitCode"] if state else None
        return found

    def _stop_container(self, docker_id: str, timeout: int) -> None:
        """docker stop: SIGTERM, SIGKILL after `timeout` seconds. An engine that is gone has
        nothing left to stop (its containers died with it)."""
        with contextlib.suppress(*ENGINE_ERRORS):
            self.docker.api.stop(docker_id, timeout=timeout)

    def _remove_all(self, run: TaskRun) -> None:
        """The task's containers (all that carry its label, not only those this agent knows),
        its own volumes and its cgroup."""
        found = self.docker.api.containers(
            all=True, quiet=True, filters={"label": f"{LABEL}task-arn={run.arn}"})
        for container in found:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                self.docker.api.remove_container(container["Id"], force=True)
            awslogs.position_file(self.spec.state_dir, container["Id"]).unlink(missing_ok=True)
        if run.definition is None or run.definition.get("volumes"):
            volumes.remove_task_volumes(self.docker, run.arn)
        if self.cgroups is not None:
            self.cgroups.remove(run.arn.rsplit("/", 1)[-1])

    def _watch_events(self) -> None:
        """One Docker event stream for all of this agent's containers: a container's exit (with
        its code), health change or removal wakes its task's loop at once."""
        while not self._stopped.is_set():
            try:
                client = docker.DockerClient.from_env(version="auto")
                stream = client.events(decode=True, filters={
                    "type": "container", "event": list(WATCHED_EVENTS),
                    "label": f"{LABEL}agent={self.agent_key}"})
                if self._loop is not None:  # what happened while no stream was open
                    self._loop.call_soon_threadsafe(self._recheck_all)
                self._watching.set()
                for event in stream:
                    if self._stopped.is_set():
                        return
                    if self._loop is not None:
                        self._loop.call_soon_threadsafe(self._on_event, event)
            except Exception as exc:  # the engine went away: try again shortly
                log.warning("Docker event stream: %s", exc)
                time.sleep(1.0)

    def _on_event(self, event: dict[str, Any]) -> None:
        """On the loop: one container event for the task it belongs to."""
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        run = self.tasks.get(attributes.get(f"{LABEL}task-arn", ""))
        if run is None:
            return
        if event.get("Action") == "die":
            code = attributes.get("exitCode")
            run.exits[actor["ID"]] = int(code) if code and code.lstrip("-").isdigit() else None
        elif event.get("Action") == "destroy":
            run.exits.setdefault(actor["ID"], None)
        run.changed.set()

    def _recheck_all(self) -> None:
        """Every running task reads Docker again (events may have been missed)."""
        for run in self.tasks.values():
            run.checked = 0.0
            run.changed.set()

    async def _channel_credentials(self, task_arn: str, role_arn: str) -> dict[str, Any]:
        if self.channel is None:
            raise RuntimeError("the channel is not open")
        run = self.tasks.get(task_arn)
        task_role = ((run.definition or {}).get("taskRoleArn") if run else None)
        return await self.channel.task_credentials(
            task_arn, role="task" if role_arn == task_role else "execution")

    # -- task metadata v4 --------------------------------------------------------------------

    async def _metadata(self, task_arn: str, container: str | None,
                        path: str) -> tuple[int, Any]:
        from portside.agent.metadata import answer

        run = self.tasks.get(task_arn)
        if run is None or run.definition is None:
            return 400, {"code": "InvalidIdInRequest", "message": "Unknown task."}
        return await asyncio.to_thread(answer, self, run, container, path)
