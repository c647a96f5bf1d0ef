"""ECS task definitions through boto3 and the AWS CLI against a real server: registration and
its rules with AWS's errors, revisions, describe, list and paging, deregister and delete, tags,
and iam:PassRole on the roles a definition names."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from server import ACCOUNT, REGION, PortsideServer

AWS_CLI = str(Path(sys.executable).with_name("aws"))
EXEC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"


def family() -> str:
    return f"td-{uuid.uuid4().hex[:10]}"


def container(name: str = "app", **members: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "memory": 128, **members}


def definition(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    return {"family": family(), "containerDefinitions": list(containers) or [container()],
            **members}


def fargate(*containers: dict[str, Any], **members: Any) -> dict[str, Any]:
    return definition(*containers, **{"requiresCompatibilities": ["FARGATE"],
                                      "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                                      **members})


def refused(ecs, request: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        ecs.register_task_definition(**request)
    error = info.value.response["Error"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Code"], error["Message"]


def cli(portside, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([AWS_CLI, *args, "--output", "json"], env=env or portside.cli_env(),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def ecs(portside):
    return portside.client("ecs")


# -- registration and revisions --------------------------------------------------------------------


def test_register_answers_the_definition_with_aws_defaults(ecs):
    request = definition({"name": "sleep", "image": "busybox", "cpu": 10, "memory": 10,
                          "command": ["sleep", "360"]}, tags=[{"key": "team", "value": "a"}])
    answer = ecs.register_task_definition(**request)
    found = answer["taskDefinition"]
    name = request["family"]
    assert found["taskDefinitionArn"] == (
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}:1")
    assert (found["family"], found["revision"], found["status"]) == (name, 1, "ACTIVE")
    assert found["containerDefinitions"] == [{
        "name": "sleep", "image": "busybox", "cpu": 10, "memory": 10,
        "command": ["sleep", "360"], "essential": True, "portMappings": [], "environment": [],
        "mountPoints": [], "volumesFrom": [], "systemControls": []}]
    assert found["compatibilities"] == ["EXTERNAL", "EC2"]
    assert found["volumes"] == [] and found["placementConstraints"] == []
    assert found["registeredBy"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert isinstance(found["registeredAt"], datetime)
    assert answer["tags"] == [{"key": "team", "value": "a"}]


def test_revisions_count_up_per_family(ecs):
    request = definition()
    revisions = [ecs.register_task_definition(**request)["taskDefinition"]["revision"]
                 for _ in range(3)]
    other = ecs.register_task_definition(**definition())["taskDefinition"]["revision"]
    assert revisions == [1, 2, 3] and other == 1


def test_revisions_are_not_reused_after_deletion(ecs):
    request = definition()
    arn = ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=arn)
    ecs.delete_task_definitions(taskDefinitions=[arn])
    assert ecs.register_task_definition(**request)["taskDefinition"]["revision"] == 2


def test_fargate_sizes_in_vcpu_and_gb_are_stored_as_units_and_mib(ecs):
    found = ecs.register_task_definition(**fargate(cpu="1 vCPU", memory="2GB"))["taskDefinition"]
    assert (found["cpu"], found["memory"]) == ("1024", "2048")
    assert found["compatibilities"] == ["EC2", "FARGATE"]
    assert found["requiresCompatibilities"] == ["FARGATE"]
    assert found["networkMode"] == "awsvpc"
    assert {"name": "ecs.capability.task-eni"} in found["requiresAttributes"]


def test_port_mappings_get_their_protocol_and_effective_host_port(ecs):
    found = ecs.register_task_definition(**definition(container(portMappings=[
        {"containerPort": 80}, {"containerPort": 53, "hostPort": 5353, "protocol": "udp"}])))
    assert found["taskDefinition"]["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 80, "hostPort": 0, "protocol": "tcp"},
        {"containerPort": 53, "hostPort": 5353, "protocol": "udp"}]
    found = ecs.register_task_definition(
        **fargate(container(portMappings=[{"containerPort": 8080}])))
    assert found["taskDefinition"]["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]


def test_health_checks_get_their_defaults(ecs):
    check = {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]}
    found = ecs.register_task_definition(**definition(container(healthCheck=check)))
    assert found["taskDefinition"]["containerDefinitions"][0]["healthCheck"] == {
        **check, "interval": 30, "timeout": 5, "retries": 3}


# -- the rules, with AWS's codes and messages ------------------------------------------------------

HEALTHY = {"command": ["CMD", "true"]}
AWSLOGS = {"awslogs-group": "/ecs/app", "awslogs-region": REGION}


@pytest.mark.parametrize("request_, message", [
    (fargate(cpu="256", memory="4096"), "No Fargate configuration exists for given values: "
     "256 CPU, 4096 memory. See the Amazon ECS documentation for the valid values."),
    (fargate(cpu="300"), "Invalid 'cpu' setting for task."),
    (definition(cpu="lots"), "Invalid 'cpu' setting for task."),
    (fargate(networkMode="bridge"), "Fargate only supports network mode \u2018awsvpc\u2019."),
    (fargate(ipcMode="host"), "Tasks using the Fargate launch type do not support ipcMode."),
    (fargate(volumes=[{"name": "v", "host": {"sourcePath": "/srv"}}]),
     "Fargate compatible task definitions do not support sourcePath"),
    (fargate(container(logConfiguration={"logDriver": "awslogs", "options": AWSLOGS}),
             executionRoleArn=EXEC_ROLE),
     "Fargate requires log configuration options to include awslogs-stream-prefix to support "
     "log driver awslogs."),
    (definition(container(portMappings=[{"containerPort": 80, "hostPort": 81}]),
                networkMode="awsvpc"),
     "When networkMode=awsvpc, the host ports and container ports in port mappings must match."),
    (definition(container(portMappings=[{"containerPort": 80, "hostPort": 81}]),
                networkMode="host"),
     "When networkMode=host, the host ports and container ports in port mappings must match."),
    (definition(container(portMappings=[{"containerPort": 80}]), networkMode="none"),
     "Invalid setting for container 'app'. Port mappings are not supported when "
     "networkMode=none."),
    (definition({"name": "app", "image": "busybox"}), "Invalid setting for container 'app'. "
     "At least one of 'memory' or 'memoryReservation' must be specified."),
    (definition(container(memory=128, memoryReservation=256)), "Invalid setting for container "
     "'app'. 'memory' must be greater than 'memoryReservation'."),
    (definition(container(memory=1024), memory="512"),
     "The 'memory' setting for container 'app' is greater than for the task."),
    (definition(container(cpu=2048), cpu="1024"), "The sum of all container 'cpu' values cannot "
     "be greater than the value of the task 'cpu'."),
    (definition(container(essential=False)), "Task definition doesn't have any essential "
     "container."),
    (definition(container(), container()), "Container names must be unique within a Task "
     "Definition."),
    (definition(container(dependsOn=[{"containerName": "db", "condition": "START"}])),
     "Cannot depend on container + 'db' because it does not exist"),
    (definition(container(dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
                container("init")),
     "A dependency container with SUCCESS or COMPLETE condition cannot be an essential "
     "container"),
    (definition(container(dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]),
                container("db")),
     "The container 'db' must have a healthCheck configured to be used with the HEALTHY "
     "dependency condition."),
    (definition(container("a", dependsOn=[{"containerName": "b", "condition": "START"}]),
                container("b", dependsOn=[{"containerName": "a", "condition": "START"}])),
     "Container dependencies should not have a cycle"),
    (definition(container(healthCheck={**HEALTHY, "interval": 301})),
     "Invalid setting for container 'app'. 'healthCheck.interval' must be between 5 and 300."),
    (definition(container(healthCheck={**HEALTHY, "timeout": 1})),
     "Invalid setting for container 'app'. 'healthCheck.timeout' must be between 2 and 60."),
    (definition(container(secrets=[{"name": "PW", "valueFrom": SECRET}])),
     "When you are specifying container secrets, you must also specify a value for "
     "'executionRoleArn'."),
    (definition(container(secrets=[{"name": "PW", "valueFrom": "not a name"}]),
                executionRoleArn=EXEC_ROLE),
     "The Systems Manager parameter name specified for secret PW is invalid. The parameter name "
     "can be up to 2048 characters and include the following letters and symbols: "
     "a-zA-Z0-9_.-"),
    (definition(container(logConfiguration={"logDriver": "awslogs", "options": {}})),
     "Log driver awslogs requires options: awslogs-region, awslogs-group"),
    (definition(container(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}])),
     "Unknown volume 'data'."),
    (definition(taskRoleArn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"),
     "Role is not valid"),
    (definition(container(image="")), "Container.image should not be null or empty."),
])
def test_register_refuses_what_aws_refuses(ecs, request_, message):
    assert refused(ecs, request_) == ("ClientException", message)


@pytest.mark.parametrize("request_", [
    fargate(cpu="16384", memory="122880"),
    fargate(cpu=".25 vcpu", memory="2 GB"),
    definition(container(secrets=[
        {"name": "A", "valueFrom": f"{SECRET}:password::"},
        {"name": "B", "valueFrom": "/app/db/password"},
        {"name": "C", "valueFrom": f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/app/key"}]),
        executionRoleArn=EXEC_ROLE),
    definition(container(dependsOn=[{"containerName": "init", "condition": "SUCCESS"},
                                    {"containerName": "db", "condition": "HEALTHY"}]),
               container("init", essential=False), container("db", healthCheck=HEALTHY)),
    definition(container(mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}]),
               volumes=[{"name": "data", "dockerVolumeConfiguration": {
                   "scope": "shared", "autoprovision": True, "driver": "local"}}]),
    definition(container(memory=None, memoryReservation=64), memory="512"),
    fargate(container(logConfiguration={"logDriver": "awslogs", "options": {
        **AWSLOGS, "awslogs-stream-prefix": "app", "awslogs-create-group": "true"}}),
        executionRoleArn=EXEC_ROLE),
])
def test_register_accepts_what_aws_accepts(ecs, request_):
    request_["containerDefinitions"] = [{k: v for k, v in c.items() if v is not None}
                                        for c in request_["containerDefinitions"]]
    assert ecs.register_task_definition(**request_)["taskDefinition"]["status"] == "ACTIVE"


def test_reserved_tag_keys_are_an_invalid_parameter(ecs):
    code, message = refused(ecs, definition(tags=[{"key": "aws:owner", "value": "me"}]))
    assert code == "InvalidParameterException" and "aws:" in message


def test_the_cli_registers_from_cli_input_json(portside, tmp_path):
    request = fargate(cpu="0.5 vCPU", memory="1 GB")
    path = tmp_path / "td.json"
    path.write_text(json.dumps(request))
    out = cli(portside, "ecs", "register-task-definition", "--cli-input-json", f"file://{path}")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)["taskDefinition"]
    assert (found["family"], found["cpu"], found["memory"]) == (request["family"], "512", "1024")


def test_the_cli_shows_aws_error(portside, tmp_path):
    path = tmp_path / "td.json"
    path.write_text(json.dumps(fargate(cpu="512", memory="512")))
    out = cli(portside, "ecs", "register-task-definition", "--cli-input-json", f"file://{path}")
    assert out.returncode != 0
    assert ("An error occurred (ClientException) when calling the RegisterTaskDefinition "
            "operation: No Fargate configuration exists for given values: 512 CPU, 512 memory."
            ) in out.stderr


# -- describe --------------------------------------------------------------------------------------


def test_describe_by_family_revision_and_arn(ecs):
    request = definition(tags=[{"key": "env", "value": "dev"}])
    name = request["family"]
    first = ecs.register_task_definition(**request)["taskDefinition"]
    second = ecs.register_task_definition(**request)["taskDefinition"]
    assert ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]["revision"] == 2
    assert ecs.describe_task_definition(
        taskDefinition=f"{name}:1")["taskDefinition"] == first
    by_arn = ecs.describe_task_definition(taskDefinition=second["taskDefinitionArn"])
    assert by_arn["taskDefinition"] == second and "tags" not in by_arn
    tagged = ecs.describe_task_definition(taskDefinition=name, include=["TAGS"])
    assert tagged["tags"] == [{"key": "env", "value": "dev"}]


def test_a_bare_family_describes_its_latest_active_revision(ecs):
    request = definition()
    name = request["family"]
    for _ in range(2):
        ecs.register_task_definition(**request)
    ecs.deregister_task_definition(taskDefinition=f"{name}:2")
    assert ecs.describe_task_definition(taskDefinition=name)["taskDefinition"]["revision"] == 1
    inactive = ecs.describe_task_definition(taskDefinition=f"{name}:2")["taskDefinition"]
    assert inactive["status"] == "INACTIVE" and "deregisteredAt" in inactive


@pytest.mark.parametrize("reference", ["no-such-family", "no-such-family:1", "bad name",
                                       f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/x:9"])
def test_describing_an_unknown_definition_is_a_client_error(ecs, reference):
    with pytest.raises(ClientError) as info:
        ecs.describe_task_definition(taskDefinition=reference)
    assert info.value.response["Error"] == {"Code": "ClientException",
                                            "Message": "Unable to describe task definition."}


# -- list and paging -------------------------------------------------------------------------------


def registered_family(ecs, revisions: int) -> str:
    request = definition()
    for _ in range(revisions):
        ecs.register_task_definition(**request)
    return request["family"]


def arns(name: str, *revisions: int) -> list[str]:
    return [f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{name}:{r}" for r in revisions]


def test_list_filters_by_family_and_sorts_both_ways(ecs):
    name = registered_family(ecs, 3)
    listed = ecs.list_task_definitions(familyPrefix=name)["taskDefinitionArns"]
    assert listed == arns(name, 1, 2, 3)
    listed = ecs.list_task_definitions(familyPrefix=name, sort="DESC")["taskDefinitionArns"]
    assert listed == arns(name, 3, 2, 1)
    # familyPrefix is the whole family, not a prefix
    assert ecs.list_task_definitions(familyPrefix=name[:-1])["taskDefinitionArns"] == []


def test_list_orders_families_lexicographically_and_revisions_numerically(ecs):
    listed = ecs.list_task_definitions()["taskDefinitionArns"]
    keys = [(arn.rsplit("/", 1)[1].rsplit(":", 1)[0], int(arn.rsplit(":", 1)[1]))
            for arn in listed]
    assert keys == sorted(keys)


def test_list_filters_by_status(ecs):
    name = registered_family(ecs, 3)
    ecs.deregister_task_definition(taskDefinition=f"{name}:2")
    assert ecs.list_task_definitions(familyPrefix=name)["taskDefinitionArns"] == arns(name, 1, 3)
    assert ecs.list_task_definitions(familyPrefix=name, status="INACTIVE")[
        "taskDefinitionArns"] == arns(name, 2)


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
def test_list_pages_with_next_token(ecs, sort):
    name = registered_family(ecs, 5)
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        answer = ecs.list_task_definitions(familyPrefix=name, sort=sort, maxResults=2, **kwargs)
        pages.append(answer["taskDefinitionArns"])
        token = answer.get("nextToken")
        if not token:
            break
    expected = arns(name, 1, 2, 3, 4, 5)
    assert pages == [expected[:2], expected[2:4], expected[4:]] if sort == "ASC" else [
        expected[::-1][:2], expected[::-1][2:4], expected[::-1][4:]]


def test_the_boto3_paginator_walks_every_page(ecs):
    name = registered_family(ecs, 4)
    pages = ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix=name, PaginationConfig={"PageSize": 3})
    assert [arn for page in pages for arn in page["taskDefinitionArns"]] == arns(name, 1, 2, 3, 4)


def test_the_cli_lists_every_page(portside, ecs):
    name = registered_family(ecs, 3)
    out = cli(portside, "ecs", "list-task-definitions", "--family-prefix", name,
              "--page-size", "1")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["taskDefinitionArns"] == arns(name, 1, 2, 3)


@pytest.mark.parametrize("kwargs, code", [({"maxResults": 101}, "InvalidParameterException"),
                                         ({"nextToken": "not-a-token"},
                                          "InvalidParameterException")])
def test_bad_paging_parameters_are_refused(ecs, kwargs, code):
    with pytest.raises(ClientError) as info:
        ecs.list_task_definitions(**kwargs)
    assert info.value.response["Error"]["Code"] == code


def test_list_families_by_prefix_and_status(ecs):
    prefix = f"fams-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    for name in names:
        ecs.register_task_definition(**{**definition(), "family": name})
    ecs.deregister_task_definition(taskDefinition=f"{names[1]}:1")
    listed = ecs.list_task_definition_families(familyPrefix=prefix)["families"]
    assert listed == names
    assert ecs.list_task_definition_families(familyPrefix=prefix, status="ACTIVE")[
        "families"] == [names[0], names[2]]
    assert ecs.list_task_definition_families(familyPrefix=prefix, status="INACTIVE")[
        "families"] == [names[1]]
    first = ecs.list_task_definition_families(familyPrefix=prefix, maxResults=2)
    rest = ecs.list_task_definition_families(familyPrefix=prefix, nextToken=first["nextToken"])
    assert first["families"] + rest["families"] == names and "nextToken" not in rest


# -- deregister and delete -------------------------------------------------------------------------


def test_deregister_marks_a_revision_inactive(ecs):
    name = registered_family(ecs, 1)
    found = ecs.deregister_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]
    assert found["status"] == "INACTIVE" and isinstance(found["deregisteredAt"], datetime)
    again = ecs.deregister_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]
    assert again["deregisteredAt"] == found["deregisteredAt"]


@pytest.mark.parametrize("reference", ["no-such-family:1", "a-family-without-revision"])
def test_deregister_needs_an_existing_revision(ecs, reference):
    with pytest.raises(ClientError) as info:
        ecs.deregister_task_definition(taskDefinition=reference)
    assert info.value.response["Error"]["Code"] == "ClientException"


def test_delete_takes_inactive_revisions_and_reports_the_rest_as_failures(ecs):
    name = registered_family(ecs, 2)
    ecs.deregister_task_definition(taskDefinition=f"{name}:1")
    answer = ecs.delete_task_definitions(taskDefinitions=[f"{name}:1", f"{name}:2", "ghost:1"])
    [deleted] = answer["taskDefinitions"]
    assert deleted["status"] == "DELETE_IN_PROGRESS"
    assert isinstance(deleted["deleteRequestedAt"], datetime)
    assert [(f["arn"], f["reason"]) for f in answer["failures"]] == [
        (arns(name, 2)[0], "ACTIVE"), ("ghost:1", "MISSING")]
    described = ecs.describe_task_definition(taskDefinition=f"{name}:1")["taskDefinition"]
    assert described["status"] == "DELETE_IN_PROGRESS"
    assert ecs.list_task_definitions(familyPrefix=name, status="DELETE_IN_PROGRESS")[
        "taskDefinitionArns"] == arns(name, 1)


# -- tags ------------------------------------------------------------------------------------------


def test_tag_untag_and_list_tags_of_a_task_definition(ecs):
    arn = ecs.register_task_definition(**definition(tags=[{"key": "a", "value": "1"}]))[
        "taskDefinition"]["taskDefinitionArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "2"}, {"key": "b", "value": ""}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "a", "value": "2"}, {"key": "b", "value": ""}]
    ecs.untag_resource(resourceArn=arn, tagKeys=["a", "missing"])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": ""}]


def test_tagging_an_unknown_task_definition_is_not_found(ecs):
    arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family()}:1"
    with pytest.raises(ClientError) as info:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}])
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_more_than_fifty_tags_is_over_the_limit(ecs):
    arn = ecs.register_task_definition(**definition(tags=[
        {"key": f"k{i}", "value": "v"} for i in range(50)]))["taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ClientError) as info:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "one-more", "value": "v"}])
    assert info.value.response["Error"]["Code"] == "LimitExceededException"


# -- iam:PassRole ----------------------------------------------------------------------------------


def user_client(portside, policy: dict[str, Any]):
    iam = portside.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = boto3.client("ecs", endpoint_url=portside.endpoint, region_name=REGION,
                          aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"],
                          config=Config(retries={"max_attempts": 1}))
    return arn, client


def allow(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}


def test_registering_a_role_needs_iam_pass_role_on_it(portside):
    role = f"arn:aws:iam::{ACCOUNT}:role/app-{uuid.uuid4().hex[:6]}"
    user, ecs = user_client(portside, allow({"Action": "ecs:*", "Resource": "*"}))
    ecs.register_task_definition(**definition())  # no role: nothing to pass
    with pytest.raises(ClientError) as info:
        ecs.register_task_definition(**definition(taskRoleArn=role))
    assert info.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": f"User: {user} is not authorized to perform: iam:PassRole on resource: "
                   f"{role} because no identity-based policy allows the iam:PassRole action"}


def test_pass_role_is_checked_for_the_execution_role_and_short_names(portside):
    role_name = f"exec-{uuid.uuid4().hex[:6]}"
    role = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
    _, ecs = user_client(portside, allow(
        {"Action": "ecs:*", "Resource": "*"},
        {"Action": "iam:PassRole", "Resource": role,
         "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}))
    found = ecs.register_task_definition(**definition(executionRoleArn=role_name))
    assert found["taskDefinition"]["executionRoleArn"] == role
    with pytest.raises(ClientError) as info:
        ecs.register_task_definition(**definition(executionRoleArn=role, taskRoleArn="other"))
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "role/other" in info.value.response["Error"]["Message"]


# -- accounts -------------------------------------------------------------------------------------

OTHER_ACCOUNT = "111111111111"


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory):
    accounts = f"{ACCOUNT}:test:test,{OTHER_ACCOUNT}:other:other-secret"
    server = PortsideServer(tmp_path_factory.mktemp("td-accounts") / "data",
                            env={"PORTSIDE_ACCOUNTS": accounts}).start()
    yield server
    server.stop()


def test_an_account_sees_only_its_own_task_definitions(two_accounts):
    mine = two_accounts.client("ecs")
    theirs = two_accounts.client("ecs", key="other", secret="other-secret")
    request = definition()
    arn = mine.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]
    assert theirs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"] == (
        arn.replace(ACCOUNT, OTHER_ACCOUNT))
    theirs.deregister_task_definition(taskDefinition=arn.replace(ACCOUNT, OTHER_ACCOUNT))
    with pytest.raises(ClientError) as info:
        theirs.describe_task_definition(taskDefinition=arn)
    assert info.value.response["Error"]["Message"] == "Unable to describe task definition."
    with pytest.raises(ClientError) as info:
        theirs.list_tags_for_resource(resourceArn=arn)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert mine.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] == (
        "ACTIVE")
    assert theirs.list_task_definitions(familyPrefix=request["family"])[
        "taskDefinitionArns"] == []
