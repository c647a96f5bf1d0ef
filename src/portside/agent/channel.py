"""The agent's side of the agent protocol (docs/agent-protocol.md): the ECS API calls an agent
makes, and the channel on which the control plane pushes the host's tasks.

`Channel.run` holds the channel for as long as the agent lives: it connects (SigV4-signed
upgrade), says hello with everything the host runs, hands each pushed list of tasks to the
agent's reconciler, acknowledges it, heartbeats, and reconnects with backoff when the
connection drops or the control plane restarts. The Docker agent and the simulated host both
build on it; only what they do with a task differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from portside.agent import aws

log = logging.getLogger("portside.agent")

CHANNEL_PATH = "/_portside/agent/ws"
RECONNECT_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)  # seconds, the last one repeated
MAX_MESSAGE = 64 * 1024 * 1024
ECS_CLIENT_CONFIG = aws.Config(attempts=3)


@dataclass(frozen=True)
class Identity:
    """Where the control plane is, and the credentials the agent signs with (the secret and
    the token left out of its repr)."""

    endpoint: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @property
    def keys(self) -> aws.Keys:
        return aws.Keys(self.access_key_id, self.secret_access_key, self.session_token)

    def ecs_client(self) -> aws.Client:
        """The ECS API the agent reports through."""
        return aws.Client(aws.ECS, self.endpoint, self.region, self.keys, ECS_CLIENT_CONFIG)


class Reconciler(Protocol):
    """What an agent does with its tasks."""

    def manifest(self) -> list[dict[str, Any]]:
        """Every task the host runs, as SubmitTaskStateChange reports it (with `taskArn`)."""

    async def reconcile(self, assignments: list[dict[str, Any]], full: bool) -> None:
        """Take the tasks the control plane pushed; `full` means these are all the host should
        have (anything else it runs is to be stopped)."""


def signed_headers(identity: Identity, url: str) -> dict[str, str]:
    """The SigV4 headers of a GET of `url` (the channel's upgrade request), service `ecs`."""
    headers = aws.signed_headers(identity.keys, identity.region, aws.ECS, "GET", url)
    return {k: v for k, v in headers.items()
            if k in ("authorization", "x-amz-date", "x-amz-security-token")}


class Channel:
    """The channel of one host: a container instance, or a host of the Fargate capacity."""

    def __init__(self, identity: Identity, *, container_instance_arn: str | None = None,
                 fargate_host: str | None = None,
                 hello: Mapping[str, Any] | None = None) -> None:
        if (container_instance_arn is None) == (fargate_host is None):
            raise ValueError("a channel is for a container instance or for a Fargate host")
        query = ({"containerInstance": container_instance_arn} if container_instance_arn
                 else {"fargateHost": fargate_host})
        self.identity = identity
        self.url = identity.endpoint.rstrip("/") + CHANNEL_PATH + "?" + urlencode(query)
        self.hello = dict(hello or {})
        self.connected = asyncio.Event()
        self.heartbeat_interval = 10.0
        self._stopping = False
        self._closed_by_control_plane = False
        self._socket: Any = None
        self._requests: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def run(self, reconciler: Reconciler) -> None:
        """Hold the channel until `stop()` or until the control plane closes it for good (the
        instance was deregistered)."""
        attempt = 0
        while not self._stopping and not self._closed_by_control_plane:
            try:
                await self._session(reconciler)
                attempt = 0
            except InvalidStatus as exc:
                if exc.response.status_code in (401, 403):
                    log.error("the control plane refused the channel (%s)",
                              exc.response.status_code)
                    return
                log.info("channel refused (%s); retrying", exc)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                log.info("channel lost (%s); reconnecting", exc)
            self.connected.clear()
            if self._stopping or self._closed_by_control_plane:
                return
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def stop(self) -> None:
        self._stopping = True
        if self._socket is not None:
            await self._socket.close()

    def drop(self) -> None:
        """Lose the connection without a goodbye (the host vanished): the TCP connection is
        aborted, and the channel does not come back."""
        self._stopping = True
        if self._socket is not None:
            self._socket.transport.abort()

    async def _session(self, reconciler: Reconciler) -> None:
        http_url = self.url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
        ws_url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        async with connect(ws_url, additional_headers=signed_headers(self.identity, http_url),
                           proxy=None, max_size=MAX_MESSAGE, open_timeout=10) as socket:
            self._socket = socket
            await socket.send(json.dumps({"type": "hello", **self.hello,
                                          "tasks": reconciler.manifest()}))
            heartbeat = asyncio.create_task(self._heartbeat(socket))
            try:
                async for raw in socket:
                    await self._handle(socket, json.loads(raw), reconciler)
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
                self._socket = None

    async def _handle(self, socket: Any, message: dict[str, Any],
                      reconciler: Reconciler) -> None:
        kind = message.get("type")
        if kind == "welcome":
            self.heartbeat_interval = float(message.get("heartbeatInterval") or 10.0)
            self.connected.set()
        elif kind == "tasks":
            await reconciler.reconcile(message.get("tasks") or [], bool(message.get("full")))
            await socket.send(json.dumps({"type": "ack", "messageId": message["messageId"]}))
        elif kind == "credentials":
            waiting = self._requests.pop(str(message.get("requestId")), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
        elif kind == "close":
            log.info("the control plane closes the channel: %s", message.get("reason"))
            self._closed_by_control_plane = True

    async def _heartbeat(self, socket: Any) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            await socket.send(json.dumps({"type": "heartbeat"}))

    async def task_credentials(self, task_arn: str, role: str = "task",
                               timeout: float = 10.0) -> dict[str, Any]:
        """The credentials of the task's role (`task`, or `execution` for the agent's own use),
        from the control plane (an agent outside its process cannot call STS as
        ecs-tasks.amazonaws.com). Raises RuntimeError when refused."""
        if self._socket is None:
            raise RuntimeError("the channel is not connected")
        request_id = uuid.uuid4().hex
        waiting = self._requests[request_id] = asyncio.get_running_loop().create_future()
        try:
            await self._socket.send(json.dumps({"type": "credentials", "requestId": request_id,
                                                "taskArn": task_arn, "role": role}))
            answer = await asyncio.wait_for(waiting, timeout)
        finally:
            self._requests.pop(request_id, None)
        if "credentials" not in answer:
            raise RuntimeError(answer.get("error") or "credentials refused")
        found = dict(answer["credentials"])
        found["Expiration"] = datetime.fromtimestamp(float(found["Expiration"]), UTC)
        return found

    async def send_attachment_details(self, task_arn: str, attachment_id: str,
                                      details: list[dict[str, str]]) -> None:
        """Tell the control plane an ENI's details (its address) that the host chose."""
        if self._socket is not None:
            await self._socket.send(json.dumps({
                "type": "attachment", "taskArn": task_arn, "attachmentId": attachment_id,
                "details": details}))


REPORT_RETRIES = 40
REPORT_BACKOFF = 0.25  # seconds, times the attempt number (at most 20)


async def register_container_instance(ecs: aws.Client, request: dict[str, Any]) -> str:
    """RegisterContainerInstance as the ECS agent does it; the instance's ARN. The agent creates
    the `default` cluster when it is missing, and an instance deregistered meanwhile joins anew
    (its old ARN refused) instead of failing."""
    try:
        found = await asyncio.to_thread(ecs.call, "RegisterContainerInstance", **request)
    except aws.ServiceError as exc:
        if exc.code == "ClusterNotFoundException" and request["cluster"] == "default":
            await asyncio.to_thread(ecs.call, "CreateCluster", clusterName="default")
        elif exc.code == "InvalidParameterException" and "containerInstanceArn" in request:
            request = {k: v for k, v in request.items() if k != "containerInstanceArn"}
        else:
            raise
        found = await asyncio.to_thread(ecs.call, "RegisterContainerInstance", **request)
    return found["containerInstance"]["containerInstanceArn"]


async def submit_report(ecs: aws.Client, operation: str, **params: Any) -> None:
    """Report a state change through the ECS API (`SubmitTaskStateChange` …), retrying while
    the control plane is away or answers a transient error (a 5xx: its store busy past the
    client's own retries): a report is never dropped; a task it no longer knows is the end of
    it. Both the Docker agent and the simulated host report this way."""
    for attempt in range(REPORT_RETRIES):
        try:
            await asyncio.to_thread(ecs.call, operation, **params)
            return
        except aws.ServiceError as exc:
            if exc.code == "InvalidParameterException":
                return
            if not exc.transient:
                raise
        except aws.EndpointError:
            pass
        await asyncio.sleep(REPORT_BACKOFF * min(attempt + 1, 20))
    log.warning("%s was not accepted after %d attempts; the state is reported again when the "
                "agent reconnects", operation, REPORT_RETRIES)
