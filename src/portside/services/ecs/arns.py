"""ECS resource names: ARNs in AWS's long format, and the references requests carry.

A request names a cluster, container instance or task by its short name/id or by its full ARN.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-account-settings.html#ecs-resource-ids
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass

from portside.ids import new_uuid

DEFAULT_CLUSTER = "default"
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


def cluster_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:cluster/{name}"


def container_instance_arn(region: str, account_id: str, cluster: str, instance_id: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:container-instance/{cluster}/{instance_id}"


def task_arn(region: str, account_id: str, cluster: str, task_id: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:task/{cluster}/{task_id}"


def container_arn(region: str, account_id: str, cluster: str, task_id: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:container/{cluster}/{task_id}/{new_uuid()}"


def attachment_arn(region: str, account_id: str, attachment_id: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:attachment/{attachment_id}"


def capacity_provider_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:capacity-provider/{name}"


_random = random.Random()


def new_id() -> str:
    """A task or container instance id: 32 hex digits, as AWS's long ids. The first 12 are the
    milliseconds of the clock and the other 20 random: ids made one after the other sort
    together, so the tables' id indexes grow at their end instead of taking a write on a
    random page of the index for every new task (a quarter of what RunTask wrote)."""
    return f"{int(time.time() * 1000) & 0xFFFF_FFFF_FFFF:012x}{_random.getrandbits(80):020x}"


def is_valid_cluster_name(name: str) -> bool:
    """Up to 255 letters, digits, hyphens and underscores (CreateCluster's rule)."""
    return bool(_CLUSTER_NAME.fullmatch(name))


@dataclass(frozen=True)
class Ref:
    """What a request's reference names: the resource's id or name, and, when it was an ARN,
    the account, region and cluster the ARN carries."""

    name: str
    account_id: str | None = None
    region: str | None = None
    cluster: str | None = None


def parse_cluster(reference: str | None) -> Ref:
    """A cluster's name or ARN; `default` when the request names none."""
    if not reference:
        return Ref(DEFAULT_CLUSTER)
    parsed = _parse_arn(reference, "cluster")
    if parsed is None:
        return Ref(reference)
    account, region, rest = parsed
    return Ref(rest, account, region)


def parse_child(reference: str, kind: str) -> Ref:
    """A task or container instance id, or its ARN in the long (`kind/cluster/id`) or the
    old short (`kind/id`) format."""
    parsed = _parse_arn(reference, kind)
    if parsed is None:
        return Ref(reference)
    account, region, rest = parsed
    cluster, _, ident = rest.rpartition("/")
    return Ref(ident, account, region, cluster or None)


def _parse_arn(value: str, kind: str) -> tuple[str, str, str] | None:
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs":
        return None
    resource = parts[5]
    if not resource.startswith(kind + "/"):
        return None
    return parts[4], parts[3], resource[len(kind) + 1:]
