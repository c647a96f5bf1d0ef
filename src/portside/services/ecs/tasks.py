"""Tasks: RunTask, StartTask, StopTask, DescribeTasks and ListTasks.

RunTask answers at once: it resolves the task definition, applies the overrides, places the
tasks (the placement engine for EC2, portside's Fargate capacity for FARGATE), records them
PROVISIONING (awsvpc) or PENDING in one transaction and pushes them to their hosts' agents
after it commits. It never waits for an image or a container: the agents report progress.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select

from portside.auth.actions import Check
from portside.context import RequestContext
from portside.protocol.errors import AwsError, error
from portside.services.base import Service
from portside.services.ecs import network, overrides, paging, tagging
from portside.services.ecs.arns import cluster_arn, parse_child
from portside.services.ecs.capacity import (
    BUILT_IN,
    MEMBERSHIP_ATTRIBUTE,
    check_strategy_items,
    split,
)
from portside.services.ecs.clusters import find_cluster
from portside.services.ecs.common import dumps, invalid, now
from portside.services.ecs.container_instances import EXTERNAL_CAPABILITY
from portside.services.ecs.fargate import NO_CAPACITY, place_fargate
from portside.services.ecs.launch import (
    FARGATE_PLATFORM_VERSION,
    Launch,
    new_task,
    reservation,
)
from portside.services.ecs.lifecycle import StopCode, TaskStatus
from portside.services.ecs.model import client_tokens, container_instances, tasks
from portside.services.ecs.placement import (
    MEMBER_OF_UNSATISFIED,
    NO_CONTAINER_INSTANCES,
    TaskDemand,
    compile_query,
    parse_constraints,
    parse_strategies,
)
from portside.services.ecs.placement.engine import PlacementConstraint
from portside.services.ecs.records import Task
from portside.services.ecs.state import (
    FARGATE_SCOPE,
    TASK_BY_ID,
    UPDATE_TASK,
    Change,
    ScopeView,
    cluster_scope,
    scope_of,
)
from portside.services.ecs.task_definition_rules import role_arn
from portside.services.ecs.task_definition_tables import task_definitions
from portside.services.ecs.task_definitions import PASSED_TO, resolve_task_definition
from portside.store import executemany, first

Request = dict[str, Any]
Response = dict[str, Any]

MAX_COUNT = 10
MAX_DESCRIBE = 100
CLIENT_TOKEN_TTL = 24 * 3600  # "The RunTask client token has a time to live of 24 hours"
DEFAULT_STOP_REASON = "Task stopped by user"
PLATFORM_VERSIONS = ("LATEST", "1.4.0")
_TASK_ENI = "ecs.capability.task-eni"
ATTRIBUTE = "ATTRIBUTE"  # a failure reason: the instance lacks an attribute the task needs
# Built once: every RunTask of the SDKs and the CLI carries a client token.
_TOKEN = select(client_tokens).where(
    client_tokens.c.account_id == bindparam("account_id"),
    client_tokens.c.region == bindparam("region"), client_tokens.c.cluster == bindparam("cluster"),
    client_tokens.c.token == bindparam("token"), client_tokens.c.created_at >= bindparam("since"))
_REMEMBER_TOKEN = insert(client_tokens)
_TASK_IN_CLUSTER = select(tasks).where(
    tasks.c.id == bindparam("id"), tasks.c.account_id == bindparam("account_id"),
    tasks.c.region == bindparam("region"), tasks.c.cluster == bindparam("cluster"))


class TasksApi(Service):
    # -- authorization ------------------------------------------------------------------------

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        """RunTask and StartTask act on the task definition revision they run, and pass the
        roles they override to ECS: iam:PassRole on each."""
        found = super().authorization_checks(ctx, operation, params)
        if operation in ("RunTask", "StartTask"):
            with self.runtime.store.begin() as conn:
                try:
                    arn = resolve_task_definition(conn, ctx, params["taskDefinition"])[
                        "taskDefinitionArn"]
                except AwsError:
                    arn = None  # the handler refuses it
            if arn is not None:
                found = [Check(c.action, arn, c.context) if c.action == f"ecs:{operation}"
                         else c for c in found]
            given = params.get("overrides") or {}
            for member in ("taskRoleArn", "executionRoleArn"):
                arn = role_arn(given.get(member), ctx.account_id)
                if arn:
                    found.append(Check("iam:PassRole", arn, {"iam:PassedToService": PASSED_TO}))
        return found

    # -- RunTask, StartTask ---------------------------------------------------------------------

    def run_task(self, ctx: RequestContext, request: Request) -> Response:
        count = request.get("count", 1)
        if not 1 <= count <= MAX_COUNT:
            raise invalid(f"Task count must be between 1 and {MAX_COUNT}.")
        if request.get("launchType") and request.get("capacityProviderStrategy"):
            raise invalid("Specifying both a launch type and capacity provider strategy is not "
                          "supported.")
        _refuse_exec(request)
        strategies = parse_strategies(request.get("placementStrategy") or ())
        token = request.get("clientToken")
        placed: list[Task] = []
        failures: list[dict[str, str]] = []
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            if token:
                replay = _replay(conn, ctx, cluster.name, token, request)
                if replay is not None:
                    return replay
            definition = resolve_task_definition(conn, ctx, request["taskDefinition"])
            td_tags = _definition_tags(conn, definition, request)
            # The task definition's constraints and the call's count together (at most 10).
            constraints = parse_constraints([*(definition.get("placementConstraints") or ()),
                                             *(request.get("placementConstraints") or ())])
            routes = _routes(request, cluster, count)
            for launch, how_many in self._launches(ctx, request, cluster, definition, td_tags,
                                                   routes):
                if launch.fargate:
                    self._place_fargate(conn, launch, how_many, placed, failures)
                else:
                    self._place_ec2(conn, launch, how_many, constraints, strategies, placed,
                                    failures)
            if token:
                executemany(conn, _REMEMBER_TOKEN, [{
                    "account_id": ctx.account_id, "region": ctx.region,
                    "cluster": cluster.name, "token": token,
                    "request_hash": _request_hash(request), "created_at": now(),
                    "response": dumps({"taskArns": [t.arn for t in placed],
                                       "failures": failures})}])
        self.agents.assign(placed)
        return {"tasks": [t.describe(include_tags=True) for t in placed], "failures": failures}

    def start_task(self, ctx: RequestContext, request: Request) -> Response:
        """One task on each named container instance, if it has room: no placement."""
        references = request["containerInstances"]
        if not 1 <= len(references) <= MAX_COUNT:
            raise invalid(f"containerInstances must list between 1 and {MAX_COUNT} instances.")
        _refuse_exec(request)
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            definition = resolve_task_definition(conn, ctx, request["taskDefinition"])
            td_tags = _definition_tags(conn, definition, request)
        (launch, _), = self._launches(ctx, request, cluster, definition, td_tags,
                                      [Route("EC2")])
        placed: list[Task] = []
        failures: list[dict[str, str]] = []
        at = now()
        scope = cluster_scope(ctx.account_id, ctx.region, cluster.name)
        demand = _demand(launch)
        with self.state.write(scope) as (conn, view):
            for reference in references:
                ident = parse_child(reference, "container-instance").name
                host = view.hosts.get(ident)
                if host is None:
                    failures.append({"arn": reference,
                                     "reason": _absent_reason(conn, ident)})
                    continue
                refused = view.placement.place_on(host.arn, demand)
                if refused is not None:
                    failures.append(refused.to_api())
                    continue
                placed.append(new_task(launch, host.id, host.arn,
                                       host.attributes.get("ecs.availability-zone") or "",
                                       _subnet(launch, 0), at))
            self.state.create(conn, view, placed, at)
        self.agents.assign(placed)
        return {"tasks": [t.describe(include_tags=True) for t in placed], "failures": failures}

    def _launches(self, ctx: RequestContext, request: Request, cluster: Row,
                  definition: dict[str, Any], td_tags: list[dict[str, str]],
                  routes: list[Route]) -> list[tuple[Launch, int]]:
        """The tasks of a call grouped by where they launch (a launch type, or a capacity
        provider of the strategy), each group with its checked, overridden definition."""
        given = request.get("overrides") or {}
        overrides.check_size(given)
        tags = tagging.validated(request.get("tags") or [])
        if request.get("enableECSManagedTags"):
            tags = tagging.merged(tags, [{"key": "aws:ecs:clusterName", "value": cluster.name}])
        tags = tagging.merged(td_tags, tags)
        group = request.get("group") or f"family:{definition['family']}"
        launches: list[tuple[Launch, int]] = []
        for route in dict.fromkeys(routes):
            launch_type = route.launch_type
            fargate = launch_type == "FARGATE"
            _check_compatible(definition, launch_type)
            platform = request.get("platformVersion")
            if platform is not None and not fargate:
                raise invalid("Platform version is only supported for tasks using the "
                              "Fargate launch type.")
            if platform is not None and platform not in PLATFORM_VERSIONS:
                raise error("PlatformUnknownException",
                            f"The specified platform version '{platform}' does not exist.")
            effective = overrides.apply(definition, given, fargate)
            mode = effective.get("networkMode") or "bridge"
            if fargate and mode != "awsvpc":
                raise invalid("Fargate only supports network mode 'awsvpc'.")
            launch = Launch(
                account_id=ctx.account_id, region=ctx.region, cluster=cluster.name,
                definition=effective, overrides=overrides.described(definition, given),
                group=group, launch_type=launch_type,
                capacity_provider=route.capacity_provider,
                started_by=request.get("startedBy"), tags=tags,
                vpc=network.check(mode, request.get("networkConfiguration"), fargate),
                platform_version=FARGATE_PLATFORM_VERSION if fargate else None,
                reservation=reservation(effective))
            launches.append((launch, routes.count(route)))
        return launches

    def _place_ec2(self, conn: Connection, launch: Launch, count: int,
                   constraints: Sequence[PlacementConstraint], strategies: Sequence[Any],
                   placed: list[Task], failures: list[dict[str, str]]) -> None:
        """Place on the cluster's instances of the launch's kind (EC2, EXTERNAL, or the members
        of its capacity provider) that carry the attributes the task needs."""
        required = _required_attributes(launch)
        kind = _kind_expression(launch)
        rules = (*constraints, PlacementConstraint("memberOf", kind))
        if required:
            rules += (PlacementConstraint("memberOf", " and ".join(
                f"attribute:{name} exists" for name in required)),)
        at = now()
        scope = cluster_scope(launch.account_id, launch.region, launch.cluster)
        with self.state.write(scope, conn) as (conn, view):
            result = view.placement.place([_demand(launch)] * count, rules, strategies,
                                          rng=self.rng)
            new = []
            for arn in result.container_instance_arns:
                if arn is None:
                    continue
                host = view.by_arn[arn]
                new.append(new_task(launch, host.id, arn,
                                    host.attributes.get("ecs.availability-zone") or "",
                                    _subnet(launch, len(placed) + len(new)), at))
            refused = _failures(view, result.failures, kind, required)
            if not new and not refused:  # every ACTIVE instance is of another launch kind
                raise invalid(NO_CONTAINER_INSTANCES)
            self.state.create(conn, view, new, at)
            placed += new
            failures += refused

    def _place_fargate(self, conn: Connection, launch: Launch, count: int, placed: list[Task],
                       failures: list[dict[str, str]]) -> None:
        at = now()
        cluster_key = f"{launch.account_id}/{launch.region}/{launch.cluster}"
        with self.state.write(FARGATE_SCOPE, conn) as (conn, view):
            slots = place_fargate(view, launch.region, cluster_key, launch.group,
                                  launch.reservation, count, self.rng)
            new = []
            for index, slot in enumerate(slots):
                if slot is None:
                    failures.append({"arn": cluster_arn(launch.region, launch.account_id,
                                                        launch.cluster),
                                     "reason": NO_CAPACITY})
                    continue
                new.append(new_task(launch, slot.host.id, None, slot.zone,
                                    _subnet(launch, index), at))
            self.state.create(conn, view, new, at)
            placed += new

    # -- StopTask ---------------------------------------------------------------------------

    def stop_task(self, ctx: RequestContext, request: Request) -> Response:
        """desiredStatus STOPPED, stopCode UserInitiated, the reason given; a running task
        is STOPPING until its agent reports it STOPPED. Its tags go (StopTask: "Any tags
        associated with the task will be deleted")."""
        reason = request.get("reason") or DEFAULT_STOP_REASON
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            task = find_task(conn, ctx, cluster.name, request["task"])
        if task is None:
            raise invalid("The referenced task was not found.")
        at = now()
        with self.state.write(scope_of(task)) as (conn, view):
            task = reread_task(conn, task.id)
            if task.desired_status != TaskStatus.STOPPED:
                last = TaskStatus.STOPPING if task.last_status in (
                    TaskStatus.ACTIVATING, TaskStatus.RUNNING) else None
                task.tags = []
                self.state.transition(conn, view, task, Change(
                    last_status=last, desired_status=TaskStatus.STOPPED,
                    stop_code=StopCode.USER_INITIATED, stopped_reason=reason), at)
        self.agents.assign([task])
        return {"task": task.describe()}

    # -- reading ----------------------------------------------------------------------------

    def describe_tasks(self, ctx: RequestContext, request: Request) -> Response:
        references = request["tasks"]
        if len(references) > MAX_DESCRIBE:
            raise invalid(f"tasks can have at most {MAX_DESCRIBE} items.")
        include_tags = "TAGS" in (request.get("include") or ())
        found, failures = [], []
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            for reference in references:
                task = find_task(conn, ctx, cluster.name, reference)
                if task is None:
                    failures.append({"arn": reference, "reason": "MISSING"})
                else:
                    found.append(task.describe(include_tags))
        return {"tasks": found, "failures": failures}

    def list_tasks(self, ctx: RequestContext, request: Request) -> Response:
        """Tasks of the cluster whose desired status is RUNNING (or the one asked for), by
        family, startedBy, container instance, service or launch type."""
        desired = request.get("desiredStatus") or TaskStatus.RUNNING.value
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, request.get("cluster"))
            query = select(tasks.c.id, tasks.c.document).where(
                tasks.c.account_id == ctx.account_id, tasks.c.region == ctx.region,
                tasks.c.cluster == cluster.name, tasks.c.desired_status == desired)
            if request.get("family"):
                query = query.where(tasks.c.family == request["family"])
            if request.get("startedBy"):
                query = query.where(tasks.c.started_by == request["startedBy"])
            if request.get("serviceName"):
                query = query.where(tasks.c.group == f"service:{request['serviceName']}")
            if request.get("launchType"):
                query = query.where(tasks.c.launch_type == request["launchType"])
            if request.get("containerInstance"):
                query = query.where(tasks.c.host_id == parse_child(
                    request["containerInstance"], "container-instance").name)
            rows = conn.execute(query.order_by(tasks.c.id)).all()
        chunk, more = paging.page(rows, request, lambda r: [r.id])
        return {"taskArns": [json.loads(r.document)["taskArn"] for r in chunk], **more}

    # -- housekeeping -------------------------------------------------------------------------

    def purge_stopped(self, older_than: float) -> int:
        """Forget tasks STOPPED before `older_than`, and expired client tokens."""
        with self.runtime.store.begin() as conn:
            gone = conn.execute(delete(tasks).where(tasks.c.stopped_at < older_than,
                                                    tasks.c.released.is_(True))).rowcount
            conn.execute(delete(client_tokens).where(
                client_tokens.c.created_at < now() - CLIENT_TOKEN_TTL))
        return gone

    rng: random.Random  # placement's randomness, set by the service

def _refuse_exec(request: Request) -> None:
    if request.get("enableExecuteCommand"):
        raise error("UnsupportedFeatureException",
                    "portside does not support ECS Exec (enableExecuteCommand): it has no "
                    "Systems Manager Session Manager.")


@dataclass(frozen=True)
class Route:
    """Where a task launches: a launch type, through a capacity provider or not."""

    launch_type: str
    capacity_provider: str | None = None


def _routes(request: Request, cluster: Row, count: int) -> list[Route]:
    """Per task, where it launches: the call's launch type, else its capacity provider
    strategy, else the cluster's default strategy, else EC2."""
    launch_type = request.get("launchType")
    if launch_type == "MANAGED_INSTANCES":
        raise error("UnsupportedFeatureException",
                    "portside does not provide ECS Managed Instances.")
    if launch_type:
        return [Route(launch_type)] * count
    strategy = request.get("capacityProviderStrategy")
    if strategy:
        check_strategy_items(strategy)
        associated = json.loads(cluster.capacity_providers)
        for item in strategy:
            if item["capacityProvider"] not in associated:
                raise invalid(f"The specified capacity provider '{item['capacityProvider']}' "
                              "is not associated with the cluster.")
    else:
        strategy = json.loads(cluster.default_strategy)
    if not strategy:
        return [Route("EC2")] * count
    return [Route("FARGATE" if name in BUILT_IN else "EC2", name)
            for name in split(strategy, count)]


def _check_compatible(definition: Mapping[str, Any], launch_type: str) -> None:
    if launch_type not in (definition.get("compatibilities") or ("EC2",)):
        raise invalid(f"Task definition does not support launch_type {launch_type}.")


def _definition_tags(conn: Connection, definition: Mapping[str, Any],
                     request: Request) -> list[dict[str, str]]:
    """The task definition's tags, when the call propagates them."""
    propagate = request.get("propagateTags")
    if propagate == "SERVICE":
        raise invalid("propagateTags SERVICE is only valid for tasks started by a service.")
    if propagate != "TASK_DEFINITION":
        return []
    row = conn.execute(select(task_definitions.c.tags).where(
        task_definitions.c.arn == definition["taskDefinitionArn"])).first()
    return json.loads(row.tags) if row is not None else []


def _demand(launch: Launch) -> TaskDemand:
    r = launch.reservation
    return TaskDemand(launch.group, r.cpu, r.memory, frozenset(r.ports), frozenset(r.ports_udp))


def _required_attributes(launch: Launch) -> list[str]:
    required = [a["name"] for a in launch.definition.get("requiresAttributes") or ()]
    if launch.vpc is not None and _TASK_ENI not in required:
        required.append(_TASK_ENI)
    return required


def _kind_expression(launch: Launch) -> str:
    """The instances a launch may use, in the cluster query language."""
    if launch.capacity_provider is not None:
        return f"attribute:{MEMBERSHIP_ATTRIBUTE} == '{launch.capacity_provider}'"
    if launch.launch_type == "EXTERNAL":
        return f"attribute:{EXTERNAL_CAPABILITY} exists"
    return f"attribute:{EXTERNAL_CAPABILITY} !exists"


def _failures(view: ScopeView, found: Sequence[Any], kind: str,
              required: list[str]) -> list[dict[str, str]]:
    """The engine's failures as RunTask reports them: instances of another launch kind are no
    candidates at all, and an instance refused for lacking a required attribute is
    `ATTRIBUTE`."""
    of_kind = compile_query(kind)
    out = []
    for failure in found:
        host = view.by_arn.get(failure.arn)
        if host is None:
            continue
        target = host.placement_view()
        if not of_kind.matches(target):
            continue
        entry = failure.to_api()
        if failure.reason == MEMBER_OF_UNSATISFIED and any(
                name not in host.attributes for name in required):
            entry = {"arn": failure.arn, "reason": ATTRIBUTE}
        out.append(entry)
    return out


def _subnet(launch: Launch, index: int) -> str | None:
    if launch.vpc is None:
        return None
    subnets = launch.vpc["subnets"]
    return subnets[index % len(subnets)]


def _absent_reason(conn: Connection, ident: str) -> str:
    """StartTask on an instance that is not live: deregistered (INACTIVE) or unknown."""
    status = conn.execute(select(container_instances.c.status).where(
        container_instances.c.id == ident)).scalar()
    return "INACTIVE" if status == "INACTIVE" else "MISSING"


def find_task(conn: Connection, ctx: RequestContext, cluster: str,
               reference: str) -> Task | None:
    ref = parse_child(reference, "task")
    if (ref.account_id or ctx.account_id) != ctx.account_id or (
            ref.region or ctx.region) != ctx.region or ref.cluster not in (None, cluster):
        return None
    row = conn.execute(_TASK_IN_CLUSTER, {"id": ref.name, "account_id": ctx.account_id,
                                          "region": ctx.region, "cluster": cluster}).first()
    return Task.from_row(row) if row is not None else None


def reread_task(conn: Connection, task_id: str) -> Task:
    return Task.from_row(conn.execute(TASK_BY_ID, {"task_id": task_id}).one())


def _request_hash(request: Request) -> str:
    meaningful = {k: v for k, v in request.items() if k != "clientToken"}
    return hashlib.sha256(json.dumps(meaningful, sort_keys=True, default=str)
                          .encode()).hexdigest()


def _replay(conn: Connection, ctx: RequestContext, cluster: str, token: str,
            request: Request) -> Response | None:
    """The answer to a RunTask retried with its client token: the same tasks as they are now;
    ConflictException when the token came with other parameters."""
    row = first(conn, _TOKEN, {"account_id": ctx.account_id, "region": ctx.region,
                               "cluster": cluster, "token": token,
                               "since": now() - CLIENT_TOKEN_TTL})
    if row is None:
        return None
    earlier = json.loads(row.response)
    if row.request_hash != _request_hash(request):
        raise error("ConflictException", "The client token was already used with different "
                    "parameters.", resourceIds=earlier["taskArns"])
    found = [find_task(conn, ctx, cluster, arn) for arn in earlier["taskArns"]]
    return {"tasks": [t.describe(include_tags=True) for t in found if t is not None],
            "failures": earlier["failures"]}



def _read_tags(conn: Connection, arn: tagging.ResourceArn) -> tagging.Tags | None:
    row = conn.execute(select(tasks).where(
        tasks.c.id == arn.resource_id.rsplit("/", 1)[-1], tasks.c.account_id == arn.account_id,
        tasks.c.region == arn.region)).first()
    return Task.from_row(row).tags if row is not None else None


def _write_tags(conn: Connection, arn: tagging.ResourceArn, tags: tagging.Tags) -> None:
    """A task's tags live in its document; tagging changes no state, so no version."""
    task = reread_task(conn, arn.resource_id.rsplit("/", 1)[-1])
    task.tags = tags
    conn.execute(UPDATE_TASK, task.changes())


tagging.register("task", tagging.TagHolder(_read_tags, _write_tags))
