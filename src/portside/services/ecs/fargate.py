"""portside's Fargate capacity: the hosts that run FARGATE tasks, and which one runs each.

A Fargate host is an agent that joins with the root credentials and says which availability
zones it serves (docs/agent-protocol.md). A FARGATE task goes to the zone with the fewest
tasks of its group (the placement package's `spread_across_zones`), among the zones where a
connected host has room for it, then to the host of that zone with the most memory left.
Without room anywhere the task is not created and RunTask lists a failure with the reason AWS
gives when Fargate lacks capacity.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from portside.services.ecs.placement import spread_across_zones
from portside.services.ecs.records import Reservation
from portside.services.ecs.state import Host, ScopeView

NO_CAPACITY = ("Capacity is unavailable at this time. Please try again later or in a "
               "different availability zone")


@dataclass(frozen=True)
class FargateSlot:
    host: Host
    zone: str  # the full zone name, e.g. us-east-1b


def _fits(host: Host, need: Reservation) -> bool:
    return (host.agent_connected and host.remaining_cpu >= need.cpu
            and host.remaining_memory >= need.memory)


def place_fargate(view: ScopeView, region: str, cluster_key: str, group: str,
                  need: Reservation, count: int, rng: random.Random) -> list[FargateSlot | None]:
    """Where each of `count` tasks runs; None for a task no host has room for. The caller
    holds each chosen slot's resources before the next call."""
    zones = sorted({region + z for h in view.hosts.values() if _fits(h, need) for z in h.zones})
    if not zones:
        return [None] * count
    per_zone: Counter[str] = Counter(
        held.zone for h in view.hosts.values() for held in h.held.values()
        if held.cluster == cluster_key and held.group == group and held.counted)
    chosen: list[FargateSlot | None] = []
    used: Counter[str] = Counter()  # memory taken by this call's earlier tasks, per host
    for zone in spread_across_zones(count, zones, per_zone, rng):
        suffix = zone[len(region):]
        room = [h for h in view.hosts.values() if suffix in h.zones
                and _fits(h, Reservation(need.cpu * (1 + used[h.id]),
                                         need.memory * (1 + used[h.id])))]
        if not room:
            chosen.append(None)
            continue
        host = max(room, key=lambda h: (h.remaining_memory - need.memory * used[h.id], h.id))
        used[host.id] += 1
        chosen.append(FargateSlot(host, zone))
    return chosen
