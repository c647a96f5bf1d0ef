"""ECS tasks through boto3 and the AWS CLI, run by simulated hosts: RunTask with its overrides,
placement (every constraint and strategy, AWS's failure reasons), Fargate, StartTask, StopTask,
the lifecycle with its stop codes, DescribeTasks and ListTasks."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter

import pytest
from botocore.exceptions import ClientError
from ecs_support import (
    AWSVPC,
    container,
    fleet_for,
    host,
    instance,
    register,
    resource,
    tasks_in,
    unique,
    wait_for,
    wait_status,
)
from server import PortsideServer


@pytest.fixture(scope="module")
def ecs(portside):
    return portside.client("ecs")


@pytest.fixture(scope="module")
def fleet(portside):
    fleet = fleet_for(portside)
    yield fleet
    fleet.close()


@pytest.fixture
def cluster(ecs):
    name = unique("t")
    ecs.create_cluster(clusterName=name)
    return name


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Message"]


def arns_of(found: dict) -> list[str]:
    return [t["taskArn"] for t in found["tasks"]]


def stop_all(ecs, cluster: str, arns: list[str]) -> None:
    for arn in arns:
        ecs.stop_task(cluster=cluster, task=arn)


# -- RunTask -----------------------------------------------------------------------------------


def test_run_task_answers_pending_at_once_and_the_host_runs_it(ecs, fleet, cluster):
    worker = host(fleet, cluster, start_delay=0.3)
    definition = register(ecs, containerDefinitions=[
        container("web", memory=256, cpu=128), container("sidecar", memory=64)])
    started = time.monotonic()
    found = ecs.run_task(cluster=cluster, taskDefinition=definition, startedBy="me")
    assert time.monotonic() - started < 0.25  # it does not wait for the host
    task = found["tasks"][0]
    family = definition.rsplit("/", 1)[1].split(":")[0]
    assert task["taskArn"].startswith(f"arn:aws:ecs:us-east-1:000000000000:task/{cluster}/")
    assert len(task["taskArn"].rsplit("/", 1)[1]) == 32
    assert task["lastStatus"] == "PENDING" and task["desiredStatus"] == "RUNNING"
    assert task["containerInstanceArn"] == worker.container_instance_arn
    assert task["group"] == f"family:{family}" and task["startedBy"] == "me"
    assert task["launchType"] == "EC2" and task["version"] == 1
    assert task["availabilityZone"] == "us-east-1a"
    assert [(c["name"], c["lastStatus"], c["cpu"], c.get("memory"))
            for c in task["containers"]] == [("web", "PENDING", "128", "256"),
                                              ("sidecar", "PENDING", "0", "64")]
    assert task["overrides"]["containerOverrides"] == [{"name": "web"}, {"name": "sidecar"}]
    running = wait_status(ecs, cluster, [task["taskArn"]], "RUNNING")[0]
    assert running["connectivity"] == "CONNECTED"
    assert running["startedAt"] >= running["pullStoppedAt"] >= running["pullStartedAt"]
    assert all(c["lastStatus"] == "RUNNING" and c["runtimeId"] for c in running["containers"])
    assert running["version"] > task["version"]
    found = instance(ecs, cluster, worker)
    assert found["runningTasksCount"] == 1
    assert resource(found, "CPU") == 2048 - 128 and resource(found, "MEMORY") == 4096 - 320
    stop_all(ecs, cluster, [task["taskArn"]])


def test_run_task_count_and_launch_rules(ecs, cluster):
    definition = register(ecs)
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition, count=11)
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition, launchType="EC2",
                     capacityProviderStrategy=[{"capacityProvider": "FARGATE"}])
    assert message(exc) == ("Specifying both a launch type and capacity provider strategy is "
                            "not supported.")
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition, enableExecuteCommand=True)
    assert code(exc) == "UnsupportedFeatureException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=unique("missing"))
    assert code(exc) == "ClientException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition)
    assert message(exc) == "No Container Instances were found in your cluster."


def test_overrides_are_merged_as_aws_merges_them(ecs, fleet, cluster):
    host(fleet, cluster)
    definition = register(ecs, containerDefinitions=[
        container("app", memory=256, command=["serve"],
                  environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
        container("log", memory=64)])
    found = ecs.run_task(cluster=cluster, taskDefinition=definition, overrides={
        "containerOverrides": [{"name": "app", "command": ["work", "--once"],
                                "environment": [{"name": "B", "value": "x"},
                                                {"name": "C", "value": "3"}],
                                "memory": 512, "memoryReservation": 300}]})
    task = found["tasks"][0]
    assert task["overrides"]["containerOverrides"][0]["command"] == ["work", "--once"]
    assert task["overrides"]["containerOverrides"][1] == {"name": "log"}
    assert task["containers"][0]["memory"] == "512"
    assert task["containers"][0]["memoryReservation"] == "300"
    # What the host received: the definition with the overrides applied.
    received = wait_for(lambda: next((h.tasks[task["taskArn"]] for h in fleet.hosts
                                      if task["taskArn"] in h.tasks), None))
    app = received.definition["containerDefinitions"][0]
    assert app["command"] == ["work", "--once"]
    assert {e["name"]: e["value"] for e in app["environment"]} == {"A": "1", "B": "x", "C": "3"}
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition, overrides={
            "containerOverrides": [{"name": "nope", "command": ["x"]}]})
    assert message(exc) == ("Override for container named nope is not a container in the "
                            "TaskDefinition.")
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition, overrides={
            "containerOverrides": [{"name": "app", "command": ["x" * 9000]}]})
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition, overrides={
            "containerOverrides": [{"name": "app", "memory": 100, "memoryReservation": 200}]})
    assert code(exc) == "InvalidParameterException"
    stop_all(ecs, cluster, arns_of(found))


def test_task_level_overrides_change_what_the_task_reserves(ecs, fleet, cluster):
    worker = host(fleet, cluster)
    definition = register(ecs, cpu="256", memory="512")
    task = ecs.run_task(cluster=cluster, taskDefinition=definition,
                        overrides={"cpu": "1 vCPU", "memory": "1GB"})["tasks"][0]
    assert task["cpu"] == "1024" and task["memory"] == "1024"
    found = instance(ecs, cluster, worker)
    assert resource(found, "CPU") == 1024 and resource(found, "MEMORY") == 3072
    stop_all(ecs, cluster, [task["taskArn"]])


def test_tags_group_and_propagation(ecs, fleet, cluster):
    host(fleet, cluster)
    definition = register(ecs, tags=[{"key": "from", "value": "definition"}])
    task = ecs.run_task(cluster=cluster, taskDefinition=definition, group="batch:nightly",
                        propagateTags="TASK_DEFINITION", enableECSManagedTags=True,
                        tags=[{"key": "run", "value": "1"}])["tasks"][0]
    assert task["group"] == "batch:nightly"
    described = ecs.describe_tasks(cluster=cluster, tasks=[task["taskArn"]],
                                   include=["TAGS"])["tasks"][0]
    assert {t["key"]: t["value"] for t in described["tags"]} == {
        "from": "definition", "run": "1", "aws:ecs:clusterName": cluster}
    assert "tags" not in ecs.describe_tasks(cluster=cluster,
                                            tasks=[task["taskArn"]])["tasks"][0]
    stop_all(ecs, cluster, [task["taskArn"]])


def test_client_token_makes_run_task_idempotent(ecs, fleet, cluster):
    host(fleet, cluster)
    definition = register(ecs)
    first = ecs.run_task(cluster=cluster, taskDefinition=definition, count=2,
                         clientToken="token-1")
    again = ecs.run_task(cluster=cluster, taskDefinition=definition, count=2,
                         clientToken="token-1")
    assert arns_of(again) == arns_of(first)
    assert len(ecs.list_tasks(cluster=cluster, family=definition.rsplit("/", 1)[1]
                              .split(":")[0])["taskArns"]) == 2
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition, count=3,
                     clientToken="token-1")
    assert code(exc) == "ConflictException"
    stop_all(ecs, cluster, arns_of(first))


# -- networking --------------------------------------------------------------------------------


def test_network_configuration_is_checked_as_aws_checks_it(ecs, fleet, cluster):
    host(fleet, cluster)
    bridge = register(ecs)
    awsvpc = register(ecs, networkMode="awsvpc")
    cases = [
        (awsvpc, None, "Network Configuration must be provided when networkMode 'awsvpc' is "
                       "specified."),
        (bridge, AWSVPC, "Network Configuration is not valid for the given networkMode of "
                         "this task definition."),
        (awsvpc, {"awsvpcConfiguration": {"subnets": ["subnet-zz"]}}, None),
        (awsvpc, {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"],
                                          "securityGroups": ["nope"]}}, None),
        (awsvpc, {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"],
                                          "assignPublicIp": "ENABLED"}},
         "Assign public IP is not supported for this launch type."),
        (awsvpc, {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"] * 17}},
         None),
    ]
    for definition, network, expected in cases:
        with pytest.raises(ClientError) as exc:
            kwargs = {"networkConfiguration": network} if network else {}
            ecs.run_task(cluster=cluster, taskDefinition=definition, **kwargs)
        assert code(exc) in ("InvalidParameterException", "ValidationException")
        if expected:
            assert message(exc) == expected


def test_an_awsvpc_task_provisions_its_eni_before_it_runs(ecs, fleet, cluster):
    host(fleet, cluster)
    definition = register(ecs, networkMode="awsvpc")
    task = ecs.run_task(cluster=cluster, taskDefinition=definition,
                        networkConfiguration=AWSVPC)["tasks"][0]
    assert task["lastStatus"] == "PROVISIONING"
    (eni,) = task["attachments"]
    assert eni["type"] == "ElasticNetworkInterface" and eni["status"] == "PRECREATED"
    assert eni["details"] == [{"name": "subnetId", "value": "subnet-0123456789abcdef0"}]
    running = wait_status(ecs, cluster, [task["taskArn"]], "RUNNING")[0]
    (eni,) = running["attachments"]
    details = {d["name"]: d["value"] for d in eni["details"]}
    assert eni["status"] == "ATTACHED"
    assert details["networkInterfaceId"].startswith("eni-")
    assert details["privateIPv4Address"].startswith("169.254.")
    assert running["containers"][0]["networkInterfaces"] == [
        {"attachmentId": eni["id"], "privateIpv4Address": details["privateIPv4Address"]}]
    ecs.stop_task(cluster=cluster, task=task["taskArn"])
    stopped = wait_status(ecs, cluster, [task["taskArn"]], "STOPPED")[0]
    assert stopped["attachments"][0]["status"] == "DELETED"


def test_an_awsvpc_task_needs_the_task_eni_capability(ecs, fleet, cluster):
    worker = host(fleet, cluster, capabilities=())
    found = ecs.run_task(cluster=cluster, taskDefinition=register(ecs, networkMode="awsvpc"),
                         networkConfiguration=AWSVPC)
    assert found["tasks"] == []
    assert found["failures"] == [{"arn": worker.container_instance_arn, "reason": "ATTRIBUTE"}]


# -- placement ---------------------------------------------------------------------------------


def test_failures_name_the_missing_resource(ecs, fleet, cluster):
    worker = host(fleet, cluster, cpu=1024, memory=1024)
    cases = [
        (register(ecs, containerDefinitions=[container(memory=128, cpu=2048)]), "RESOURCE:CPU"),
        (register(ecs, containerDefinitions=[container(memory=2048)]), "RESOURCE:MEMORY"),
        (register(ecs, containerDefinitions=[container(portMappings=[
            {"containerPort": 22, "hostPort": 22}])]), "RESOURCE:PORTS"),
    ]
    for definition, reason in cases:
        found = ecs.run_task(cluster=cluster, taskDefinition=definition)
        assert found["tasks"] == []
        assert found["failures"] == [{"arn": worker.container_instance_arn, "reason": reason}]


def test_host_ports_collide_as_on_a_real_host(ecs, fleet, cluster):
    workers = [host(fleet, cluster), host(fleet, cluster)]
    definition = register(ecs, containerDefinitions=[container(portMappings=[
        {"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "hostPort": 5353,
                                                  "protocol": "udp"}])])
    found = ecs.run_task(cluster=cluster, taskDefinition=definition, count=3)
    assert len(found["tasks"]) == 2
    assert {t["containerInstanceArn"] for t in found["tasks"]} == {
        w.container_instance_arn for w in workers}
    assert sorted(f["reason"] for f in found["failures"]) == ["RESOURCE:PORTS"] * 2
    taken = resource(instance(ecs, cluster, workers[0]), "PORTS")
    assert "8080" in taken and "22" in taken
    assert resource(instance(ecs, cluster, workers[0]), "PORTS_UDP") == ["5353"]
    dynamic = register(ecs, containerDefinitions=[container(portMappings=[
        {"containerPort": 80, "hostPort": 0}])])
    many = ecs.run_task(cluster=cluster, taskDefinition=dynamic, count=4)
    assert len(many["tasks"]) == 4  # dynamic host ports reserve nothing up front
    running = wait_status(ecs, cluster, arns_of(many), "RUNNING")
    ports = [t["containers"][0]["networkBindings"][0]["hostPort"] for t in running]
    assert len(set(ports)) == 4 and all(p >= 32768 for p in ports)
    stop_all(ecs, cluster, arns_of(found) + arns_of(many))
    wait_status(ecs, cluster, arns_of(found), "STOPPED")
    assert "8080" not in resource(instance(ecs, cluster, workers[0]), "PORTS")


def test_distinct_instance_puts_each_task_of_the_group_on_its_own_instance(ecs, fleet, cluster):
    workers = [host(fleet, cluster) for _ in range(3)]
    definition = register(ecs)
    found = ecs.run_task(cluster=cluster, taskDefinition=definition, count=4,
                         placementConstraints=[{"type": "distinctInstance"}])
    assert len({t["containerInstanceArn"] for t in found["tasks"]}) == 3
    assert {f["reason"] for f in found["failures"]} == {
        "DistinctInstance placement constraint unsatisfied."}
    assert {f["arn"] for f in found["failures"]} == {w.container_instance_arn for w in workers}
    stop_all(ecs, cluster, arns_of(found))


def test_member_of_places_only_on_matching_instances(ecs, fleet, cluster):
    host(fleet, cluster, instance_type="t3.medium")
    m5 = host(fleet, cluster, instance_type="m5.xlarge", attributes={"stack": "prod"})
    definition = register(ecs)
    found = ecs.run_task(cluster=cluster, taskDefinition=definition, count=3,
                         placementConstraints=[{"type": "memberOf", "expression":
                                                "attribute:ecs.instance-type =~ m5.* and "
                                                "attribute:stack == prod"}])
    assert {t["containerInstanceArn"] for t in found["tasks"]} == {m5.container_instance_arn}
    refused = ecs.run_task(cluster=cluster, taskDefinition=definition,
                           placementConstraints=[{"type": "memberOf",
                                                  "expression": "attribute:stack == dev"}])
    assert refused["tasks"] == []
    assert {f["reason"] for f in refused["failures"]} == {
        "MemberOf placement constraint unsatisfied."}
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition,
                     placementConstraints=[{"type": "memberOf", "expression": "attribute: =="}])
    assert code(exc) == "InvalidParameterException"
    stop_all(ecs, cluster, arns_of(found))


def test_task_group_affinity_in_the_query_language(ecs, fleet, cluster):
    a, b = host(fleet, cluster), host(fleet, cluster)
    database = register(ecs)
    db = ecs.run_task(cluster=cluster, taskDefinition=database, group="database",
                      placementConstraints=[{"type": "memberOf", "expression":
                                             "ec2InstanceId == "
                                             + instance(ecs, cluster, b)["ec2InstanceId"]}])
    assert db["tasks"][0]["containerInstanceArn"] == b.container_instance_arn
    found = ecs.run_task(cluster=cluster, taskDefinition=register(ecs), count=2,
                         placementConstraints=[{"type": "memberOf",
                                                "expression": "not(task:group == database)"}])
    assert {t["containerInstanceArn"] for t in found["tasks"]} == {a.container_instance_arn}
    stop_all(ecs, cluster, arns_of(db) + arns_of(found))


def test_binpack_on_memory_fills_the_fullest_instance_first(ecs, fleet, cluster):
    roomy = host(fleet, cluster, memory=8192)
    tight = host(fleet, cluster, memory=2048)
    definition = register(ecs, containerDefinitions=[container(memory=512)])
    found = ecs.run_task(cluster=cluster, taskDefinition=definition, count=5,
                         placementStrategy=[{"type": "binpack", "field": "memory"}])
    placed = Counter(t["containerInstanceArn"] for t in found["tasks"])
    assert placed == {tight.container_instance_arn: 4, roomy.container_instance_arn: 1}
    stop_all(ecs, cluster, arns_of(found))


def test_spread_across_zones_then_binpack(ecs, fleet, cluster):
    zones = ["us-east-1a", "us-east-1a", "us-east-1b", "us-east-1c"]
    workers = [host(fleet, cluster, zone=z, memory=4096 + 1024 * i)
               for i, z in enumerate(zones)]
    definition = register(ecs)
    found = ecs.run_task(cluster=cluster, taskDefinition=definition, count=9,
                         placementStrategy=[
                             {"type": "spread", "field": "attribute:ecs.availability-zone"},
                             {"type": "binpack", "field": "memory"}])
    by_zone = Counter(t["availabilityZone"] for t in found["tasks"])
    assert by_zone == {"us-east-1a": 3, "us-east-1b": 3, "us-east-1c": 3}
    in_a = Counter(t["containerInstanceArn"] for t in found["tasks"]
                   if t["availabilityZone"] == "us-east-1a")
    assert in_a == {workers[0].container_instance_arn: 3}  # the fuller of the two in 1a
    stop_all(ecs, cluster, arns_of(found))


def test_spread_over_instances_and_random(ecs, fleet, cluster):
    workers = [host(fleet, cluster) for _ in range(3)]
    definition = register(ecs)
    spread = ecs.run_task(cluster=cluster, taskDefinition=definition, count=6,
                          placementStrategy=[{"type": "spread", "field": "instanceId"}])
    assert set(Counter(t["containerInstanceArn"] for t in spread["tasks"]).values()) == {2}
    randomly = ecs.run_task(cluster=cluster, taskDefinition=definition, count=10,
                            placementStrategy=[{"type": "random"}])
    assert {t["containerInstanceArn"] for t in randomly["tasks"]} <= {
        w.container_instance_arn for w in workers}
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=definition,
                     placementStrategy=[{"type": "binpack", "field": "disk"}])
    assert code(exc) == "InvalidParameterException"
    stop_all(ecs, cluster, arns_of(spread) + arns_of(randomly))


def test_no_instance_is_ever_overcommitted(ecs, fleet, cluster):
    workers = [host(fleet, cluster, cpu=1024, memory=1024) for _ in range(2)]
    definition = register(ecs, containerDefinitions=[container(memory=300, cpu=300)])
    placed = []
    for _ in range(3):
        placed += arns_of(ecs.run_task(cluster=cluster, taskDefinition=definition, count=3))
    assert len(placed) == 6  # three of 300 fit in 1024, per instance
    for worker in workers:
        found = instance(ecs, cluster, worker)
        assert resource(found, "CPU") == 124 and resource(found, "MEMORY") == 124
    stop_all(ecs, cluster, placed)


# -- Fargate -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fargate(fleet):
    """portside's Fargate capacity in this test server: one host serving three zones."""
    return host(fleet, "default", fargate_zones=("a", "b", "c"), cpu=64 * 1024,
                memory=256 * 1024)


def fargate_definition(ecs, **extra) -> str:
    return register(ecs, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                    cpu="256", memory="512", **extra)


def test_fargate_tasks_spread_across_zones(ecs, fargate, cluster):
    found = ecs.run_task(cluster=cluster, taskDefinition=fargate_definition(ecs), count=6,
                         launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                             "subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                             "assignPublicIp": "ENABLED"}})
    tasks = found["tasks"]
    assert Counter(t["availabilityZone"] for t in tasks) == {
        "us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 2}
    task = tasks[0]
    assert task["launchType"] == "FARGATE" and task["platformVersion"] == "1.4.0"
    assert task["platformFamily"] == "Linux" and task["ephemeralStorage"] == {"sizeInGiB": 20}
    assert "containerInstanceArn" not in task
    assert task["lastStatus"] == "PROVISIONING" and task["cpu"] == "256"
    wait_status(ecs, cluster, arns_of(found), "RUNNING")
    stop_all(ecs, cluster, arns_of(found))


def test_fargate_rules(ecs, fargate, cluster):
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=register(ecs), launchType="FARGATE",
                     networkConfiguration=AWSVPC)
    assert message(exc) == "Task definition does not support launch_type FARGATE."
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=fargate_definition(ecs),
                     launchType="FARGATE")
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=fargate_definition(ecs),
                     launchType="FARGATE", networkConfiguration=AWSVPC, platformVersion="9.9.9")
    assert code(exc) == "PlatformUnknownException"
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=cluster, taskDefinition=fargate_definition(ecs),
                     launchType="FARGATE", networkConfiguration=AWSVPC,
                     overrides={"cpu": "256", "memory": "4096"})
    assert code(exc) == "InvalidParameterException"


def test_fargate_without_capacity_lists_failures(tmp_path):
    """Fargate capacity serves every account and region, so a server of its own shows what
    RunTask answers while no Fargate host is connected."""
    server = PortsideServer(tmp_path / "data").start()
    try:
        ecs = server.client("ecs")
        ecs.create_cluster(clusterName="c")
        found = ecs.run_task(cluster="c", taskDefinition=fargate_definition(ecs), count=2,
                             launchType="FARGATE", networkConfiguration=AWSVPC)
        assert found["tasks"] == []
        assert [f["reason"] for f in found["failures"]] == [
            "Capacity is unavailable at this time. Please try again later or in a different "
            "availability zone"] * 2
    finally:
        server.stop()


def test_capacity_provider_strategy_splits_by_base_and_weight(ecs, fargate):
    name = unique("cp")
    ecs.create_cluster(clusterName=name, capacityProviders=["FARGATE", "FARGATE_SPOT"],
                       defaultCapacityProviderStrategy=[
                           {"capacityProvider": "FARGATE", "base": 2, "weight": 1},
                           {"capacityProvider": "FARGATE_SPOT", "weight": 3}])
    definition = fargate_definition(ecs)
    found = ecs.run_task(cluster=name, taskDefinition=definition, count=6,
                         networkConfiguration=AWSVPC)
    assert Counter(t["capacityProviderName"] for t in found["tasks"]) == {
        "FARGATE": 3, "FARGATE_SPOT": 3}
    assert {t["launchType"] for t in found["tasks"]} == {"FARGATE"}
    given = ecs.run_task(cluster=name, taskDefinition=definition, count=2,
                         networkConfiguration=AWSVPC,
                         capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT",
                                                    "weight": 1}])
    assert {t["capacityProviderName"] for t in given["tasks"]} == {"FARGATE_SPOT"}
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=unique("nocp"), taskDefinition=definition,
                     capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    assert code(exc) == "ClusterNotFoundException"
    stop_all(ecs, name, arns_of(found) + arns_of(given))


def test_an_instance_capacity_provider_places_on_its_members(ecs, fleet):
    provider = unique("cp")
    ecs.create_capacity_provider(name=provider, autoScalingGroupProvider={
        "autoScalingGroupArn": "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:"
                               "0f8c1a4b-1234-4d5e-9abc-0123456789ab:autoScalingGroupName/g"})
    name = unique("c")
    ecs.create_cluster(clusterName=name, capacityProviders=[provider],
                       defaultCapacityProviderStrategy=[{"capacityProvider": provider,
                                                         "weight": 1}])
    host(fleet, name)
    member = host(fleet, name, attributes={"portside.capacity-provider": provider})
    found = ecs.run_task(cluster=name, taskDefinition=register(ecs), count=3)
    assert {t["containerInstanceArn"] for t in found["tasks"]} == {
        member.container_instance_arn}
    assert {t["capacityProviderName"] for t in found["tasks"]} == {provider}
    assert instance(ecs, name, member)["capacityProviderName"] == provider
    stop_all(ecs, name, arns_of(found))


# -- StartTask ---------------------------------------------------------------------------------


def test_start_task_on_chosen_instances(ecs, fleet, cluster):
    small = host(fleet, cluster, memory=256)
    big = host(fleet, cluster)
    definition = register(ecs, containerDefinitions=[container(memory=512)])
    found = ecs.start_task(cluster=cluster, taskDefinition=definition, containerInstances=[
        small.container_instance_arn, big.container_instance_arn,
        "0123456789abcdef0123456789abcdef"])
    assert [t["containerInstanceArn"] for t in found["tasks"]] == [big.container_instance_arn]
    assert found["failures"] == [
        {"arn": small.container_instance_arn, "reason": "RESOURCE:MEMORY"},
        {"arn": "0123456789abcdef0123456789abcdef", "reason": "MISSING"}]
    stop_all(ecs, cluster, arns_of(found))


# -- StopTask and the lifecycle ------------------------------------------------------------


def test_stop_task_stops_with_the_users_reason_and_frees_the_host(ecs, fleet, cluster):
    worker = host(fleet, cluster, stop_exit_code=143)
    definition = register(ecs, tags=[])
    arn = ecs.run_task(cluster=cluster, taskDefinition=definition,
                       tags=[{"key": "k", "value": "v"}])["tasks"][0]["taskArn"]
    wait_status(ecs, cluster, [arn], "RUNNING")
    stopping = ecs.stop_task(cluster=cluster, task=arn, reason="done for today")["task"]
    assert stopping["desiredStatus"] == "STOPPED" and stopping["lastStatus"] == "STOPPING"
    assert stopping["stopCode"] == "UserInitiated"
    assert stopping["stoppedReason"] == "done for today" and "stoppingAt" in stopping
    stopped = wait_status(ecs, cluster, [arn], "STOPPED")[0]
    assert stopped["stoppedAt"] >= stopped["executionStoppedAt"] >= stopped["stoppingAt"]
    assert stopped["containers"][0]["exitCode"] == 143
    assert stopped["containers"][0]["lastStatus"] == "STOPPED"
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn], include=["TAGS"])["tasks"][0][
        "tags"] == []
    found = instance(ecs, cluster, worker)
    assert resource(found, "MEMORY") == 4096 and found["runningTasksCount"] == 0
    again = ecs.stop_task(cluster=cluster, task=arn, reason="again")["task"]
    assert again["stoppedReason"] == "done for today"
    with pytest.raises(ClientError) as exc:
        ecs.stop_task(cluster=cluster, task="0123456789abcdef0123456789abcdef")
    assert message(exc) == "The referenced task was not found."


def test_stop_task_without_a_reason(ecs, fleet, cluster):
    host(fleet, cluster)
    arn = arns_of(ecs.run_task(cluster=cluster, taskDefinition=register(ecs)))[0]
    assert ecs.stop_task(cluster=cluster, task=arn)["task"]["stoppedReason"] == \
        "Task stopped by user"


def test_an_essential_container_that_exits_stops_the_task(ecs, fleet, cluster):
    host(fleet, cluster, run_for=0.2, exit_codes={"app": 3})
    arn = arns_of(ecs.run_task(cluster=cluster, taskDefinition=register(ecs)))[0]
    stopped = wait_status(ecs, cluster, [arn], "STOPPED")[0]
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["containers"][0]["exitCode"] == 3


def test_a_task_that_fails_to_start(ecs, fleet, cluster):
    reason = "CannotPullContainerError: pull image manifest has been retried 1 time(s)"
    host(fleet, cluster, fail_start=reason)
    arn = arns_of(ecs.run_task(cluster=cluster, taskDefinition=register(ecs)))[0]
    stopped = wait_status(ecs, cluster, [arn], "STOPPED")[0]
    assert stopped["stopCode"] == "TaskFailedToStart"
    assert stopped["stoppedReason"] == reason
    assert "startedAt" not in stopped


# -- DescribeTasks, ListTasks --------------------------------------------------------------


def test_describe_tasks_reports_missing_ones(ecs, cluster):
    found = ecs.describe_tasks(cluster=cluster, tasks=["0123456789abcdef0123456789abcdef"])
    assert found["failures"] == [{"arn": "0123456789abcdef0123456789abcdef",
                                  "reason": "MISSING"}]


def test_list_tasks_filters_and_pages(ecs, fleet, cluster):
    one, two = host(fleet, cluster), host(fleet, cluster)
    web = register(ecs, family=unique("web"))
    job = register(ecs, family=unique("job"))
    webs = arns_of(ecs.run_task(cluster=cluster, taskDefinition=web, count=3, startedBy="ci"))
    jobs = arns_of(ecs.start_task(cluster=cluster, taskDefinition=job,
                                  containerInstances=[two.container_instance_arn]))
    web_family = web.rsplit("/", 1)[1].split(":")[0]
    assert sorted(ecs.list_tasks(cluster=cluster, family=web_family)["taskArns"]) == \
        sorted(webs)
    assert sorted(ecs.list_tasks(cluster=cluster, startedBy="ci")["taskArns"]) == sorted(webs)
    on_two = ecs.list_tasks(cluster=cluster, containerInstance=two.container_instance_arn)
    assert set(jobs) <= set(on_two["taskArns"])
    assert len(ecs.list_tasks(cluster=cluster, launchType="FARGATE")["taskArns"]) == 0
    pages = list(ecs.get_paginator("list_tasks").paginate(
        cluster=cluster, PaginationConfig={"PageSize": 2}))
    assert sorted(a for p in pages for a in p["taskArns"]) == sorted(webs + jobs)
    ecs.stop_task(cluster=cluster, task=webs[0])
    assert ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"] == [webs[0]]
    assert webs[0] not in ecs.list_tasks(cluster=cluster)["taskArns"]
    stop_all(ecs, cluster, webs[1:] + jobs)
    del one


def test_tasks_through_the_aws_cli(portside, ecs, fleet, cluster):
    host(fleet, cluster)
    definition = register(ecs)

    def aws(*args: str) -> dict:
        done = subprocess.run(["aws", "ecs", *args, "--output", "json"], env=portside.cli_env(),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    found = aws("run-task", "--cluster", cluster, "--task-definition", definition, "--count",
                "2", "--overrides", json.dumps({"containerOverrides": [
                    {"name": "app", "environment": [{"name": "K", "value": "v"}]}]}))
    arns = arns_of(found)
    wait_for(lambda: all(t["lastStatus"] == "RUNNING" for t in tasks_in(ecs, cluster, arns)))
    described = aws("describe-tasks", "--cluster", cluster, "--tasks", *arns)
    assert {t["lastStatus"] for t in described["tasks"]} == {"RUNNING"}
    stopped = aws("stop-task", "--cluster", cluster, "--task", arns[0], "--reason", "cli")
    assert stopped["task"]["stopCode"] == "UserInitiated"
    listed = aws("list-tasks", "--cluster", cluster)
    assert listed["taskArns"] == [arns[1]]
    stop_all(ecs, cluster, arns[1:])


def test_tasks_are_taggable_through_tag_resource(ecs, fleet, cluster):
    host(fleet, cluster)
    arn = arns_of(ecs.run_task(cluster=cluster, taskDefinition=register(ecs),
                               tags=[{"key": "a", "value": "1"}]))[0]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    ecs.untag_resource(resourceArn=arn, tagKeys=["a"])
    found = ecs.describe_tasks(cluster=cluster, tasks=[arn], include=["TAGS"])["tasks"][0]
    assert found["tags"] == [{"key": "b", "value": "2"}]
    stop_all(ecs, cluster, [arn])


def test_run_task_answered_tasks_survive_a_kill_with_their_resources(tmp_path):
    """RunTask answers only once its tasks and the instance's new resources are committed:
    after kill -9 and a restart, ListTasks and DescribeTasks see every task, and the instance
    still holds their memory (a later RunTask cannot over-commit it)."""
    server = PortsideServer(tmp_path / "data").start()
    fleet = fleet_for(server)
    try:
        ecs = server.client("ecs")
        ecs.create_cluster(clusterName="c")
        one = host(fleet, "c", memory=1280, start_delay=30.0)  # the tasks stay PENDING
        definition = register(ecs, containerDefinitions=[container(memory=128)])
        ran = arns_of(ecs.run_task(cluster="c", taskDefinition=definition, count=10))
        assert len(ran) == 10
        server.kill()
        server.start()
        ecs = server.client("ecs")
        assert sorted(ecs.list_tasks(cluster="c")["taskArns"]) == sorted(ran)
        found = ecs.describe_tasks(cluster="c", tasks=ran)["tasks"]
        assert {t["taskArn"] for t in found} == set(ran)
        assert {t["containerInstanceArn"] for t in found} == {one.container_instance_arn}
        assert resource(instance(ecs, "c", one), "MEMORY") == 0
        wait_for(lambda: instance(ecs, "c", one)["agentConnected"], timeout=15)
        more = ecs.run_task(cluster="c", taskDefinition=definition)
        assert more["tasks"] == [] and [f["reason"] for f in more["failures"]] == [
            "RESOURCE:MEMORY"]
    finally:
        fleet.close()
        server.stop()
