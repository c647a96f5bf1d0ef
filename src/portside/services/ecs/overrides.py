"""RunTask's `overrides` applied to a task definition, as ECS applies them.

Per container (matched by name): `command` replaces the definition's, `environment` adds
variables and replaces those of the same name, `environmentFiles`, `cpu`, `memory`,
`memoryReservation` and `resourceRequirements` replace. At task level, `cpu`, `memory`,
`taskRoleArn`, `executionRoleArn` and `ephemeralStorage` replace. The overrides, as JSON, may
not exceed 8192 characters.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerOverride.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from portside.protocol.errors import AwsError
from portside.services.ecs.common import invalid
from portside.services.ecs.task_definition_rules import (
    check_container_memory,
    check_fargate_size,
    parse_task_cpu,
    parse_task_memory,
)

MAX_OVERRIDE_CHARACTERS = 8192
_REPLACED = ("command", "environmentFiles", "cpu", "memory", "memoryReservation",
             "resourceRequirements")
_TASK_REPLACED = ("taskRoleArn", "executionRoleArn", "ephemeralStorage")


def check_size(overrides: Mapping[str, Any]) -> None:
    """(Most runs override nothing: `{}` needs no encoding to be measured.)"""
    if overrides and len(json.dumps(overrides, separators=(",", ":"))) > MAX_OVERRIDE_CHARACTERS:
        raise invalid(f"Container Overrides length must be at most {MAX_OVERRIDE_CHARACTERS}")


def apply(definition: Mapping[str, Any], overrides: Mapping[str, Any],
          fargate: bool) -> dict[str, Any]:
    """The task definition a task runs: `definition` with `overrides` applied and checked.

    Only what an override changes is copied (a container, the top level): members are replaced,
    never changed in place, so the rest is shared with `definition` (most runs override
    nothing, and a deep copy cost RunTask more than placing its tasks)."""
    effective = dict(definition)
    containers = {c["name"]: c for c in definition["containerDefinitions"]}
    for override in overrides.get("containerOverrides") or ():
        if override["name"] not in containers:
            raise invalid(f"Override for container named {override['name']} is not a "
                          "container in the TaskDefinition.")
        container = containers[override["name"]] = dict(containers[override["name"]])
        for member in _REPLACED:
            if override.get(member) is not None:
                container[member] = override[member]
        if override.get("environment"):
            merged = {e["name"]: e for e in container.get("environment") or ()}
            merged.update({e["name"]: e for e in override["environment"]})
            container["environment"] = list(merged.values())
    effective["containerDefinitions"] = list(containers.values())
    for member in _TASK_REPLACED:
        if overrides.get(member):
            effective[member] = overrides[member]
    if overrides.get("cpu"):
        effective["cpu"] = str(_units(parse_task_cpu, overrides["cpu"]))
    if overrides.get("memory"):
        effective["memory"] = str(_units(parse_task_memory, overrides["memory"]))
    task_memory = int(effective["memory"]) if effective.get("memory") else None
    for container in containers.values():
        _as_invalid(check_container_memory, container, task_memory)
    if fargate:
        _as_invalid(check_fargate_size, int(effective["cpu"]) if effective.get("cpu") else None,
                    task_memory)
    return effective


def described(definition: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The task's `overrides` as DescribeTasks shows them: every container listed by name,
    with what was overridden for it."""
    given = {o["name"]: o for o in overrides.get("containerOverrides") or ()}
    shown: dict[str, Any] = {
        "containerOverrides": [given.get(c["name"], {"name": c["name"]})
                               for c in definition["containerDefinitions"]],
        "inferenceAcceleratorOverrides": [],
    }
    for member in ("cpu", "memory", *_TASK_REPLACED):
        if overrides.get(member):
            shown[member] = overrides[member]
    return shown


def _units(parse: Any, value: str) -> int:
    try:
        return parse(value)
    except AwsError as exc:
        raise invalid(exc.message) from None


def _as_invalid(check: Any, *args: Any) -> None:
    """RunTask reports an override that breaks a task definition rule as a bad parameter."""
    try:
        check(*args)
    except AwsError as exc:
        raise invalid(exc.message) from None
