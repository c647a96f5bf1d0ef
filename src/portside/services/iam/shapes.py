"""Rows to IAM response shapes (botocore member names).

IAM's list operations return a subset of an entity's attributes: ListUsers and ListRoles leave
out tags and the permissions boundary, which GetUser and GetRole include.
https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import Row

from portside.services.iam.model import GROUP, ROLE, IdentityKind


def url_encoded(document: str) -> str:
    """IAM returns policy documents URL-encoded (RFC 3986); SDKs decode them."""
    return quote(document, safe="")


def identity(kind: IdentityKind, row: Row, *, tags: list[dict[str, str]] | None = None,
             full: bool = False) -> dict[str, Any]:
    """A User, Group or Role; `full` adds what the Get and Create operations return."""
    out: dict[str, Any] = {
        "Path": row.path,
        kind.name_member: row.name,
        f"{kind.noun}Id": row.id,
        "Arn": row.arn,
        "CreateDate": row.create_date,
    }
    if kind is ROLE:
        out["AssumeRolePolicyDocument"] = url_encoded(row.trust_policy)
        out["MaxSessionDuration"] = row.max_session_duration
        if row.description is not None:
            out["Description"] = row.description
    if full and kind is not GROUP:
        if row.boundary_arn:
            out["PermissionsBoundary"] = boundary(row.boundary_arn)
        if tags:
            out["Tags"] = tags
    if full and kind is ROLE:
        out["RoleLastUsed"] = role_last_used(row)
    return out


def boundary(arn: str) -> dict[str, str]:
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}


def role_last_used(row: Row) -> dict[str, Any]:
    if row.last_used_date is None:
        return {}
    return {"LastUsedDate": row.last_used_date, "Region": row.last_used_region}


def access_key(row: Row, user_name: str) -> dict[str, Any]:
    return {"UserName": user_name, "AccessKeyId": row.access_key_id, "Status": row.status,
            "CreateDate": row.create_date}


def policy_version(number: int, document: str | None, is_default: bool,
                   create_date: float) -> dict[str, Any]:
    out: dict[str, Any] = {"VersionId": f"v{number}", "IsDefaultVersion": is_default,
                           "CreateDate": create_date}
    if document is not None:
        out["Document"] = url_encoded(document)
    return out

