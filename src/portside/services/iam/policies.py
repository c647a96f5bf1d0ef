"""Managed policies, customer and AWS alike: finding them by ARN, their documents, their shape.

A customer managed policy is a row with versions; an AWS managed one comes from the catalogue.
Both are attached by ARN, so attachments and boundaries refer to ARNs, never to row ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, union_all

from portside.protocol.errors import AwsError, error
from portside.services.iam import ids, managed
from portside.services.iam.model import attachments, policies, policy_versions, roles, users


@dataclass(frozen=True)
class ManagedPolicy:
    arn: str
    name: str
    policy_id: str
    path: str
    description: str | None
    default_version: int
    create_date: float
    update_date: float
    is_aws: bool

    @property
    def name_key(self) -> str:
        return self.name.lower()


def not_found(arn: str) -> AwsError:
    return error("NoSuchEntity", f"Policy {arn} was not found.")


def find(conn: Connection, account_id: str, arn: str) -> ManagedPolicy:
    """The managed policy `arn` names, as seen from `account_id` (which may use its own
    customer managed policies and every AWS managed one)."""
    parsed = ids.parse_iam_arn(arn, "policy")
    if parsed.account_id == managed.AWS_ACCOUNT:
        catalogued = managed.BY_ARN.get(arn)
        if catalogued is None:
            raise not_found(arn)
        return _from_catalogue(catalogued)
    if parsed.account_id != account_id:
        raise not_found(arn)
    row = conn.execute(select(policies).where(policies.c.arn == arn)).first()
    if row is None:
        raise not_found(arn)
    return _from_row(row)


def customer_owned(policy: ManagedPolicy) -> ManagedPolicy:
    """`policy`, if the account may change it: AWS managed policies are read-only."""
    if policy.is_aws:
        raise error("UnmodifiableEntity",
                    f"Policy {policy.arn} is an AWS managed policy and cannot be modified.")
    return policy


def all_in(conn: Connection, account_id: str) -> list[ManagedPolicy]:
    """The account's customer managed policies, then the AWS managed catalogue."""
    rows = conn.execute(select(policies).where(policies.c.account_id == account_id)).all()
    return [_from_row(r) for r in rows] + [_from_catalogue(p) for p in managed.CATALOGUE]


def document(conn: Connection, policy: ManagedPolicy, number: int | None = None) -> str:
    """The document of version `number` (the default when None)."""
    number = policy.default_version if number is None else number
    if policy.is_aws:
        if number != 1:
            raise no_such_version(policy, number)
        return managed.BY_ARN[policy.arn].document
    text = conn.execute(select(policy_versions.c.document).where(
        policy_versions.c.policy_id == policy.policy_id,
        policy_versions.c.number == number)).scalar()
    if text is None:
        raise no_such_version(policy, number)
    return text


def no_such_version(policy: ManagedPolicy, number: int) -> AwsError:
    return error("NoSuchEntity",
                 f"Policy {policy.arn} version v{number} does not exist or is not attachable.")


def usage_counts(conn: Connection, account_id: str) -> dict[str, tuple[int, int]]:
    """ARN -> (attachment count, permissions boundary usage count) in `account_id`."""
    attached = select(attachments.c.policy_arn.label("arn"), func.count().label("n")).where(
        attachments.c.account_id == account_id).group_by(attachments.c.policy_arn)
    bounded = union_all(
        *(select(t.c.boundary_arn.label("arn")).where(
            t.c.account_id == account_id, t.c.boundary_arn.is_not(None)) for t in (users, roles))
    ).subquery()
    counts: dict[str, tuple[int, int]] = {}
    for arn, n in conn.execute(attached):
        counts[arn] = (n, 0)
    for arn, n in conn.execute(select(bounded.c.arn, func.count()).group_by(bounded.c.arn)):
        counts[arn] = (counts.get(arn, (0, 0))[0], n)
    return counts


def shape(policy: ManagedPolicy, counts: tuple[int, int],
          tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The Policy shape; `tags` for GetPolicy and CreatePolicy, which return them."""
    out: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": f"v{policy.default_version}",
        "AttachmentCount": counts[0],
        "PermissionsBoundaryUsageCount": counts[1],
        "IsAttachable": True,
        "CreateDate": policy.create_date,
        "UpdateDate": policy.update_date,
    }
    if policy.description is not None:
        out["Description"] = policy.description
    if tags:
        out["Tags"] = tags
    return out


def parse_version_id(version_id: str, policy: ManagedPolicy) -> int:
    """`v3` -> 3; anything else names no version of `policy`."""
    digits = version_id[1:]
    if version_id[:1] == "v" and digits.isdigit() and digits.isascii():
        return int(digits)
    raise error("InvalidInput", f"Invalid version id {version_id} for policy {policy.arn}.")


def _from_row(row: Any) -> ManagedPolicy:
    return ManagedPolicy(row.arn, row.name, row.id, row.path, row.description,
                         row.default_version, row.create_date, row.update_date, False)


def _from_catalogue(p: managed.AwsManagedPolicy) -> ManagedPolicy:
    return ManagedPolicy(p.arn, p.name, p.policy_id, p.path, p.description, 1,
                         p.create_date, p.create_date, True)
