"""The agent protocol under faults, with servers of their own: the control plane killed and
restarted under running tasks, an agent that stops heartbeating, an agent that lost its state,
stopped tasks past their retention, and who may hold a channel (IAM `ecs:Poll`)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest
from ecs_support import fleet_for, host, instance, register, unique, wait_for, wait_status
from server import PortsideServer
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from portside.agent.channel import CHANNEL_PATH, Identity, signed_headers


@pytest.fixture
def server(tmp_path):
    started = PortsideServer(tmp_path / "data", env={
        "PORTSIDE_ECS_AGENT_HEARTBEAT": "0.2", "PORTSIDE_ECS_AGENT_TIMEOUT": "1",
        "PORTSIDE_ECS_TASK_RETENTION": "2"}).start()
    yield started
    started.stop()


@pytest.fixture
def patient_server(tmp_path):
    """Timeouts a loaded machine cannot miss: what the kill test checks is that nothing is
    lost or restarted, not how fast a silent agent is given up."""
    started = PortsideServer(tmp_path / "data", env={
        "PORTSIDE_ECS_AGENT_HEARTBEAT": "0.5", "PORTSIDE_ECS_AGENT_TIMEOUT": "20",
        "PORTSIDE_ECS_TASK_RETENTION": "120"}).start()
    yield started
    started.stop()


def test_running_tasks_survive_a_control_plane_kill(patient_server):
    server = patient_server
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName="c")
    fleet = fleet_for(server)
    try:
        stays = host(fleet, "c")
        ends = host(fleet, "c", run_for=2.0, exit_codes={"app": 7})
        definition = register(ecs)
        kept = ecs.start_task(cluster="c", taskDefinition=definition,
                              containerInstances=[stays.container_instance_arn])["tasks"][0]
        ending = ecs.start_task(cluster="c", taskDefinition=definition,
                                containerInstances=[ends.container_instance_arn])["tasks"][0]
        before = wait_status(ecs, "c", [kept["taskArn"], ending["taskArn"]], "RUNNING")
        server.kill()  # kill -9: the essential container of `ending` exits while it is down
        asyncio.run(asyncio.sleep(2.5))
        server.start()
        ecs = server.client("ecs")
        wait_for(lambda: instance(ecs, "c", stays)["agentConnected"], timeout=15)
        after = {t["taskArn"]: t for t in ecs.describe_tasks(
            cluster="c", tasks=[kept["taskArn"], ending["taskArn"]])["tasks"]}
        assert after[kept["taskArn"]]["lastStatus"] == "RUNNING"
        assert after[kept["taskArn"]]["startedAt"] == before[0]["startedAt"]
        stopped = wait_status(ecs, "c", [ending["taskArn"]], "STOPPED", timeout=15)[0]
        assert stopped["stopCode"] == "EssentialContainerExited"
        assert stopped["containers"][0]["exitCode"] == 7
        ecs.stop_task(cluster="c", task=kept["taskArn"], reason="after the restart")
        wait_status(ecs, "c", [kept["taskArn"]], "STOPPED")
    finally:
        fleet.close()


def test_a_silent_agent_is_lost_after_the_timeout(server):
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName="c")
    arn = ecs.register_container_instance(cluster="c", totalResources=[
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024}])[
        "containerInstance"]["containerInstanceArn"]
    identity = Identity(server.endpoint, "us-east-1", "test", "test")
    url = f"{server.endpoint}{CHANNEL_PATH}?{urlencode({'containerInstance': arn})}"

    def connected() -> bool:
        found = ecs.describe_container_instances(cluster="c", containerInstances=[arn])
        return found["containerInstances"][0]["agentConnected"]

    async def silent_agent() -> tuple[bool, float]:
        async with connect(url.replace("http://", "ws://"), proxy=None,
                           additional_headers=signed_headers(identity, url)) as socket:
            await socket.send(json.dumps({"type": "hello", "tasks": []}))
            welcome = json.loads(await socket.recv())
            assert welcome["type"] == "welcome" and welcome["heartbeatTimeout"] == 1.0
            was_connected = await asyncio.to_thread(connected)
            started = asyncio.get_running_loop().time()
            with pytest.raises(Exception):  # noqa: B017 - the control plane closes the socket
                while True:
                    await socket.recv()
            return was_connected, asyncio.get_running_loop().time() - started

    was_connected, silent_for = asyncio.run(silent_agent())
    assert was_connected
    assert 0.5 < silent_for < 5
    wait_for(lambda: not connected())


def test_a_task_the_host_lost_is_stopped_when_its_agent_returns(server):
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName="c")
    fleet = fleet_for(server)
    try:
        worker = host(fleet, "c")
        arn = ecs.run_task(cluster="c", taskDefinition=register(ecs))["tasks"][0]["taskArn"]
        wait_status(ecs, "c", [arn], "RUNNING")
        fleet.stop(worker)
        worker.tasks.clear()  # the host rebooted and its agent's state is gone
        fleet.call(worker.start())
        stopped = wait_status(ecs, "c", [arn], "STOPPED")[0]
        assert stopped["stopCode"] == "EssentialContainerExited"
        assert "no longer known to the agent" in stopped["stoppedReason"]
    finally:
        fleet.close()


def test_stopped_tasks_are_describable_until_their_retention_ends(server):
    ecs = server.client("ecs")
    ecs.create_cluster(clusterName="c")
    fleet = fleet_for(server)
    try:
        host(fleet, "c")
        arn = ecs.run_task(cluster="c", taskDefinition=register(ecs))["tasks"][0]["taskArn"]
        ecs.stop_task(cluster="c", task=arn)
        wait_status(ecs, "c", [arn], "STOPPED")
        wait_for(lambda: ecs.describe_tasks(cluster="c", tasks=[arn])["failures"], timeout=10)
        assert ecs.describe_tasks(cluster="c", tasks=[arn])["failures"][0]["reason"] == "MISSING"
    finally:
        fleet.close()


def test_holding_a_channel_needs_ecs_poll(portside):
    iam, ecs = portside.client("iam"), portside.client("ecs")
    cluster = unique("poll")
    ecs.create_cluster(clusterName=cluster)
    arn = ecs.register_container_instance(cluster=cluster, totalResources=[])[
        "containerInstance"]["containerInstanceArn"]
    user = unique("agent")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    identity = Identity(portside.endpoint, "us-east-1", key["AccessKeyId"],
                        key["SecretAccessKey"])
    url = f"{portside.endpoint}{CHANNEL_PATH}?{urlencode({'containerInstance': arn})}"

    async def hold() -> str:
        async with connect(url.replace("http://", "ws://"), proxy=None,
                           additional_headers=signed_headers(identity, url)) as socket:
            await socket.send(json.dumps({"type": "hello", "tasks": []}))
            return json.loads(await socket.recv())["type"]

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(hold())
    assert refused.value.response.status_code == 403
    iam.put_user_policy(UserName=user, PolicyName="poll", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:Poll",
                                                "Resource": arn}]}))
    assert asyncio.run(hold()) == "welcome"


def test_overriding_a_role_at_run_task_needs_pass_role(portside):
    iam, root = portside.client("iam"), portside.client("ecs")
    cluster = unique("pass")
    root.create_cluster(clusterName=cluster)
    definition = register(root)
    user = unique("runner")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="run", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecs:RunTask",
                                                "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    ecs = portside.client("ecs", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    role = "arn:aws:iam::000000000000:role/task-role"
    with pytest.raises(Exception) as denied:
        ecs.run_task(cluster=cluster, taskDefinition=definition,
                     overrides={"taskRoleArn": role})
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "iam:PassRole" in denied.value.response["Error"]["Message"]
    with pytest.raises(Exception) as allowed:  # no role passed: past IAM, to placement
        ecs.run_task(cluster=cluster, taskDefinition=definition)
    assert allowed.value.response["Error"]["Message"] == \
        "No Container Instances were found in your cluster."
