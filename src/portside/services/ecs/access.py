"""What IAM checks for the cluster, container instance, task and agent calls: `ecs:<Action>` on
the resource the call names, with the `ecs:cluster` condition key.

`Poll` is no API operation: it is the action an agent needs to hold its channel, as the ECS
agent needs `ecs:Poll` to hold its connection to ECS (AmazonEC2ContainerServiceforEC2Role).
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
"""

from __future__ import annotations

from typing import Any

from portside.auth.actions import Action
from portside.context import RequestContext
from portside.services.ecs.arns import (
    capacity_provider_arn,
    cluster_arn,
    container_instance_arn,
    parse_child,
    parse_cluster,
    task_arn,
)


def on_cluster(ctx: RequestContext, params: dict[str, Any]) -> str:
    """The ARN of the cluster a call names (`default` when it names none)."""
    member = params.get("cluster") or params.get("clusterName")
    ref = parse_cluster(member)
    return cluster_arn(ref.region or ctx.region, ref.account_id or ctx.account_id, ref.name)


def on_task(ctx: RequestContext, params: dict[str, Any]) -> str:
    ref = parse_child(params.get("task") or "*", "task")
    cluster = ref.cluster or parse_cluster(params.get("cluster")).name
    return task_arn(ref.region or ctx.region, ref.account_id or ctx.account_id, cluster,
                    ref.name)


def on_instance(ctx: RequestContext, params: dict[str, Any]) -> str:
    ref = parse_child(params.get("containerInstance") or "*", "container-instance")
    cluster = ref.cluster or parse_cluster(params.get("cluster")).name
    return container_instance_arn(ref.region or ctx.region, ref.account_id or ctx.account_id,
                                  cluster, ref.name)


def on_provider(ctx: RequestContext, params: dict[str, Any]) -> str:
    name = params.get("name") or params.get("capacityProvider") or "*"
    return capacity_provider_arn(ctx.region, ctx.account_id, name.rsplit("/", 1)[-1])


_ON_CLUSTER = ("CreateCluster", "DeleteCluster", "UpdateCluster", "UpdateClusterSettings",
               "PutClusterCapacityProviders", "RegisterContainerInstance",
               "DeregisterContainerInstance", "ListContainerInstances",
               "UpdateContainerInstancesState", "ListTasks", "PutAttributes",
               "DeleteAttributes", "ListAttributes", "SubmitTaskStateChange",
               "SubmitContainerStateChange", "SubmitAttachmentStateChanges",
               "DescribeContainerInstances", "DescribeTasks")

# RunTask and StartTask name their task definition: tasks.py resolves it (a family alone names
# its latest ACTIVE revision) in `authorization_checks`.
ACTIONS: dict[str, Action | tuple[Action, ...]] = {
    **{op: Action(f"ecs:{op}", on_cluster) for op in _ON_CLUSTER},
    "StopTask": Action("ecs:StopTask", on_task),
    "Poll": Action("ecs:Poll", on_instance),
    "CreateCapacityProvider": Action("ecs:CreateCapacityProvider", on_provider),
    "DeleteCapacityProvider": Action("ecs:DeleteCapacityProvider", on_provider),
}


def cluster_condition(ctx: RequestContext, operation: str,
                      params: dict[str, Any]) -> dict[str, Any]:
    """`ecs:cluster` for the calls that act in a cluster."""
    if operation in _ON_CLUSTER or operation in ("RunTask", "StartTask", "StopTask", "Poll"):
        return {"ecs:cluster": on_cluster(ctx, params)}
    return {}
