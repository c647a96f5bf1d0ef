"""What the ECS handlers share: AWS's errors, JSON columns, the clock."""

from __future__ import annotations

import json
import time
from typing import Any

from portside.protocol.errors import AwsError, error


def now() -> float:
    return time.time()


def invalid(message: str) -> AwsError:
    """ECS's error for a request it refuses on its own rules (InvalidParameterException)."""
    return error("InvalidParameterException", message)


def cluster_not_found() -> AwsError:
    return error("ClusterNotFoundException", "Cluster not found.")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
