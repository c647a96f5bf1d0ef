"""The endpoints a task's containers reach on 169.254.170.2, ECS's task-endpoint address: the
credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`),
task metadata v4 (`ECS_CONTAINER_METADATA_URI_V4`), and a TCP relay to portside's API (the
`AWS_ENDPOINT_URL` of every task, since portside itself listens on host loopback).

Why 169.254.170.2 on the host's loopback interface: botocore accepts a plain-http FULL_URI only
for loopback or ECS's/EKS's link-local addresses, and a container on a link-local task network
(gateway on the host) reaches an address local to the host without IP forwarding — packets
for a host-local address are delivered, not forwarded. Host-network containers reach it as any
host process does. The address is the only one of 169.254.170.0/24 portside uses.

A small HTTP/1.1 server on asyncio streams (one request per connection) keeps the agent's
footprint small; the endpoints serve a handful of requests per task.

Like ECS's agent, which keeps its task credential ids in its state file and serves on fixed
ports, a restarted agent serves its running tasks on as before: the ports and each task's ids
and token are kept in the agent's state directory, so the environment its containers were
started with stays valid. Each task has a file of its own there, written once before its
containers are created and removed with it: rewriting one file of every task at each start and
stop (replace-by-rename makes ext4 write the data out) cost ~5 ms of the event loop per task
when 100 tasks started at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("portside.agent")

TASK_ENDPOINT_ADDRESS = "169.254.170.2"
REFRESH_BEFORE = 15 * 60  # seconds before expiry that credentials are renewed

Credentials = dict[str, Any]  # the STS Credentials shape, plus RoleArn
CredentialSource = Callable[[str, str], Awaitable[Credentials]]  # (task ARN, role ARN)


def ensure_task_endpoint_address() -> bool:
    """Put 169.254.170.2/32 on the host's loopback interface (idempotent); False if this host
    does not let us (not root), and tasks then get no endpoints they could not reach."""
    shown = subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True,
                           text=True, check=False)
    if f"{TASK_ENDPOINT_ADDRESS}/32" in shown.stdout:
        return True
    added = subprocess.run(["ip", "addr", "add", f"{TASK_ENDPOINT_ADDRESS}/32", "dev", "lo"],
                           capture_output=True, text=True, check=False)
    return added.returncode == 0


@dataclass
class TaskEndpoints:
    """What one task's containers may ask for."""

    task_arn: str
    role_arn: str | None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    credentials_id: str = field(default_factory=lambda: secrets.token_hex(16))
    metadata_id: str = field(default_factory=lambda: secrets.token_hex(16))
    cached: Credentials | None = None
    expires: float = 0.0


def _error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, {"code": code, "message": message}


class EndpointServer:
    """Serves every task of one agent. `metadata(task_arn, container_name | None, path)`
    answers the v4 paths from the agent's own view of its tasks."""

    def __init__(self, endpoint: str, credentials: CredentialSource | None,
                 metadata: Callable[[str, str | None, str], Awaitable[tuple[int, Any]]],
                 state_file: Path | None = None) -> None:
        self.upstream = urlsplit(endpoint)
        self.credentials = credentials
        self.metadata = metadata
        self.state_file = state_file  # the ports, kept across restarts
        # and each task's ids and token, one file per task beside it
        self.task_dir = state_file.with_suffix("") if state_file is not None else None
        self.tasks: dict[str, TaskEndpoints] = {}  # by task ARN
        self.http_port = 0
        self.relay_port = 0
        self._servers: list[asyncio.AbstractServer] = []
        self._saved_ports = self._load()

    async def start(self) -> None:
        http = await self._listen(self._serve, self._saved_ports.get("http", 0))
        relay = await self._listen(self._relay, self._saved_ports.get("relay", 0))
        self._servers = [http, relay]
        self.http_port = http.sockets[0].getsockname()[1]
        self.relay_port = relay.sockets[0].getsockname()[1]
        self._save_ports()

    @staticmethod
    async def _listen(handler: Any, port: int) -> asyncio.AbstractServer:
        try:
            return await asyncio.start_server(handler, TASK_ENDPOINT_ADDRESS, port)
        except OSError:  # the old port is taken: tasks started before lose their endpoints
            return await asyncio.start_server(handler, TASK_ENDPOINT_ADDRESS, 0)

    def retain(self, task_arns: set[str]) -> None:
        """Keep the saved endpoints of these tasks only (those whose containers remain)."""
        for arn in set(self.tasks) - task_arns:
            self.forget(arn)

    def _load(self) -> dict[str, int]:
        """The saved ports; the saved tasks into `tasks`."""
        for path in self.task_dir.glob("*.json") if self.task_dir else ():
            try:
                saved = json.loads(path.read_text())
                entry = TaskEndpoints(saved["task_arn"], saved["role_arn"], saved["token"],
                                      saved["credentials_id"], saved["metadata_id"])
            except (OSError, ValueError, KeyError, TypeError):
                # cut short by a kill before its task's containers were created: none uses it
                path.unlink(missing_ok=True)
                continue
            self.tasks[entry.task_arn] = entry
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            saved = json.loads(self.state_file.read_text())
            return {k: int(v) for k, v in saved["ports"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring unreadable %s", self.state_file)
            return {}

    def _save_ports(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps({"ports": {"http": self.http_port,
                                                 "relay": self.relay_port}}))
        os.replace(partial, self.state_file)

    def _task_file(self, task_arn: str) -> Path | None:
        if self.task_dir is None:
            return None
        return self.task_dir / f"{task_arn.rsplit('/', 1)[-1]}.json"

    def _save_task(self, entry: TaskEndpoints) -> None:
        """A new file (readable by the agent's user only), written before any container of the
        task exists; no rename over an old one, which would wait for the disk."""
        path = self._task_file(entry.task_arn)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = {"task_arn": entry.task_arn, "role_arn": entry.role_arn, "token": entry.token,
                 "credentials_id": entry.credentials_id, "metadata_id": entry.metadata_id}
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            json.dump(saved, out)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()

    def register(self, task_arn: str, role_arn: str | None) -> TaskEndpoints:
        found = self.tasks.get(task_arn)
        if found is None or found.role_arn != role_arn:
            found = self.tasks[task_arn] = TaskEndpoints(task_arn, role_arn)
            self._save_task(found)
        return found

    def forget(self, task_arn: str) -> None:
        if self.tasks.pop(task_arn, None) is not None and \
                (path := self._task_file(task_arn)) is not None:
            path.unlink(missing_ok=True)

    def environment(self, entry: TaskEndpoints, container_name: str) -> dict[str, str]:
        """What every container of the task gets so that an unmodified SDK finds portside,
        its role's credentials and its metadata."""
        base = f"http://{TASK_ENDPOINT_ADDRESS}:{self.http_port}"
        env = {"AWS_ENDPOINT_URL": f"http://{TASK_ENDPOINT_ADDRESS}:{self.relay_port}",
               "ECS_CONTAINER_METADATA_URI_V4":
                   f"{base}/v4/{entry.metadata_id}-{container_name}",
               "ECS_CONTAINER_METADATA_URI": f"{base}/v3/{entry.metadata_id}-{container_name}"}
        if entry.role_arn:
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = \
                f"{base}/v2/credentials/{entry.credentials_id}"
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = entry.token
        return env

    # -- HTTP --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            status, body = await self._answer(method, target.split("?", 1)[0], headers)
            payload = json.dumps(body).encode()
            writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                         "Connection: close\r\n\r\n".encode() + payload)
            await writer.drain()
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    async def _answer(self, method: str, path: str,
                      headers: dict[str, str]) -> tuple[int, Any]:
        if method != "GET":
            return _error(405, "MethodNotAllowed", "Only GET is served.")
        if path.startswith("/v2/credentials"):
            return await self._credentials(path.removeprefix("/v2/credentials").strip("/"),
                                           headers.get("authorization"))
        for version in ("/v4/", "/v3/"):
            if path.startswith(version):
                ident, _, rest = path.removeprefix(version).partition("/")
                metadata_id, _, container = ident.partition("-")
                entry = next((t for t in self.tasks.values()
                              if t.metadata_id == metadata_id), None)
                if entry is None:
                    return _error(400, "InvalidIdInRequest", "Unknown metadata id.")
                return await self.metadata(entry.task_arn, container or None, rest)
        return _error(404, "NotFound", "No such endpoint.")

    async def _credentials(self, ident: str, token: str | None) -> tuple[int, Any]:
        if not ident:
            return _error(400, "NoIdInRequest", "CredentialsV2Request: No ID in the request")
        entry = next((t for t in self.tasks.values() if t.credentials_id == ident), None)
        # A wrong token answers as an unknown id does: it tells nothing about which ids exist.
        if entry is None or entry.role_arn is None or not token or \
                not secrets.compare_digest(token, entry.token):
            return _error(400, "InvalidIdInRequest",
                          "CredentialsV2Request: Credentials not found")
        if self.credentials is None:
            return _error(503, "CredentialsUninitialized",
                          "This agent has no source of task role credentials.")
        if entry.cached is None or entry.expires - time.time() < REFRESH_BEFORE:
            try:
                entry.cached = await self.credentials(entry.task_arn, entry.role_arn)
            except Exception as exc:  # the role refused, or the control plane is away
                log.warning("task role credentials for %s: %s", entry.task_arn, exc)
                return _error(500, "InternalServerError", "Could not assume the task role.")
            expiration = entry.cached["Expiration"]
            entry.expires = expiration.timestamp() if hasattr(expiration, "timestamp") \
                else time.time() + 3600
        cached = entry.cached
        expiration = cached["Expiration"]
        return 200, {"RoleArn": entry.role_arn, "AccessKeyId": cached["AccessKeyId"],
                     "SecretAccessKey": cached["SecretAccessKey"],
                     "Token": cached["SessionToken"],
                     "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
                     if hasattr(expiration, "strftime") else str(expiration)}

    # -- the API relay -------------------------------------------------------------------------

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Bytes both ways to portside's API: the SDK's SigV4 signature covers the Host it
        sent, which arrives unchanged."""
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream.hostname, self.upstream.port or 80)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
