"""RegisterTaskDefinition's rules, table by table, as the ECS documentation states them.

Sources: task-cpu-memory-error.html (Fargate sizes), API_PortMapping (ports per network mode),
API_ContainerDependency (dependsOn), API_HealthCheck (ranges and defaults), API_Secret and
secrets-envvar-secrets-manager.html (valueFrom forms), API_RegisterTaskDefinition (cpu and
memory strings). Parsers are also fuzzed: whatever the text, the answer is a value or the AWS
error, never another exception.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.protocol.errors import AwsError
from portside.services.ecs.task_definition_rules import (
    FARGATE_SIZES,
    SecretRef,
    check_fargate_size,
    check_task_definition,
    compatibilities,
    parse_task_cpu,
    parse_task_memory,
    parse_value_from,
    task_spec,
)
from portside.services.ecs.task_definition_shape import task_definition

ACCOUNT = "123456789012"
REGION = "us-east-1"
EXEC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"


def container(name: str = "app", **members: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "memory": 128, **members}


def request(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    return {"family": "fam", "containerDefinitions": list(containers) or [container()], **members}


def fargate(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    return request(*containers, **{"requiresCompatibilities": ["FARGATE"],
                                   "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                                   **members})


def refusal(req: dict[str, Any]) -> str:
    with pytest.raises(AwsError) as info:
        check_task_definition(task_spec(req, ACCOUNT, REGION))
    assert info.value.code == "ClientException"
    return info.value.message


def accepts(req: dict[str, Any]) -> None:
    check_task_definition(task_spec(req, ACCOUNT, REGION))


# -- task size strings ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, units", [
    ("1024", 1024), ("256", 256), ("1 vCPU", 1024), ("1vcpu", 1024), ("1 VCPU", 1024),
    ("0.5 vCPU", 512), (".25 vCPU", 256), ("0.125 vcpu", 128), ("2 vCPU", 2048),
    ("16 vCPU", 16384), (" 512 ", 512),
])
def test_task_cpu_is_read_in_units_or_vcpus(text, units):
    assert parse_task_cpu(text) == units


@pytest.mark.parametrize("text", ["", "abc", "0", "-1", "1.5", "1e3", "0.1 vCPU", "vCPU",
                                  "1 GB", "1,024", "nan", "inf vCPU", "9" * 5000])
def test_an_unreadable_task_cpu_is_invalid(text):
    with pytest.raises(AwsError) as info:
        parse_task_cpu(text)
    assert (info.value.code, info.value.message) == ("ClientException",
                                                     "Invalid 'cpu' setting for task.")


@pytest.mark.parametrize("text, mib", [
    ("512", 512), ("2048", 2048), ("1GB", 1024), ("1 GB", 1024), ("2gb", 2048),
    ("0.5GB", 512), ("0.5 GB", 512), ("30 GB", 30720), ("512 MiB", 512), ("512MB", 512),
    ("2 GiB", 2048),
])
def test_task_memory_is_read_in_mib_or_gb(text, mib):
    assert parse_task_memory(text) == mib


@pytest.mark.parametrize("text", ["", "0", "-512", "1.5", "0.3 GB", "1 TB", "GB", "1 vCPU"])
def test_an_unreadable_task_memory_is_invalid(text):
    with pytest.raises(AwsError) as info:
        parse_task_memory(text)
    assert info.value.message == "Invalid 'memory' setting for task."


@given(st.text(max_size=40))
def test_task_size_parsers_answer_a_size_or_the_aws_error(text):
    for parse in (parse_task_cpu, parse_task_memory):
        try:
            assert parse(text) > 0
        except AwsError as exc:
            assert exc.code == "ClientException"


# -- the Fargate size table, in full ---------------------------------------------------------------

VALID_FARGATE = [(cpu, memory) for cpu, memories in FARGATE_SIZES.items() for memory in memories]


def test_the_table_matches_the_documentation():
    assert len(VALID_FARGATE) == 3 + 4 + 7 + 13 + 23 + 12 + 12
    assert FARGATE_SIZES[8192][-1] == 60 * 1024 and FARGATE_SIZES[16384][-1] == 120 * 1024


@pytest.mark.parametrize("cpu, memory", VALID_FARGATE)
def test_every_documented_fargate_size_registers(cpu, memory):
    check_fargate_size(cpu, memory)
    accepts(fargate(cpu=str(cpu), memory=str(memory)))


@pytest.mark.parametrize("cpu, memory", [
    (256, 256), (256, 3072), (512, 512), (512, 5120), (1024, 1024), (1024, 9216),
    (2048, 2048), (2048, 17408), (4096, 4096), (4096, 31744), (8192, 8192), (8192, 18432),
    (8192, 65536), (16384, 16384), (16384, 36864), (16384, 131072),
])
def test_a_memory_outside_the_cpu_row_has_no_fargate_configuration(cpu, memory):
    message = refusal(fargate(cpu=str(cpu), memory=str(memory)))
    assert message == (f"No Fargate configuration exists for given values: {cpu} CPU, {memory} "
                       "memory. See the Amazon ECS documentation for the valid values.")


@pytest.mark.parametrize("cpu", ["128", "300", "3072", "32768"])
def test_a_cpu_outside_the_table_is_invalid_on_fargate(cpu):
    assert refusal(fargate(cpu=cpu, memory="2048")) == "Invalid 'cpu' setting for task."


@pytest.mark.parametrize("cpu, memory", [("1 vCPU", "2 GB"), (".25 vcpu", "0.5GB"),
                                         ("4 vCPU", "30GB")])
def test_fargate_sizes_may_be_written_in_vcpus_and_gb(cpu, memory):
    accepts(fargate(cpu=cpu, memory=memory))


@pytest.mark.parametrize("members, message", [
    ({"cpu": None}, "Fargate requires that 'cpu' be defined at the task level."),
    ({"memory": None}, "Fargate requires that 'memory' be defined at the task level."),
    ({"networkMode": "bridge"}, "Fargate only supports network mode \u2018awsvpc\u2019."),
    ({"networkMode": None}, "Fargate only supports network mode \u2018awsvpc\u2019."),
    ({"networkMode": "host"}, "Fargate only supports network mode \u2018awsvpc\u2019."),
    ({"pidMode": "host"}, "Tasks using the Fargate launch type do not support pidMode 'host'. "
                          "The supported value for pidMode is 'task'."),
    ({"ipcMode": "task"}, "Tasks using the Fargate launch type do not support ipcMode."),
    ({"volumes": [{"name": "v", "host": {"sourcePath": "/data"}}]},
     "Fargate compatible task definitions do not support sourcePath"),
])
def test_fargate_rules(members, message):
    req = fargate(**members)
    for key in [k for k, v in members.items() if v is None]:
        del req[key]
    assert refusal(req) == message


def test_fargate_refuses_privileged_containers():
    assert "privileged" in refusal(fargate(container(privileged=True)))


def test_fargate_awslogs_needs_an_execution_role_and_a_stream_prefix():
    log = {"logDriver": "awslogs",
           "options": {"awslogs-group": "g", "awslogs-region": REGION}}
    assert refusal(fargate(container(logConfiguration=log))) == (
        "Fargate requires task definition to have execution role ARN to support log driver "
        "awslogs.")
    assert refusal(fargate(container(logConfiguration=log), executionRoleArn=EXEC_ROLE)) == (
        "Fargate requires log configuration options to include awslogs-stream-prefix to "
        "support log driver awslogs.")
    log["options"]["awslogs-stream-prefix"] = "web"
    accepts(fargate(container(logConfiguration=log), executionRoleArn=EXEC_ROLE))


def test_fargate_ecr_images_need_an_execution_role():
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:1"
    assert refusal(fargate(container(image=image))) == (
        "Fargate requires task definition to have execution role ARN to support ECR images.")
    accepts(fargate(container(image=image), executionRoleArn=EXEC_ROLE))


@pytest.mark.parametrize("req, found", [
    (request(), ["EXTERNAL", "EC2"]),
    (request(networkMode="host"), ["EXTERNAL", "EC2"]),
    (request(networkMode="awsvpc"), ["EC2"]),
    (request(networkMode="awsvpc", cpu="256", memory="512"), ["EC2", "FARGATE"]),
    (fargate(), ["EC2", "FARGATE"]),
    (request(requiresCompatibilities=["MANAGED_INSTANCES"]), ["EXTERNAL", "EC2",
                                                              "MANAGED_INSTANCES"]),
])
def test_compatibilities_name_every_launch_type_the_definition_validates_for(req, found):
    assert compatibilities(task_spec(req, ACCOUNT, REGION)) == found


def test_ec2_task_cpu_is_between_128_and_196608_units():
    accepts(request(cpu="128"))
    accepts(request(cpu="192 vCPU"))
    assert refusal(request(cpu="64")) == "Invalid 'cpu' setting for task."
    assert refusal(request(cpu="196609")) == "Invalid 'cpu' setting for task."


# -- ports per network mode ------------------------------------------------------------------------

AWSVPC_MISMATCH = ("When networkMode=awsvpc, the host ports and container ports in port "
                   "mappings must match.")
HOST_MISMATCH = ("When networkMode=host, the host ports and container ports in port mappings "
                 "must match.")


@pytest.mark.parametrize("mode, mapping, problem, host_port", [
    ("bridge", {"containerPort": 80}, None, 0),
    ("bridge", {"containerPort": 80, "hostPort": 0}, None, 0),
    ("bridge", {"containerPort": 80, "hostPort": 8080}, None, 8080),
    ("host", {"containerPort": 80}, None, 80),
    ("host", {"containerPort": 80, "hostPort": 80}, None, 80),
    ("host", {"containerPort": 80, "hostPort": 8080}, HOST_MISMATCH, None),
    ("awsvpc", {"containerPort": 80}, None, 80),
    ("awsvpc", {"containerPort": 80, "hostPort": 80}, None, 80),
    ("awsvpc", {"containerPort": 80, "hostPort": 0}, None, 80),
    ("awsvpc", {"containerPort": 80, "hostPort": 81}, AWSVPC_MISMATCH, None),
    ("none", {"containerPort": 80}, "Port mappings are not supported", None),
    ("bridge", {"hostPort": 80}, "Invalid 'containerPort' setting for container 'app'.", None),
    ("bridge", {"containerPort": 0}, "Invalid 'containerPort' setting for container 'app'.",
     None),
    ("bridge", {"containerPort": 65536},
     "Invalid 'containerPort' setting for container 'app'.", None),
    ("bridge", {"containerPort": 80, "hostPort": 70000},
     "Invalid 'hostPort' setting for container 'app'.", None),
])
def test_port_mappings_per_network_mode(mode, mapping, problem, host_port):
    req = request(container(portMappings=[mapping]), networkMode=mode)
    if problem is not None:
        assert problem in refusal(req)
        return
    shown = registered(req)["containerDefinitions"][0]["portMappings"][0]
    assert shown == {**mapping, "hostPort": host_port, "protocol": "tcp"}


def test_none_allows_a_container_without_port_mappings():
    accepts(request(networkMode="none"))


def test_awsvpc_refuses_hostnames_and_only_bridge_takes_links():
    assert refusal(request(container(hostname="h"), networkMode="awsvpc")) == (
        "hostname is not supported on container when networkMode=awsvpc.")
    linked = request(container("a", links=["b"]), container("b"), networkMode="host")
    assert "links are not supported" in refusal(linked)
    accepts(request(container("a", links=["b:db"]), container("b")))


# -- containers: names, memory, essential ----------------------------------------------------------


@pytest.mark.parametrize("containers, message", [
    ([], "Container list cannot be empty."),
    ([container(f"c{i}") for i in range(11)], "Too many containers."),
    ([container(""), container()], "Container.name should not be null or empty."),
    ([container("bad name")], "Container.name contains invalid characters."),
    ([container("a"), container("a")], "Container names must be unique within a Task Definition."),
    ([container(image="")], "Container.image should not be null or empty."),
    ([container(essential=False)], "Task definition doesn't have any essential container."),
    ([container(memory=None)], "Invalid setting for container 'app'. At least one of 'memory' "
                               "or 'memoryReservation' must be specified."),
    ([container(memory=256, memoryReservation=256)],
     "Invalid setting for container 'app'. 'memory' must be greater than 'memoryReservation'."),
])
def test_container_rules(containers, message):
    req = request()
    req["containerDefinitions"] = [{k: v for k, v in c.items() if v is not None}
                                   for c in containers]
    assert refusal(req) == message


def test_essential_defaults_to_true_and_one_essential_container_suffices():
    accepts(request(container("a", essential=False), container("b")))
    shown = registered(request(container("a", essential=False), container("b")))
    assert [c["essential"] for c in shown["containerDefinitions"]] == [False, True]


def test_task_memory_lets_containers_leave_memory_out():
    accepts(request({"name": "app", "image": "busybox"}, memory="512"))


@pytest.mark.parametrize("containers, task, message", [
    ([container(cpu=512), container("b", cpu=600)], {"cpu": "1024"},
     "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."),
    ([container(memory=1024)], {"memory": "512"},
     "The 'memory' setting for container 'app' is greater than for the task."),
    ([container(memory=None, memoryReservation=300), container("b", memory=None,
                                                               memoryReservation=300)],
     {"memory": "512"}, "The sum of all container 'memoryReservation' values cannot be greater "
                        "than the value of the task 'memory'."),
])
def test_containers_fit_in_the_task(containers, task, message):
    req = request(**task)
    req["containerDefinitions"] = [{k: v for k, v in c.items() if v is not None}
                                   for c in containers]
    assert refusal(req) == message


# -- dependsOn -------------------------------------------------------------------------------------

HEALTH = {"command": ["CMD-SHELL", "true"]}


@pytest.mark.parametrize("condition, target, problem", [
    ("START", {}, None),
    ("HEALTHY", {"healthCheck": HEALTH}, None),
    ("HEALTHY", {}, "must have a healthCheck configured"),
    ("COMPLETE", {"essential": False}, None),
    ("SUCCESS", {"essential": False}, None),
    ("COMPLETE", {}, "A dependency container with SUCCESS or COMPLETE condition cannot be an "
                     "essential container"),
    ("SUCCESS", {"essential": True}, "A dependency container with SUCCESS or COMPLETE condition "
                                     "cannot be an essential container"),
])
def test_depends_on_conditions(condition, target, problem):
    req = request(container("app", dependsOn=[{"containerName": "init", "condition": condition}]),
                  container("init", **target))
    if problem is None:
        accepts(req)
    else:
        assert problem in refusal(req)


def test_depends_on_names_an_existing_container():
    req = request(container(dependsOn=[{"containerName": "ghost", "condition": "START"}]))
    assert refusal(req) == "Cannot depend on container + 'ghost' because it does not exist"


@pytest.mark.parametrize("edges", [
    {"a": ["a"]},
    {"a": ["b"], "b": ["a"]},
    {"a": ["b"], "b": ["c"], "c": ["a"]},
])
def test_depends_on_has_no_cycle(edges):
    req = request(*[container(name, dependsOn=[{"containerName": t, "condition": "START"}
                                               for t in targets])
                    for name, targets in edges.items()])
    assert refusal(req) == "Container dependencies should not have a cycle"


def test_a_dependency_chain_without_a_cycle_registers():
    accepts(request(container("a", dependsOn=[{"containerName": "b", "condition": "START"}]),
                    container("b", dependsOn=[{"containerName": "c", "condition": "START"}]),
                    container("c")))


def test_links_have_no_cycle():
    req = request(container("a", links=["b"]), container("b", links=["a:alias"]))
    assert refusal(req) == "Container links should not have a cycle"


# -- healthCheck -----------------------------------------------------------------------------------


@pytest.mark.parametrize("member, low, high", [
    ("interval", 5, 300), ("timeout", 2, 60), ("retries", 1, 10), ("startPeriod", 0, 300),
])
def test_health_check_ranges(member, low, high):
    for value in (low, high):
        accepts(request(container(healthCheck={**HEALTH, member: value})))
    for value in (low - 1, high + 1):
        message = refusal(request(container(healthCheck={**HEALTH, member: value})))
        assert message == (f"Invalid setting for container 'app'. 'healthCheck.{member}' must be "
                           f"between {low} and {high}.")


def test_health_check_defaults_are_filled_in():
    shown = registered(request(container(healthCheck=HEALTH)))
    assert shown["containerDefinitions"][0]["healthCheck"] == {
        **HEALTH, "interval": 30, "timeout": 5, "retries": 3}


@pytest.mark.parametrize("command", [[], ["curl", "-f", "http://localhost"], ["NONE"]])
def test_health_check_commands_start_with_cmd_or_cmd_shell(command):
    assert "must start with CMD or CMD-SHELL" in refusal(
        request(container(healthCheck={"command": command})))


# -- secrets ---------------------------------------------------------------------------------------

SM = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"


@pytest.mark.parametrize("value, found", [
    (SM, SecretRef("secretsmanager", REGION, ACCOUNT, SM)),
    (f"{SM}:password::", SecretRef("secretsmanager", REGION, ACCOUNT, SM, "password")),
    (f"{SM}::AWSPREVIOUS:", SecretRef("secretsmanager", REGION, ACCOUNT, SM, "",
                                      "AWSPREVIOUS")),
    (f"{SM}:key:AWSCURRENT:v1", SecretRef("secretsmanager", REGION, ACCOUNT, SM, "key",
                                          "AWSCURRENT", "v1")),
    (f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:x",
     SecretRef("secretsmanager", "eu-west-1", ACCOUNT,
               f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:x")),
    (f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/db_password",
     SecretRef("ssm", REGION, ACCOUNT, "db_password")),
    (f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/app/db/password",
     SecretRef("ssm", "eu-west-1", ACCOUNT, "/app/db/password")),
    ("db_password", SecretRef("ssm", REGION, ACCOUNT, "db_password")),
    ("/app/db/password", SecretRef("ssm", REGION, ACCOUNT, "/app/db/password")),
    ("name.with-dots_and-dashes", SecretRef("ssm", REGION, ACCOUNT, "name.with-dots_and-dashes")),
])
def test_value_from_forms(value, found):
    assert parse_value_from(value, REGION, ACCOUNT) == found


@pytest.mark.parametrize("value", [
    f"{SM}:password",  # 3 fields after secret: neither 2 nor 5
    f"{SM}:a:b",
    f"{SM}:a:b:c:d",
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:",
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:db",
    f"arn:aws:secretsmanager:{REGION}:12345:secret:db",
    f"arn:aws:secretsmanager::{ACCOUNT}:secret:db",
    f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/",
    f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/x",
    "arn:aws:s3:::bucket/key",
    "has space", "semi;colon", "", "x" * 2049,
])
def test_value_from_refusals(value):
    assert parse_value_from(value, REGION, ACCOUNT) is None


@given(st.text(max_size=120))
def test_value_from_parses_or_answers_none(text):
    found = parse_value_from(text, REGION, ACCOUNT)
    assert found is None or found.service in ("secretsmanager", "ssm")


@given(st.lists(st.sampled_from(["", "key", "AWSCURRENT", "v-1", ":"]), max_size=5))
def test_value_from_extended_arns_parse_or_answer_none(fields):
    value = ":".join([SM, *fields])
    found = parse_value_from(value, REGION, ACCOUNT)
    extra = value[len(SM):].split(":")[1:]
    assert (found is not None) == (len(extra) in (0, 3))


def secret_request(*secrets: dict[str, str], environment=(), **members: Any) -> dict[str, Any]:
    return request(container(secrets=list(secrets), environment=list(environment)),
                   **{"executionRoleArn": EXEC_ROLE, **members})


def test_secrets_need_an_execution_role():
    req = secret_request({"name": "PW", "valueFrom": SM})
    del req["executionRoleArn"]
    assert refusal(req) == ("When you are specifying container secrets, you must also specify "
                            "a value for 'executionRoleArn'.")


def test_secret_names_clash_with_neither_environment_nor_each_other():
    message = ("The secret name must be unique and not shared with any new or existing "
               "environment variables set on the container, such as 'PW'.")
    assert refusal(secret_request({"name": "PW", "valueFrom": SM},
                                  environment=[{"name": "PW", "value": "x"}])) == message
    assert refusal(secret_request({"name": "PW", "valueFrom": SM},
                                  {"name": "PW", "valueFrom": "other"})) == message


def test_an_invalid_parameter_name_is_refused_with_aws_message():
    assert refusal(secret_request({"name": "PW", "valueFrom": "bad name"})) == (
        "The Systems Manager parameter name specified for secret PW is invalid. The parameter "
        "name can be up to 2048 characters and include the following letters and symbols: "
        "a-zA-Z0-9_.-")
    assert "Secrets Manager secret ARN" in refusal(
        secret_request({"name": "PW", "valueFrom": f"{SM}:password"}))


# -- logConfiguration ------------------------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    ({}, "Log driver awslogs requires options: awslogs-region, awslogs-group"),
    ({"awslogs-group": "g"}, "Log driver awslogs requires options: awslogs-region"),
    ({"awslogs-region": REGION}, "Log driver awslogs requires options: awslogs-group"),
    ({"awslogs-group": "g", "awslogs-region": REGION, "awslogs-stream": "s"},
     "Log driver awslogs disallows options: awslogs-stream"),
    ({"awslogs-group": "g", "awslogs-region": REGION, "awslogs-create-group": "yes"},
     "Log driver awslogs option awslogs-create-group must be true or false."),
])
def test_awslogs_options(options, message):
    log = {"logDriver": "awslogs", "options": options}
    assert refusal(request(container(logConfiguration=log))) == message


def test_awslogs_on_ec2_needs_no_stream_prefix():
    log = {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": REGION,
                                               "awslogs-create-group": "true"}}
    accepts(request(container(logConfiguration=log)))


def test_log_secret_options_need_an_execution_role_and_valid_sources():
    log = {"logDriver": "splunk", "secretOptions": [{"name": "token", "valueFrom": SM}]}
    assert "executionRoleArn" in refusal(request(container(logConfiguration=log)))
    accepts(request(container(logConfiguration=log), executionRoleArn=EXEC_ROLE))


# -- volumes and mount points ----------------------------------------------------------------------


@pytest.mark.parametrize("volumes, mounts, message", [
    ([], [{"sourceVolume": "data", "containerPath": "/d"}], "Unknown volume 'data'."),
    ([], [{"containerPath": "/d"}], "Unknown volume 'null'."),
    ([{"name": "data"}], [{"sourceVolume": "data"}],
     "MountPoint.containerPath should not be null or empty."),
    ([{"name": "data"}, {"name": "data"}], [],
     "Volume names must be unique within a Task Definition."),
    ([{"host": {}}], [], "Volume.name should not be null or empty."),
    ([{"name": "data", "host": {"sourcePath": ""}}], [], "host.sourcePath should not be blank."),
    ([{"name": "data", "host": {"sourcePath": "/x"}, "dockerVolumeConfiguration": {}}], [],
     "Volume 'data' cannot specify both host and dockerVolumeConfiguration."),
    ([{"name": "data", "dockerVolumeConfiguration": {"autoprovision": True}}], [],
     "Volume 'data': autoprovision is only supported when scope is shared."),
])
def test_volume_rules(volumes, mounts, message):
    assert refusal(request(container(mountPoints=mounts), volumes=volumes)) == message


def test_volumes_and_mounts_that_agree_register():
    req = request(container(mountPoints=[{"sourceVolume": "data", "containerPath": "/d"}]),
                  volumes=[{"name": "data", "host": {"sourcePath": "/srv"}},
                           {"name": "scratch"},
                           {"name": "shared", "dockerVolumeConfiguration": {
                               "scope": "shared", "autoprovision": True, "driver": "local"}}])
    shown = registered(req)
    assert shown["volumes"][1] == {"name": "scratch", "host": {}}


def test_volumes_from_names_a_container():
    req = request(container(volumesFrom=[{"sourceContainer": "ghost"}]))
    assert "unknown container 'ghost'" in refusal(req)


# -- roles, ulimits, family ------------------------------------------------------------------------


@pytest.mark.parametrize("role, valid", [
    (f"arn:aws:iam::{ACCOUNT}:role/r", True),
    (f"arn:aws:iam::{ACCOUNT}:role/path/to/r", True),
    ("r", True), ("", True),
    (f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c", False),
    (f"arn:aws:iam::{ACCOUNT}:user/u", False),
    ("has space", False),
])
def test_roles_are_an_iam_role_arn_or_a_role_name(role, valid):
    req = request(taskRoleArn=role)
    if valid:
        accepts(req)
    else:
        assert refusal(req) == "Role is not valid"


def test_a_role_name_is_stored_as_its_arn_and_an_empty_role_as_none():
    assert registered(request(taskRoleArn="app"))["taskRoleArn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/app")
    assert "taskRoleArn" not in registered(request(taskRoleArn=""))


def test_ulimits_are_unique_and_soft_within_hard():
    nofile = {"name": "nofile", "softLimit": 1024, "hardLimit": 4096}
    accepts(request(container(ulimits=[nofile])))
    assert "Duplicate ulimit 'nofile'" in refusal(request(container(ulimits=[nofile, nofile])))
    assert "must not be greater than its hardLimit" in refusal(request(container(
        ulimits=[{**nofile, "softLimit": 8192}])))


@pytest.mark.parametrize("family", ["bad family", "x" * 256, "semi;colon", ""])
def test_family_names(family):
    assert refusal(request(family=family)) == "Family contains invalid characters."


# -- the registered shape --------------------------------------------------------------------------


def registered(req: dict[str, Any]) -> dict[str, Any]:
    spec = task_spec(req, ACCOUNT, REGION)
    check_task_definition(spec)
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{req['family']}:1"
    return task_definition(spec, arn=arn, revision=1, registered_at=0.0,
                           registered_by=f"arn:aws:iam::{ACCOUNT}:root")


def test_defaults_match_a_real_describe_task_definition():
    shown = registered(request({"name": "sleep", "image": "busybox", "cpu": 10, "memory": 10,
                                "command": ["sleep", "360"]}))
    assert shown["containerDefinitions"] == [{
        "name": "sleep", "image": "busybox", "cpu": 10, "memory": 10,
        "command": ["sleep", "360"], "essential": True, "portMappings": [], "environment": [],
        "mountPoints": [], "volumesFrom": [], "systemControls": []}]
    assert shown["status"] == "ACTIVE" and shown["placementConstraints"] == []
    assert shown["compatibilities"] == ["EXTERNAL", "EC2"]
    assert "networkMode" not in shown and "cpu" not in shown


def test_task_size_is_stored_as_unit_strings():
    shown = registered(fargate(cpu="1 vCPU", memory="2 GB"))
    assert (shown["cpu"], shown["memory"]) == ("1024", "2048")


def test_requires_attributes_follow_the_features_used():
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:1"
    log = {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": REGION,
                                               "awslogs-stream-prefix": "p"}}
    shown = registered(fargate(
        container(image=image, logConfiguration=log, healthCheck=HEALTH,
                  secrets=[{"name": "PW", "valueFrom": SM}], memoryReservation=64),
        taskRoleArn="app", executionRoleArn=EXEC_ROLE))
    names = {a["name"] for a in shown["requiresAttributes"]}
    assert names == {
        "com.amazonaws.ecs.capability.task-iam-role", "ecs.capability.task-eni",
        "com.amazonaws.ecs.capability.ecr-auth", "ecs.capability.execution-role-ecr-pull",
        "com.amazonaws.ecs.capability.docker-remote-api.1.21",
        "ecs.capability.container-health-check", "ecs.capability.secrets.asm.environment-variables",
        "com.amazonaws.ecs.capability.docker-remote-api.1.18",
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        "ecs.capability.execution-role-awslogs"}
