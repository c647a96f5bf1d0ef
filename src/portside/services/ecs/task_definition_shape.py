"""The TaskDefinition ECS answers for a registered request: the request echoed with AWS's
defaults filled in, and what ECS derives from it (compatibilities, requiresAttributes).

The defaults are those a real DescribeTaskDefinition shows (see the AWS CLI examples for
register-task-definition and describe-task-definition): every container gets `cpu: 0`,
`essential: true` and empty `environment`, `mountPoints`, `volumesFrom`, `portMappings` and
`systemControls`; port mappings get `protocol: tcp` and their effective `hostPort`; health
checks get their default interval, timeout and retries; task `cpu` and `memory` become strings
of CPU units and MiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portside.services.ecs.task_definition_rules import (
    DEFAULT_NETWORK_MODE,
    HEALTH_CHECK_RANGES,
    TaskSpec,
    compatibilities,
    is_ecr_image,
    parse_value_from,
    role_arn,
)

Container = Mapping[str, Any]

# Request members a TaskDefinition repeats as given, when given.
_ECHOED = ("networkMode", "requiresCompatibilities", "pidMode", "ipcMode", "proxyConfiguration",
           "inferenceAccelerators", "ephemeralStorage", "runtimePlatform", "enableFaultInjection",
           "trustedExecutionConfiguration")
_CONTAINER_LISTS = ("environment", "mountPoints", "volumesFrom", "systemControls")
_VOLUME_KINDS = ("host", "dockerVolumeConfiguration", "efsVolumeConfiguration",
                 "fsxWindowsFileServerVolumeConfiguration", "s3filesVolumeConfiguration",
                 "configuredAtLaunch")

# Container instance attributes (the agent's capability names) a task definition requires.
_CAPABILITY = "com.amazonaws.ecs.capability."
_ATTRIBUTE = "ecs.capability."


def task_definition(spec: TaskSpec, *, arn: str, revision: int, registered_at: float,
                    registered_by: str) -> dict[str, Any]:
    """The TaskDefinition of a request that passed the rules, as registered (ACTIVE)."""
    request = spec.request
    found: dict[str, Any] = {
        "taskDefinitionArn": arn,
        "containerDefinitions": [container_definition(c, spec.network_mode)
                                 for c in spec.containers],
        "family": request["family"],
        "revision": revision,
        "volumes": [volume(v) for v in spec.volumes],
        "status": "ACTIVE",
        "placementConstraints": list(request.get("placementConstraints") or []),
        "compatibilities": compatibilities(spec),
        "registeredAt": registered_at,
        "registeredBy": registered_by,
    }
    for member in ("taskRoleArn", "executionRoleArn"):
        arn_of_role = role_arn(request.get(member), spec.account_id)
        if arn_of_role:
            found[member] = arn_of_role
    if spec.cpu is not None:
        found["cpu"] = str(spec.cpu)
    if spec.memory is not None:
        found["memory"] = str(spec.memory)
    found.update({m: request[m] for m in _ECHOED if request.get(m) is not None})
    needed = required_attributes(found, spec)
    if needed:
        found["requiresAttributes"] = [{"name": n} for n in needed]
    return found


def container_definition(container: Container, network_mode: str) -> dict[str, Any]:
    filled = dict(container)
    filled.setdefault("cpu", 0)
    filled.setdefault("essential", True)
    filled["portMappings"] = [port_mapping(m, network_mode)
                              for m in container.get("portMappings") or []]
    for member in _CONTAINER_LISTS:
        filled.setdefault(member, [])
    if container.get("healthCheck") is not None:
        filled["healthCheck"] = health_check(container["healthCheck"])
    return filled


def port_mapping(mapping: Mapping[str, Any], network_mode: str) -> dict[str, Any]:
    """A port mapping with its protocol and effective host port: the container port under
    host and awsvpc, 0 (a dynamic port) under bridge when none is given."""
    filled = dict(mapping)
    filled.setdefault("protocol", "tcp")
    if mapping.get("containerPort") is not None:
        if network_mode in ("host", "awsvpc"):
            filled["hostPort"] = mapping["containerPort"]
        elif network_mode == DEFAULT_NETWORK_MODE:
            filled.setdefault("hostPort", 0)
    return filled


def health_check(found: Mapping[str, Any]) -> dict[str, Any]:
    filled = dict(found)
    for member, (_, _, default) in HEALTH_CHECK_RANGES.items():
        if default is not None:
            filled.setdefault(member, default)
    return filled


def volume(found: Mapping[str, Any]) -> dict[str, Any]:
    """A volume with no configuration is a host volume whose path Docker chooses: `host: {}`."""
    filled = dict(found)
    if not any(found.get(kind) is not None for kind in _VOLUME_KINDS):
        filled["host"] = {}
    return filled


def required_attributes(found: Mapping[str, Any], spec: TaskSpec) -> list[str]:
    """The container instance attributes a task of this definition needs, named as the ECS
    agent registers them (agent/app/agent_capability.go), in first-needed order. The Docker
    Remote API versions follow the parameter documentation ("This parameter requires version
    1.18 of the Docker Remote API")."""
    names: dict[str, None] = {}

    def need(*attributes: str) -> None:
        names.update(dict.fromkeys(attributes))

    if found.get("taskRoleArn"):
        need(_CAPABILITY + "task-iam-role")
    if spec.network_mode == "awsvpc":
        need(_ATTRIBUTE + "task-eni")
    if found.get("pidMode") or found.get("ipcMode"):
        need(_ATTRIBUTE + "pid-ipc-namespace-sharing")
    for container in found["containerDefinitions"]:
        need(*_container_attributes(container, spec))
    if any(v.get("efsVolumeConfiguration") for v in found["volumes"]):
        need(_ATTRIBUTE + "efs")
    return list(names)


def _container_attributes(container: Container, spec: TaskSpec) -> list[str]:
    needed: list[str] = []
    has_role = spec.execution_role is not None
    if is_ecr_image(container["image"]):
        needed.append(_CAPABILITY + "ecr-auth")
        if has_role:
            needed.append(_ATTRIBUTE + "execution-role-ecr-pull")
    if container.get("privileged"):
        needed.append(_CAPABILITY + "privileged-container")
    if container.get("memoryReservation") is not None:
        needed.append(_CAPABILITY + "docker-remote-api.1.21")
    if container.get("ulimits") or container.get("dockerLabels"):
        needed.append(_CAPABILITY + "docker-remote-api.1.18")
    if (container.get("linuxParameters") or {}).get("initProcessEnabled"):
        needed.append(_CAPABILITY + "docker-remote-api.1.25")
    if container.get("healthCheck"):
        needed.append(_ATTRIBUTE + "container-health-check")
    if any(container.get(m) for m in ("dependsOn", "startTimeout", "stopTimeout")):
        needed.append(_ATTRIBUTE + "container-ordering")
    if container.get("repositoryCredentials"):
        needed.append(_ATTRIBUTE + "private-registry-authentication.secretsmanager")
    if container.get("environmentFiles"):
        needed.append(_ATTRIBUTE + "env-files.s3")
    needed += _secret_attributes(container.get("secrets") or [], "environment-variables", spec)
    log = container.get("logConfiguration")
    if log is not None:
        needed += [_CAPABILITY + "docker-remote-api.1.18",
                   _CAPABILITY + f"logging-driver.{log['logDriver']}"]
        if log.get("options"):
            needed.append(_CAPABILITY + "docker-remote-api.1.19")
        if log["logDriver"] == "awslogs" and has_role:
            needed.append(_ATTRIBUTE + "execution-role-awslogs")
        needed += _secret_attributes(log.get("secretOptions") or [], "bootstrap.log-driver", spec)
    return needed


def _secret_attributes(secrets: list[Mapping[str, str]], use: str, spec: TaskSpec) -> list[str]:
    """secrets.asm.<use> / secrets.ssm.<use>, by the services the secrets come from."""
    services = set()
    for secret in secrets:
        ref = parse_value_from(secret["valueFrom"], spec.region, spec.account_id)
        if ref is not None:
            services.add("asm" if ref.service == "secretsmanager" else "ssm")
    return [f"{_ATTRIBUTE}secrets.{service}.{use}" for service in sorted(services)]
