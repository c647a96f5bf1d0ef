"""A task's `volumes`, made ready on the host before its containers are created; `mountPoints`
and `volumesFrom` then bind them into containers (specs.binds, specs.volumes_from).

- `host.sourcePath`: that host directory, bind-mounted (Docker creates it when missing).
- `host: {}` (or no configuration): a Docker volume of the task, as ECS's agent makes one on
  EC2 — its data outlives the containers but not the task.
- `dockerVolumeConfiguration` with `scope: task`: a Docker volume made for the task and removed
  with it; `scope: shared`: the Docker volume of that name, kept after the task, created when
  missing only if `autoprovision` is true. `driver`, `driverOpts` and `labels` go to Docker.
- EFS, FSx and volumes configured at launch (EBS): there is nothing behind them here; the task
  stops with `CannotCreateVolumeError`.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_data_volumes.html
"""

from __future__ import annotations

import contextlib
from typing import Any

import docker.errors

UNSUPPORTED = {"efsVolumeConfiguration": "EFS", "fsxWindowsFileServerVolumeConfiguration":
               "FSx for Windows File Server", "s3filesVolumeConfiguration": "S3 Files"}


class VolumeError(Exception):
    """The task's stopped reason: a volume cannot be made ready."""


def task_volume_name(task_arn: str, volume: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in volume)
    return f"portside-{task_arn.rsplit('/', 1)[-1]}-{safe}"


def _create(client: Any, name: str, config: dict[str, Any], labels: dict[str, str]) -> None:
    try:
        client.volumes.create(name=name, driver=config.get("driver") or "local",
                              driver_opts=config.get("driverOpts") or None,
                              labels={**(config.get("labels") or {}), **labels})
    except docker.errors.APIError as exc:
        raise VolumeError(f"CannotCreateVolumeError: {name}: "
                          f"{exc.explanation or exc}") from None


def _shared(client: Any, name: str, config: dict[str, Any], labels: dict[str, str]) -> None:
    try:
        found = client.volumes.get(name)
    except docker.errors.NotFound:
        if not config.get("autoprovision"):
            raise VolumeError(f"CannotCreateVolumeError: the shared volume {name} does not "
                              "exist and autoprovision is false") from None
        _create(client, name, config, labels)
        return
    driver = config.get("driver") or "local"
    if found.attrs.get("Driver") != driver:
        raise VolumeError(f"CannotCreateVolumeError: the shared volume {name} exists with "
                          f"driver {found.attrs.get('Driver')}, not {driver}")


def prepare(client: Any, task_arn: str, definition: dict[str, Any],
            labels: dict[str, str]) -> dict[str, str]:
    """{task volume name: host path or Docker volume name}. `labels` mark the task's own
    volumes (removed with it). Raises VolumeError."""
    sources: dict[str, str] = {}
    for volume in definition.get("volumes") or ():
        name = volume["name"]
        unsupported = next((UNSUPPORTED[k] for k in UNSUPPORTED if volume.get(k)), None)
        if unsupported or volume.get("configuredAtLaunch"):
            raise VolumeError(f"CannotCreateVolumeError: volume {name}: portside provides no "
                              f"{unsupported or 'volumes configured at launch (EBS)'}")
        source_path = (volume.get("host") or {}).get("sourcePath")
        config = volume.get("dockerVolumeConfiguration") or {}
        if source_path:
            sources[name] = source_path
        elif config.get("scope") == "shared":
            _shared(client, name, config, {"portside.managed": "true"})
            sources[name] = name
        else:
            sources[name] = task_volume_name(task_arn, name)
            _create(client, sources[name], config, labels)
    return sources


def remove_task_volumes(client: Any, task_arn: str) -> None:
    """The task's own volumes (not shared ones), once its containers are gone."""
    for volume in client.volumes.list(filters={"label": f"portside.task-arn={task_arn}"}):
        with contextlib.suppress(docker.errors.APIError):  # in use: it is not the task's alone
            volume.remove(force=True)
