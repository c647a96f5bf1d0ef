"""What the batch pipeline needs from a restart of `portside up` under running tasks: a task's
containers keep their credentials endpoint (its port, id and token stay valid), as with ECS's
agent, so a worker started before a kill -9 finishes after it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from ecs_support import unique, wait_for, wait_status
from server import PortsideServer
from test_agent_docker import _inspect
from test_demo import _connected, _remove_containers

pytestmark = pytest.mark.docker


def _credentials(uri: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(uri, headers={"Authorization": token})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
    except OSError:
        return 0, {}


def test_a_running_task_keeps_its_credentials_endpoint_across_kill_9(tmp_path, busybox_image):
    data = tmp_path / "data"
    server = PortsideServer(data).start()
    try:
        wait_for(lambda: _connected(server), timeout=30)
        ecs, iam = server.client("ecs"), server.client("iam")
        role = iam.create_role(RoleName=unique("task"), AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]
        definition = ecs.register_task_definition(
            family=unique("t"), taskRoleArn=role["Arn"], containerDefinitions=[{
                "name": "a", "image": busybox_image, "memory": 32, "command": ["sleep", "120"],
                "stopTimeout": 1}])["taskDefinition"]["taskDefinitionArn"]
        arn = ecs.run_task(taskDefinition=definition)["tasks"][0]["taskArn"]
        wait_status(ecs, "default", [arn], "RUNNING", timeout=30)
        env = dict(e.split("=", 1) for e in _inspect(arn, "a")["Config"]["Env"])
        uri, token = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], \
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        assert _credentials(uri, token)[0] == 200

        server.kill()
        server.start()
        wait_for(lambda: _connected(server), timeout=30)
        deadline = time.monotonic() + 10
        while (found := _credentials(uri, token))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        status, body = found
        assert status == 200 and body["RoleArn"] == role["Arn"], body
        assert _credentials(uri, "wrong")[0] == 400
        assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"
        ecs.stop_task(task=arn)
        wait_status(ecs, "default", [arn], "STOPPED", timeout=30)
    finally:
        server.stop()
        _remove_containers(data)
