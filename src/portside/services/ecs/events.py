"""The events ECS sends to EventBridge, in AWS's shape: "ECS Task State Change" and "ECS
Container Instance State Change". The detail is the resource as the API describes it, with
ISO 8601 timestamps instead of epoch seconds, an `updatedAt`, and the resource's `version`
(duplicates of one change carry the same version).
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_cwe_events.html
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from portside.ids import new_uuid

SOURCE = "aws.ecs"
TASK_STATE_CHANGE = "ECS Task State Change"
INSTANCE_STATE_CHANGE = "ECS Container Instance State Change"

_TASK_TIMES = ("createdAt", "connectivityAt", "pullStartedAt", "pullStoppedAt", "startedAt",
               "stoppingAt", "executionStoppedAt", "stoppedAt")


@lru_cache(maxsize=64)
def iso(epoch: float) -> str:
    """`2020-01-23T17:57:34.402Z`: milliseconds, UTC, as ECS events write times. (The events
    of one change share their times: cached.)"""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@lru_cache(maxsize=8)
def _event_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _envelope(detail_type: str, account_id: str, region: str, resource: str, now: float,
              detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": new_uuid(),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": account_id,
        "time": _event_time(now),
        "region": region,
        "resources": [resource],
        "detail": detail,
    }


def task_state_change(account_id: str, region: str, task: dict[str, Any],
                      now: float) -> dict[str, Any]:
    detail = dict(task)
    detail.pop("tags", None)
    for key in _TASK_TIMES:
        if key in detail:
            detail[key] = iso(detail[key])
    detail["updatedAt"] = iso(now)
    return _envelope(TASK_STATE_CHANGE, account_id, region, task["taskArn"], now, detail)


def instance_state_change(account_id: str, region: str, instance: dict[str, Any],
                          now: float) -> dict[str, Any]:
    detail = {k: v for k, v in instance.items() if k != "tags"}
    if "registeredAt" in detail:
        detail["registeredAt"] = iso(detail["registeredAt"])
    detail["updatedAt"] = iso(now)
    return _envelope(INSTANCE_STATE_CHANGE, account_id, region,
                     instance["containerInstanceArn"], now, detail)
