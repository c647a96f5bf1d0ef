"""ECS clusters and capacity providers through boto3 and the AWS CLI: create (idempotent),
describe with its includes and live counts, list with paging, update, delete and what keeps a
cluster from being deleted, and the providers a cluster uses."""

from __future__ import annotations

import json
import subprocess

import pytest
from botocore.exceptions import ClientError
from ecs_support import fleet_for, host, register, unique, wait_for, wait_status

ASG = ("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:"
       "0f8c1a4b-1234-4d5e-9abc-0123456789ab:autoScalingGroupName/my-asg")


@pytest.fixture(scope="module")
def ecs(portside):
    return portside.client("ecs")


@pytest.fixture(scope="module")
def fleet(portside):
    fleet = fleet_for(portside)
    yield fleet
    fleet.close()


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_create_cluster_is_idempotent_by_name_and_returns_the_existing_one(ecs):
    name = unique("c")
    first = ecs.create_cluster(clusterName=name, tags=[{"key": "team", "value": "a"}])["cluster"]
    again = ecs.create_cluster(clusterName=name)["cluster"]
    assert first["clusterArn"] == again["clusterArn"] == \
        f"arn:aws:ecs:us-east-1:000000000000:cluster/{name}"
    assert again["status"] == "ACTIVE"
    assert again["tags"] == [{"key": "team", "value": "a"}]
    assert again["registeredContainerInstancesCount"] == 0
    assert again["settings"] == [{"name": "containerInsights", "value": "disabled"}]


def test_cluster_names_follow_aws_rules(ecs):
    with pytest.raises(ClientError) as exc:
        ecs.create_cluster(clusterName="bad name!")
    assert code(exc) == "InvalidParameterException"


def test_describe_clusters_includes_and_missing_failures(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name, settings=[{"name": "containerInsights",
                                                    "value": "enabled"}],
                       configuration={"executeCommandConfiguration": {"logging": "DEFAULT"}},
                       tags=[{"key": "k", "value": "v"}])
    plain = ecs.describe_clusters(clusters=[name])["clusters"][0]
    assert "settings" not in plain and "tags" not in plain and "statistics" not in plain
    full = ecs.describe_clusters(clusters=[name, "nope"], include=[
        "SETTINGS", "TAGS", "STATISTICS", "CONFIGURATIONS", "ATTACHMENTS"])
    cluster = full["clusters"][0]
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert cluster["tags"] == [{"key": "k", "value": "v"}]
    assert cluster["configuration"] == {"executeCommandConfiguration": {"logging": "DEFAULT"}}
    assert {s["name"] for s in cluster["statistics"]} >= {
        "runningEC2TasksCount", "runningFargateTasksCount", "pendingEC2TasksCount"}
    assert full["failures"] == [{"arn": "arn:aws:ecs:us-east-1:000000000000:cluster/nope",
                                 "reason": "MISSING"}]


def test_list_clusters_pages(ecs):
    names = sorted(unique("page") for _ in range(3))
    for name in names:
        ecs.create_cluster(clusterName=name)
    arns = []
    pages = ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2})
    for page in pages:
        assert len(page["clusterArns"]) <= 2
        arns += page["clusterArns"]
    assert all(f"cluster/{n}" in " ".join(arns) for n in names)


def test_update_cluster_and_its_settings(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    updated = ecs.update_cluster_settings(
        cluster=name, settings=[{"name": "containerInsights", "value": "enhanced"}])["cluster"]
    assert updated["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    updated = ecs.update_cluster(
        cluster=name, configuration={"executeCommandConfiguration": {"logging": "NONE"}})
    assert updated["cluster"]["configuration"]["executeCommandConfiguration"] == {
        "logging": "NONE"}
    with pytest.raises(ClientError) as exc:
        ecs.update_cluster_settings(cluster=name, settings=[
            {"name": "containerInsights", "value": "sometimes"}])
    assert code(exc) == "InvalidParameterException"


def test_deleted_cluster_is_inactive_unlisted_and_can_be_created_again(ecs):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    deleted = ecs.delete_cluster(cluster=name)["cluster"]
    assert deleted["status"] == "INACTIVE"
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["status"] == "INACTIVE"
    assert not any(a.endswith(f"/{name}") for a in ecs.list_clusters()["clusterArns"])
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster=name, taskDefinition="whatever")
    assert code(exc) == "ClusterNotFoundException"
    assert ecs.create_cluster(clusterName=name)["cluster"]["status"] == "ACTIVE"


def test_a_cluster_with_instances_or_tasks_cannot_be_deleted(ecs, fleet):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    worker = host(fleet, name)
    arn = ecs.run_task(cluster=name, taskDefinition=register(ecs))["tasks"][0]["taskArn"]
    with pytest.raises(ClientError) as exc:
        ecs.delete_cluster(cluster=name)
    assert code(exc) == "ClusterContainsContainerInstancesException"
    ecs.deregister_container_instance(cluster=name,
                                      containerInstance=worker.container_instance_arn,
                                      force=True)
    wait_status(ecs, name, [arn], "STOPPED")
    assert ecs.delete_cluster(cluster=name)["cluster"]["status"] == "INACTIVE"


def test_delete_refuses_a_cluster_with_live_fargate_tasks(ecs, fleet):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    host(fleet, name, fargate_zones=("a", "b", "c"), cpu=4096, memory=8192)
    definition = register(ecs, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                          cpu="256", memory="512")
    arn = ecs.run_task(cluster=name, taskDefinition=definition, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {
                           "subnets": ["subnet-0123456789abcdef0"]}})["tasks"][0]["taskArn"]
    with pytest.raises(ClientError) as exc:
        ecs.delete_cluster(cluster=name)
    assert code(exc) == "ClusterContainsTasksException"
    ecs.stop_task(cluster=name, task=arn)
    wait_status(ecs, name, [arn], "STOPPED")
    ecs.delete_cluster(cluster=name)


def test_live_counts_follow_instances_and_tasks(ecs, fleet):
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    host(fleet, name)
    host(fleet, name, start_delay=30)
    fast = register(ecs, family=unique("fast"))
    arns = [t["taskArn"] for t in ecs.run_task(cluster=name, taskDefinition=fast, count=4,
                                               placementStrategy=[{"type": "spread",
                                                                   "field": "instanceId"}]
                                               )["tasks"]]
    # Half land on the slow host and stay PENDING.

    def counted():
        cluster = ecs.describe_clusters(clusters=[name], include=["STATISTICS"])["clusters"][0]
        return cluster if cluster["runningTasksCount"] == 2 else None

    cluster = wait_for(counted)
    assert cluster["registeredContainerInstancesCount"] == 2
    assert cluster["pendingTasksCount"] == 2
    stats = {s["name"]: s["value"] for s in cluster["statistics"]}
    assert stats["runningEC2TasksCount"] == "2" and stats["pendingEC2TasksCount"] == "2"
    for arn in arns:
        ecs.stop_task(cluster=name, task=arn)


def test_run_task_without_a_cluster_needs_the_default_cluster(portside):
    ecs = portside.client("ecs", region="eu-west-3")  # a region no other test uses
    definition = register(ecs)
    with pytest.raises(ClientError) as exc:
        ecs.run_task(taskDefinition=definition)
    assert code(exc) == "ClusterNotFoundException"
    assert exc.value.response["Error"]["Message"] == "Cluster not found."
    ecs.create_cluster()
    with pytest.raises(ClientError) as exc:
        ecs.run_task(taskDefinition=definition)
    assert exc.value.response["Error"]["Message"] == \
        "No Container Instances were found in your cluster."


# -- capacity providers ---------------------------------------------------------------------


def test_fargate_providers_are_built_in(ecs):
    found = ecs.describe_capacity_providers(capacityProviders=["FARGATE", "FARGATE_SPOT",
                                                               "nope"])
    assert [p["name"] for p in found["capacityProviders"]] == ["FARGATE", "FARGATE_SPOT"]
    assert all(p["status"] == "ACTIVE" for p in found["capacityProviders"])
    assert found["failures"][0]["reason"] == "MISSING"


def test_capacity_provider_with_an_auto_scaling_group_and_a_default_strategy(ecs):
    provider = unique("cp")
    created = ecs.create_capacity_provider(
        name=provider, autoScalingGroupProvider={"autoScalingGroupArn": ASG},
        tags=[{"key": "k", "value": "v"}])["capacityProvider"]
    assert created["status"] == "ACTIVE"
    assert created["autoScalingGroupProvider"]["autoScalingGroupArn"] == ASG
    name = unique("c")
    ecs.create_cluster(clusterName=name)
    cluster = ecs.put_cluster_capacity_providers(
        cluster=name, capacityProviders=[provider, "FARGATE"],
        defaultCapacityProviderStrategy=[{"capacityProvider": provider, "weight": 1,
                                          "base": 1}])["cluster"]
    assert cluster["capacityProviders"] == [provider, "FARGATE"]
    assert cluster["defaultCapacityProviderStrategy"] == [
        {"capacityProvider": provider, "weight": 1, "base": 1}]
    with pytest.raises(ClientError) as exc:
        ecs.put_cluster_capacity_providers(
            cluster=name, capacityProviders=[provider, "FARGATE"],
            defaultCapacityProviderStrategy=[{"capacityProvider": provider, "weight": 1},
                                             {"capacityProvider": "FARGATE", "weight": 1}])
    assert "mix" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        ecs.delete_capacity_provider(capacityProvider=provider)
    assert code(exc) == "ResourceInUseException"


@pytest.mark.parametrize("bad", ["aws-x", "ECS_thing", "fargate2"])
def test_capacity_provider_names_may_not_take_reserved_prefixes(ecs, bad):
    with pytest.raises(ClientError) as exc:
        ecs.create_capacity_provider(name=bad,
                                     autoScalingGroupProvider={"autoScalingGroupArn": ASG})
    assert code(exc) == "InvalidParameterException"


def test_strategy_names_only_providers_of_the_cluster(ecs):
    with pytest.raises(ClientError) as exc:
        ecs.create_cluster(clusterName=unique("c"), capacityProviders=["FARGATE"],
                           defaultCapacityProviderStrategy=[
                               {"capacityProvider": "FARGATE_SPOT", "weight": 1}])
    assert code(exc) == "InvalidParameterException"


def test_cluster_tags_through_tag_resource(ecs):
    arn = ecs.create_cluster(clusterName=unique("c"))["cluster"]["clusterArn"]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "a", "value": "1"}]


def test_clusters_through_the_aws_cli(portside):
    name = unique("cli")

    def aws(*args: str) -> dict:
        done = subprocess.run(["aws", "ecs", *args, "--output", "json"], env=portside.cli_env(),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    assert aws("create-cluster", "--cluster-name", name)["cluster"]["clusterName"] == name
    assert any(a.endswith(f"/{name}") for a in aws("list-clusters")["clusterArns"])
    found = aws("describe-clusters", "--clusters", name, "--include", "SETTINGS")
    assert found["clusters"][0]["settings"][0]["name"] == "containerInsights"
    assert aws("delete-cluster", "--cluster", name)["cluster"]["status"] == "INACTIVE"
