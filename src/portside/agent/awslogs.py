"""The `awslogs` log driver: a container's stdout and stderr go to a CloudWatch Logs stream
while it runs.

Docker keeps writing the container's output to its json-file log (so `docker logs` still
works); the agent follows that log (`docker logs --follow --timestamps`) in a thread and puts
what arrived to the stream every second with PutLogEvents, signed with the task's execution
role — an ordinary client of portside's Logs API, as Docker's awslogs driver is of AWS's. The
group is created first when `awslogs-create-group` is true, the stream always (as the driver
does); a group that does not exist stops the task before its container starts.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portside.agent import aws
from portside.agent.execution import ExecutionRole, error_text

log = logging.getLogger("portside.agent")

FLUSH_INTERVAL = 1.0  # seconds between PutLogEvents calls of one container
MAX_EVENT_BYTES = 256 * 1024 - 26  # an event's message, in UTF-8 (its 26 bytes of overhead)
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
CLOSE_TIMEOUT = 5.0  # seconds a stopping task waits for its output to be shipped


class LogSetupError(Exception):
    """The stream cannot be written: the task must not start. The message is the reason."""


@dataclass(frozen=True)
class LogTarget:
    group: str
    stream: str | None  # None: the Docker container id (no awslogs-stream-prefix)
    region: str
    create_group: bool


def log_target(container: dict[str, Any], task_arn: str, region: str,
               options: dict[str, str] | None = None) -> LogTarget | None:
    """Where a container's output goes, when its log driver is awslogs. `options` are the
    driver's options with its resolved secretOptions."""
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = options if options is not None else (config.get("options") or {})
    prefix = options.get("awslogs-stream-prefix")
    task_id = task_arn.rsplit("/", 1)[-1]
    return LogTarget(group=options.get("awslogs-group") or "",
                     stream=f"{prefix}/{container['name']}/{task_id}" if prefix else None,
                     region=options.get("awslogs-region") or region,
                     create_group=str(options.get("awslogs-create-group", "")).lower() == "true")


def parse_line(line: bytes) -> tuple[int, str]:
    """`<RFC 3339 nano timestamp> <message>` (what `docker logs --timestamps` writes) as
    (epoch milliseconds, message)."""
    stamp, _, message = line.partition(b" ")
    text = stamp.decode("ascii", "replace").rstrip("Z")
    whole, _, fraction = text.partition(".")
    try:
        seconds = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
    except ValueError:  # not a timestamp: keep the whole line, stamped now
        return int(datetime.now(UTC).timestamp() * 1000), line.decode("utf-8", "replace")
    millis = int(seconds * 1000) + int((fraction + "000")[:3])
    return millis, message.decode("utf-8", "replace")


def _pieces(message: str) -> list[str]:
    """A message longer than an event holds, in event-sized pieces (as Docker's driver splits)."""
    data = message.encode("utf-8")
    if len(data) <= MAX_EVENT_BYTES:
        return [message]
    return [data[i:i + MAX_EVENT_BYTES].decode("utf-8", "ignore")
            for i in range(0, len(data), MAX_EVENT_BYTES)]


def batches(events: list[tuple[int, str]]) -> list[list[dict[str, Any]]]:
    """PutLogEvents batches: chronological, within the count and size limits."""
    found: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for stamp, message in sorted(events, key=lambda e: e[0]):
        for piece in _pieces(message):
            cost = len(piece.encode("utf-8")) + 26
            if current and (len(current) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
                found.append(current)
                current, size = [], 0
            current.append({"timestamp": stamp, "message": piece})
            size += cost
    if current:
        found.append(current)
    return found


async def prepare(role: ExecutionRole, target: LogTarget, stream: str) -> None:
    """CreateLogGroup (awslogs-create-group) and CreateLogStream, as the driver does when the
    container is created. Raises LogSetupError with the task's stopped reason."""
    try:
        logs = await role.client(aws.LOGS, target.region)
        if target.create_group:
            await asyncio.to_thread(_create, logs, "CreateLogGroup", logGroupName=target.group)
        await asyncio.to_thread(_create, logs, "CreateLogStream", logGroupName=target.group,
                                logStreamName=stream)
    except (aws.CallError, RuntimeError) as exc:
        raise LogSetupError(
            "ResourceInitializationError: failed to validate logger args: failed to create "
            f"Cloudwatch log stream: {error_text(exc)} : exit status 1") from None


def _create(logs: aws.Client, operation: str, **params: str) -> None:
    """CreateLogGroup or CreateLogStream, where one that exists already will do."""
    try:
        logs.call(operation, **params)
    except aws.ServiceError as exc:
        if exc.code != "ResourceAlreadyExistsException":
            raise


def position_file(state_dir: Path, docker_id: str) -> Path:
    """Where the agent keeps a container's stream and how far it has shipped, so that a
    restarted agent goes on from there instead of losing or repeating output."""
    return state_dir / "awslogs" / f"{docker_id}.json"


def saved_position(state_dir: Path, docker_id: str) -> tuple[LogTarget, str, int] | None:
    """(target, stream, last shipped timestamp in ms) of a container this agent shipped."""
    try:
        saved = json.loads(position_file(state_dir, docker_id).read_text())
        return (LogTarget(saved["group"], saved["stream"], saved["region"], False),
                saved["stream"], int(saved["shipped"]))
    except (OSError, ValueError, KeyError):
        return None


class Shipper:
    """Ships one container's output to its stream until the container stops."""

    def __init__(self, docker: Any, docker_id: str, role: ExecutionRole, target: LogTarget,
                 stream: str, state_dir: Path, shipped: int = 0) -> None:
        self.docker = docker  # a docker-py APIClient
        self.docker_id = docker_id
        self.role = role
        self.target = target
        self.stream = stream
        self.state = position_file(state_dir, docker_id)
        self.shipped = shipped  # the last timestamp (ms) delivered
        self._resume_after = shipped  # a restarted agent ships only what is later than this
        self._pending: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._followed = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_task: asyncio.Task | None = None

    def start(self) -> None:
        self._save()
        self._thread = threading.Thread(target=self._follow, daemon=True,
                                        name=f"portside-awslogs-{self.docker_id[:12]}")
        self._thread.start()
        self._loop_task = asyncio.create_task(self._flush_every())

    def _follow(self) -> None:
        buffer = b""
        try:
            since = self._resume_after / 1000 if self._resume_after else None
            for chunk in self.docker.logs(self.docker_id, stream=True, follow=True,
                                          timestamps=True, since=since):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                if lines:
                    self._take([parse_line(line) for line in lines])
            if buffer:
                self._take([parse_line(buffer)])
        except Exception as exc:  # the engine went away, or the container was removed
            log.warning("awslogs: following %s ended: %s", self.docker_id[:12], exc)
        finally:
            self._followed.set()

    def _take(self, events: list[tuple[int, str]]) -> None:
        after = self._resume_after
        fresh = [e for e in events if e[0] > after] if after else events
        with self._lock:
            self._pending.extend(fresh)

    def _save(self) -> None:
        with contextlib.suppress(OSError):
            self.state.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.state.with_suffix(".tmp")
            temporary.write_text(json.dumps({
                "group": self.target.group, "stream": self.stream,
                "region": self.target.region, "shipped": self.shipped}))
            temporary.replace(self.state)

    async def _flush_every(self) -> None:
        while not self._followed.is_set():
            await asyncio.sleep(FLUSH_INTERVAL)
            await self.flush()

    async def flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
        if not events:
            return
        try:
            logs = await self.role.client(aws.LOGS, self.target.region)
            for batch in batches(events):
                await asyncio.to_thread(logs.call, "PutLogEvents", logGroupName=self.target.group,
                                        logStreamName=self.stream, logEvents=batch)
                self.shipped = max(self.shipped, batch[-1]["timestamp"])
            await asyncio.to_thread(self._save)
        except (aws.CallError, RuntimeError) as exc:
            # Never the messages themselves in the agent's log: they may hold anything.
            log.warning("awslogs: %d events for %s/%s not delivered: %s", len(events),
                        self.target.group, self.stream, error_text(exc))

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """The container has stopped: ship what it wrote last, then end."""
        await asyncio.to_thread(self._followed.wait, timeout)
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self.flush()

    def cancel(self) -> None:
        """Stop shipping at once (the task is forgotten, or the agent stops)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
