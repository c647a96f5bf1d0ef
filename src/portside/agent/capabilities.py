"""The attributes an agent registers its host with: the built-in `ecs.*` attributes and the
capabilities task definitions require (`requiresAttributes`), named as the ECS agent names
them. A host that lacks one a task needs is refused with the failure reason ATTRIBUTE.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-agent-config.html
"""

from __future__ import annotations

_CAPABILITY = "com.amazonaws.ecs.capability."
_ATTRIBUTE = "ecs.capability."

DOCKER_API_VERSIONS = ("1.17", "1.18", "1.19", "1.20", "1.21", "1.22", "1.23", "1.24", "1.25",
                       "1.26", "1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.35", "1.38",
                       "1.39", "1.40", "1.41", "1.43", "1.44")
LOG_DRIVERS = ("json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk",
               "awsfirelens", "none")

# What a Linux host with a current Docker Engine offers.
LINUX_CAPABILITIES: tuple[str, ...] = (
    *(f"{_CAPABILITY}docker-remote-api.{v}" for v in DOCKER_API_VERSIONS),
    *(f"{_CAPABILITY}logging-driver.{d}" for d in LOG_DRIVERS),
    _CAPABILITY + "privileged-container",
    _CAPABILITY + "selinux",
    _CAPABILITY + "apparmor",
    _CAPABILITY + "ecr-auth",
    _CAPABILITY + "task-iam-role",
    _CAPABILITY + "task-iam-role-network-host",
    _ATTRIBUTE + "execution-role-ecr-pull",
    _ATTRIBUTE + "execution-role-awslogs",
    _ATTRIBUTE + "task-eni",
    _ATTRIBUTE + "container-health-check",
    _ATTRIBUTE + "container-ordering",
    _ATTRIBUTE + "pid-ipc-namespace-sharing",
    _ATTRIBUTE + "private-registry-authentication.secretsmanager",
    _ATTRIBUTE + "secrets.asm.environment-variables",
    _ATTRIBUTE + "secrets.ssm.environment-variables",
    _ATTRIBUTE + "secrets.asm.bootstrap.log-driver",
    _ATTRIBUTE + "secrets.ssm.bootstrap.log-driver",
    _ATTRIBUTE + "env-files.s3",
    _ATTRIBUTE + "efs",
)


def host_attributes(zone: str, instance_type: str | None, architecture: str = "x86_64",
                    capabilities: tuple[str, ...] = LINUX_CAPABILITIES,
                    extra: dict[str, str | None] | None = None) -> list[dict[str, str]]:
    """RegisterContainerInstance `attributes`: the built-in ones, the capabilities, and the
    operator's own (`--attribute k=v`)."""
    found: dict[str, str | None] = {
        "ecs.availability-zone": zone,
        "ecs.os-type": "linux",
        "ecs.os-family": "LINUX",
        "ecs.cpu-architecture": architecture,
        **dict.fromkeys(capabilities),
    }
    if instance_type:
        found["ecs.instance-type"] = instance_type
    found.update(extra or {})
    return [{"name": k} if v is None else {"name": k, "value": v} for k, v in found.items()]
