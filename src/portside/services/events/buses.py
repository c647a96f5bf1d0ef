"""Event buses: the default bus every account has in every region, custom buses, and the
resource policy that lets other accounts put events on a bus.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from portside.auth.policy import PolicyKind
from portside.context import RequestContext
from portside.protocol.errors import error
from portside.services.base import ResourcePolicy, Service
from portside.services.events.common import (
    Request,
    Response,
    bus_not_found,
    checked_tags,
    page,
    validation,
)
from portside.services.events.model import buses_table, rules_table, targets_table
from portside.services.events.names import DEFAULT_BUS, BusRef, bus_ref, parse_bus_arn
from portside.services.iam import documents

PUT_EVENTS = "events:PutEvents"
MAX_POLICY = 10_240  # the "Event bus policy size" quota, in characters


def find_bus(conn: Connection, ref: BusRef, *, create_default: bool = True) -> Row | None:
    """The bus `ref` names; the default bus is there from an account's first look at it."""
    row = conn.execute(select(buses_table).where(*_bus_key(ref))).first()
    if row is None and ref.name == DEFAULT_BUS and create_default:
        _create(conn, ref, None, [])
        return find_bus(conn, ref)
    return row


def existing_bus(conn: Connection, ref: BusRef) -> Row:
    row = find_bus(conn, ref)
    if row is None:
        raise bus_not_found(ref.name)
    return row


def _create(conn: Connection, ref: BusRef, description: str | None,
            tags: list[dict[str, str]]) -> None:
    now = time.time()
    conn.execute(insert(buses_table).values(
        account_id=ref.account_id, region=ref.region, name=ref.name, description=description,
        policy=None, tags=json.dumps(tags), created=now, modified=now))


def _shape(row: Row) -> dict[str, Any]:
    ref = BusRef(row.account_id, row.region, row.name)
    shape: dict[str, Any] = {"Name": row.name, "Arn": ref.arn}
    if row.description:
        shape["Description"] = row.description
    if row.policy:
        shape["Policy"] = row.policy
    shape["CreationTime"] = row.created
    shape["LastModifiedTime"] = row.modified
    return shape


class BusesApi(Service):
    """The event bus operations of the EventBridge service."""

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        """A bus's policy decides who else may put events on it."""
        ref = parse_bus_arn(resource_arn)
        if ref is None:
            return None
        with self.runtime.store.begin() as conn:
            row = find_bus(conn, ref, create_default=False)
        if row is None or not row.policy:
            return None
        return ResourcePolicy(row.policy, row.account_id)

    def create_event_bus(self, ctx: RequestContext, request: Request) -> Response:
        name = request["Name"]
        if request.get("EventSourceName"):
            # Partner buses take their events from a partner's event source; portside has none.
            raise error("ResourceNotFoundException",
                        f"Event source {request['EventSourceName']} does not exist.")
        if "/" in name:
            raise validation("Event bus name must not contain '/'.")
        ref = BusRef(ctx.account_id, ctx.region, name)
        with self.runtime.store.begin() as conn:
            if find_bus(conn, ref) is not None:
                raise error("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
            _create(conn, ref, request.get("Description"),
                    checked_tags(request.get("Tags") or []))
        response: Response = {"EventBusArn": ref.arn}
        if request.get("Description"):
            response["Description"] = request["Description"]
        return response

    def update_event_bus(self, ctx: RequestContext, request: Request) -> Response:
        ref = bus_ref(ctx, request.get("Name"))
        with self.runtime.store.begin() as conn:
            existing_bus(conn, ref)
            if "Description" in request:
                conn.execute(update(buses_table).where(*_bus_key(ref)).values(
                    description=request["Description"] or None, modified=time.time()))
            row = existing_bus(conn, ref)
        shape = _shape(row)
        return {k: shape[k] for k in ("Arn", "Name", "Description") if k in shape}

    def delete_event_bus(self, ctx: RequestContext, request: Request) -> Response:
        """Deleting a custom bus deletes its rules and their targets; the default bus stays."""
        name = request["Name"]
        if name == DEFAULT_BUS:
            raise validation("Cannot delete event bus default.")
        ref = BusRef(ctx.account_id, ctx.region, name)
        with self.runtime.store.begin() as conn:
            for table in (targets_table, rules_table):
                conn.execute(delete(table).where(
                    table.c.account_id == ref.account_id, table.c.region == ref.region,
                    table.c.bus == ref.name))
            conn.execute(delete(buses_table).where(*_bus_key(ref)))
        self.routes.forget(ref)
        return {}

    def describe_event_bus(self, ctx: RequestContext, request: Request) -> Response:
        ref = bus_ref(ctx, request.get("Name"))
        with self.runtime.store.begin() as conn:
            return _shape(existing_bus(conn, ref))

    def list_event_buses(self, ctx: RequestContext, request: Request) -> Response:
        prefix = request.get("NamePrefix") or ""
        with self.runtime.store.begin() as conn:
            find_bus(conn, BusRef(ctx.account_id, ctx.region, DEFAULT_BUS))
            rows = conn.execute(select(buses_table).where(
                buses_table.c.account_id == ctx.account_id, buses_table.c.region == ctx.region)
                .order_by(buses_table.c.name)).all()
        chosen, token = page([r for r in rows if r.name.startswith(prefix)], lambda r: r.name,
                             request, f"ListEventBuses:{prefix}")
        response: Response = {"EventBuses": [_shape(r) for r in chosen]}
        if token:
            response["NextToken"] = token
        return response

    # -- permissions ---------------------------------------------------------------------------

    def put_permission(self, ctx: RequestContext, request: Request) -> Response:
        """Add one statement (who may call `events:PutEvents`), or replace the whole policy."""
        ref = BusRef(ctx.account_id, ctx.region, request.get("EventBusName") or DEFAULT_BUS)
        with self.runtime.store.begin() as conn:
            row = existing_bus(conn, ref)
            if request.get("Policy"):
                policy = request["Policy"]
                documents.validated(policy, PolicyKind.RESOURCE, malformed="ValidationException")
            else:
                policy = json.dumps(_with_statement(row.policy, _statement(ref, request)))
            if len(policy) > MAX_POLICY:
                raise error("PolicyLengthExceededException",
                            f"The policy is longer than {MAX_POLICY} characters.")
            self._write_policy(conn, ref, policy)
        return {}

    def remove_permission(self, ctx: RequestContext, request: Request) -> Response:
        ref = BusRef(ctx.account_id, ctx.region, request.get("EventBusName") or DEFAULT_BUS)
        with self.runtime.store.begin() as conn:
            row = existing_bus(conn, ref)
            if request.get("RemoveAllPermissions"):
                self._write_policy(conn, ref, None)
                return {}
            sid = request.get("StatementId")
            if not sid:
                raise validation("Parameter StatementId is required when RemoveAllPermissions "
                                 "is not true.")
            document = json.loads(row.policy) if row.policy else {"Statement": []}
            statements = document.get("Statement") or []
            kept = [s for s in statements if s.get("Sid") != sid]
            if len(kept) == len(statements):
                raise error("ResourceNotFoundException",
                            "Statement with the provided id does not exist.")
            document["Statement"] = kept
            self._write_policy(conn, ref, json.dumps(document) if kept else None)
        return {}

    def _write_policy(self, conn: Connection, ref: BusRef, policy: str | None) -> None:
        conn.execute(update(buses_table).where(*_bus_key(ref)).values(
            policy=policy, modified=time.time()))


def _bus_key(ref: BusRef) -> tuple[Any, ...]:
    return (buses_table.c.account_id == ref.account_id, buses_table.c.region == ref.region,
            buses_table.c.name == ref.name)


def _statement(ref: BusRef, request: Request) -> dict[str, Any]:
    """The statement PutPermission writes for Action/Principal/StatementId/Condition."""
    for member in ("Action", "Principal", "StatementId"):
        if not request.get(member):
            raise validation(f"Parameter {member} is required when Policy is not given.")
    if request["Action"] != PUT_EVENTS:
        raise validation("Provided value in parameter 'action' is not supported.")
    principal = request["Principal"]
    statement: dict[str, Any] = {
        "Sid": request["StatementId"], "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": PUT_EVENTS, "Resource": ref.arn,
    }
    condition = request.get("Condition")
    if condition:
        statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
    return statement


def _with_statement(policy: str | None, statement: dict[str, Any]) -> dict[str, Any]:
    """The policy with `statement` added, replacing one of the same Sid."""
    document = json.loads(policy) if policy else {"Version": "2012-10-17", "Statement": []}
    statements = [s for s in document.get("Statement") or [] if s.get("Sid") != statement["Sid"]]
    document["Statement"] = [*statements, statement]
    return document
