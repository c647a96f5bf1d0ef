"""Which availability zone each FARGATE task of a call goes to.

Fargate takes no placement constraints or strategies: "By default, Fargate tasks are spread
across Availability Zones" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html).
portside's Fargate capacity has no container instances, so the caller passes the zones of the
task's ``awsvpcConfiguration`` subnets and how many tasks of the same group (the service's, or
the RunTask group) each zone already runs; it then picks a subnet of the returned zone and a
Fargate host serving it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence


def spread_across_zones(
    count: int, zones: Sequence[str], tasks_per_zone: Mapping[str, int], rng: random.Random
) -> list[str]:
    """A zone per task: each goes to a zone with the fewest tasks of the group so far (the ones
    placed before it in this call included), at random among equals."""
    candidates = list(dict.fromkeys(zones))  # several subnets may share a zone
    if not candidates:
        raise ValueError("spread_across_zones needs at least one zone")
    counts = {zone: tasks_per_zone.get(zone, 0) for zone in candidates}
    chosen = []
    for _ in range(count):
        fewest = min(counts.values())
        zone = rng.choice([zone for zone in candidates if counts[zone] == fewest])
        counts[zone] += 1
        chosen.append(zone)
    return chosen
