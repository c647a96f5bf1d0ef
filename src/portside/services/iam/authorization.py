"""What an IAM call is authorized against: `iam:<Operation>` on the ARN of the user, group,
role or policy it names, with IAM's condition keys.

IAM's resources carry their path in the ARN, which a request naming only `UserName` does not
give, so the ARN is looked up (an entity that does not exist yet has the path the request
gives, or "/"). Calls that name no entity (ListUsers, ListPolicies …) are checked on "*".
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from portside.auth.actions import Check
from portside.auth.identity import PrincipalType
from portside.context import RequestContext
from portside.services.iam import ids, tagging
from portside.services.iam.model import GROUP, ROLE, USER, IdentityKind, access_keys, users

# Where a call names several identities, the one its action is about comes first (AWS lists
# AddUserToGroup under the group resource type, AttachUserPolicy under the user).
_NAMED = (GROUP, ROLE, USER)
# The calls that act on the calling user when they name none.
_CALLING_USER = frozenset({"GetUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey",
                           "DeleteAccessKey"})


def checks(conn: Connection, ctx: RequestContext, operation: str,
           params: dict[str, Any]) -> list[Check]:
    resource, keys = _resource(conn, ctx, operation, params)
    if params.get("PolicyArn") and resource != params["PolicyArn"]:
        keys["iam:PolicyARN"] = params["PolicyArn"]
    return [Check(f"iam:{operation}", resource, keys)]


def _resource(conn: Connection, ctx: RequestContext, operation: str,
              params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The resource ARN and the condition keys that come with it."""
    for kind in _NAMED:
        if params.get(kind.name_member):
            return _identity(conn, ctx, kind, params[kind.name_member], params)
    if operation in _CALLING_USER and ctx.principal.type is PrincipalType.IAM_USER:
        return ctx.principal.arn, {}
    if operation == "GetAccessKeyLastUsed":
        owner = conn.execute(select(users.c.arn).join(
            access_keys, access_keys.c.user_id == users.c.id).where(
            access_keys.c.access_key_id == params["AccessKeyId"])).scalar()
        return owner or "*", {}
    if operation == "CreatePolicy":
        return ids.iam_arn(ctx.account_id, "policy", params.get("Path") or "/",
                           params["PolicyName"]), {}
    for member in ("PolicyArn", "PolicySourceArn"):
        if params.get(member):
            return params[member], {}
    return "*", {}


def _identity(conn: Connection, ctx: RequestContext, kind: IdentityKind, name: str,
              params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    t = kind.table
    row: Row | None = conn.execute(select(t).where(t.c.account_id == ctx.account_id,
                                                   t.c.name_key == name.lower())).first()
    keys: dict[str, Any] = {}
    if kind is GROUP:
        return (row.arn if row else ids.iam_arn(ctx.account_id, kind.kind,
                                                 params.get("Path") or "/", name)), keys
    boundary = params.get("PermissionsBoundary") or (row.boundary_arn if row else None)
    if boundary:
        keys["iam:PermissionsBoundary"] = boundary
    if row is None:
        return ids.iam_arn(ctx.account_id, kind.kind, params.get("Path") or "/", name), keys
    for tag in tagging.of(conn, row.id):
        keys[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
    return row.arn, keys
