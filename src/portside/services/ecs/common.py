"""What the ECS handlers share: AWS's errors, JSON columns, the clock."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson

from portside.protocol.errors import AwsError, error


def now() -> float:
    return time.time()


def invalid(message: str) -> AwsError:
    """ECS's error for a request it refuses on its own rules (InvalidParameterException)."""
    return error("InvalidParameterException", message)


def cluster_not_found() -> AwsError:
    return error("ClusterNotFoundException", "Cluster not found.")


def dumps(value: Any) -> str:
    """`value` as compact JSON text, which json.loads reads back to an equal value. orjson
    writes the task and container instance documents a RunTask records and publishes ~10x
    faster than json; what it refuses (a lone surrogate in a string, an integer beyond 64
    bits, a key that is no string) json writes as before. (orjson writes NaN as null: ECS
    documents hold no double member, only timestamps from the clock.)"""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _compact(value)


# The documents are trees of plain JSON values: no cycle to look for.
_compact = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
