"""ECS task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
ListTaskDefinitionFamilies, DeregisterTaskDefinition and DeleteTaskDefinitions, and what
RunTask needs from them (`resolve_task_definition`).

A revision is ACTIVE when registered, INACTIVE once deregistered (no new tasks; still
describable) and DELETE_IN_PROGRESS once submitted for deletion (only INACTIVE ones can be).
Revisions count 1, 2, … per family and are never reused.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-definition-state.html
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from portside.auth.actions import Check
from portside.context import RequestContext
from portside.protocol.errors import AwsError, error
from portside.services.base import Service
from portside.services.ecs import paging, tagging
from portside.services.ecs.task_definition_rules import (
    check_role,
    check_task_definition,
    client_error,
    role_arn,
    task_spec,
)
from portside.services.ecs.task_definition_shape import task_definition
from portside.services.ecs.task_definition_tables import families, task_definitions
from portside.store import first

Request = dict[str, Any]
Response = dict[str, Any]

ACTIVE, INACTIVE, DELETE_IN_PROGRESS = "ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"
MAX_DELETE = 10  # "You can specify up to 10 task definitions" (DeleteTaskDefinitions)
# The principal iam:PassRole names when ECS receives a task or execution role.
PASSED_TO = "ecs-tasks.amazonaws.com"
_STILL_ACTIVE = ("The specified task definition is still in ACTIVE status. Please deregister the "
                 "target and try again.")  # wording: portside
_REFERENCE = re.compile(r"(?P<family>[A-Za-z0-9_-]{1,255})(?::(?P<revision>[1-9][0-9]{0,9}))?")


def task_definition_arn(region: str, account_id: str, family: str, revision: int) -> str:
    return f"{_arn_prefix(region, account_id)}{family}:{revision}"


def _arn_prefix(region: str, account_id: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:task-definition/"


@dataclass(frozen=True)
class Reference:
    """What a request's task definition reference names: `family`, `family:revision` or the
    ARN; a missing revision means the family's latest ACTIVE one."""

    family: str
    revision: int | None


def parse_reference(value: str, ctx: RequestContext) -> Reference | None:
    """The parsed reference, or None when `value` is no task definition reference. An ARN
    must name the caller's own account and region: another account's definitions are not
    the caller's to see."""
    name = value
    if value.startswith("arn:"):
        own = _arn_prefix(ctx.region, ctx.account_id)
        if not value.startswith(own):
            return None
        name = value[len(own):]
    match = _REFERENCE.fullmatch(name)
    if match is None:
        return None
    revision = match.group("revision")
    return Reference(match.group("family"), int(revision) if revision else None)


# Built once: RunTask resolves its task definition on every call.
_FAMILY = select(task_definitions).where(
    task_definitions.c.account_id == bindparam("account_id"),
    task_definitions.c.region == bindparam("region"),
    task_definitions.c.family == bindparam("family"))
_REVISION = _FAMILY.where(task_definitions.c.revision == bindparam("revision"))
_LATEST_ACTIVE = (_FAMILY.where(task_definitions.c.status == ACTIVE)
                  .order_by(task_definitions.c.revision.desc()).limit(1))


def _row_for(conn: Connection, ctx: RequestContext, ref: Reference) -> Row | None:
    """The revision a reference names; a bare family names its latest ACTIVE revision."""
    key = {"account_id": ctx.account_id, "region": ctx.region, "family": ref.family}
    if ref.revision is not None:
        return first(conn, _REVISION, {**key, "revision": ref.revision})
    return first(conn, _LATEST_ACTIVE, key)


def rendered(row: Row) -> dict[str, Any]:
    """The TaskDefinition of a stored revision, with its current status and times."""
    found = json.loads(row.definition)
    found["status"] = row.status
    if row.deregistered_at is not None:
        found["deregisteredAt"] = row.deregistered_at
    if row.delete_requested_at is not None:
        found["deleteRequestedAt"] = row.delete_requested_at
    return found


def resolve_task_definition(conn: Connection, ctx: RequestContext,
                            reference: str) -> dict[str, Any]:
    """The TaskDefinition (AWS's shape, defaults filled) that RunTask, StartTask or a service
    would run for `reference`: `family` (its latest ACTIVE revision), `family:revision` or the
    ARN. Only an ACTIVE revision runs. The dict is shared between calls: never change it."""
    ref = parse_reference(reference, ctx)
    row = _row_for(conn, ctx, ref) if ref is not None else None
    if row is None:
        raise client_error("TaskDefinition not found.")  # (observed, CreateService)
    if row.status != ACTIVE:
        raise client_error("TaskDefinition is inactive")
    return _active(row.definition)


@lru_cache(maxsize=256)
def _active(definition: str) -> dict[str, Any]:
    """An ACTIVE revision's TaskDefinition, decoded once per stored text and shared by the
    runs that resolve it (read-only: a run's overrides copy what they change). A revision's
    text never changes, only its status, which the caller has checked; an ACTIVE revision has
    no deregisteredAt or deleteRequestedAt. Keyed by the text itself, so that another
    store's revision of the same name (a reset, another data directory) is never mistaken
    for it."""
    found = json.loads(definition)
    found["status"] = ACTIVE
    return found


def _read_tags(conn: Connection, arn: tagging.ResourceArn) -> tagging.Tags | None:
    row = conn.execute(select(task_definitions.c.tags).where(
        task_definitions.c.arn == arn.arn)).first()
    return json.loads(row.tags) if row is not None else None


def _write_tags(conn: Connection, arn: tagging.ResourceArn, tags: tagging.Tags) -> None:
    conn.execute(update(task_definitions).where(task_definitions.c.arn == arn.arn)
                 .values(tags=json.dumps(tags)))


tagging.register("task-definition", tagging.TagHolder(_read_tags, _write_tags))


class TaskDefinitionsApi(Service):
    """The task definition operations of the ECS service."""

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        """RegisterTaskDefinition passes its task and execution roles to ECS: the caller needs
        iam:PassRole on each (with iam:PassedToService ecs-tasks.amazonaws.com)."""
        found = super().authorization_checks(ctx, operation, params)
        if operation == "RegisterTaskDefinition":
            found += [Check("iam:PassRole", arn, {"iam:PassedToService": PASSED_TO})
                      for arn in _passed_roles(params, ctx.account_id)]
        return found

    def register_task_definition(self, ctx: RequestContext, request: Request) -> Response:
        spec = task_spec(request, ctx.account_id, ctx.region)
        check_task_definition(spec)
        tags = tagging.validated(request.get("tags") or [])
        with self.runtime.store.begin() as conn:
            revision = _next_revision(conn, ctx, request["family"])
            arn = task_definition_arn(ctx.region, ctx.account_id, request["family"], revision)
            found = task_definition(spec, arn=arn, revision=revision, registered_at=time.time(),
                                    registered_by=ctx.principal.arn)
            conn.execute(insert(task_definitions).values(
                arn=arn, account_id=ctx.account_id, region=ctx.region, family=request["family"],
                revision=revision, status=ACTIVE, definition=json.dumps(found),
                tags=json.dumps(tags)))
        return {"taskDefinition": found, "tags": tags}

    def describe_task_definition(self, ctx: RequestContext, request: Request) -> Response:
        ref = parse_reference(request["taskDefinition"], ctx)
        with self.runtime.store.begin() as conn:
            row = _row_for(conn, ctx, ref) if ref is not None else None
        if row is None:
            raise client_error("Unable to describe task definition.")  # (observed)
        response: Response = {"taskDefinition": rendered(row)}
        if "TAGS" in (request.get("include") or []):
            response["tags"] = json.loads(row.tags)
        return response

    def list_task_definitions(self, ctx: RequestContext, request: Request) -> Response:
        """ARNs sorted by family, then revision; DESC reverses both. `familyPrefix` is, despite
        its name, the whole family (ListTaskDefinitions API reference)."""
        query = select(task_definitions.c.arn, task_definitions.c.family,
                       task_definitions.c.revision).where(
            task_definitions.c.account_id == ctx.account_id,
            task_definitions.c.region == ctx.region,
            task_definitions.c.status == (request.get("status") or ACTIVE))
        if request.get("familyPrefix"):
            query = query.where(task_definitions.c.family == request["familyPrefix"])
        descending = request.get("sort") == "DESC"
        with self.runtime.store.begin() as conn:
            rows = sorted(conn.execute(query).all(), key=lambda r: (r.family, r.revision),
                          reverse=descending)
        chunk, more = paging.page(rows, request, lambda r: [r.family, r.revision],
                                  descending=descending)
        return {"taskDefinitionArns": [r.arn for r in chunk], **more}

    def list_task_definition_families(self, ctx: RequestContext, request: Request) -> Response:
        """Families with a revision in any state; ACTIVE keeps those with an ACTIVE revision,
        INACTIVE those without one."""
        query = select(task_definitions.c.family, task_definitions.c.status).where(
            task_definitions.c.account_id == ctx.account_id,
            task_definitions.c.region == ctx.region)
        prefix = request.get("familyPrefix")
        if prefix:
            query = query.where(task_definitions.c.family.startswith(prefix, autoescape=True))
        with self.runtime.store.begin() as conn:
            rows = conn.execute(query).all()
        active = {r.family for r in rows if r.status == ACTIVE}
        wanted = request.get("status") or "ALL"
        names = sorted({r.family for r in rows
                        if wanted == "ALL" or (r.family in active) == (wanted == ACTIVE)})
        chunk, more = paging.page(names, request, lambda name: [name])
        return {"families": chunk, **more}

    def deregister_task_definition(self, ctx: RequestContext, request: Request) -> Response:
        with self.runtime.store.begin() as conn:
            row = _revision_row(conn, ctx, request["taskDefinition"])
            if row.status == ACTIVE:
                conn.execute(update(task_definitions).where(task_definitions.c.arn == row.arn)
                             .values(status=INACTIVE, deregistered_at=time.time()))
                row = _reread(conn, row.arn)
        return {"taskDefinition": rendered(row)}

    def delete_task_definitions(self, ctx: RequestContext, request: Request) -> Response:
        """Submit INACTIVE revisions for deletion; each other reference becomes a failure.
        The revisions stay describable in DELETE_IN_PROGRESS: ECS deletes one only once no
        task or service uses it, and portside keeps them, as their tasks may still run."""
        references = request["taskDefinitions"]
        if len(references) > MAX_DELETE:
            raise error("InvalidParameterException",  # wording: portside
                        f"You can specify up to {MAX_DELETE} task definitions.")
        deleted, failures = [], []
        with self.runtime.store.begin() as conn:
            for reference in references:
                try:
                    row = _revision_row(conn, ctx, reference)
                except AwsError as exc:
                    failures.append({"arn": reference, "reason": "MISSING", "detail": exc.message})
                    continue
                if row.status == ACTIVE:
                    failures.append({"arn": row.arn, "reason": "ACTIVE", "detail": _STILL_ACTIVE})
                    continue
                if row.status == INACTIVE:
                    conn.execute(update(task_definitions)
                                 .where(task_definitions.c.arn == row.arn)
                                 .values(status=DELETE_IN_PROGRESS,
                                         delete_requested_at=time.time()))
                    row = _reread(conn, row.arn)
                deleted.append(rendered(row))
        return {"taskDefinitions": deleted, "failures": failures}

    def task_definition_for_run(self, ctx: RequestContext, reference: str) -> dict[str, Any]:
        """`resolve_task_definition` in a transaction of its own."""
        with self.runtime.store.begin() as conn:
            return resolve_task_definition(conn, ctx, reference)


def _passed_roles(params: dict[str, Any], account_id: str) -> list[str]:
    """The full ARNs of the well-formed task and execution roles a request names."""
    found: list[str] = []
    for member in ("taskRoleArn", "executionRoleArn"):
        try:
            check_role(params.get(member))
        except AwsError:
            continue  # the handler refuses it: "Role is not valid"
        arn = role_arn(params.get(member), account_id)
        if arn and arn not in found:
            found.append(arn)
    return found


def _next_revision(conn: Connection, ctx: RequestContext, family: str) -> int:
    """Count the family's next revision, writing first so concurrent writers serialize."""
    key = (families.c.account_id == ctx.account_id, families.c.region == ctx.region,
           families.c.family == family)
    bumped = conn.execute(update(families).where(*key)
                          .values(last_revision=families.c.last_revision + 1))
    if bumped.rowcount == 0:
        conn.execute(insert(families).values(account_id=ctx.account_id, region=ctx.region,
                                             family=family, last_revision=1))
        return 1
    return conn.execute(select(families.c.last_revision).where(*key)).scalar_one()


def _revision_row(conn: Connection, ctx: RequestContext, reference: str) -> Row:
    """The revision `family:revision` or an ARN names; Deregister and Delete need a revision."""
    ref = parse_reference(reference, ctx)
    if ref is not None and ref.revision is None:
        raise client_error("The task definition revision must be specified.")  # wording: portside
    row = _row_for(conn, ctx, ref) if ref is not None else None
    if row is None:
        raise client_error("The specified task definition does not exist.")  # wording: portside
    return row


def _reread(conn: Connection, arn: str) -> Row:
    return conn.execute(select(task_definitions).where(task_definitions.c.arn == arn)).one()
