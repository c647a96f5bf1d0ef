"""What the Docker agent does for a task beside running its containers, end to end on the real
Docker Engine through boto3: awslogs output in CloudWatch Logs while the task runs, secrets from
Secrets Manager and Parameter Store, images pulled from portside's ECR, all with the task's
execution role; volumes and mount points; task-level limits."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_support import unique, wait_for, wait_status
from server import ACCOUNT, PortsideServer

from portside.agent.docker_agent import agent_key

pytestmark = pytest.mark.docker

BUSYBOX = "portside-test/busybox:latest"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False,
                          timeout=timeout)


def _connected(ecs: Any) -> bool:
    try:
        arns = ecs.list_container_instances(cluster="default")["containerInstanceArns"]
    except ClientError:
        return False
    found = ecs.describe_container_instances(cluster="default", containerInstances=arns)[
        "containerInstances"] if arns else []
    return bool(found) and all(i["agentConnected"] for i in found)


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_available, busybox_image):
    data = tmp_path_factory.mktemp("agent-resources") / "data"
    started = PortsideServer(data, env={"PORTSIDE_AGENT_RETENTION": "30"}).start()
    wait_for(lambda: _connected(started.client("ecs")), timeout=20)
    started.agent_key = agent_key(data / "agent")
    yield started
    started.stop()
    _remove_agent_leftovers(started.agent_key)


def _remove_agent_leftovers(key: str) -> None:
    """The containers and task volumes of the agent with this key (the server stopped before
    their retention ended)."""
    ids = _docker("ps", "-aq", "--filter", f"label=portside.agent={key}").stdout.split()
    if ids:
        _docker("rm", "-f", *ids)
    volumes = _docker("volume", "ls", "-q", "--filter", f"label=portside.agent={key}").stdout
    if volumes.split():
        _docker("volume", "rm", "-f", *volumes.split())


@pytest.fixture
def ecs(server):
    return server.client("ecs")


def _role(server: PortsideServer, *statements: dict[str, Any]) -> str:
    """A role ecs-tasks.amazonaws.com may assume, allowed `statements`."""
    iam = server.client("iam")
    name = unique("exec")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": list(statements)}))
    return arn


def _allow(actions: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def _register(ecs: Any, containers: list[dict[str, Any]], **extra: Any) -> str:
    for container in containers:
        container.setdefault("image", BUSYBOX)
        container.setdefault("memory", 64)
    return ecs.register_task_definition(family=unique("r"), containerDefinitions=containers,
                                        **extra)["taskDefinition"]["taskDefinitionArn"]


def _run(ecs: Any, definition: str, **extra: Any) -> str:
    return ecs.run_task(taskDefinition=definition, **extra)["tasks"][0]["taskArn"]


def _name(task_arn: str, container: str) -> str:
    return f"portside-{task_arn.rsplit('/', 1)[-1]}-{container}"


def _inspect(task_arn: str, container: str) -> dict[str, Any]:
    return json.loads(_docker("inspect", _name(task_arn, container)).stdout)[0]


def _task_containers(task_arn: str) -> list[str]:
    return _docker("ps", "-aq", "--filter", f"label=portside.task-arn={task_arn}").stdout.split()


# -- awslogs -------------------------------------------------------------------------------------


def _awslogs(group: str, **options: str) -> dict[str, Any]:
    return {"logDriver": "awslogs", "options": {
        "awslogs-group": group, "awslogs-region": "us-east-1", **options}}


def test_awslogs_output_reaches_cloudwatch_logs_while_the_task_runs(server, ecs):
    group = unique("/ecs/app")
    role = _role(server, _allow(["logs:CreateLogGroup", "logs:CreateLogStream",
                                 "logs:PutLogEvents"]))
    script = ("i=0; while true; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); "
              "sleep 0.2; done")
    definition = _register(ecs, [{
        "name": "app", "command": ["sh", "-c", script], "stopTimeout": 1,
        "logConfiguration": _awslogs(group, **{"awslogs-stream-prefix": "web",
                                               "awslogs-create-group": "true"})}],
        executionRoleArn=role)
    arn = _run(ecs, definition)
    stream = f"web/app/{arn.rsplit('/', 1)[-1]}"
    logs = server.client("logs")
    try:
        wait_status(ecs, "default", [arn], "RUNNING", timeout=30)

        def seen() -> list[str]:
            try:
                events = logs.get_log_events(logGroupName=group, logStreamName=stream,
                                             startFromHead=True)["events"]
            except ClientError:
                return []
            messages = [e["message"] for e in events]
            return messages if {"out 3", "err 3"} <= set(messages) else []

        messages = wait_for(seen, timeout=15, every=0.2)
        # still running: the lines arrived while the task ran, not when it stopped
        assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
        assert messages.index("out 0") < messages.index("out 3")
        found = logs.filter_log_events(logGroupName=group, filterPattern="err")["events"]
        assert found and all(e["logStreamName"] == stream for e in found)
        # the agent wrote as the execution role
        trail = server.client("cloudtrail").lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "CreateLogStream"}])["Events"]
        mine = [json.loads(e["CloudTrailEvent"]) for e in trail
                if stream in e["CloudTrailEvent"]]
        assert mine and mine[0]["userIdentity"]["arn"].startswith(
            f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/")
    finally:
        ecs.stop_task(task=arn)
    wait_status(ecs, "default", [arn], "STOPPED", timeout=30)
    # what it wrote last (until SIGKILL after stopTimeout) is there once the task is STOPPED
    last = _docker("logs", _name(arn, "app")).stdout.split("\n")[-2]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert last in [e["message"] for e in events]


def test_awslogs_without_the_group_stops_the_task_before_it_starts(server, ecs):
    group = unique("/ecs/missing")
    definition = _register(ecs, [{
        "name": "app", "command": ["sleep", "60"],
        "logConfiguration": _awslogs(group, **{"awslogs-stream-prefix": "p"})}])
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith(
        "ResourceInitializationError: failed to validate logger args")
    assert "ResourceNotFoundException" in stopped["stoppedReason"]
    assert "startedAt" not in stopped
    assert _task_containers(arn) == []



def test_awslogs_without_a_prefix_writes_to_the_container_id(server, ecs):
    group = unique("/ecs/noprefix")
    server.client("logs").create_log_group(logGroupName=group)
    definition = _register(ecs, [{"name": "app", "command": ["echo", "by id"],
                                  "logConfiguration": _awslogs(group)}])
    arn = _run(ecs, definition)
    wait_status(ecs, "default", [arn], "STOPPED", timeout=30)
    docker_id = _inspect(arn, "app")["Id"]
    events = server.client("logs").get_log_events(logGroupName=group,
                                                  logStreamName=docker_id)["events"]
    assert [e["message"] for e in events] == ["by id"]
    missing = _register(ecs, [{"name": "app", "command": ["echo", "x"],
                               "logConfiguration": _awslogs(unique("/ecs/none"))}])
    arn = _run(ecs, missing)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    assert stopped["stoppedReason"].startswith("ResourceInitializationError:")
    assert "exitCode" not in stopped["containers"][0] and _task_containers(arn) == []

# -- secrets -------------------------------------------------------------------------------------


def _exit_output(ecs: Any, arn: str, container: str = "app") -> str:
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=40)[0]
    output = _docker("logs", _name(arn, container)).stdout
    assert stopped["containers"][0].get("exitCode") == 0, (stopped, output)
    return output


def test_secrets_from_secrets_manager_and_parameter_store_reach_the_environment(server, ecs):
    sm, ssm = server.client("secretsmanager"), server.client("ssm")
    ssm_west = server.client("ssm", region="us-west-2")
    plain = sm.create_secret(Name=unique("db"), SecretString="s3cr3t-plain")["ARN"]
    doc = sm.create_secret(Name=unique("doc"), SecretString=json.dumps(
        {"user": "admin", "password": "s3cr3t-old"}))["ARN"]
    sm.put_secret_value(SecretId=doc, SecretString=json.dumps(
        {"user": "admin", "password": "s3cr3t-new"}))
    name = f"/app/{unique('token')}"
    ssm.put_parameter(Name=name, Value="s3cr3t-param", Type="SecureString")
    west = f"/west/{unique('p')}"
    ssm_west.put_parameter(Name=west, Value="s3cr3t-west", Type="String")
    west_arn = f"arn:aws:ssm:us-west-2:{ACCOUNT}:parameter{west}"
    role = _role(server, _allow("secretsmanager:GetSecretValue"),
                 _allow("ssm:GetParameters"))
    secrets = [{"name": "PLAIN", "valueFrom": plain},
               {"name": "NEW_PASSWORD", "valueFrom": f"{doc}:password::"},
               {"name": "OLD_PASSWORD", "valueFrom": f"{doc}:password:AWSPREVIOUS:"},
               {"name": "PARAM", "valueFrom": name},
               {"name": "WEST", "valueFrom": west_arn}]
    definition = _register(ecs, [{"name": "app", "command": [
        "sh", "-c", "echo $PLAIN $NEW_PASSWORD $OLD_PASSWORD $PARAM $WEST; env"],
        "secrets": secrets}], executionRoleArn=role)
    arn = _run(ecs, definition)
    output = _exit_output(ecs, arn)
    assert output.split("\n")[0] == "s3cr3t-plain s3cr3t-new s3cr3t-old s3cr3t-param s3cr3t-west"
    # the execution role's credentials never reach the container
    env = dict(line.split("=", 1) for line in output.split("\n")[1:] if "=" in line)
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI"} & set(env)
    # the values appear nowhere else: not in the task, the trail or the server's log
    described = json.dumps(ecs.describe_tasks(tasks=[arn]), default=str)
    trail = json.dumps(server.client("cloudtrail").lookup_events(MaxResults=50), default=str)
    server_log = server.log_path.read_text(errors="replace")
    for where in (described, trail, server_log):
        assert "s3cr3t" not in where


def test_a_secret_the_execution_role_may_not_read_stops_the_task(server, ecs):
    sm = server.client("secretsmanager")
    secret = sm.create_secret(Name=unique("denied"), SecretString="s3cr3t-denied")["ARN"]
    role = _role(server, _allow("ssm:GetParameters"))
    definition = _register(ecs, [{"name": "app", "command": ["sleep", "60"],
                                  "secrets": [{"name": "X", "valueFrom": secret}]}],
                           executionRoleArn=role)
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    assert stopped["stopCode"] == "TaskFailedToStart"
    reason = stopped["stoppedReason"]
    assert reason.startswith("ResourceInitializationError:") and secret in reason
    assert "AccessDeniedException" in reason and "s3cr3t" not in reason
    assert _task_containers(arn) == []


def test_a_missing_secret_or_parameter_stops_the_task_naming_it(server, ecs):
    role = _role(server, _allow(["secretsmanager:GetSecretValue", "ssm:GetParameters"]))
    missing = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{unique('gone')}-AbCdEf"
    parameter = f"/{unique('gone')}"
    for value_from, words in ((missing, "ResourceNotFoundException"),
                              (parameter, "invalid parameters")):
        definition = _register(ecs, [{"name": "app", "command": ["sleep", "60"],
                                      "secrets": [{"name": "X", "valueFrom": value_from}]}],
                               executionRoleArn=role)
        arn = _run(ecs, definition)
        stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert stopped["stoppedReason"].startswith("ResourceInitializationError:")
        assert value_from in stopped["stoppedReason"] and words in stopped["stoppedReason"]


def test_log_configuration_secret_options_are_resolved(server, ecs):
    """secretOptions fill log driver options: here the awslogs stream prefix comes from a
    parameter."""
    group = unique("/ecs/secret-options")
    name = f"/logs/{unique('prefix')}"
    server.client("ssm").put_parameter(Name=name, Value="from-ssm", Type="String")
    role = _role(server, _allow("ssm:GetParameters"),
                 _allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]))
    definition = _register(ecs, [{
        "name": "app", "command": ["sh", "-c", "echo hello"],
        "logConfiguration": {
            **_awslogs(group, **{"awslogs-create-group": "true"}),
            "secretOptions": [{"name": "awslogs-stream-prefix", "valueFrom": name}]}}],
        executionRoleArn=role)
    arn = _run(ecs, definition)
    _exit_output(ecs, arn)
    events = server.client("logs").get_log_events(
        logGroupName=group, logStreamName=f"from-ssm/app/{arn.rsplit('/', 1)[-1]}")["events"]
    assert [e["message"] for e in events] == ["hello"]


def test_a_separate_agent_resolves_secrets_with_the_execution_role(server, ecs, tmp_path):
    """`portside agent` gets the execution role's credentials from the control plane over its
    channel (role: execution) and reads the secret through the API."""
    import os
    import signal
    import sys

    secret = server.client("secretsmanager").create_secret(
        Name=unique("ext"), SecretString="s3cr3t-ext")["ARN"]
    role = _role(server, _allow("secretsmanager:GetSecretValue"))
    cluster = unique("ext")
    ecs.create_cluster(clusterName=cluster)
    state = tmp_path / "agent-state"
    agent = subprocess.Popen(
        [sys.executable, "-m", "portside", "agent", "--endpoint", server.endpoint,
         "--cluster", cluster, "--state-dir", str(state), "--cpu", "1024", "--memory", "1024",
         "--retention", "30"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    try:
        def connected() -> bool:
            arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
            return bool(arns) and ecs.describe_container_instances(
                cluster=cluster, containerInstances=arns)["containerInstances"][0][
                "agentConnected"]

        wait_for(connected, timeout=20)
        definition = _register(ecs, [{"name": "app", "command": ["sh", "-c", "echo $X"],
                                      "secrets": [{"name": "X", "valueFrom": secret}]}],
                               executionRoleArn=role)
        arn = ecs.run_task(cluster=cluster, taskDefinition=definition)["tasks"][0]["taskArn"]
        stopped = wait_status(ecs, cluster, [arn], "STOPPED", timeout=40)[0]
        assert stopped["containers"][0].get("exitCode") == 0, stopped
        assert _docker("logs", _name(arn, "app")).stdout == "s3cr3t-ext\n"
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        ids = _docker("ps", "-aq", "--filter",
                      f"label=portside.agent={agent_key(state)}").stdout.split()
        if ids:
            _docker("rm", "-f", *ids)


# -- images from portside's ECR ------------------------------------------------------------------


def _push(server: PortsideServer, tmp_path: Any, content: str) -> tuple[str, str]:
    """An image built offline from busybox, pushed to a new repository of portside's ECR and
    removed from the engine: its URI with tag, and its digest."""
    ecr = server.client("ecr")
    name = unique("team/app")
    uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    tag = f"{uri}:v1"
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN echo '{content}' > /marker.txt\n")
    env = {**server.cli_env(), "DOCKER_CONFIG": str(tmp_path / "docker")}
    password = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    import base64

    for args, stdin in ((["build", "-q", "-t", tag, str(context)], None),
                        (["login", "--username", "AWS", "--password-stdin", uri.split("/")[0]],
                         base64.b64decode(password).decode().split(":", 1)[1]),
                        (["push", tag], None), (["rmi", tag], None)):
        done = subprocess.run(["docker", *args], capture_output=True, text=True, env=env,
                              input=stdin, timeout=120)
        assert done.returncode == 0, done.stderr
    digest = ecr.describe_images(repositoryName=name)["imageDetails"][0]["imageDigest"]
    return tag, digest


ECR_PULL = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
            "ecr:BatchCheckLayerAvailability"]


def test_a_task_runs_from_an_image_pushed_to_portsides_ecr(server, ecs, tmp_path):
    tag, digest = _push(server, tmp_path, "from ecr")
    assert _docker("image", "inspect", tag).returncode != 0  # not on the engine any more
    role = _role(server, _allow(ECR_PULL))
    definition = _register(ecs, [{"name": "app", "image": tag,
                                  "command": ["cat", "/marker.txt"]}], executionRoleArn=role)
    arn = _run(ecs, definition)
    assert _exit_output(ecs, arn) == "from ecr\n"
    task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert task["pullStartedAt"] <= task["pullStoppedAt"] <= task["startedAt"]
    assert task["containers"][0]["imageDigest"] == digest
    _docker("rmi", "-f", tag)


def test_ecr_pulls_refused_to_the_execution_role_stop_the_task(server, ecs, tmp_path):
    tag, _ = _push(server, tmp_path, "refused")
    for statements in ([_allow("ecr:GetAuthorizationToken")], []):
        role = _role(server, *statements)
        definition = _register(ecs, [{"name": "app", "image": tag}], executionRoleArn=role)
        arn = _run(ecs, definition)
        stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=40)[0]
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert stopped["stoppedReason"].startswith("CannotPullContainerError:"), stopped
        # stoppedReason holds 255 characters; the container's reason all of Docker's words
        assert stopped["containers"][0]["reason"].startswith(stopped["stoppedReason"])
        assert "startedAt" not in stopped and stopped["pullStartedAt"]
        assert _task_containers(arn) == []
    # a tag that is not there
    role = _role(server, _allow(ECR_PULL))
    definition = _register(ecs, [{"name": "app", "image": tag.replace(":v1", ":nope")}],
                           executionRoleArn=role)
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=40)[0]
    assert stopped["stoppedReason"].startswith("CannotPullContainerError:"), stopped


def test_a_public_registry_image_fails_honestly_and_fast(ecs):
    definition = _register(ecs, [{"name": "app", "image": "docker.io/library/alpine:3.19"}])
    started = time.monotonic()
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    assert time.monotonic() - started < 15
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith("CannotPullContainerError: Error response from "
                                               "daemon:"), stopped
    assert stopped["pullStartedAt"] and stopped["pullStoppedAt"]


# -- volumes and mount points --------------------------------------------------------------------


def test_volumes_carry_data_between_containers_and_to_the_host(server, ecs, tmp_path):
    host_dir = tmp_path / "host-data"
    shared = unique("shared")
    write = ("echo from-writer > /data/host.txt && echo task > /task/t.txt && "
             "echo scratch > /scratch/s.txt && echo shared > /shared/s.txt")
    read = ("cat /data/host.txt /task/t.txt /scratch/s.txt /shared/s.txt && "
            "cat /ro/host.txt && (touch /ro/x 2>/dev/null && echo WRITABLE || echo READONLY) && "
            "(touch /task/x 2>/dev/null && echo WRITABLE || echo READONLY)")
    definition = _register(ecs, [
        {"name": "writer", "essential": False, "command": ["sh", "-c", write],
         "mountPoints": [{"sourceVolume": "host", "containerPath": "/data"},
                         {"sourceVolume": "task", "containerPath": "/task"},
                         {"sourceVolume": "scratch", "containerPath": "/scratch"},
                         {"sourceVolume": shared, "containerPath": "/shared"}]},
        {"name": "app", "command": ["sh", "-c", read],
         "dependsOn": [{"containerName": "writer", "condition": "SUCCESS"}],
         "volumesFrom": [{"sourceContainer": "writer", "readOnly": True}],
         "mountPoints": [{"sourceVolume": "host", "containerPath": "/ro", "readOnly": True}]}],
        volumes=[{"name": "host", "host": {"sourcePath": str(host_dir)}},
                 {"name": "task", "dockerVolumeConfiguration": {
                     "scope": "task", "driver": "local", "labels": {"kind": "task"}}},
                 {"name": "scratch", "host": {}},
                 {"name": shared, "dockerVolumeConfiguration": {
                     "scope": "shared", "autoprovision": True, "driver": "local",
                     "labels": {"kind": "shared"}}}])
    try:
        arn = _run(ecs, definition)
        output = _exit_output(ecs, arn, "app")
        assert output.split() == ["from-writer", "task", "scratch", "shared", "from-writer",
                                  "READONLY", "READONLY"]
        assert (host_dir / "host.txt").read_text() == "from-writer\n"
        # the task's volume is the task's; the shared one is the volume of that name
        task_volume = json.loads(_docker("volume", "inspect", f"portside-{arn.rsplit('/', 1)[-1]}"
                                                              "-task").stdout)[0]
        assert task_volume["Labels"]["kind"] == "task"
        assert task_volume["Labels"]["portside.task-arn"] == arn
        shared_volume = json.loads(_docker("volume", "inspect", shared).stdout)[0]
        assert shared_volume["Labels"]["kind"] == "shared"
        assert "portside.task-arn" not in shared_volume["Labels"]
    finally:
        users = _docker("ps", "-aq", "--filter", f"volume={shared}").stdout.split()
        if users:
            _docker("rm", "-f", *users)
        _docker("volume", "rm", "-f", shared)


def test_a_shared_volume_outlives_its_task_and_autoprovision_false_needs_it(server, ecs):
    name = unique("keep")
    volume = {"name": name, "dockerVolumeConfiguration": {
        "scope": "shared", "autoprovision": False, "driver": "local"}}
    mount = [{"sourceVolume": name, "containerPath": "/keep"}]
    try:
        reader = _register(ecs, [{"name": "app", "command": ["cat", "/keep/k.txt"],
                                  "mountPoints": mount}], volumes=[volume])
        arn = _run(ecs, reader)
        stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert stopped["stoppedReason"].startswith("CannotCreateVolumeError:")
        assert name in stopped["stoppedReason"]
        writer = _register(ecs, [{"name": "app", "command": ["sh", "-c", "echo kept > "
                                                              "/keep/k.txt"],
                                  "mountPoints": mount}],
                           volumes=[{**volume, "dockerVolumeConfiguration": {
                               **volume["dockerVolumeConfiguration"], "autoprovision": True}}])
        _exit_output(ecs, _run(ecs, writer))
        assert _exit_output(ecs, _run(ecs, reader)) == "kept\n"
    finally:  # the retained containers that use the volume first
        users = _docker("ps", "-aq", "--filter", f"volume={name}").stdout.split()
        if users:
            _docker("rm", "-f", *users)
        _docker("volume", "rm", "-f", name)


# -- task-level limits and Linux settings --------------------------------------------------------


def _cgroup_v1() -> bool:
    from pathlib import Path

    return Path("/sys/fs/cgroup/memory").is_dir()


def test_task_memory_holds_all_its_containers_together(server, ecs):
    """Neither container has a hard limit of its own; together they may use the task's 64 MiB:
    allocating 100 MiB is killed by the kernel (exit 137), 16 MiB is not."""
    definition = ecs.register_task_definition(family=unique("size"), cpu="256", memory="64",
                                              containerDefinitions=[
        {"name": "big", "image": BUSYBOX, "memoryReservation": 16, "essential": False,
         "command": ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=100M count=1"]},
        {"name": "small", "image": BUSYBOX, "memoryReservation": 16,
         "command": ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=16M count=1; sleep 1"],
         "dependsOn": [{"containerName": "big", "condition": "COMPLETE"}]}])[
        "taskDefinition"]["taskDefinitionArn"]
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=40)[0]
    codes = {c["name"]: c.get("exitCode") for c in stopped["containers"]}
    assert codes == {"big": 137, "small": 0}, stopped
    task_id = arn.rsplit("/", 1)[-1]
    inspected = _inspect(arn, "small")["HostConfig"]
    assert inspected["CgroupParent"] == f"/portside/{server.agent_key}/{task_id}"
    assert inspected["Memory"] == 0


def test_task_cpu_and_memory_are_the_cgroup_limits_of_the_task(server, ecs):
    from pathlib import Path

    definition = _register(ecs, [{"name": "app", "command": ["sleep", "60"], "stopTimeout": 1}],
                           cpu="512", memory="96")
    arn = _run(ecs, definition)
    task_id = arn.rsplit("/", 1)[-1]
    try:
        wait_status(ecs, "default", [arn], "RUNNING", timeout=30)
        if _cgroup_v1():
            root = Path("/sys/fs/cgroup")
            memory = root / "memory" / "portside" / server.agent_key / task_id
            assert (memory / "memory.limit_in_bytes").read_text().strip() == str(96 << 20)
            cpu = root / "cpu" / "portside" / server.agent_key / task_id
            assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
            assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
            container_id = _inspect(arn, "app")["Id"]
            assert (memory / container_id).is_dir()
        else:
            group = Path("/sys/fs/cgroup/portside") / server.agent_key / task_id
            assert (group / "memory.max").read_text().strip() == str(96 << 20)
            assert (group / "cpu.max").read_text().split() == ["50000", "100000"]
    finally:
        ecs.stop_task(task=arn)
    wait_status(ecs, "default", [arn], "STOPPED", timeout=30)


def test_ulimits_and_linux_parameters_reach_the_container(server, ecs):
    script = ("ulimit -n; cat /proc/1/comm; grep ' /scratch ' /proc/mounts | cut -d' ' -f4; "
              "df -m /dev/shm | tail -1 | awk '{print $2}'; "
              "grep CapEff /proc/self/status | awk '{print $2}'; "
              "touch /etc/x 2>/dev/null && echo writable || echo read-only")
    definition = _register(ecs, [{
        "name": "app", "command": ["sh", "-c", script], "readonlyRootFilesystem": True,
        "ulimits": [{"name": "nofile", "softLimit": 1234, "hardLimit": 2048}],
        "linuxParameters": {"initProcessEnabled": True, "sharedMemorySize": 32,
                            "capabilities": {"drop": ["ALL"]},
                            "tmpfs": [{"containerPath": "/scratch", "size": 8,
                                       "mountOptions": ["noexec"]}]}}])
    arn = _run(ecs, definition)
    lines = _exit_output(ecs, arn).split()
    assert lines[0] == "1234"
    assert lines[1] in ("docker-init", "tini")  # the init process is PID 1, not sh
    assert "noexec" in lines[2] and "size=8192k" in lines[2]
    assert lines[3] == "32"
    assert int(lines[4], 16) == 0  # every capability dropped
    assert lines[5] == "read-only"


def _start_agent(server: PortsideServer, cluster: str, state: Any) -> subprocess.Popen:
    import os
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "portside", "agent", "--endpoint", server.endpoint,
         "--cluster", cluster, "--state-dir", str(state), "--cpu", "1024", "--memory", "1024"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})


def test_awslogs_go_on_without_gaps_or_repeats_after_an_agent_restart(server, ecs, tmp_path):
    import signal

    cluster = unique("logs")
    ecs.create_cluster(clusterName=cluster)
    state = tmp_path / "agent-state"
    group = unique("/ecs/restart")
    agent = _start_agent(server, cluster, state)

    def connected() -> bool:
        arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
        return bool(arns) and ecs.describe_container_instances(
            cluster=cluster, containerInstances=arns)["containerInstances"][0]["agentConnected"]

    try:
        wait_for(connected, timeout=20)
        definition = _register(ecs, [{
            "name": "app", "stopTimeout": 1,
            "command": ["sh", "-c", "i=0; while true; do echo n $i; i=$((i+1)); sleep 0.1; done"],
            "logConfiguration": _awslogs(group, **{"awslogs-stream-prefix": "p",
                                                   "awslogs-create-group": "true"})}])
        arn = ecs.run_task(cluster=cluster, taskDefinition=definition)["tasks"][0]["taskArn"]
        wait_status(ecs, cluster, [arn], "RUNNING", timeout=20)
        stream = f"p/app/{arn.rsplit('/', 1)[-1]}"
        logs = server.client("logs")

        def numbers() -> list[int]:
            events, token = [], None
            while True:
                page = logs.get_log_events(logGroupName=group, logStreamName=stream,
                                           startFromHead=True, **({"nextToken": token}
                                                                  if token else {}))
                events += page["events"]
                if page["nextForwardToken"] == token:
                    return [int(e["message"].split()[1]) for e in events]
                token = page["nextForwardToken"]

        wait_for(lambda: len(numbers()) > 10, timeout=15, every=0.2)
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        time.sleep(1.5)  # output the dead agent never saw
        agent = _start_agent(server, cluster, state)
        wait_for(connected, timeout=20)
        before = max(numbers())
        wait_for(lambda: max(numbers()) > before + 20, timeout=20, every=0.2)
        ecs.stop_task(cluster=cluster, task=arn)
        wait_status(ecs, cluster, [arn], "STOPPED", timeout=30)
        found = numbers()
        assert found == list(range(len(found)))  # every line once, in order
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        ids = _docker("ps", "-aq", "--filter",
                      f"label=portside.agent={agent_key(state)}").stdout.split()
        if ids:
            _docker("rm", "-f", *ids)


# -- environment files and private registry credentials ------------------------------------------


def test_environment_files_from_s3_reach_the_environment(server, ecs):
    s3 = server.client("s3")
    bucket = unique("envfiles")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.env",
                  Body=b"# settings\nFROM_A=one\nSHARED=from-a\n\nOVERRIDDEN=file\n")
    s3.put_object(Bucket=bucket, Key="b.env", Body=b"FROM_B=two\nSHARED=from-b\n")
    role = _role(server, _allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    files = [{"type": "s3", "value": f"arn:aws:s3:::{bucket}/a.env"},
             {"type": "s3", "value": f"arn:aws:s3:::{bucket}/b.env"}]
    definition = _register(ecs, [{
        "name": "app", "command": ["sh", "-c", "echo $FROM_A $FROM_B $SHARED $OVERRIDDEN"],
        "environment": [{"name": "OVERRIDDEN", "value": "definition"}],
        "environmentFiles": files}], executionRoleArn=role)
    assert _exit_output(ecs, _run(ecs, definition)) == "one two from-a definition\n"
    missing = _register(ecs, [{"name": "app", "command": ["true"], "environmentFiles": [
        {"type": "s3", "value": f"arn:aws:s3:::{bucket}/none.env"}]}], executionRoleArn=role)
    arn = _run(ecs, missing)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"].startswith(
        "ResourceInitializationError: failed to download env files:")
    assert "none.env" in stopped["stoppedReason"] and _task_containers(arn) == []


def test_repository_credentials_are_read_with_the_execution_role(server, ecs):
    sm = server.client("secretsmanager")
    good = sm.create_secret(Name=unique("registry"), SecretString=json.dumps(
        {"username": "u", "password": "p"}))["ARN"]
    role = _role(server, _allow("secretsmanager:GetSecretValue", good))
    ran = _register(ecs, [{"name": "app", "command": ["true"],
                           "repositoryCredentials": {"credentialsParameter": good}}],
                    executionRoleArn=role)
    _exit_output(ecs, _run(ecs, ran))  # the image is cached: the credentials were readable
    denied = sm.create_secret(Name=unique("registry"), SecretString="{}")["ARN"]
    refused = _register(ecs, [{"name": "app", "command": ["true"],
                               "repositoryCredentials": {"credentialsParameter": denied}}],
                        executionRoleArn=role)
    arn = _run(ecs, refused)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    assert stopped["stoppedReason"].startswith("ResourceInitializationError:")
    assert denied in stopped["stoppedReason"] and "AccessDeniedException" in stopped[
        "stoppedReason"]
