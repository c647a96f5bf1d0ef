"""The events ECS sends to EventBridge, in AWS's shape: "ECS Task State Change" and "ECS
Container Instance State Change". The detail is the resource as the API describes it, with
ISO 8601 timestamps instead of epoch seconds, an `updatedAt`, and the resource's `version`
(duplicates of one change carry the same version).
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwe_events.html
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from portside.events.bus import EncodedEvent
from portside.ids import new_uuid
from portside.services.ecs.common import dumps

SOURCE = "aws.ecs"
TASK_STATE_CHANGE = "ECS Task State Change"
INSTANCE_STATE_CHANGE = "ECS Container Instance State Change"

_TASK_TIMES = ("createdAt", "connectivityAt", "pullStartedAt", "pullStoppedAt", "startedAt",
               "stoppingAt", "executionStoppedAt", "stoppedAt")
_quote = json.encoder.encode_basestring_ascii  # a string as json.dumps writes it


@lru_cache(maxsize=4096)
def iso(epoch: float) -> str:
    """`2020-01-23T17:57:34.402Z`: milliseconds, UTC, as ECS events write times. (The events
    of one change share their times, and every event of a container instance repeats its
    registeredAt: cached, for a few thousand instances.)"""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@lru_cache(maxsize=64)
def _header(detail_type: str, account_id: str, region: str, second: int) -> str:
    """What an event's JSON text holds between its id and its resource: the same for every
    event of one second of one kind (a RunTask publishes a dozen), so written once."""
    time = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f'","detail-type":{_quote(detail_type)},"source":"{SOURCE}",'
            f'"account":{_quote(account_id)},"time":"{time}","region":{_quote(region)},'
            f'"resources":[')


def _envelope(detail_type: str, account_id: str, region: str, resource: str,
              now: float) -> str:
    """An event's JSON text up to its `detail`, which the caller appends with the closing
    brace. Written out rather than encoded from a dict: it is a fixed shape of a few strings,
    and encoding it cost as much as encoding the task."""
    return (f'{{"version":"0","id":"{new_uuid()}'
            f'{_header(detail_type, account_id, region, _second(now))}'
            f'{_quote(resource)}],"detail":')


def _second(now: float) -> int:
    """The second an event's `time` shows for `now` (datetime rounds to the microsecond): the
    key under which the changes of one second share their envelope."""
    return int(now + 5e-7)


def encode_task(account_id: str, region: str, task: dict[str, Any], tags: list[Any],
                now: float) -> tuple[str, EncodedEvent]:
    """The task as its row keeps it (JSON, with its tags) and its "ECS Task State Change":
    the two differ only in the timestamps (epoch seconds in the row; ISO 8601 in the event,
    which adds `updatedAt`) and in the tags (the event has none)."""
    document = dumps(task)  # never `{}`: a task has its taskArn, so the tags follow a comma
    document = f'{document[:-1]},"tags":{dumps(tags) if tags else "[]"}}}'
    detail = task.copy()
    for member in _TASK_TIMES:
        if member in task:
            detail[member] = iso(task[member])
    detail["updatedAt"] = iso(now)
    envelope = _envelope(TASK_STATE_CHANGE, account_id, region, task["taskArn"], now)
    return document, EncodedEvent(SOURCE, TASK_STATE_CHANGE, f"{envelope}{dumps(detail)}}}")


def instance_state_change(account_id: str, region: str, instance: dict[str, Any],
                          now: float) -> EncodedEvent:
    detail = dict(instance)
    detail.pop("tags", None)
    if "registeredAt" in detail:
        detail["registeredAt"] = iso(detail["registeredAt"])
    detail["updatedAt"] = iso(now)
    envelope = _envelope(INSTANCE_STATE_CHANGE, account_id, region,
                         instance["containerInstanceArn"], now)
    return EncodedEvent(SOURCE, INSTANCE_STATE_CHANGE, f"{envelope}{dumps(detail)}}}")
