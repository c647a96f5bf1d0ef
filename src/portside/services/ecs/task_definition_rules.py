"""The rules RegisterTaskDefinition checks beyond the botocore model: pure functions over the
request, each raising the AWS error a broken rule gets.

The gateway has already checked the model (required members, enums, types). What remains is
ECS's own validation: sizes, network modes and ports, the Fargate constraints, container
dependencies, health checks, secrets, log configuration, volumes and roles.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html

Messages marked "(observed)" are AWS's own words, as quoted from real ClientException responses
in public bug reports; the others follow AWS's style where no response could be found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from portside.protocol.errors import AwsError, error

Container = Mapping[str, Any]

FARGATE = "FARGATE"
EC2 = "EC2"
EXTERNAL = "EXTERNAL"
MANAGED_INSTANCES = "MANAGED_INSTANCES"
DEFAULT_NETWORK_MODE = "bridge"

# Fargate task sizes: task cpu units -> the memory values (MiB) allowed with it.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
# Task cpu on EC2: "between 128 CPU units (0.125 vCPUs) and 196608 CPU units (192 vCPUs)"
# (RegisterTaskDefinition API reference, `cpu`).
EC2_TASK_CPU = (128, 196608)
CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024
MAX_CONTAINERS = 10  # "Containers per task definition" (Amazon ECS service quotas)
FARGATE_MAX_STOP_TIMEOUT = 120
FARGATE_LOG_DRIVERS = frozenset({"awslogs", "splunk", "awsfirelens"})

# healthCheck member -> (minimum, maximum, default); HealthCheck in the ECS API reference.
HEALTH_CHECK_RANGES: dict[str, tuple[int, int, int | None]] = {
    "interval": (5, 300, 30),
    "timeout": (2, 60, 5),
    "retries": (1, 10, 3),
    "startPeriod": (0, 300, None),
}
HEALTH_CHECK_COMMANDS = ("CMD", "CMD-SHELL")

# A family and a container name: "Up to 255 letters (uppercase and lowercase), numbers,
# underscores, and hyphens are allowed."
_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# "1024", "1 vCPU", "0.5 vcpu", ".25 vCPU"; "2048", "2GB", "1 GB", "0.5 GB", "512 MiB"
_PLAIN_NUMBER = re.compile(r"\s*(\d{1,12})\s*")
_VCPU = re.compile(r"\s*(\d{0,6}(?:\.\d{1,6})?)\s*vcpu\s*", re.IGNORECASE)
_MEMORY = re.compile(r"\s*(\d{0,9}(?:\.\d{1,6})?)\s*(gb|gib|mb|mib)\s*", re.IGNORECASE)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\x21-\x7e]{1,510}/)?[\w+=,.@-]{1,64}")
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_SSM_NAME = re.compile(r"[A-Za-z0-9_.\-/]{1,2048}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


def client_error(message: str) -> AwsError:
    return error("ClientException", message)


# -- task size ---------------------------------------------------------------------------------


def parse_task_cpu(value: str) -> int:
    """Task cpu in CPU units, from units ("1024") or vCPUs ("1 vCPU", "0.25 vcpu")."""
    units = _number(_PLAIN_NUMBER, value)
    if units is None:
        vcpus = _number(_VCPU, value)
        units = vcpus * CPU_UNITS_PER_VCPU if vcpus is not None else None
    if units is None or units != units.to_integral_value() or units <= 0:
        raise client_error("Invalid 'cpu' setting for task.")  # (observed)
    return int(units)


def parse_task_memory(value: str) -> int:
    """Task memory in MiB, from MiB ("2048", "512 MiB") or GB ("2GB", "0.5 GB")."""
    mib = _number(_PLAIN_NUMBER, value)
    if mib is None:
        match = _MEMORY.fullmatch(value)
        amount = _decimal(match.group(1)) if match else None
        if match and amount is not None:
            scale = MIB_PER_GB if match.group(2).lower().startswith("g") else 1
            mib = amount * scale
    if mib is None or mib != mib.to_integral_value() or mib <= 0:
        raise client_error("Invalid 'memory' setting for task.")
    return int(mib)


def _number(pattern: re.Pattern[str], value: str) -> Decimal | None:
    match = pattern.fullmatch(value)
    return _decimal(match.group(1)) if match else None


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text and text != "." else None
    except InvalidOperation:
        return None


def check_ec2_task_cpu(cpu: int) -> None:
    low, high = EC2_TASK_CPU
    if not low <= cpu <= high:
        raise client_error("Invalid 'cpu' setting for task.")  # (observed)


def check_fargate_size(cpu: int | None, memory: int | None) -> None:
    """Fargate needs task cpu and memory, as one of the combinations of FARGATE_SIZES."""
    if cpu is None:
        # (observed)
        raise client_error("Fargate requires that 'cpu' be defined at the task level.")
    if memory is None:
        # (observed)
        raise client_error("Fargate requires that 'memory' be defined at the task level.")
    if cpu not in FARGATE_SIZES:
        raise client_error("Invalid 'cpu' setting for task.")  # (observed)
    if memory not in FARGATE_SIZES[cpu]:
        raise client_error(  # (observed)
            f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. "
            "See the Amazon ECS documentation for the valid values.")


# -- the task definition as the rules see it ---------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    """What the rules need from a RegisterTaskDefinition request, parsed once."""

    request: Mapping[str, Any]
    network_mode: str
    requires: frozenset[str]
    cpu: int | None
    memory: int | None
    execution_role: str | None
    account_id: str
    region: str

    @property
    def containers(self) -> Sequence[Container]:
        return self.request["containerDefinitions"]

    @property
    def volumes(self) -> Sequence[Mapping[str, Any]]:
        return self.request.get("volumes") or []

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.get("name") == name), None)


def task_spec(request: Mapping[str, Any], account_id: str, region: str) -> TaskSpec:
    """Parse the members every rule needs; the task-size strings are checked here."""
    cpu, memory = request.get("cpu"), request.get("memory")
    return TaskSpec(
        request=request,
        network_mode=request.get("networkMode") or DEFAULT_NETWORK_MODE,
        requires=frozenset(request.get("requiresCompatibilities") or ()),
        cpu=parse_task_cpu(cpu) if cpu is not None else None,
        memory=parse_task_memory(memory) if memory is not None else None,
        execution_role=request.get("executionRoleArn") or None,
        account_id=account_id,
        region=region,
    )


def check_task_definition(spec: TaskSpec) -> None:
    """Every rule of RegisterTaskDefinition, in the order a request meets them."""
    check_family(spec.request["family"])
    check_containers_listed(spec.containers)
    for role in ("taskRoleArn", "executionRoleArn"):
        check_role(spec.request.get(role))
    if EXTERNAL in spec.requires and spec.network_mode == "awsvpc":
        # wording: portside
        raise client_error("The EXTERNAL launch type does not support network mode 'awsvpc'.")
    if spec.cpu is not None:
        check_ec2_task_cpu(spec.cpu)
    if FARGATE in spec.requires:
        problem = fargate_problem(spec)
        if problem is not None:
            raise problem
    for container in spec.containers:
        check_container(spec, container)
    check_task_size_sums(spec)
    check_essential(spec.containers)
    check_dependencies(spec)
    check_volumes(spec)


def compatibilities(spec: TaskSpec) -> list[str]:
    """The launch types the definition validates against, as ECS reports them: EXTERNAL
    unless awsvpc, EC2 always, FARGATE when every Fargate rule holds, and whatever was
    required besides."""
    found = {EC2} | set(spec.requires)
    if spec.network_mode != "awsvpc":
        found.add(EXTERNAL)
    if fargate_problem(spec) is None:
        found.add(FARGATE)
    order = (EXTERNAL, EC2, MANAGED_INSTANCES, FARGATE)
    return [c for c in order if c in found]


def check_family(family: str) -> None:
    if not _NAME.fullmatch(family):
        raise client_error("Family contains invalid characters.")  # wording: portside


def check_containers_listed(containers: Sequence[Container]) -> None:
    if not containers:
        raise client_error("Container list cannot be empty.")  # (observed)
    if len(containers) > MAX_CONTAINERS:
        raise client_error("Too many containers.")  # (observed)
    names = [c.get("name") for c in containers]
    for name in names:
        if not name:
            raise client_error("Container.name should not be null or empty.")  # (observed)
        if not _NAME.fullmatch(name):
            raise client_error("Container.name contains invalid characters.")  # (observed)
    if len(set(names)) != len(names):
        # (observed)
        raise client_error("Container names must be unique within a Task Definition.")
    for container in containers:
        if not container.get("image"):
            raise client_error("Container.image should not be null or empty.")  # (observed)


def role_arn(value: str | None, account_id: str) -> str | None:
    """A task or execution role as a full ARN: the API also takes a role's short name, and an
    empty string means no role."""
    if not value:
        return None
    return value if value.startswith("arn:") else f"arn:aws:iam::{account_id}:role/{value}"


def check_role(value: str | None) -> None:
    if value and not (_ROLE_ARN.fullmatch(value) or _ROLE_NAME.fullmatch(value)):
        raise client_error("Role is not valid")  # (observed)


# -- Fargate -----------------------------------------------------------------------------------


def fargate_problem(spec: TaskSpec) -> AwsError | None:
    """Why the definition cannot run on Fargate, or None when it can.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html"""
    try:
        _check_fargate(spec)
    except AwsError as exc:
        return exc
    return None


def _check_fargate(spec: TaskSpec) -> None:
    if spec.network_mode != "awsvpc":
        raise client_error("Fargate only supports network mode \u2018awsvpc\u2019.")  # (observed)
    check_fargate_size(spec.cpu, spec.memory)
    if spec.request.get("pidMode") == "host":
        raise client_error(  # (observed)
            "Tasks using the Fargate launch type do not support pidMode 'host'. "
            "The supported value for pidMode is 'task'.")
    if spec.request.get("ipcMode"):
        # (observed)
        raise client_error("Tasks using the Fargate launch type do not support ipcMode.")
    for volume in spec.volumes:
        if (volume.get("host") or {}).get("sourcePath") is not None:
            # (observed)
            raise client_error("Fargate compatible task definitions do not support sourcePath")
        if volume.get("dockerVolumeConfiguration") is not None:
            raise client_error(  # wording: portside, after the sourcePath message
                "Fargate compatible task definitions do not support dockerVolumeConfiguration")
    for container in spec.containers:
        _check_fargate_container(spec, container)


def _check_fargate_container(spec: TaskSpec, container: Container) -> None:
    if container.get("privileged"):
        raise client_error(  # wording: portside, after the sourcePath message
            "Fargate compatible task definitions do not support privileged containers")
    stop_timeout = container.get("stopTimeout")
    if stop_timeout is not None and stop_timeout > FARGATE_MAX_STOP_TIMEOUT:
        raise client_error(  # wording: portside
            f"Invalid 'stopTimeout' setting for container '{container['name']}'. "
            f"Fargate supports at most {FARGATE_MAX_STOP_TIMEOUT} seconds.")
    log = container.get("logConfiguration")
    if log is not None:
        driver = log["logDriver"]
        if driver not in FARGATE_LOG_DRIVERS:
            raise client_error(  # wording: portside
                f"Log driver {driver} is not supported on Fargate. "
                f"Supported log drivers: {', '.join(sorted(FARGATE_LOG_DRIVERS))}.")
        if driver == "awslogs":
            if spec.execution_role is None:
                raise client_error(  # (observed)
                    "Fargate requires task definition to have execution role ARN to support "
                    "log driver awslogs.")
            if "awslogs-stream-prefix" not in (log.get("options") or {}):
                raise client_error(  # (observed)
                    "Fargate requires log configuration options to include "
                    "awslogs-stream-prefix to support log driver awslogs.")
    if spec.execution_role is None and is_ecr_image(container["image"]):
        raise client_error(  # (observed)
            "Fargate requires task definition to have execution role ARN to support ECR images.")


def is_ecr_image(image: str) -> bool:
    """An image in a private ECR registry: `<account>.dkr.ecr.<region>.amazonaws.com/…`."""
    registry = image.split("/", 1)[0]
    parts = registry.split(".")
    return len(parts) >= 5 and parts[1:3] == ["dkr", "ecr"] and bool(_ACCOUNT.fullmatch(parts[0]))


# -- one container -----------------------------------------------------------------------------


def check_container(spec: TaskSpec, container: Container) -> None:
    check_port_mappings(container, spec.network_mode)
    check_container_network(container, spec.network_mode)
    check_container_memory(container, spec.memory)
    check_health_check(container)
    check_secrets(spec, container)
    check_log_configuration(spec, container)
    check_ulimits(container)
    if container.get("repositoryCredentials") and spec.execution_role is None:
        raise client_error(  # (observed)
            "Private repository authentication requires that the task definition specify a "
            "value for executionRoleArn.")


def check_port_mappings(container: Container, network_mode: str) -> None:
    """none: no port mappings. host and awsvpc: hostPort absent (or 0) or equal to
    containerPort. bridge: any hostPort; 0 or absent asks for a dynamic one.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PortMapping.html"""
    name = container["name"]
    mappings = container.get("portMappings") or []
    if mappings and network_mode == "none":
        raise client_error(  # wording: portside
            f"Invalid setting for container '{name}'. Port mappings are not supported when "
            "networkMode=none.")
    for mapping in mappings:
        container_port, host_port = mapping.get("containerPort"), mapping.get("hostPort")
        if mapping.get("containerPortRange") is None and not _is_port(container_port, 1):
            # (observed)
            raise client_error(f"Invalid 'containerPort' setting for container '{name}'.")
        if host_port is not None and not _is_port(host_port, 0):
            # wording: portside, after the containerPort message
            raise client_error(f"Invalid 'hostPort' setting for container '{name}'.")
        if network_mode in ("awsvpc", "host") and host_port not in (None, 0, container_port):
            raise client_error(  # (observed, for awsvpc)
                f"When networkMode={network_mode}, the host ports and container ports in port "
                "mappings must match.")


def _is_port(value: Any, low: int) -> bool:
    return isinstance(value, int) and low <= value <= 65535


def check_container_network(container: Container, network_mode: str) -> None:
    if container.get("hostname") and network_mode == "awsvpc":
        # (observed)
        raise client_error("hostname is not supported on container when networkMode=awsvpc.")
    if container.get("links") and network_mode != DEFAULT_NETWORK_MODE:
        # wording: portside, after the hostname message
        raise client_error(f"links are not supported on container when networkMode={network_mode}.")


def check_container_memory(container: Container, task_memory: int | None) -> None:
    """Without task memory a container needs memory or memoryReservation; with both, memory
    must be greater (ContainerDefinition `memory` in the API reference)."""
    name = container["name"]
    memory, reservation = container.get("memory"), container.get("memoryReservation")
    for member, value in (("memory", memory), ("memoryReservation", reservation)):
        if value is not None and value <= 0:
            # wording: portside, after the containerPort message
            raise client_error(f"Invalid '{member}' setting for container '{name}'.")
    if task_memory is None and memory is None and reservation is None:
        raise client_error(  # (observed)
            f"Invalid setting for container '{name}'. At least one of 'memory' or "
            "'memoryReservation' must be specified.")
    if memory is not None and reservation is not None and memory <= reservation:
        raise client_error(  # wording: portside
            f"Invalid setting for container '{name}'. 'memory' must be greater than "
            "'memoryReservation'.")


def check_task_size_sums(spec: TaskSpec) -> None:
    """Containers may not ask for more than the task has."""
    if spec.cpu is not None and sum(c.get("cpu") or 0 for c in spec.containers) > spec.cpu:
        raise client_error(  # (observed)
            "The sum of all container 'cpu' values cannot be greater than the value of the "
            "task 'cpu'.")
    if spec.memory is None:
        return
    for container in spec.containers:
        if (container.get("memory") or 0) > spec.memory:
            raise client_error(  # (observed)
                f"The 'memory' setting for container '{container['name']}' is greater than for "
                "the task.")
    if sum(reserved_memory(c) for c in spec.containers) > spec.memory:
        member = ("memoryReservation" if any(c.get("memoryReservation") for c in spec.containers)
                  else "memory")
        raise client_error(  # (observed, for memoryReservation)
            f"The sum of all container '{member}' values cannot be greater than the value of "
            "the task 'memory'.")


def reserved_memory(container: Container) -> int:
    """What a container reserves: its soft limit, else its hard limit."""
    return container.get("memoryReservation") or container.get("memory") or 0


def check_essential(containers: Sequence[Container]) -> None:
    if not any(container.get("essential", True) for container in containers):
        raise client_error("Task definition doesn't have any essential container.")  # (observed)


def check_health_check(container: Container) -> None:
    found = container.get("healthCheck")
    if found is None:
        return
    name = container["name"]
    command = found["command"]
    if not command or command[0] not in HEALTH_CHECK_COMMANDS:
        raise client_error(  # wording: portside
            f"Invalid setting for container '{name}'. 'healthCheck.command' must start with "
            "CMD or CMD-SHELL.")
    for member, (low, high, _) in HEALTH_CHECK_RANGES.items():
        value = found.get(member)
        if value is not None and not low <= value <= high:
            raise client_error(  # wording: portside
                f"Invalid setting for container '{name}'. 'healthCheck.{member}' must be "
                f"between {low} and {high}.")


def check_ulimits(container: Container) -> None:
    seen: set[str] = set()
    for ulimit in container.get("ulimits") or []:
        if ulimit["name"] in seen:
            raise client_error(  # wording: portside
                f"Invalid setting for container '{container['name']}'. Duplicate ulimit "
                f"'{ulimit['name']}'.")
        seen.add(ulimit["name"])
        if ulimit["softLimit"] > ulimit["hardLimit"]:
            raise client_error(  # wording: portside
                f"Invalid setting for container '{container['name']}'. The softLimit of ulimit "
                f"'{ulimit['name']}' must not be greater than its hardLimit.")


# -- secrets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    """Where a secret's value comes from. For Secrets Manager, `name` is the secret id (its
    ARN without the JSON key and version fields); for SSM, the parameter name."""

    service: str  # "secretsmanager" | "ssm"
    region: str
    account_id: str
    name: str
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""


def parse_value_from(value: str, region: str, account_id: str) -> SecretRef | None:
    """A `secrets[].valueFrom`: a Secrets Manager secret ARN, optionally extended with
    `:json-key:version-stage:version-id` (empty fields allowed), an SSM parameter ARN, or the
    name of a parameter in the task's own region and account. None when it is none of these.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html"""
    if not value.startswith("arn:"):
        return SecretRef("ssm", region, account_id, value) if _SSM_NAME.fullmatch(value) else None
    parts = value.split(":", 5)
    if len(parts) != 6 or not _REGION.fullmatch(parts[3]) or not _ACCOUNT.fullmatch(parts[4]):
        return None
    _, partition, service, arn_region, arn_account, resource = parts
    if not partition.startswith("aws"):
        return None
    if service == "secretsmanager":
        return _secrets_manager_ref(arn_region, arn_account, resource)
    if service == "ssm" and resource.startswith("parameter/"):
        name = resource[len("parameter"):]
        name = name if name.count("/") > 1 else name[1:]  # a path keeps its leading slash
        valid = _SSM_NAME.fullmatch(name)
        return SecretRef("ssm", arn_region, arn_account, name) if valid else None
    return None


def _secrets_manager_ref(region: str, account_id: str, resource: str) -> SecretRef | None:
    # The agent splits the resource part into exactly 2 (`secret:<id>`) or 5 fields.
    fields = resource.split(":")
    if fields[0] != "secret" or len(fields) not in (2, 5) or not fields[1]:
        return None
    secret_id = f"arn:aws:secretsmanager:{region}:{account_id}:secret:{fields[1]}"
    return SecretRef("secretsmanager", region, account_id, secret_id, *fields[2:])


def check_secret(secret: Mapping[str, str], spec: TaskSpec) -> SecretRef:
    found = parse_value_from(secret["valueFrom"], spec.region, spec.account_id)
    if found is None:
        if secret["valueFrom"].startswith("arn:aws:secretsmanager:"):
            raise client_error(  # wording: portside
                f"The Secrets Manager secret ARN specified for secret {secret['name']} is invalid.")
        raise client_error(  # (observed)
            f"The Systems Manager parameter name specified for secret {secret['name']} is "
            "invalid. The parameter name can be up to 2048 characters and include the following "
            "letters and symbols: a-zA-Z0-9_.-")
    return found


def check_secrets(spec: TaskSpec, container: Container) -> None:
    """Secrets are fetched by the agent with the execution role; their names become
    environment variables and may not clash with the container's own."""
    secrets = container.get("secrets") or []
    if not secrets:
        return
    if spec.execution_role is None:
        raise client_error(  # (observed)
            "When you are specifying container secrets, you must also specify a value for "
            "'executionRoleArn'.")
    environment = {variable.get("name") for variable in container.get("environment") or []}
    seen: set[str] = set()
    for secret in secrets:
        if secret["name"] in environment or secret["name"] in seen:
            raise client_error(  # (observed)
                "The secret name must be unique and not shared with any new or existing "
                f"environment variables set on the container, such as '{secret['name']}'.")
        seen.add(secret["name"])
        check_secret(secret, spec)


# -- logs --------------------------------------------------------------------------------------

# awslogs options that ECS manages itself. https://docs.aws.amazon.com/AmazonECS/latest/
# developerguide/using_awslogs.html
_AWSLOGS_REQUIRED = ("awslogs-region", "awslogs-group")
_AWSLOGS_DISALLOWED = ("awslogs-stream",)


def check_log_configuration(spec: TaskSpec, container: Container) -> None:
    log = container.get("logConfiguration")
    if log is None:
        return
    options = log.get("options") or {}
    if log["logDriver"] == "awslogs":
        missing = [o for o in _AWSLOGS_REQUIRED if not options.get(o)]
        if missing:
            # (observed)
            raise client_error(f"Log driver awslogs requires options: {', '.join(missing)}")
        disallowed = [o for o in _AWSLOGS_DISALLOWED if o in options]
        if disallowed:
            # (observed)
            raise client_error(f"Log driver awslogs disallows options: {', '.join(disallowed)}")
        create = options.get("awslogs-create-group")
        if create is not None and create.lower() not in ("true", "false"):
            raise client_error(  # wording: portside
                "Log driver awslogs option awslogs-create-group must be true or false.")
    secret_options = log.get("secretOptions") or []
    if secret_options and spec.execution_role is None:
        raise client_error(  # (observed, for secrets)
            "When you are specifying container secrets, you must also specify a value for "
            "'executionRoleArn'.")
    for secret in secret_options:
        check_secret(secret, spec)


# -- container dependencies --------------------------------------------------------------------


def check_dependencies(spec: TaskSpec) -> None:
    """dependsOn names an existing container; COMPLETE and SUCCESS cannot name an essential
    one; HEALTHY needs the target's health check; no container waits on itself, directly or
    through others. links, which also order containers, may not form a cycle either.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html"""
    for container in spec.containers:
        for dependency in container.get("dependsOn") or []:
            _check_dependency(spec, dependency)
        for source in container.get("volumesFrom") or []:
            if spec.container(source.get("sourceContainer") or "") is None:
                raise client_error(  # wording: portside
                    f"Invalid setting for container '{container['name']}'. volumesFrom names "
                    f"unknown container '{source.get('sourceContainer')}'.")
    depends = {c["name"]: [d["containerName"] for d in c.get("dependsOn") or []]
               for c in spec.containers}
    if _has_cycle(depends):
        raise client_error("Container dependencies should not have a cycle")  # wording: portside
    links = {c["name"]: [link.split(":", 1)[0] for link in c.get("links") or []]
             for c in spec.containers}
    if _has_cycle(links):
        raise client_error("Container links should not have a cycle")  # (observed)


def _check_dependency(spec: TaskSpec, dependency: Mapping[str, str]) -> None:
    target_name, condition = dependency["containerName"], dependency["condition"]
    target = spec.container(target_name)
    if target is None:
        raise client_error(  # (observed, " + " included)
            f"Cannot depend on container + '{target_name}' because it does not exist")
    if condition in ("COMPLETE", "SUCCESS") and target.get("essential", True):
        raise client_error(  # (observed)
            "A dependency container with SUCCESS or COMPLETE condition cannot be an essential "
            "container")
    if condition == "HEALTHY" and target.get("healthCheck") is None:
        raise client_error(  # wording: portside
            f"The container '{target_name}' must have a healthCheck configured to be used with "
            "the HEALTHY dependency condition.")


def _has_cycle(edges: Mapping[str, Iterable[str]]) -> bool:
    """Whether following edges (to known nodes) can come back to where it started."""
    state: dict[str, int] = {}  # 1: on the current path, 2: fully explored

    def visit(node: str) -> bool:
        state[node] = 1
        for nxt in edges.get(node, ()):
            if nxt in edges and (state.get(nxt) == 1 or (nxt not in state and visit(nxt))):
                return True
        state[node] = 2
        return False

    return any(node not in state and visit(node) for node in edges)


# -- volumes -----------------------------------------------------------------------------------


def check_volumes(spec: TaskSpec) -> None:
    names = [volume.get("name") for volume in spec.volumes]
    for volume in spec.volumes:
        _check_volume(volume)
    if len(set(names)) != len(names):
        # wording: portside, after the container names message
        raise client_error("Volume names must be unique within a Task Definition.")
    known = set(names)
    for container in spec.containers:
        for mount in container.get("mountPoints") or []:
            if mount.get("sourceVolume") not in known:
                # (observed; an absent name reads 'null')
                raise client_error(f"Unknown volume '{mount.get('sourceVolume') or 'null'}'.")
            if not mount.get("containerPath"):
                raise client_error(  # wording: portside, after the Container.name message
                    "MountPoint.containerPath should not be null or empty.")


def _check_volume(volume: Mapping[str, Any]) -> None:
    if not volume.get("name"):
        # wording: portside, after the Container.name message
        raise client_error("Volume.name should not be null or empty.")
    host, docker = volume.get("host"), volume.get("dockerVolumeConfiguration")
    if host is not None and host.get("sourcePath") == "":
        raise client_error("host.sourcePath should not be blank.")  # (observed)
    if host is not None and docker is not None:
        raise client_error(  # wording: portside
            f"Volume '{volume['name']}' cannot specify both host and dockerVolumeConfiguration.")
    shared = docker is not None and docker.get("scope") == "shared"
    if docker is not None and docker.get("autoprovision") and not shared:
        raise client_error(  # wording: portside
            f"Volume '{volume['name']}': autoprovision is only supported when scope is shared.")

