"""What agents report: SubmitTaskStateChange, SubmitContainerStateChange and
SubmitAttachmentStateChanges, and the one function that turns a report into task transitions
(the agent channel's re-report after a reconnect uses it too).

A report only moves things forward: a late or repeated one changes nothing. A task that stops
while it is still wanted RUNNING stopped on its own: `TaskFailedToStart` if it never ran, else
`EssentialContainerExited` ("Essential container in task exited").
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_SubmitTaskStateChange.html
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from portside.context import RequestContext
from portside.services.base import Service
from portside.services.ecs.clusters import find_cluster
from portside.services.ecs.common import invalid, now
from portside.services.ecs.lifecycle import (
    ContainerStatus,
    StopCode,
    TaskStatus,
    container_may_move,
    is_ahead,
)
from portside.services.ecs.model import tasks
from portside.services.ecs.records import Task
from portside.services.ecs.state import Change, EcsState, ScopeView, scope_of
from portside.services.ecs.tasks import find_task

Request = dict[str, Any]
Response = dict[str, Any]

ESSENTIAL_EXITED = "Essential container in task exited"
ATTACHED, DELETED = "ATTACHED", "DELETED"
_TIMES = ("pullStartedAt", "pullStoppedAt", "executionStoppedAt")


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def _containers(doc: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The task's containers with the reported changes: status forward only, with exit code,
    reason, runtime id, image digest and network bindings."""
    containers = copy.deepcopy(doc["containers"])
    by_name = {c["name"]: c for c in containers}
    for change in changes:
        container = by_name.get(change.get("containerName"))
        if container is None:
            raise invalid(f"The task has no container named {change.get('containerName')}.")
        status = change.get("status")
        if status is not None:
            try:
                target = ContainerStatus(status)
            except ValueError:
                raise invalid(f"Invalid container status {status}.") from None
            if not container_may_move(ContainerStatus(container["lastStatus"]), target):
                continue
            container["lastStatus"] = target.value
        for member in ("runtimeId", "imageDigest", "exitCode", "reason", "networkBindings"):
            if change.get(member) is not None:
                container[member] = change[member]
    return containers


def _attachments(doc: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The task's attachments with reported status changes; an ENI that attaches gets its
    interface id and MAC address (portside's own, as no EC2 makes them)."""
    attachments = copy.deepcopy(doc["attachments"])
    by_id = {a["id"]: a for a in attachments}
    for change in changes:
        attachment = by_id.get(change["attachmentArn"].rsplit("/", 1)[-1])
        if attachment is None:
            continue
        attachment["status"] = change["status"]
        if change["status"] == ATTACHED:
            names = {d["name"] for d in attachment["details"]}
            if "networkInterfaceId" not in names:
                attachment["details"] += [
                    {"name": "networkInterfaceId", "value": "eni-" + secrets.token_hex(9)[:17]},
                    {"name": "macAddress", "value": ":".join(
                        ["0a"] + [secrets.token_hex(1) for _ in range(5)])}]
    return attachments


def apply_report(state: EcsState, conn: Connection, view: ScopeView | None, task: Task,
                 report: Mapping[str, Any], at: float) -> bool:
    """Apply an agent's report on a task (SubmitTaskStateChange's members, with `containers`
    as ContainerStateChange entries and `attachments` as AttachmentStateChange entries)."""
    doc = task.doc
    fields: dict[str, Any] = {}
    if report.get("containers"):
        fields["containers"] = _containers(doc, report["containers"])
    if report.get("attachments"):
        fields["attachments"] = _attachments(doc, report["attachments"])
    for member in _TIMES:
        if member not in doc and report.get(member) is not None:
            fields[member] = _epoch(report[member])
    status = _task_status(report.get("status"))
    attachments = fields.get("attachments", doc["attachments"])
    eni = next((a for a in attachments if a["type"] == "ElasticNetworkInterface"), None)
    if eni is not None:
        if status is None:
            status = {ATTACHED: TaskStatus.PENDING, DELETED: TaskStatus.STOPPED}.get(
                eni["status"])
        if status is not None and eni["status"] != DELETED and is_ahead(
                status, TaskStatus.DEPROVISIONING):
            status = TaskStatus.DEPROVISIONING  # STOPPED once its ENI is gone
    stop_code, reason = None, None
    if status is not None and is_ahead(status, TaskStatus.RUNNING) and \
            task.desired_status == TaskStatus.RUNNING:
        ran = "startedAt" in doc or status == TaskStatus.RUNNING
        stop_code = StopCode.ESSENTIAL_CONTAINER_EXITED if ran else StopCode.TASK_FAILED_TO_START
        reason = report.get("reason") or ESSENTIAL_EXITED
    elif status is not None and is_ahead(status, TaskStatus.RUNNING):
        reason = report.get("reason")
    return state.transition(conn, view, task, Change(
        last_status=status, desired_status=TaskStatus.STOPPED if stop_code else None,
        stop_code=stop_code, stopped_reason=reason, fields=fields), at)


def merge_attachment_details(task: Task, attachment_id: str,
                             details: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """The `attachments` and `containers` of a task once an agent told the details of its ENI
    (its address): members for `Change.fields`."""
    attachments = copy.deepcopy(task.doc["attachments"])
    for attachment in attachments:
        if attachment["id"] == attachment_id:
            known = {d["name"]: d for d in attachment["details"]}
            for detail in details:
                known[detail["name"]] = {"name": detail["name"], "value": detail["value"]}
            attachment["details"] = list(known.values())
            address = known.get("privateIPv4Address", {}).get("value")
            containers = copy.deepcopy(task.doc["containers"])
            if address:
                for container in containers:
                    container["networkInterfaces"] = [
                        {"attachmentId": attachment_id, "privateIpv4Address": address}]
            return {"attachments": attachments, "containers": containers}
    return {}


def _task_status(value: str | None) -> TaskStatus | None:
    if value is None:
        return None
    try:
        return TaskStatus(value)
    except ValueError:
        raise invalid(f"Invalid task status {value}.") from None


class ReportsApi(Service):
    """The calls agents make over the ECS API to report what happened on their host."""

    def submit_task_state_change(self, ctx: RequestContext, request: Request) -> Response:
        self._report(ctx, request.get("cluster"), request["task"], request)
        return {"acknowledgment": "true"}

    def submit_container_state_change(self, ctx: RequestContext, request: Request) -> Response:
        change = {k: request[k] for k in ("containerName", "runtimeId", "status", "exitCode",
                                          "reason", "networkBindings") if k in request}
        self._report(ctx, request.get("cluster"), request["task"], {"containers": [change]})
        return {"acknowledgment": "true"}

    def submit_attachment_state_changes(self, ctx: RequestContext,
                                        request: Request) -> Response:
        """Each attachment names its task's id-free ARN; portside finds the task by it."""
        for change in request["attachments"]:
            task_ref = self._attachment_task(ctx, change["attachmentArn"])
            if task_ref is None:
                raise invalid(f"The attachment {change['attachmentArn']} was not found.")
            self._report(ctx, request.get("cluster"), task_ref, {"attachments": [change]})
        return {"acknowledgment": "true"}

    def _attachment_task(self, ctx: RequestContext, attachment_arn: str) -> str | None:
        """The id of the live task an attachment belongs to."""
        ident = attachment_arn.rsplit("/", 1)[-1]
        with self.runtime.store.begin() as conn:
            return conn.execute(select(tasks.c.id).where(
                tasks.c.account_id == ctx.account_id, tasks.c.region == ctx.region,
                tasks.c.released.is_(False),
                tasks.c.document.contains(f'"id":"{ident}"'))).scalar()

    def _report(self, ctx: RequestContext, cluster_ref: str | None, task_ref: str,
                report: Mapping[str, Any]) -> None:
        self.agents.apply_acks()
        with self.runtime.store.begin() as conn:
            cluster = find_cluster(conn, ctx, cluster_ref)
            task = find_task(conn, ctx, cluster.name, task_ref)
            if task is None:
                raise invalid("The referenced task was not found.")
            with self.state.write(scope_of(task), conn) as (conn, view):
                apply_report(self.state, conn, view, task, report, now())
