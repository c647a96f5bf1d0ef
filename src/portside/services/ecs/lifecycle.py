"""The task and container state machines, as plain data: states, allowed moves, timestamps.

A task's `lastStatus` only moves forward through PROVISIONING → PENDING → ACTIVATING → RUNNING
→ DEACTIVATING → STOPPING → DEPROVISIONING → STOPPED; a step that has nothing to do is skipped
(a task without an ENI never provisions; one without load balancers never activates), so the
table allows those skips and nothing else. `desiredStatus` is RUNNING until someone asks for
STOPPED; it never comes back.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum


class TaskStatus(StrEnum):
    PROVISIONING = "PROVISIONING"
    PENDING = "PENDING"
    ACTIVATING = "ACTIVATING"
    RUNNING = "RUNNING"
    DEACTIVATING = "DEACTIVATING"
    STOPPING = "STOPPING"
    DEPROVISIONING = "DEPROVISIONING"
    STOPPED = "STOPPED"


class ContainerStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class StopCode(StrEnum):
    TASK_FAILED_TO_START = "TaskFailedToStart"
    ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
    USER_INITIATED = "UserInitiated"
    SERVICE_SCHEDULER_INITIATED = "ServiceSchedulerInitiated"
    SPOT_INTERRUPTION = "SpotInterruption"
    TERMINATION_NOTICE = "TerminationNotice"


S = TaskStatus

# lastStatus -> the states it may move to next.
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.PROVISIONING: frozenset({S.PENDING, S.DEPROVISIONING, S.STOPPED}),
    S.PENDING: frozenset({S.ACTIVATING, S.RUNNING, S.DEACTIVATING, S.STOPPING,
                          S.DEPROVISIONING, S.STOPPED}),
    S.ACTIVATING: frozenset({S.RUNNING, S.DEACTIVATING, S.STOPPING, S.DEPROVISIONING,
                             S.STOPPED}),
    S.RUNNING: frozenset({S.DEACTIVATING, S.STOPPING, S.DEPROVISIONING, S.STOPPED}),
    S.DEACTIVATING: frozenset({S.STOPPING, S.DEPROVISIONING, S.STOPPED}),
    S.STOPPING: frozenset({S.DEPROVISIONING, S.STOPPED}),
    S.DEPROVISIONING: frozenset({S.STOPPED}),
    S.STOPPED: frozenset(),
}

# A task with an ENI passes these on its way to STOPPED: the ENI is detached first. (On its way
# up, the table itself leads through PENDING: the ENI is attached before.)
ENI_STEPS = (S.DEPROVISIONING,)

CONTAINER_TRANSITIONS: dict[ContainerStatus, frozenset[ContainerStatus]] = {
    ContainerStatus.PENDING: frozenset({ContainerStatus.RUNNING, ContainerStatus.STOPPED}),
    ContainerStatus.RUNNING: frozenset({ContainerStatus.STOPPED}),
    ContainerStatus.STOPPED: frozenset(),
}

# The task timestamp a state stamps when the task first reaches it.
STAMPS: dict[TaskStatus, str] = {
    S.RUNNING: "startedAt",
    S.DEACTIVATING: "stoppingAt",
    S.STOPPING: "stoppingAt",
    S.DEPROVISIONING: "executionStoppedAt",
    S.STOPPED: "stoppedAt",
}

_ORDER = {status: index for index, status in enumerate(TaskStatus)}


def is_ahead(status: TaskStatus, of: TaskStatus) -> bool:
    """Whether `status` comes after `of` in the lifecycle."""
    return _ORDER[status] > _ORDER[of]


def task_path(current: TaskStatus, target: TaskStatus,
              through: tuple[TaskStatus, ...] = ()) -> list[TaskStatus]:
    """The states a task passes from `current` to `target`, each step an allowed transition,
    visiting every state of `through` that lies between them; [] when already there or when
    `target` lies behind (a late or repeated report changes nothing)."""
    if current == target or not is_ahead(target, current):
        return []
    waypoints = [s for s in through if is_ahead(s, current) and is_ahead(target, s)]
    path: list[TaskStatus] = []
    for stop in [*waypoints, target]:
        path += _shortest(current, stop)
        current = stop
    return path


def _shortest(current: TaskStatus, target: TaskStatus) -> list[TaskStatus]:
    queue: deque[tuple[TaskStatus, list[TaskStatus]]] = deque([(current, [])])
    seen = {current}
    while queue:
        state, path = queue.popleft()
        for nxt in sorted(TASK_TRANSITIONS[state], key=_ORDER.__getitem__):
            if nxt == target:
                return [*path, nxt]
            if nxt not in seen and is_ahead(target, nxt):
                seen.add(nxt)
                queue.append((nxt, [*path, nxt]))
    raise ValueError(f"no transition from {current} to {target}")


def container_may_move(current: ContainerStatus, target: ContainerStatus) -> bool:
    return target in CONTAINER_TRANSITIONS[current]
