"""The events ECS sends to EventBridge, in AWS's shape: "ECS Task State Change" and "ECS
Container Instance State Change". The detail is the resource as the API describes it, with
ISO 8601 timestamps instead of epoch seconds, an `updatedAt`, and the resource's `version`
(duplicates of one change carry the same version).
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwe_events.html
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
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
_NOT_SHARED = frozenset({*_TASK_TIMES, "tags"})
_ABSENT = object()
_quote = json.encoder.encode_basestring_ascii  # a string as json.dumps writes it


@lru_cache(maxsize=4096)
def iso(epoch: float) -> str:
    """`2020-01-23T17:57:34.402Z`: milliseconds, UTC, as ECS events write times. (The events
    of one change share their times, and every event of a container instance repeats its
    registeredAt: cached, for a few thousand instances.)"""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@lru_cache(maxsize=8)
def _event_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Any) -> str:
    """A timestamp as JSON: a float as `json` writes one (its repr), without the cost of
    the encoder for one value."""
    return repr(value) if type(value) is float else dumps(value)


def _envelope(detail_type: str, account_id: str, region: str, resource: str,
              now: float) -> str:
    """An event's JSON text up to its `detail`, which the caller appends with the closing
    brace. Written out rather than encoded from a dict: it is a fixed shape of a few strings,
    and encoding it cost as much as encoding the task."""
    return (f'{{"version":"0","id":"{new_uuid()}","detail-type":{_quote(detail_type)},'
            f'"source":"{SOURCE}","account":{_quote(account_id)},'
            f'"time":"{_event_time(now)}","region":{_quote(region)},'
            f'"resources":[{_quote(resource)}],"detail":')


@dataclass(frozen=True)
class Shared:
    """Members that several tasks hold as the very same objects (the tasks one RunTask made
    from one launch: its cluster, group, overrides, definition, ...), encoded once for all."""

    skipped: frozenset[str]  # these members and the ones each task's encoding leaves out
    text: str  # `"name":value,...`


def shared_members(tasks: Sequence[dict[str, Any]]) -> Shared | None:
    """What every task of `tasks` holds as the same object (the same object encodes the same
    way), or None when that is nothing or there is only one task."""
    first = tasks[0]
    names = [k for k in first if k not in _NOT_SHARED]
    for task in tasks[1:]:
        names = [k for k in names if task.get(k, _ABSENT) is first[k]]
    if len(tasks) < 2 or not names:
        return None
    return Shared(_NOT_SHARED.union(names), dumps({k: first[k] for k in names})[1:-1])


def encode_task(account_id: str, region: str, task: dict[str, Any], tags: list[Any],
                now: float, shared: Shared | None = None) -> tuple[str, EncodedEvent]:
    """The task as its row keeps it (JSON, with its tags) and its "ECS Task State Change",
    from one encoding of the task: the two differ only in the timestamps (epoch seconds in the
    row; ISO 8601 in the event, which adds `updatedAt`) and in the tags (the event has none).
    Encoding the task is most of what recording a change of it costs, so it is done once;
    the members in `shared` (which the task holds) were encoded once for all its siblings."""
    # Never empty: a task has its taskArn, so the times can follow with a comma.
    if shared is None:
        members = dumps({k: v for k, v in task.items() if k not in _NOT_SHARED})[:-1]
    else:
        own = dumps({k: v for k, v in task.items() if k not in shared.skipped})[:-1]
        members = f"{own},{shared.text}" if len(own) > 1 else f"{own}{shared.text}"
    times = [(k, task[k]) for k in _TASK_TIMES if k in task]
    epochs = "".join(f',"{k}":{_number(v)}' for k, v in times)
    isos = "".join(f',"{k}":"{iso(v)}"' for k, v in times)
    document = f'{members}{epochs},"tags":{dumps(tags) if tags else "[]"}}}'
    detail = f'{members}{isos},"updatedAt":"{iso(now)}"}}'
    envelope = _envelope(TASK_STATE_CHANGE, account_id, region, task["taskArn"], now)
    return document, EncodedEvent(SOURCE, TASK_STATE_CHANGE, f"{envelope}{detail}}}")


def instance_state_change(account_id: str, region: str, instance: dict[str, Any],
                          now: float) -> EncodedEvent:
    detail = {k: v for k, v in instance.items() if k != "tags"}
    if "registeredAt" in detail:
        detail["registeredAt"] = iso(detail["registeredAt"])
    detail["updatedAt"] = iso(now)
    envelope = _envelope(INSTANCE_STATE_CHANGE, account_id, region,
                         instance["containerInstanceArn"], now)
    return EncodedEvent(SOURCE, INSTANCE_STATE_CHANGE, f"{envelope}{dumps(detail)}}}")
