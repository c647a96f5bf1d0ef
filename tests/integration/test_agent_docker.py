"""The Docker agent end to end: `portside up` (which runs a local agent for the `default`
cluster) and `portside agent` processes, real containers on the local Docker Engine, driven with
boto3 as a user would. Every container and network the tests cause carries `portside.*` labels
and is removed by label afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_support import unique, wait_for, wait_status
from server import PortsideServer

from portside.agent.docker_agent import agent_key

pytestmark = pytest.mark.docker

BUSYBOX = "portside-test/busybox:latest"
RETENTION = "30"  # stopped containers stay long enough to read their output


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False,
                          timeout=60).stdout


def _remove_labelled(key: str) -> None:
    ids = _docker("ps", "-aq", "--filter", f"label=portside.agent={key}").split()
    if ids:
        _docker("rm", "-f", *ids)


def _connected(ecs: Any, cluster: str = "default") -> list[str]:
    """The cluster's instances once all have their channel open (RunTask places only there);
    nothing while the agent is still creating the cluster or connecting."""
    try:
        arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    except ClientError:
        return []
    found = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)[
        "containerInstances"] if arns else []
    return arns if found and all(i["agentConnected"] for i in found) else []


@pytest.fixture(scope="module")
def server(tmp_path_factory, docker_available):
    data = tmp_path_factory.mktemp("agent") / "data"
    started = PortsideServer(data, env={"PORTSIDE_AGENT_RETENTION": RETENTION}).start()
    wait_for(lambda: _connected(started.client("ecs")), timeout=20)
    yield started
    started.stop()
    _remove_labelled(agent_key(data / "agent"))


@pytest.fixture
def ecs(server):
    return server.client("ecs")


def _register(ecs: Any, containers: list[dict[str, Any]], **extra: Any) -> str:
    for container in containers:
        container.setdefault("image", BUSYBOX)
        container.setdefault("memory", 64)
    return ecs.register_task_definition(family=unique("t"), containerDefinitions=containers,
                                        **extra)["taskDefinition"]["taskDefinitionArn"]


def _run(ecs: Any, definition: str, **extra: Any) -> str:
    return ecs.run_task(taskDefinition=definition, **extra)["tasks"][0]["taskArn"]


def _logs(task_arn: str, container: str) -> str:
    return subprocess.run(["docker", "logs", f"portside-{task_arn.rsplit('/', 1)[-1]}-{container}"],
                          capture_output=True, text=True, check=False).stdout


def _inspect(task_arn: str, container: str) -> dict[str, Any]:
    return json.loads(_docker("inspect", f"portside-{task_arn.rsplit('/', 1)[-1]}-{container}"))[0]


AWSVPC = {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d"]}}}


def test_task_role_credentials_reach_boto3_in_the_container(server, ecs, python_boto3_image):
    iam = server.client("iam")
    role = iam.create_role(RoleName=unique("task"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))["Role"]
    script = ("import boto3, botocore\n"
              "print(boto3.client('sts').get_caller_identity()['Arn'])\n"
              "try:\n    boto3.client('sqs').list_queues(); print('ALLOWED')\n"
              "except botocore.exceptions.ClientError as e:\n"
              "    print('DENIED', e.response['Error']['Code'])\n")
    definition = _register(ecs, [{"name": "py", "image": python_boto3_image, "memory": 256,
                                  "command": ["python3", "-c", script]}],
                           networkMode="awsvpc", taskRoleArn=role["Arn"],
                           executionRoleArn=role["Arn"])
    arn = _run(ecs, definition, **AWSVPC)
    # python3 and boto3 start slowly on a loaded host: 60 s was not always enough
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=150)[0]
    assert stopped["containers"][0]["exitCode"] == 0, _logs(arn, "py")
    out = _logs(arn, "py").split()
    assert out[0].startswith(f"arn:aws:sts::000000000000:assumed-role/{role['RoleName']}/")
    assert out[1:] == ["DENIED", "AccessDeniedException"]
    env = dict(e.split("=", 1) for e in _inspect(arn, "py")["Config"]["Env"])
    uri = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert uri.startswith("http://169.254.170.2:")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"].startswith("http://169.254.170.2:")
    assert not any(k.startswith("AWS_ACCESS_KEY") or k == "AWS_SECRET_ACCESS_KEY" for k in env)


def test_the_credentials_endpoint_refuses_a_wrong_token(server, ecs):
    """Seen from the host (the endpoint address is local): a wrong token or id is refused with
    the agent's error codes, the right one served."""
    iam = server.client("iam")
    role = iam.create_role(RoleName=unique("task"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))["Role"]
    definition = _register(ecs, [{"name": "a", "command": ["sleep", "60"], "stopTimeout": 1}],
                           taskRoleArn=role["Arn"])
    arn = _run(ecs, definition, tags=[{"key": "team", "value": "a"}],
               propagateTags="TASK_DEFINITION")
    try:
        wait_status(ecs, "default", [arn], "RUNNING", timeout=20)
        env = dict(e.split("=", 1) for e in _inspect(arn, "a")["Config"]["Env"])
        uri, token = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], \
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

        def get(url: str, auth: str) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(url, headers={"Authorization": auth})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status, json.load(response)
            except urllib.error.HTTPError as exc:
                return exc.code, json.load(exc)

        status, body = get(uri, token)
        assert status == 200 and body["RoleArn"] == role["Arn"] and body["Token"]
        assert get(uri, "wrong") == (400, {"code": "InvalidIdInRequest", "message": body and
                                           "CredentialsV2Request: Credentials not found"})
        assert get(uri.rsplit("/", 1)[0] + "/nope", token)[1]["code"] == "InvalidIdInRequest"
        metadata = env["ECS_CONTAINER_METADATA_URI_V4"]
        with urllib.request.urlopen(metadata + "/task", timeout=5) as response:
            task = json.load(response)
        assert task["TaskARN"] == arn and task["KnownStatus"] == "RUNNING"
        assert task["Family"] and task["Revision"] == "1" and task["LaunchType"] == "EC2"
        assert task["Containers"][0]["DockerId"] == _inspect(arn, "a")["Id"]
        with urllib.request.urlopen(metadata + "/taskWithTags", timeout=5) as response:
            assert json.load(response)["TaskTags"] == {"team": "a"}
        with urllib.request.urlopen(metadata, timeout=5) as response:
            container = json.load(response)
        assert container["Name"] == "a" and container["KnownStatus"] == "RUNNING"
        assert container["Networks"][0]["NetworkMode"] == "bridge"
        with urllib.request.urlopen(metadata + "/task/stats", timeout=10) as response:
            stats = json.load(response)
        assert "memory_stats" in stats[container["DockerId"]]
    finally:
        ecs.stop_task(task=arn)
    wait_status(ecs, "default", [arn], "STOPPED", timeout=20)


def test_two_containers_of_an_awsvpc_task_talk_over_localhost(ecs):
    serve = "mkdir /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"
    fetch = ("for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O /tmp/o http://127.0.0.1:8080/ "
             "&& grep -q hello /tmp/o && exit 0; sleep 0.2; done; exit 1")
    definition = _register(ecs, [
        {"name": "server", "essential": False, "command": ["sh", "-c", serve],
         "stopTimeout": 2},
        {"name": "client", "command": ["sh", "-c", fetch],
         "dependsOn": [{"containerName": "server", "condition": "START"}]}],
        networkMode="awsvpc")
    arn = _run(ecs, definition, **AWSVPC)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    codes = {c["name"]: c.get("exitCode") for c in stopped["containers"]}
    assert codes["client"] == 0
    eni = stopped["attachments"][0]
    details = {d["name"]: d["value"] for d in eni["details"]}
    assert details["privateIPv4Address"].startswith("169.254.124.")
    assert details["networkInterfaceId"].startswith("eni-") and details["macAddress"]
    assert stopped["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] == \
        details["privateIPv4Address"]


def test_a_bridge_tasks_dynamic_port_answers_on_the_host(ecs):
    serve = "mkdir /www && echo hello > /www/index.html && exec httpd -f -p 8080 -h /www"
    definition = _register(ecs, [{"name": "web", "command": ["sh", "-c", serve],
                                  "stopTimeout": 1,
                                  "portMappings": [{"containerPort": 8080, "hostPort": 0}]}],
                           networkMode="bridge")
    arn = _run(ecs, definition)
    running = wait_status(ecs, "default", [arn], "RUNNING", timeout=20)[0]
    binding = running["containers"][0]["networkBindings"][0]
    assert binding["bindIP"] == "127.0.0.1" and binding["containerPort"] == 8080
    assert binding["hostPort"] > 0

    def answers() -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{binding['hostPort']}/",
                                        timeout=2) as response:
                return response.read()
        except OSError:
            return None

    assert wait_for(answers, timeout=10) == b"hello\n"
    ecs.stop_task(task=arn, reason="done")
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=20)[0]
    assert stopped["stopCode"] == "UserInitiated"


def test_an_essential_exit_stops_its_sibling_after_stop_timeout(ecs):
    definition = _register(ecs, [
        {"name": "quick", "command": ["sh", "-c", "sleep 1; exit 3"]},
        # sh as PID 1 ignores SIGTERM: only the SIGKILL after stopTimeout ends it
        {"name": "stubborn", "essential": False, "command": ["sh", "-c", "sleep 60"],
         "stopTimeout": 3}])
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=30)[0]
    assert stopped["stopCode"] == "EssentialContainerExited"
    codes = {c["name"]: c.get("exitCode") for c in stopped["containers"]}
    assert codes == {"quick": 3, "stubborn": 137}
    quick_end = _inspect(arn, "quick")["State"]["FinishedAt"]
    stubborn_end = _inspect(arn, "stubborn")["State"]["FinishedAt"]
    waited = _docker_seconds(stubborn_end) - _docker_seconds(quick_end)
    assert 2.8 <= waited < 10


def _docker_seconds(stamp: str) -> float:
    from datetime import datetime

    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")


def test_a_healthy_dependency_gates_its_dependant(ecs):
    definition = _register(ecs, [
        {"name": "db", "command": ["sh", "-c", "sleep 1; touch /tmp/ready; sleep 60"],
         "stopTimeout": 1,
         "healthCheck": {"command": ["CMD-SHELL", "test -f /tmp/ready"], "interval": 5,
                         "timeout": 2, "retries": 1}},
        {"name": "app", "command": ["sleep", "60"], "stopTimeout": 1,
         "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]}])
    arn = _run(ecs, definition)
    wait_status(ecs, "default", [arn], "RUNNING", timeout=30)
    db, app = _inspect(arn, "db"), _inspect(arn, "app")
    healthy_at = min(_docker_seconds(log["End"]) for log in db["State"]["Health"]["Log"]
                     if log["ExitCode"] == 0)
    assert _docker_seconds(app["State"]["StartedAt"]) >= healthy_at
    ecs.stop_task(task=arn)
    wait_status(ecs, "default", [arn], "STOPPED", timeout=20)


def test_a_missing_image_stops_the_task_without_running(ecs):
    definition = _register(ecs, [{"name": "a", "image": "portside-test/absent:never"}])
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=20)[0]
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["containers"][0]["reason"].startswith("CannotPullContainerError")
    assert "startedAt" not in stopped


def test_a_task_with_secrets_is_never_started_without_them(ecs):
    secret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf"
    definition = _register(ecs, [{"name": "a", "command": ["sleep", "60"],
                                  "secrets": [{"name": "DB", "valueFrom": secret}]}],
                           executionRoleArn="arn:aws:iam::000000000000:role/exec")
    arn = _run(ecs, definition)
    stopped = wait_status(ecs, "default", [arn], "STOPPED", timeout=20)[0]
    assert stopped["stoppedReason"].startswith("ResourceInitializationError")
    assert secret in stopped["stoppedReason"]


# -- restarts and faults ------------------------------------------------------------------------


def _agent(server: PortsideServer, cluster: str, state: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "portside", "agent", "--endpoint", server.endpoint,
         "--cluster", cluster, "--state-dir", str(state), "--cpu", "1024", "--memory", "1024"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
             **env})


def test_an_agent_killed_and_restarted_readopts_its_running_tasks(server, ecs, tmp_path):
    cluster = unique("k")
    ecs.create_cluster(clusterName=cluster)
    state = tmp_path / "agent-state"
    agent = _agent(server, cluster, state)
    try:
        wait_for(lambda: _connected(ecs, cluster), timeout=20)
        definition = _register(ecs, [{"name": "a", "command": ["sleep", "300"],
                                      "stopTimeout": 1}])
        arn = ecs.run_task(cluster=cluster, taskDefinition=definition)["tasks"][0]["taskArn"]
        wait_status(ecs, cluster, [arn], "RUNNING", timeout=20)
        before = _inspect(arn, "a")["State"]
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        agent = _agent(server, cluster, state)
        wait_for(lambda: _connected(ecs, cluster), timeout=20)
        time.sleep(0.5)
        assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0][
            "lastStatus"] == "RUNNING"
        after = _inspect(arn, "a")["State"]
        assert after["StartedAt"] == before["StartedAt"] and after["Running"]
        ecs.stop_task(cluster=cluster, task=arn)
        wait_status(ecs, cluster, [arn], "STOPPED", timeout=20)
        wait_for(lambda: not _docker("ps", "-aq", "--filter", f"label=portside.task-arn={arn}"),
                 timeout=10)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        _remove_labelled(agent_key(state))


def test_no_docker_engine_registers_no_instance(server, ecs, tmp_path):
    cluster = unique("nod")
    ecs.create_cluster(clusterName=cluster)
    agent = _agent(server, cluster, tmp_path / "s",
                   DOCKER_HOST=f"unix://{tmp_path}/no-such-docker.sock")
    _, err = agent.communicate(timeout=30)
    assert agent.returncode != 0
    assert b"docker" in err.lower()
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []


def test_a_control_plane_killed_with_its_agent_readopts_on_restart(tmp_path, docker_available):
    """`portside up` runs its agent in-process: kill -9 takes both down; the restarted one
    finds the task's container by its labels, running, not restarted, and StopTask works."""
    data = tmp_path / "data"
    server = PortsideServer(data).start()
    try:
        ecs = server.client("ecs")
        wait_for(lambda: _connected(ecs), timeout=20)
        definition = _register(ecs, [{"name": "a", "command": ["sleep", "300"],
                                      "stopTimeout": 1}])
        arn = _run(ecs, definition)
        started = wait_status(ecs, "default", [arn], "RUNNING", timeout=20)[0]["startedAt"]
        before = _inspect(arn, "a")["State"]
        server.kill()
        server.start()
        ecs = server.client("ecs")
        wait_for(lambda: _connected(ecs), timeout=20)
        task = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        assert task["lastStatus"] == "RUNNING" and task["startedAt"] == started
        after = _inspect(arn, "a")["State"]
        assert after["StartedAt"] == before["StartedAt"] and after["Running"]
        ecs.stop_task(task=arn)
        wait_status(ecs, "default", [arn], "STOPPED", timeout=20)
    finally:
        server.stop()
        _remove_labelled(agent_key(data / "agent"))


def test_fargate_runs_right_after_portside_up(tmp_path, docker_available):
    """`portside up` runs a Fargate host too: a FARGATE task runs in awsvpc, its containers
    sharing one namespace with an address on portside's task network."""
    data = tmp_path / "data"
    server = PortsideServer(data, env={"PORTSIDE_LOCAL_AGENTS": "fargate"}).start()
    try:
        ecs = server.client("ecs")
        ecs.create_cluster(clusterName="f")
        definition = _register(ecs, [{"name": "a", "command": ["sleep", "300"],
                                      "stopTimeout": 1}], requiresCompatibilities=["FARGATE"],
                               networkMode="awsvpc", cpu="256", memory="512")

        def run() -> list[dict[str, Any]]:
            return ecs.run_task(cluster="f", taskDefinition=definition, launchType="FARGATE",
                                **AWSVPC)["tasks"]

        arn = wait_for(run, timeout=20)[0]["taskArn"]
        task = wait_status(ecs, "f", [arn], "RUNNING", timeout=20)[0]
        address = task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        assert address.startswith("169.254.124.") and task["launchType"] == "FARGATE"
        assert _inspect(arn, "a")["HostConfig"]["NetworkMode"].startswith("container:")
        ecs.stop_task(cluster="f", task=arn)
        wait_status(ecs, "f", [arn], "STOPPED", timeout=20)
    finally:
        server.stop()
        _remove_labelled(agent_key(data / "fargate"))


def test_a_separate_agent_gets_task_role_credentials_over_the_channel(server, ecs, tmp_path):
    """`portside agent` cannot call STS as ecs-tasks.amazonaws.com itself: the control plane
    assumes the role of a task assigned to that host and answers on the channel."""
    role = server.client("iam").create_role(
        RoleName=unique("task"), AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]
    cluster = unique("cred")
    ecs.create_cluster(clusterName=cluster)
    state = tmp_path / "agent-state"
    agent = _agent(server, cluster, state)
    try:
        wait_for(lambda: _connected(ecs, cluster), timeout=20)
        definition = _register(ecs, [{"name": "a", "command": ["sleep", "60"],
                                      "stopTimeout": 1}], taskRoleArn=role["Arn"])
        arn = ecs.run_task(cluster=cluster, taskDefinition=definition)["tasks"][0]["taskArn"]
        wait_status(ecs, cluster, [arn], "RUNNING", timeout=20)
        env = dict(e.split("=", 1) for e in _inspect(arn, "a")["Config"]["Env"])
        request = urllib.request.Request(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={
            "Authorization": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        assert body["RoleArn"] == role["Arn"] and body["AccessKeyId"] and body["Token"]
        ecs.stop_task(cluster=cluster, task=arn)
        wait_status(ecs, cluster, [arn], "STOPPED", timeout=20)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        _remove_labelled(agent_key(state))
