"""The agent channel, control-plane side: one WebSocket per host, on which the control plane
pushes the tasks the host should run (with their desired status) the moment they change, and
the agent acknowledges them and heartbeats. What happens on the host travels the other way
through the ECS API (SubmitTaskStateChange and its siblings, in reports.py).

The protocol, its messages and its failure behaviour are in docs/agent-protocol.md. In short:
the agent authenticates the upgrade request with SigV4 (IAM `ecs:Poll` on its container
instance; a Fargate host needs an account's root credentials); its first message (`hello`)
re-reports every task it runs, which reconciles both sides after a restart of either; the
control plane answers with the full list of tasks the host should have, then sends changes
as they happen. A channel that closes, or stays silent past the heartbeat timeout, turns
`agentConnected` false; the host's tasks keep their state until it reconnects, as ECS does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sqlalchemy import select, update

from portside.context import RequestContext
from portside.gateway.authorize import authorize
from portside.ids import new_uuid
from portside.protocol.errors import AccessDenied, AwsError
from portside.services.ecs.arns import attachment_arn, container_instance_arn, parse_child
from portside.services.ecs.common import dumps, invalid, now
from portside.services.ecs.lifecycle import StopCode, TaskStatus
from portside.services.ecs.model import container_instances, fargate_hosts, tasks
from portside.services.ecs.records import Reservation, Task
from portside.services.ecs.reports import apply_report, merge_attachment_details
from portside.services.ecs.state import (
    FARGATE_SCOPE,
    TASK_BY_ID,
    Capacity,
    Change,
    Host,
    cluster_scope,
    scope_of,
)

if TYPE_CHECKING:
    from portside.services.ecs.api import Ecs

log = logging.getLogger("portside.ecs.agents")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HELLO_TIMEOUT = 10.0  # seconds an agent has to say hello once its channel is open
LOST_TASK_REASON = ("The task is no longer known to the agent of its host: the host lost it "
                    "while its agent was away.")
_HOST_ID_LENGTH = 32
# Seconds an agent's acknowledgment waits to be applied, with those that came meanwhile in one
# transaction: `portside up`'s own agent starts the task it acknowledged on this same loop, and
# goes first.
ACK_PAUSE = 0.05


@dataclass(frozen=True)
class Target:
    """The host a channel is for."""

    host_id: str
    scope: str
    instance_arn: str | None  # None for a Fargate host


@dataclass
class Session:
    target: Target
    last_seen: float
    outbox: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    pending: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # message -> tasks

    def push(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(message)

    def close(self) -> None:
        self.outbox.put_nowait(None)


def assignment(task: Task) -> dict[str, Any]:
    """A task as its host's agent receives it: the desired status, the task as ECS describes
    it, the task definition with the run's overrides applied, its tags and the ARNs of its
    attachments (for SubmitAttachmentStateChanges)."""
    return {"taskArn": task.arn, "desiredStatus": task.desired_status.value,
            "task": task.doc, "definition": task.definition, "tags": task.tags,
            "attachmentArns": {a["id"]: attachment_arn(task.region, task.account_id, a["id"])
                               for a in task.doc["attachments"]}}


class AgentHub:
    """The open channels, by host id, and what the service tells them."""

    def __init__(self, service: Ecs) -> None:
        self.service = service
        self.sessions: dict[str, Session] = {}
        self._acks: list[tuple[str, str, float]] = []  # (task id, desired status, when) to apply

    # -- what the handlers call once their transaction has committed ------------------------

    def assign(self, changed: list[Task]) -> None:
        """Push tasks whose desired state changed to the agents of their hosts."""
        by_host: dict[str, list[Task]] = {}
        for task in changed:
            if task.host_id is not None and task.host_id in self.sessions:
                by_host.setdefault(task.host_id, []).append(task)
        for host_id, found in by_host.items():
            self._send_tasks(self.sessions[host_id], found, full=False)

    def stop_and_close(self, host_id: str, stopped: list[Task]) -> None:
        """A deregistered host's agent: tell it to stop its tasks, then close its channel."""
        session = self.sessions.get(host_id)
        if session is None:
            return
        if stopped:
            self._send_tasks(session, stopped, full=False)
        session.push({"type": "close", "reason": "The container instance was deregistered."})
        session.close()

    def close_all(self) -> None:
        for session in list(self.sessions.values()):
            session.close()

    def _send_tasks(self, session: Session, found: list[Task], full: bool) -> None:
        message_id = new_uuid()
        session.pending[message_id] = [(t.id, t.desired_status.value) for t in found]
        session.push({"type": "tasks", "messageId": message_id, "full": full,
                      "tasks": [assignment(t) for t in found]})

    # -- liveness -----------------------------------------------------------------------------

    async def watch(self, timeout: float, every: float = 1.0) -> None:
        """Close channels silent for longer than `timeout` (their agent is lost)."""
        while True:
            await asyncio.sleep(every)
            limit = time.monotonic() - timeout
            for session in list(self.sessions.values()):
                if session.last_seen < limit:
                    log.info("agent of %s silent for %.0fs: closing its channel",
                             session.target.host_id, timeout)
                    session.close()

    # -- a channel ----------------------------------------------------------------------------

    async def serve(self, ctx: RequestContext, query_string: str, receive: Receive,
                    send: Send) -> None:
        """One agent's channel, from the upgrade request (already authenticated) to its end."""
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            target = self._target(ctx, parse_qs(query_string))
        except AwsError as exc:
            # Closing before accepting refuses the upgrade (HTTP 403).
            await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})
            return
        await send({"type": "websocket.accept"})
        try:
            hello = await asyncio.wait_for(_receive_json(receive), HELLO_TIMEOUT)
        except (TimeoutError, ValueError, ConnectionError):
            await send({"type": "websocket.close", "code": 1002})
            return
        if hello.get("type") != "hello":
            await send({"type": "websocket.close", "code": 1002})
            return
        session = Session(target, time.monotonic())
        previous = self.sessions.get(target.host_id)
        if previous is not None:
            previous.close()  # the newer channel of a host wins
        self.sessions[target.host_id] = session
        settings = self.service.runtime.settings
        try:
            full = self._connect(ctx, target, hello)
            session.push({"type": "welcome", "hostId": target.host_id,
                          "containerInstanceArn": target.instance_arn,
                          "heartbeatInterval": settings.ecs_agent_heartbeat,
                          "heartbeatTimeout": settings.ecs_agent_timeout})
            self._send_tasks(session, full, full=True)
            await self._run(session, receive, send)
        finally:
            if self.sessions.get(target.host_id) is session:
                del self.sessions[target.host_id]
                self._disconnect(target)

    async def _run(self, session: Session, receive: Receive, send: Send) -> None:
        reader = asyncio.create_task(self._read(session, receive))
        writer = asyncio.create_task(_write(session, send))
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for work in (reader, writer):
                work.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    async def _read(self, session: Session, receive: Receive) -> None:
        while True:
            try:
                message = await _receive_json(receive)
            except ConnectionError:
                return
            except ValueError:
                log.warning("agent of %s sent a message that is not JSON; closing",
                            session.target.host_id)
                session.close()
                return
            session.last_seen = time.monotonic()
            try:
                self._on_message(session, message)
            except AwsError as exc:
                log.warning("agent of %s: %s", session.target.host_id, exc.message)

    def _on_message(self, session: Session, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ack":
            self._acknowledged(session.pending.pop(message.get("messageId", ""), []))
        elif kind == "attachment":
            self._attachment(session, message)
        elif kind == "credentials":
            session.push(self._credentials(session, message))
        elif kind != "heartbeat":
            log.info("agent of %s sent an unknown message type %r", session.target.host_id,
                     kind)

    # -- the store side -----------------------------------------------------------------------

    def _target(self, ctx: RequestContext, query: dict[str, list[str]]) -> Target:
        """Which host the channel is for, and whether the caller may hold it."""
        fargate_host = _one(query, "fargateHost")
        if fargate_host is not None:
            if not ctx.principal.is_root:
                raise AccessDenied("Only an account's root credentials may join portside's "
                                   "Fargate capacity.")
            if len(fargate_host) != _HOST_ID_LENGTH or not fargate_host.isalnum():
                raise invalid("fargateHost must be 32 letters or digits.")
            return Target(fargate_host, FARGATE_SCOPE, None)
        reference = _one(query, "containerInstance")
        if reference is None:
            raise invalid("The channel needs containerInstance (or fargateHost).")
        ident = parse_child(reference, "container-instance").name
        with self.service.runtime.store.begin() as conn:
            row = conn.execute(select(container_instances).where(
                container_instances.c.id == ident,
                container_instances.c.account_id == ctx.account_id,
                container_instances.c.region == ctx.region)).first()
        if row is None or row.status == "INACTIVE":
            raise invalid(f"Container instance {reference} is not registered.")
        target = Target(row.id, cluster_scope(row.account_id, row.region, row.cluster),
                        container_instance_arn(row.region, row.account_id, row.cluster, row.id))
        authorize(self.service.runtime, ctx, self.service, "Poll",
                  {"containerInstance": target.instance_arn,
                   "cluster": target.instance_arn.rsplit("/", 2)[0]})
        return target

    def _connect(self, ctx: RequestContext, target: Target, hello: dict[str, Any]) -> list[Task]:
        """Mark the host connected, apply what its agent re-reports, stop on the control
        plane's side what the host lost, and answer the tasks the host should have."""
        at = now()
        reports = {r["taskArn"]: r for r in hello.get("tasks") or () if r.get("taskArn")}
        state = self.service.state
        with state.write(target.scope) as (conn, view):
            if target.instance_arn is None:
                _join_fargate(conn, view.hosts, target.host_id, hello, at)
            else:
                state.instance_changed(conn, view, view.hosts[target.host_id], at,
                                       agent_connected=True)
            host = view.hosts.get(target.host_id)
            owned = [Task.from_row(r) for r in conn.execute(select(tasks).where(
                tasks.c.id.in_(list(host.held) if host is not None else [])))]
            known = {t.arn for t in owned}
            should_have = []
            for task in owned:
                report = reports.get(task.arn)
                if report is not None:
                    apply_report(state, conn, view, task, report, at)
                elif task.acked_status is not None and (
                        "startedAt" in task.doc or task.desired_status is TaskStatus.STOPPED):
                    state.transition(conn, view, task, Change(
                        last_status=TaskStatus.STOPPED,
                        stop_code=StopCode.ESSENTIAL_CONTAINER_EXITED if "startedAt" in task.doc
                        else StopCode.TASK_FAILED_TO_START,
                        stopped_reason=LOST_TASK_REASON), at)
                # A task acknowledged but never started, of which the host has nothing (its
                # agent restarted before creating a container): the host gets it again.
                if not task.released:
                    should_have.append(task)
            for arn in reports.keys() - known:
                should_have.append(_stray(arn))
        return should_have

    def _disconnect(self, target: Target) -> None:
        state = self.service.state
        with contextlib.suppress(AwsError), state.write(target.scope) as (conn, view):
            host = view.hosts.get(target.host_id)
            if host is None:
                return
            if target.instance_arn is None:
                host.agent_connected = False
                conn.execute(update(fargate_hosts).where(fargate_hosts.c.id == host.id)
                             .values(agent_connected=False))
            elif host.agent_connected:
                state.instance_changed(conn, view, host, now(), agent_connected=False)

    def _acknowledged(self, acked: list[tuple[str, str]]) -> None:
        """Note acknowledgments, as of now, to apply ACK_PAUSE later."""
        if not acked:
            return
        if not self._acks:
            asyncio.get_running_loop().call_later(ACK_PAUSE, self.apply_acks)
        at = now()
        self._acks += [(task_id, desired, at) for task_id, desired in acked]

    def apply_acks(self) -> None:
        """Apply the acknowledgments noted so far. Also run before a host's report: the report
        means the host has the task, and its CONNECTED must come first, as on ECS (applied
        after, it made a second event of the state the report moved the task to)."""
        acks, self._acks = self._acks, []
        if not acks:
            return
        with self.service.runtime.store.begin() as conn:
            for task_id, desired, at in acks:
                row = conn.execute(TASK_BY_ID, {"task_id": task_id}).first()
                if row is not None and row.desired_status == desired:
                    self.service.state.acknowledge(conn, Task.from_row(row), desired, at)

    def _attachment(self, session: Session, message: dict[str, Any]) -> None:
        """The agent tells the details of a task's ENI (its address) before it reports the
        attachment ATTACHED: ECS would know them from EC2; here the host does."""
        ident = parse_child(message.get("taskArn", ""), "task").name
        with self.service.runtime.store.begin() as conn:
            row = conn.execute(select(tasks).where(
                tasks.c.id == ident, tasks.c.host_id == session.target.host_id)).first()
        if row is None:
            return
        task = Task.from_row(row)
        fields = merge_attachment_details(task, message.get("attachmentId", ""),
                                          message.get("details") or [])
        if fields:
            with self.service.state.write(scope_of(task)) as (conn, view):
                self.service.state.transition(conn, view, task, Change(fields=fields), now())

    def _credentials(self, session: Session, message: dict[str, Any]) -> dict[str, Any]:
        """Role credentials for an agent outside this process: only for a task assigned to the
        asking host, only that task's own task role (`role: task`, for its containers) or
        execution role (`role: execution`, for the agent's own pulls, secrets and logs, as ECS
        hands its agent the execution role's credentials), as ecs-tasks.amazonaws.com (the role
        must trust it)."""
        answer: dict[str, Any] = {"type": "credentials", "requestId": message.get("requestId")}
        member = {"task": "taskRoleArn", "execution": "executionRoleArn"}.get(
            message.get("role") or "task")
        ident = parse_child(message.get("taskArn", ""), "task").name
        with self.service.runtime.store.begin() as conn:
            row = conn.execute(select(tasks).where(
                tasks.c.id == ident, tasks.c.host_id == session.target.host_id)).first()
        role_arn = Task.from_row(row).definition.get(member) if row and member else None
        if row is None or not role_arn:
            return {**answer, "error": f"The task has no {message.get('role') or 'task'} role "
                                       "on this host."}
        task = Task.from_row(row)
        try:
            found = self.service.runtime.services["sts"].assume_role_for_service(
                "ecs-tasks.amazonaws.com", role_arn, f"ecs-task-{task.id[:32]}",
                source_arn=task.arn, source_account=task.account_id)
        except AwsError as exc:
            return {**answer, "error": exc.message}
        return {**answer, "credentials": {
            "AccessKeyId": found["AccessKeyId"], "SecretAccessKey": found["SecretAccessKey"],
            "SessionToken": found["SessionToken"],
            "Expiration": found["Expiration"].timestamp()
            if hasattr(found["Expiration"], "timestamp") else found["Expiration"]}}


def _join_fargate(conn: Any, hosts: dict[str, Host], host_id: str, hello: dict[str, Any],
                  at: float) -> Host:
    """Register or update a Fargate host from its hello: its zones and resources."""
    zones = [str(z) for z in hello.get("zones") or ("a", "b", "c")]
    capacity = Capacity(int(hello.get("cpu") or 0), int(hello.get("memory") or 0))
    values = {"zones": dumps(zones), "cpu": capacity.cpu, "memory": capacity.memory,
              "agent_connected": True}
    if conn.execute(update(fargate_hosts).where(fargate_hosts.c.id == host_id)
                    .values(values)).rowcount == 0:
        conn.execute(fargate_hosts.insert().values(id=host_id, registered_at=at, **values))
    host = hosts.get(host_id)
    if host is None:
        host = hosts[host_id] = Host(id=host_id, registered=capacity, attributes={},
                                     agent_connected=True)
    host.registered, host.zones, host.agent_connected = capacity, tuple(zones), True
    return host


def _stray(arn: str) -> Task:
    """A task an agent runs that the control plane does not know (or no longer keeps): the
    agent gets it back with desired status STOPPED."""
    return Task(id="", account_id="", region="", cluster="", family="", host_id=None,
                reservation=Reservation(), definition={}, doc={
                    "taskArn": arn, "desiredStatus": TaskStatus.STOPPED.value,
                    "lastStatus": TaskStatus.STOPPED.value, "attachments": []})


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


async def _receive_json(receive: Receive) -> dict[str, Any]:
    message = await receive()
    if message["type"] == "websocket.disconnect":
        raise ConnectionError("the agent went away")
    text = message.get("text")
    if text is None:
        text = (message.get("bytes") or b"").decode()
    found = json.loads(text)
    if not isinstance(found, dict):
        raise ValueError("a message must be a JSON object")
    return found


async def _write(session: Session, send: Send) -> None:
    while True:
        message = await session.outbox.get()
        if message is None:
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "websocket.send", "text": json.dumps(message, default=str)})
