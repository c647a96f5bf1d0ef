"""The events ECS publishes on the internal bus, in-process: "ECS Task State Change" for every
change of a task (its version counting them, duplicates sharing one), "ECS Container Instance
State Change" for registrations, connections and resource changes, in AWS's shape
(ecs_cwe_events.html)."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import select

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.events.bus import bus_events
from portside.runtime import Runtime
from portside.services.ecs.state import cluster_scope

ACCOUNT = "000000000000"
REGION = "us-east-1"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def runtime(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


@pytest.fixture
def ctx():
    return RequestContext(ACCOUNT, REGION, Principal.root(ACCOUNT), None, "req", "127.0.0.1")


def published(runtime: Runtime, detail_type: str) -> list[dict]:
    with runtime.store.begin() as conn:
        rows = conn.execute(select(bus_events.c.event).where(
            bus_events.c.detail_type == detail_type).order_by(bus_events.c.seq)).scalars()
        return [json.loads(r) for r in rows]


def connected_instance(runtime: Runtime, ctx: RequestContext) -> str:
    ecs = runtime.services["ecs"]
    ecs.create_cluster(ctx, {"clusterName": "c"})
    arn = ecs.register_container_instance(ctx, {"cluster": "c", "totalResources": [
        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 2048}]})[
        "containerInstance"]["containerInstanceArn"]
    with ecs.state.write(cluster_scope(ACCOUNT, REGION, "c")) as (conn, view):
        for host in view.hosts.values():  # what its agent's hello does
            ecs.state.instance_changed(conn, view, host, time.time(), agent_connected=True)
    return arn


def test_a_task_publishes_each_change_with_its_version(runtime, ctx):
    ecs = runtime.services["ecs"]
    connected_instance(runtime, ctx)
    ecs.register_task_definition(ctx, {"family": "web", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 128}]})
    task = ecs.run_task(ctx, {"cluster": "c", "taskDefinition": "web"})["tasks"][0]
    report = {"cluster": "c", "task": task["taskArn"]}
    ecs.submit_task_state_change(ctx, {**report, "status": "RUNNING", "containers": [
        {"containerName": "app", "status": "RUNNING", "runtimeId": "abc"}]})
    ecs.submit_task_state_change(ctx, {**report, "status": "RUNNING"})  # a repeat: no change
    ecs.stop_task(ctx, {"cluster": "c", "task": task["taskArn"], "reason": "enough"})
    ecs.submit_task_state_change(ctx, {**report, "status": "STOPPED", "containers": [
        {"containerName": "app", "status": "STOPPED", "exitCode": 0}]})

    found = published(runtime, "ECS Task State Change")
    assert [(e["detail"]["lastStatus"], e["detail"]["desiredStatus"]) for e in found] == [
        ("PENDING", "RUNNING"), ("RUNNING", "RUNNING"), ("STOPPING", "STOPPED"),
        ("STOPPED", "STOPPED")]
    assert [e["detail"]["version"] for e in found] == [1, 2, 3, 4]
    last = found[-1]
    assert last["source"] == "aws.ecs" and last["version"] == "0"
    assert last["account"] == ACCOUNT and last["region"] == REGION
    assert last["resources"] == [task["taskArn"]]
    detail = last["detail"]
    for key in ("createdAt", "startedAt", "stoppingAt", "stoppedAt", "executionStoppedAt",
                "updatedAt"):
        assert ISO.fullmatch(detail[key]), key
    assert detail["stopCode"] == "UserInitiated" and detail["stoppedReason"] == "enough"
    assert detail["containers"][0]["exitCode"] == 0
    described = ecs.describe_tasks(ctx, {"cluster": "c", "tasks": [task["taskArn"]]})
    assert described["tasks"][0]["version"] == 4  # the API and the events agree


def test_container_instances_publish_registration_connection_and_resources(runtime, ctx):
    ecs = runtime.services["ecs"]
    arn = connected_instance(runtime, ctx)
    ecs.register_task_definition(ctx, {"family": "web", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 512, "cpu": 256}]})
    task = ecs.run_task(ctx, {"cluster": "c", "taskDefinition": "web"})["tasks"][0]
    ecs.submit_task_state_change(ctx, {"cluster": "c", "task": task["taskArn"],
                                       "status": "STOPPED"})
    found = published(runtime, "ECS Container Instance State Change")
    details = [e["detail"] for e in found]
    assert [d["agentConnected"] for d in details] == [False, True, True, True]
    memory = [next(r["integerValue"] for r in d["remainingResources"] if r["name"] == "MEMORY")
              for d in details]
    assert memory == [2048, 2048, 1536, 2048]  # registered, connected, placed, released
    assert [d["version"] for d in details] == [1, 2, 3, 4]
    assert all(d["clusterArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c" for d in details)
    assert all(e["resources"] == [arn] for e in found)
    assert ISO.fullmatch(details[0]["registeredAt"])


def test_a_task_that_stops_on_its_own_gets_its_stop_code(runtime, ctx):
    ecs = runtime.services["ecs"]
    connected_instance(runtime, ctx)
    ecs.register_task_definition(ctx, {"family": "job", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 128}]})
    ran, never = (ecs.run_task(ctx, {"cluster": "c", "taskDefinition": "job"})["tasks"][0]
                  for _ in range(2))
    ecs.submit_task_state_change(ctx, {"cluster": "c", "task": ran["taskArn"],
                                       "status": "RUNNING"})
    ecs.submit_container_state_change(ctx, {"cluster": "c", "task": ran["taskArn"],
                                            "containerName": "app", "status": "STOPPED",
                                            "exitCode": 2})
    ecs.submit_task_state_change(ctx, {"cluster": "c", "task": ran["taskArn"],
                                       "status": "STOPPED"})
    ecs.submit_task_state_change(ctx, {"cluster": "c", "task": never["taskArn"],
                                       "status": "STOPPED",
                                       "reason": "CannotPullContainerError: no such image"})
    found = {t["taskArn"]: t for t in ecs.describe_tasks(ctx, {
        "cluster": "c", "tasks": [ran["taskArn"], never["taskArn"]]})["tasks"]}
    assert found[ran["taskArn"]]["stopCode"] == "EssentialContainerExited"
    assert found[ran["taskArn"]]["stoppedReason"] == "Essential container in task exited"
    assert found[ran["taskArn"]]["containers"][0]["exitCode"] == 2
    assert found[never["taskArn"]]["stopCode"] == "TaskFailedToStart"
    assert found[never["taskArn"]]["stoppedReason"] == "CannotPullContainerError: no such image"


def test_stopped_tasks_are_purged_after_their_retention(runtime, ctx):
    ecs = runtime.services["ecs"]
    connected_instance(runtime, ctx)
    ecs.register_task_definition(ctx, {"family": "job", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 128}]})
    task = ecs.run_task(ctx, {"cluster": "c", "taskDefinition": "job"})["tasks"][0]
    ecs.submit_task_state_change(ctx, {"cluster": "c", "task": task["taskArn"],
                                       "status": "STOPPED"})
    assert ecs.purge_stopped(time.time() - 3600) == 0  # stopped moments ago: kept
    assert ecs.purge_stopped(time.time() + 1) == 1
    found = ecs.describe_tasks(ctx, {"cluster": "c", "tasks": [task["taskArn"]]})
    assert found["failures"] == [{"arn": task["taskArn"], "reason": "MISSING"}]


def test_a_task_row_and_its_event_say_the_same_from_one_encoding():
    """The row keeps epoch seconds and the tags; the event has ISO 8601 times, an updatedAt
    and no tags; every other member is the same in both."""
    from portside.services.ecs import events

    task = {"taskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/0123", "version": 3,
            "lastStatus": "RUNNING", "createdAt": 1700000000.25, "startedAt": 1700000001.5,
            "containers": [{"name": "app", "reason": "quote \" and ünïcode"}]}
    tags = [{"key": "team", "value": "blue"}]
    document, event = events.encode_task(ACCOUNT, REGION, task, tags, 1700000002.0)

    assert json.loads(document) == {**task, "tags": tags}
    found = json.loads(event.text)
    assert (event.source, event.detail_type) == ("aws.ecs", "ECS Task State Change")
    assert found["detail"] == {**task, "createdAt": "2023-11-14T22:13:20.250Z",
                               "startedAt": "2023-11-14T22:13:21.500Z",
                               "updatedAt": "2023-11-14T22:13:22.000Z"}
    assert found["source"] == "aws.ecs" and found["detail-type"] == "ECS Task State Change"
    assert found["resources"] == [task["taskArn"]] and found["time"] == "2023-11-14T22:13:22Z"
    assert (found["account"], found["region"], found["version"]) == (ACCOUNT, REGION, "0")
    assert re.fullmatch(r"[0-9a-f-]{36}", found["id"])


@pytest.mark.parametrize("reason", ["ünïcode \" \\ \n", "lone \ud800 surrogate"])
def test_a_task_encodes_as_json_reads_it_whatever_its_strings(reason):
    """orjson writes the documents; a string it refuses (a lone surrogate, which a JSON
    request can carry) is written by json instead. Either way json.loads reads back the same
    task, its timestamps the same floats."""
    from portside.services.ecs import events

    task = {"taskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/1", "version": 1,
            "createdAt": 1700000000.123456, "containers": [{"name": "app", "reason": reason}],
            "overrides": {"containerOverrides": [{"name": "app", "memory": 2**40}]}}
    document, event = events.encode_task(ACCOUNT, REGION, task, [{"key": reason}], 1.5)

    assert json.loads(document) == {**task, "tags": [{"key": reason}]}
    assert json.loads(event.text)["detail"]["containers"] == task["containers"]
