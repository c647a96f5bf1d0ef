"""ECS container instances through boto3 and the AWS CLI, with simulated hosts: what an agent
registers, the built-in attributes, resources, DRAINING, attributes, the cluster query language
filter, deregistration and the agent's connection."""

from __future__ import annotations

import json
import subprocess

import pytest
from botocore.exceptions import ClientError
from ecs_support import (
    fleet_for,
    host,
    instance,
    register,
    resource,
    unique,
    wait_for,
    wait_status,
)


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
    name = unique("ci")
    ecs.create_cluster(clusterName=name)
    return name


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_an_agent_registers_its_resources_attributes_and_version(ecs, fleet, cluster):
    worker = host(fleet, cluster, cpu=4096, memory=7680, zone="us-east-1c",
                  instance_type="c5.xlarge", attributes={"stack": "prod"})
    found = instance(ecs, cluster, worker)
    assert found["containerInstanceArn"].startswith(
        f"arn:aws:ecs:us-east-1:000000000000:container-instance/{cluster}/")
    assert found["ec2InstanceId"].startswith("i-")
    assert found["status"] == "ACTIVE" and found["agentConnected"] is True
    assert found["versionInfo"]["agentVersion"]
    assert resource(found, "CPU", "registeredResources") == 4096
    assert resource(found, "MEMORY", "registeredResources") == 7680
    assert resource(found, "PORTS", "registeredResources") == [
        "22", "2375", "2376", "51678", "51679"]
    assert resource(found, "PORTS_UDP", "registeredResources") == []
    assert resource(found, "CPU") == 4096
    attributes = {a["name"]: a.get("value") for a in found["attributes"]}
    assert attributes["ecs.availability-zone"] == "us-east-1c"
    assert attributes["ecs.instance-type"] == "c5.xlarge"
    assert attributes["ecs.os-type"] == "linux"
    assert attributes["ecs.cpu-architecture"] == "x86_64"
    assert attributes["stack"] == "prod"
    assert "ecs.capability.task-eni" in attributes
    assert "com.amazonaws.ecs.capability.docker-remote-api.1.44" in attributes


def test_registration_reads_the_instance_identity_document(ecs, cluster):
    document = json.dumps({"instanceId": "i-0abc1234def567890", "availabilityZone": "us-east-1b",
                           "instanceType": "t3.large", "imageId": "ami-0123456789abcdef0",
                           "architecture": "arm64", "region": "us-east-1"})
    found = ecs.register_container_instance(
        cluster=cluster, instanceIdentityDocument=document,
        totalResources=[{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                        {"name": "MEMORY", "type": "INTEGER", "integerValue": 3790}],
        tags=[{"key": "owner", "value": "me"}])["containerInstance"]
    assert found["ec2InstanceId"] == "i-0abc1234def567890"
    attributes = {a["name"]: a.get("value") for a in found["attributes"]}
    assert attributes["ecs.availability-zone"] == "us-east-1b"
    assert attributes["ecs.instance-type"] == "t3.large"
    assert attributes["ecs.ami-id"] == "ami-0123456789abcdef0"
    assert attributes["ecs.cpu-architecture"] == "arm64"
    assert found["agentConnected"] is False  # no agent holds its channel
    assert found["tags"] == [{"key": "owner", "value": "me"}]


def test_registering_in_a_missing_cluster_is_cluster_not_found(ecs):
    with pytest.raises(ClientError) as exc:
        ecs.register_container_instance(cluster=unique("nope"), totalResources=[])
    assert code(exc) == "ClusterNotFoundException"


def test_draining_instances_get_no_new_tasks(ecs, fleet, cluster):
    busy, spare = host(fleet, cluster), host(fleet, cluster)
    drained = ecs.update_container_instances_state(
        cluster=cluster, containerInstances=[spare.container_instance_arn],
        status="DRAINING")["containerInstances"][0]
    assert drained["status"] == "DRAINING"
    definition = register(ecs)
    placed = ecs.run_task(cluster=cluster, taskDefinition=definition, count=6)["tasks"]
    assert {t["containerInstanceArn"] for t in placed} == {busy.container_instance_arn}
    listed = ecs.list_container_instances(cluster=cluster, status="DRAINING")
    assert listed["containerInstanceArns"] == [spare.container_instance_arn]
    with pytest.raises(ClientError) as exc:
        ecs.update_container_instances_state(
            cluster=cluster, containerInstances=[spare.container_instance_arn],
            status="REGISTERING")
    assert code(exc) == "InvalidParameterException"
    ecs.update_container_instances_state(cluster=cluster, status="ACTIVE",
                                         containerInstances=[spare.container_instance_arn])
    ecs.update_container_instances_state(cluster=cluster, status="DRAINING",
                                         containerInstances=[busy.container_instance_arn])
    again = ecs.run_task(cluster=cluster, taskDefinition=definition)["tasks"]
    assert again[0]["containerInstanceArn"] == spare.container_instance_arn
    for task in placed + again:
        ecs.stop_task(cluster=cluster, task=task["taskArn"])


def test_update_state_reports_missing_instances(ecs, cluster):
    found = ecs.update_container_instances_state(
        cluster=cluster, containerInstances=["0123456789abcdef0123456789abcdef"],
        status="DRAINING")
    assert found["failures"] == [{"arn": "0123456789abcdef0123456789abcdef",
                                  "reason": "MISSING"}]


def test_put_list_and_delete_attributes(ecs, fleet, cluster):
    worker = host(fleet, cluster)
    arn = worker.container_instance_arn
    ecs.put_attributes(cluster=cluster, attributes=[
        {"name": "tier", "value": "gold", "targetType": "container-instance", "targetId": arn},
        {"name": "gpu", "targetType": "container-instance", "targetId": arn}])
    listed = ecs.list_attributes(cluster=cluster, targetType="container-instance",
                                 attributeName="tier")["attributes"]
    assert listed == [{"name": "tier", "value": "gold", "targetType": "container-instance",
                       "targetId": arn}]
    by_value = ecs.list_attributes(cluster=cluster, targetType="container-instance",
                                   attributeName="tier", attributeValue="silver")
    assert by_value["attributes"] == []
    attributes = {a["name"]: a.get("value") for a in instance(ecs, cluster, worker)["attributes"]}
    assert attributes["tier"] == "gold" and "gpu" in attributes and attributes["gpu"] is None
    ecs.delete_attributes(cluster=cluster, attributes=[{"name": "tier", "targetId": arn}])
    assert ecs.list_attributes(cluster=cluster, targetType="container-instance",
                               attributeName="tier")["attributes"] == []


def test_attribute_rules(ecs, fleet, cluster):
    arn = host(fleet, cluster).container_instance_arn
    with pytest.raises(ClientError) as exc:
        ecs.put_attributes(cluster=cluster, attributes=[
            {"name": f"custom{i}", "value": "x", "targetId": arn} for i in range(11)])
    assert code(exc) == "AttributeLimitExceededException"
    with pytest.raises(ClientError) as exc:
        ecs.put_attributes(cluster=cluster, attributes=[
            {"name": "bad name!", "value": "x", "targetId": arn}])
    assert code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.put_attributes(cluster=cluster, attributes=[
            {"name": "x", "value": "y", "targetId": "0123456789abcdef0123456789abcdef"}])
    assert code(exc) == "TargetNotFoundException"


def test_list_filters_with_the_cluster_query_language(ecs, fleet, cluster):
    small = host(fleet, cluster, instance_type="t3.small", zone="us-east-1a")
    large = host(fleet, cluster, instance_type="m5.large", zone="us-east-1b")
    both = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    assert set(both) == {small.container_instance_arn, large.container_instance_arn}
    matched = ecs.list_container_instances(
        cluster=cluster, filter="attribute:ecs.instance-type =~ m5.*")["containerInstanceArns"]
    assert matched == [large.container_instance_arn]
    zone = ecs.list_container_instances(
        cluster=cluster, filter="attribute:ecs.availability-zone in [us-east-1a, us-east-1d]")
    assert zone["containerInstanceArns"] == [small.container_instance_arn]
    with pytest.raises(ClientError) as exc:
        ecs.list_container_instances(cluster=cluster, filter="attribute:x ==")
    assert code(exc) == "InvalidParameterException"
    first = ecs.list_container_instances(cluster=cluster, maxResults=1)
    second = ecs.list_container_instances(cluster=cluster, maxResults=1,
                                          nextToken=first["nextToken"])
    assert first["containerInstanceArns"] + second["containerInstanceArns"] == sorted(both)
    assert "nextToken" not in second


def test_deregistering_with_tasks_needs_force_which_stops_them(ecs, fleet, cluster):
    worker = host(fleet, cluster)
    arn = ecs.run_task(cluster=cluster, taskDefinition=register(ecs))["tasks"][0]["taskArn"]
    wait_status(ecs, cluster, [arn], "RUNNING")
    with pytest.raises(ClientError) as exc:
        ecs.deregister_container_instance(cluster=cluster,
                                          containerInstance=worker.container_instance_arn)
    assert code(exc) == "InvalidParameterException"
    gone = ecs.deregister_container_instance(
        cluster=cluster, containerInstance=worker.container_instance_arn,
        force=True)["containerInstance"]
    assert gone["status"] == "INACTIVE" and gone["agentConnected"] is False
    stopped = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED" and stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "UserInitiated"
    assert "deregistered" in stopped["stoppedReason"]
    assert ecs.list_container_instances(cluster=cluster)["containerInstanceArns"] == []
    assert instance(ecs, cluster, worker)["status"] == "INACTIVE"
    started = ecs.start_task(cluster=cluster, taskDefinition=register(ecs),
                             containerInstances=[worker.container_instance_arn])
    assert started["failures"] == [{"arn": worker.container_instance_arn,
                                    "reason": "INACTIVE"}]


def test_describe_reports_missing_instances(ecs, cluster):
    found = ecs.describe_container_instances(cluster=cluster,
                                             containerInstances=["nope"])
    assert found["failures"] == [{"arn": "nope", "reason": "MISSING"}]


def test_a_lost_host_is_disconnected_and_keeps_its_tasks(ecs, fleet, cluster):
    """ECS keeps the tasks of a disconnected agent as they were (they may well still run)
    and places nothing there (AGENT); deregistering the host stops them."""
    worker = host(fleet, cluster)
    arn = ecs.run_task(cluster=cluster, taskDefinition=register(ecs))["tasks"][0]["taskArn"]
    wait_status(ecs, cluster, [arn], "RUNNING")
    fleet.lose(worker)
    wait_for(lambda: instance(ecs, cluster, worker)["agentConnected"] is False)
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == \
        "RUNNING"
    refused = ecs.run_task(cluster=cluster, taskDefinition=register(ecs))
    assert refused["tasks"] == []
    assert refused["failures"] == [{"arn": worker.container_instance_arn, "reason": "AGENT"}]
    ecs.deregister_container_instance(cluster=cluster, force=True,
                                      containerInstance=worker.container_instance_arn)
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == \
        "STOPPED"


def test_a_restarted_agent_keeps_its_instance_and_its_running_tasks(ecs, fleet, cluster):
    worker = host(fleet, cluster)
    definition = register(ecs)
    arn = ecs.run_task(cluster=cluster, taskDefinition=definition)["tasks"][0]["taskArn"]
    before = wait_status(ecs, cluster, [arn], "RUNNING")[0]
    fleet.restart(worker)
    found = instance(ecs, cluster, worker)
    assert found["agentConnected"] is True and found["runningTasksCount"] == 1
    after = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    assert after["lastStatus"] == "RUNNING"
    assert after["startedAt"] == before["startedAt"]
    ecs.stop_task(cluster=cluster, task=arn)
    wait_status(ecs, cluster, [arn], "STOPPED")


def test_container_instances_through_the_aws_cli(portside, ecs, fleet, cluster):
    worker = host(fleet, cluster, instance_type="m5.2xlarge")
    done = subprocess.run(
        ["aws", "ecs", "list-container-instances", "--cluster", cluster, "--filter",
         "attribute:ecs.instance-type == m5.2xlarge", "--output", "json"],
        env=portside.cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["containerInstanceArns"] == [worker.container_instance_arn]
