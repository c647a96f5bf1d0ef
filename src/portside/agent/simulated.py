"""A simulated host, for tests and benchmarks only (never used by `portside up`): an agent that
speaks the real protocol — registers, holds the channel, acknowledges, reports through the ECS
API — but runs no containers.

Each task is driven by its own asyncio task that moves the task's known status towards its
desired status, as the ECS agent's per-task loop does: PENDING → RUNNING after `start_delay`
(with the ENI attached first for awsvpc tasks), and STOPPED when asked, or on its own after
`run_for` seconds with `exit_codes`, or at once with `fail_start` as the reason. Several hosts,
each with its own resources, zone and attributes, run in one process; `SimulatedFleet` runs
them on a loop of their own for synchronous tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from portside import __version__
from portside.agent.capabilities import host_attributes
from portside.agent.channel import Channel, Identity, register_container_instance, submit_report
from portside.ids import new_uuid

T = TypeVar("T")

RESERVED_PORTS = (22, 2375, 2376, 51678, 51679)


@dataclass
class HostSpec:
    cluster: str = "default"
    cpu: int = 2048
    memory: int = 4096
    ports: tuple[int, ...] = RESERVED_PORTS
    zone: str = "us-east-1a"
    instance_type: str | None = "m5.large"
    attributes: dict[str, str | None] = field(default_factory=dict)
    capabilities: tuple[str, ...] | None = None  # None: a current Linux host's
    start_delay: float = 0.05  # seconds from PENDING to RUNNING
    stop_exit_code: int = 0  # the exit code of containers stopped on request
    run_for: float | None = None  # an essential container exits on its own after this long
    exit_codes: dict[str, int] = field(default_factory=dict)  # per container, for run_for
    fail_start: str | None = None  # tasks fail to start with this reason
    fargate_zones: tuple[str, ...] | None = None  # a Fargate host serving these zone suffixes


@dataclass
class SimTask:
    arn: str
    cluster: str
    desired: str
    task: dict[str, Any]  # the task document as assigned
    definition: dict[str, Any]
    attachment_arns: dict[str, str]
    known: str = "PENDING"
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> report
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    driver: asyncio.Task | None = None
    attachments: dict[str, str] = field(default_factory=dict)  # attachment id -> status
    times: dict[str, float] = field(default_factory=dict)


class SimulatedHost:
    """One host: its registration, its channel and its tasks."""

    _host_ports = itertools.count(32768)

    def __init__(self, identity: Identity, spec: HostSpec) -> None:
        self.identity = identity
        self.spec = spec
        self.ecs = identity.ecs_client()
        self.container_instance_arn: str | None = None
        self.fargate_host = new_uuid().replace("-", "") if spec.fargate_zones else None
        self.tasks: dict[str, SimTask] = {}
        self.channel: Channel | None = None
        self._runner: asyncio.Task | None = None

    # -- life ------------------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        """Register (unless a Fargate host), open the channel and wait for its welcome."""
        if self.fargate_host is None:
            await self._register()
            self.channel = Channel(self.identity,
                                   container_instance_arn=self.container_instance_arn)
        else:
            self.channel = Channel(self.identity, fargate_host=self.fargate_host, hello={
                "zones": list(self.spec.fargate_zones or ()), "cpu": self.spec.cpu,
                "memory": self.spec.memory})
        self._runner = asyncio.create_task(self.channel.run(self))
        await asyncio.wait_for(self.channel.connected.wait(), timeout)

    async def restart(self, timeout: float = 10.0) -> None:
        """The agent restarts: it re-registers with its instance ARN, reconnects and
        re-reports the tasks it still runs."""
        await self.stop()
        await self.start(timeout)

    async def stop(self) -> None:
        """The agent stops (its tasks go on, as containers outlive a stopped ECS agent)."""
        if self.channel is not None:
            await self.channel.stop()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    async def lose(self) -> None:
        """The host vanishes: no goodbye, no reconnection, nothing reported any more."""
        if self.channel is not None:
            self.channel.drop()
        drivers = [sim.driver for sim in self.tasks.values() if sim.driver is not None]
        for driver in drivers:
            driver.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner

    async def _register(self) -> None:
        spec = self.spec
        request: dict[str, Any] = {
            "cluster": spec.cluster,
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": spec.cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": spec.memory},
                {"name": "PORTS", "type": "STRINGSET",
                 "stringSetValue": [str(p) for p in spec.ports]},
                {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []}],
            "versionInfo": {"agentVersion": __version__, "agentHash": "simulated",
                            "dockerVersion": "simulated"},
            "attributes": host_attributes(
                spec.zone, spec.instance_type, extra=spec.attributes,
                **({} if spec.capabilities is None else {"capabilities": spec.capabilities})),
        }
        if self.container_instance_arn is not None:
            request["containerInstanceArn"] = self.container_instance_arn
        self.container_instance_arn = await register_container_instance(self.ecs, request)

    # -- the Reconciler protocol -----------------------------------------------------------

    def manifest(self) -> list[dict[str, Any]]:
        return [{**self._report(sim), "taskArn": sim.arn} for sim in self.tasks.values()]

    async def reconcile(self, assignments: list[dict[str, Any]], full: bool) -> None:
        wanted = set()
        for assignment in assignments:
            arn = assignment["taskArn"]
            wanted.add(arn)
            sim = self.tasks.get(arn)
            if sim is None:
                if assignment["desiredStatus"] == "STOPPED":
                    continue  # a task this host does not run (any more)
                task = assignment["task"]
                sim = self.tasks[arn] = SimTask(
                    arn=arn, cluster=task["clusterArn"], desired="RUNNING", task=task,
                    definition=assignment["definition"],
                    attachment_arns=assignment.get("attachmentArns") or {},
                    attachments={a["id"]: a["status"] for a in task["attachments"]})
                sim.driver = asyncio.create_task(self._drive(sim))
            elif sim.desired != assignment["desiredStatus"]:
                sim.desired = assignment["desiredStatus"]
                sim.changed.set()
        if full:
            for arn in set(self.tasks) - wanted:
                self._forget(arn)  # the control plane no longer knows it: stop it quietly

    def _forget(self, arn: str) -> None:
        sim = self.tasks.pop(arn)
        if sim.driver is not None:
            sim.driver.cancel()

    # -- one task's loop ---------------------------------------------------------------------

    async def _drive(self, sim: SimTask) -> None:
        """Move the task's known status towards its desired status, reporting each step."""
        try:
            while sim.known != "STOPPED":
                sim.changed.clear()
                if sim.desired == "STOPPED":
                    await self._stop(sim, self.spec.stop_exit_code, None)
                elif sim.known == "PENDING":
                    await self._start(sim)
                elif self.spec.run_for is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(sim.changed.wait(), self.spec.run_for)
                    if sim.desired != "STOPPED":
                        await self._stop(sim, None, "Essential container in task exited")
                else:
                    await sim.changed.wait()
        except asyncio.CancelledError:
            pass

    async def _start(self, sim: SimTask) -> None:
        for attachment_id in sim.attachments:
            await self.channel.send_attachment_details(  # type: ignore[union-attr]
                sim.arn, attachment_id, [{"name": "privateIPv4Address",
                                          "value": _address(attachment_id)}])
            sim.attachments[attachment_id] = "ATTACHED"
            await self._submit("SubmitAttachmentStateChanges", cluster=sim.cluster,
                               attachments=[{"attachmentArn": sim.attachment_arns[attachment_id],
                                             "status": "ATTACHED"}])
        sim.times["pullStartedAt"] = time.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sim.changed.wait(), self.spec.start_delay)
        if sim.desired == "STOPPED":
            return
        sim.times["pullStoppedAt"] = time.time()
        if self.spec.fail_start is not None:
            await self._stop(sim, None, self.spec.fail_start, started=False)
            return
        for container in sim.definition["containerDefinitions"]:
            sim.containers[container["name"]] = {
                "containerName": container["name"], "status": "RUNNING",
                "runtimeId": new_uuid().replace("-", "") * 2,
                "networkBindings": self._bindings(sim, container)}
        sim.known = "RUNNING"
        await self._submit("SubmitTaskStateChange", **self._report(sim))

    async def _stop(self, sim: SimTask, exit_code: int | None, reason: str | None,
                    started: bool = True) -> None:
        for name in (c["name"] for c in sim.definition["containerDefinitions"]):
            code = exit_code if exit_code is not None else self.spec.exit_codes.get(name, 0)
            entry = sim.containers.setdefault(name, {"containerName": name})
            entry.update(status="STOPPED", exitCode=code if started else None)
            if reason and not started:
                entry["reason"] = reason
            entry.pop("networkBindings", None)
        for attachment_id in sim.attachments:
            sim.attachments[attachment_id] = "DELETED"
        sim.times["executionStoppedAt"] = time.time()
        sim.known = "STOPPED"
        report = self._report(sim)
        if reason:
            report["reason"] = reason
        await self._submit("SubmitTaskStateChange", **report)

    def _report(self, sim: SimTask) -> dict[str, Any]:
        report: dict[str, Any] = {
            "cluster": sim.cluster, "task": sim.arn, "status": sim.known,
            "containers": [{k: v for k, v in c.items() if v is not None}
                           for c in sim.containers.values()],
            "attachments": [{"attachmentArn": sim.attachment_arns[a], "status": s}
                            for a, s in sim.attachments.items() if s != "PRECREATED"],
            **sim.times}
        return report

    def _bindings(self, sim: SimTask, container: dict[str, Any]) -> list[dict[str, Any]]:
        mode = sim.definition.get("networkMode") or "bridge"
        if mode not in ("bridge", "host"):
            return []
        found = []
        for mapping in container.get("portMappings") or ():
            host_port = mapping.get("hostPort") or (
                mapping["containerPort"] if mode == "host" else next(self._host_ports))
            found.append({"bindIP": "0.0.0.0", "containerPort": mapping["containerPort"],
                          "hostPort": host_port, "protocol": mapping.get("protocol", "tcp")})
        return found

    async def _submit(self, operation: str, **params: Any) -> None:
        await submit_report(self.ecs, operation, **params)


def _address(attachment_id: str) -> str:
    """A stable link-local address for an ENI (portside's task networks are 169.254.0.0/16)."""
    number = int(attachment_id.replace("-", "")[:8], 16)
    return f"169.254.{100 + number % 100}.{2 + number % 250}"


class SimulatedFleet:
    """Simulated hosts on an event loop of their own, driven from synchronous code."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.hosts: list[SimulatedHost] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="simulated-fleet")
        self._thread.start()

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def add(self, spec: HostSpec | None = None, **fields: Any) -> SimulatedHost:
        host = SimulatedHost(self.identity, spec or HostSpec(**fields))
        self.call(host.start())
        self.hosts.append(host)
        return host

    def restart(self, host: SimulatedHost) -> None:
        self.call(host.restart())

    def stop(self, host: SimulatedHost) -> None:
        self.call(host.stop())

    def lose(self, host: SimulatedHost) -> None:
        self.call(host.lose())

    def close(self) -> None:
        async def _close() -> None:
            for host in self.hosts:
                await host.lose()

        with contextlib.suppress(Exception):
            self.call(_close(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
