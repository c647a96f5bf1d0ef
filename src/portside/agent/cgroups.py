"""Task-level CPU and memory (`cpu`, `memory` of the task definition) enforced for the whole
task, as ECS's agent does on Linux: a cgroup per task with the limits, the parent of every
container of the task (Docker's `--cgroup-parent`), so that the containers together can use no
more than the task's size whatever their own limits say.

- cgroup v1 (Docker's cgroupfs driver): `/sys/fs/cgroup/memory/portside/<agent>/<task id>`
  `memory.limit_in_bytes` and `/sys/fs/cgroup/cpu/portside/<agent>/<task id>`
  `cpu.cfs_quota_us` over `cpu.cfs_period_us` (a hard CPU limit of `cpu / 1024` CPUs).
- cgroup v2 (unified): `/sys/fs/cgroup/portside/<agent>/<task id>` `memory.max` and `cpu.max`,
  with the controllers enabled on the way down.

`<agent>` is the agent's key (its containers' `portside.agent` label).

A host where the agent cannot write cgroups (not root, a systemd cgroup driver, a read-only
`/sys/fs/cgroup`) runs tasks with their containers' own limits only, and the agent says so in
its log once; docs/agent.md lists it.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_size
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

log = logging.getLogger("portside.agent")

ROOT = Path("/sys/fs/cgroup")
PARENT = "portside"
CPU_PERIOD = 100_000  # microseconds
MIN_QUOTA = 1_000


class TaskCgroups:
    """Makes and removes the per-task cgroups of one host."""

    def __init__(self, root: Path = ROOT, driver: str = "cgroupfs", scope: str = "") -> None:
        self.root = root
        # Each agent of the host keeps its tasks under a directory of its own (its key), so
        # that cleaning up leftovers never touches another agent's tasks.
        self.parent = f"{PARENT}/{scope}" if scope else PARENT
        self.version = 2 if (root / "cgroup.controllers").exists() else 1
        self.usable = driver == "cgroupfs" and self._writable()
        if not self.usable:
            log.warning("task-level cpu/memory cannot be enforced on this host (cgroup v%d, "
                        "Docker cgroup driver %s): containers keep their own limits only",
                        self.version, driver)

    def _writable(self) -> bool:
        probe = (self.root / PARENT) if self.version == 2 else (self.root / "memory" / PARENT)
        try:
            probe.mkdir(exist_ok=True)
            return True
        except OSError:
            return False

    def create(self, task_id: str, cpu: int | None, memory: int | None) -> str | None:
        """The cgroup parent of the task's containers (None: no task-level limits). `cpu` in
        units (1024 a CPU), `memory` in MiB."""
        if not self.usable or (not cpu and not memory):
            return None
        quota = max(MIN_QUOTA, int(cpu) * CPU_PERIOD // 1024) if cpu else None
        limit = int(memory) * 1024 * 1024 if memory else None
        if self.version == 2:
            self._v2(task_id, quota, limit)
        else:
            self._v1(task_id, quota, limit)
        return f"/{self.parent}/{task_id}"

    def _v1(self, task_id: str, quota: int | None, limit: int | None) -> None:
        if limit is not None:
            group = self.root / "memory" / self.parent / task_id
            group.mkdir(parents=True, exist_ok=True)
            (group / "memory.limit_in_bytes").write_text(str(limit))
        if quota is not None:
            group = self.root / "cpu" / self.parent / task_id
            group.mkdir(parents=True, exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(CPU_PERIOD))
            (group / "cpu.cfs_quota_us").write_text(str(quota))

    def _v2(self, task_id: str, quota: int | None, limit: int | None) -> None:
        parent = self.root / self.parent
        parent.mkdir(parents=True, exist_ok=True)
        for level in (self.root, self.root / PARENT, parent):
            with contextlib.suppress(OSError):  # already enabled, or not delegated to us
                (level / "cgroup.subtree_control").write_text("+cpu +memory")
        group = parent / task_id
        group.mkdir(exist_ok=True)
        if limit is not None:
            (group / "memory.max").write_text(str(limit))
        if quota is not None:
            (group / "cpu.max").write_text(f"{quota} {CPU_PERIOD}")

    def _parents(self) -> list[Path]:
        if self.version == 2:
            return [self.root / self.parent]
        return [self.root / controller / self.parent for controller in
                ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer",
                 "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc", "systemd")]

    def remove(self, task_id: str) -> None:
        """Once the task's containers are gone (Docker removed their own cgroups)."""
        if not self.usable:
            return
        for parent in self._parents():
            with contextlib.suppress(OSError):  # never made, or a container still in it
                (parent / task_id).rmdir()

    def prune(self) -> None:
        """At the agent's start: the cgroups of its tasks whose containers are gone (the agent
        stopped before it could remove them); a cgroup still in use is not removed."""
        if not self.usable:
            return
        for parent in self._parents():
            with contextlib.suppress(OSError):
                for group in parent.iterdir():
                    if group.is_dir():
                        with contextlib.suppress(OSError):
                            group.rmdir()
