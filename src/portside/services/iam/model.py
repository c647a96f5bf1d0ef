"""IAM's tables and the three kinds of identity (users, groups, roles) that share their shape.

IAM is global: rows are scoped by account, never by region. Names are unique per account
without regard to case ("you cannot create users named both ADMIN and admin"), so each named
row keeps `name_key`, its lower-cased name, under a unique constraint; lookups go by it.
Times are epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from portside.auth.policy import GROUP_INLINE_SIZE, ROLE_INLINE_SIZE, USER_INLINE_SIZE
from portside.services.iam import ids
from portside.store import metadata


def _identity_table(name: str, *extra: Column) -> Table:
    """A user, group or role table: the columns the three share, then the kind's own."""
    return Table(
        name,
        metadata,
        Column("id", String(32), primary_key=True),  # AIDA… / AGPA… / AROA…
        Column("account_id", String(12), nullable=False),
        Column("name", String(128), nullable=False),
        Column("name_key", String(128), nullable=False),
        Column("path", String(512), nullable=False),
        Column("arn", String(2048), nullable=False),
        Column("create_date", Float, nullable=False),
        *extra,
        UniqueConstraint("account_id", "name_key"),
    )


users = _identity_table("iam_users", Column("boundary_arn", String(2048)))
groups = _identity_table("iam_groups")
roles = _identity_table(
    "iam_roles",
    Column("boundary_arn", String(2048)),
    Column("trust_policy", Text, nullable=False),
    Column("description", String(1000)),
    Column("max_session_duration", Integer, nullable=False),
    Column("last_used_date", Float),
    Column("last_used_region", String(32)),
)

group_members = Table(
    "iam_group_members",
    metadata,
    Column("group_id", String(32), ForeignKey("iam_groups.id"), primary_key=True),
    Column("user_id", String(32), ForeignKey("iam_users.id"), primary_key=True),
)

access_keys = Table(
    "iam_access_keys",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("user_id", String(32), ForeignKey("iam_users.id"), nullable=False, index=True),
    Column("secret", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # Active | Inactive
    Column("create_date", Float, nullable=False),
    Column("last_used_date", Float),
    Column("last_used_service", String(64)),
    Column("last_used_region", String(32)),
)

# Customer managed policies; AWS managed ones are a fixed catalogue (managed.py).
policies = Table(
    "iam_policies",
    metadata,
    Column("id", String(32), primary_key=True),  # ANPA…
    Column("account_id", String(12), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("description", String(1000)),
    Column("default_version", Integer, nullable=False),
    Column("next_version", Integer, nullable=False),  # version ids are never reused
    Column("create_date", Float, nullable=False),
    Column("update_date", Float, nullable=False),
    UniqueConstraint("account_id", "name_key"),
)

policy_versions = Table(
    "iam_policy_versions",
    metadata,
    Column("policy_id", String(32), ForeignKey("iam_policies.id"), primary_key=True),
    Column("number", Integer, primary_key=True),  # VersionId is f"v{number}"
    Column("document", Text, nullable=False),
    Column("create_date", Float, nullable=False),
)

# Inline policies and managed-policy attachments of users, groups and roles: `entity_id` is
# the identity's unique id, whose prefix already tells the kind.
inline_policies = Table(
    "iam_inline_policies",
    metadata,
    Column("entity_id", String(32), primary_key=True),
    Column("name_key", String(128), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("document", Text, nullable=False),
)

attachments = Table(
    "iam_attachments",
    metadata,
    Column("entity_id", String(32), primary_key=True),
    Column("policy_arn", String(2048), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
)

# Tags of users, roles and customer managed policies; keys are case-insensitive, case kept.
tags = Table(
    "iam_tags",
    metadata,
    Column("resource_id", String(32), primary_key=True),
    Column("key_lower", String(128), primary_key=True),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
)

# STS sessions (AssumeRole, GetSessionToken): the temporary key, who it acts as, and what
# narrows or labels it. Policies and tags are JSON.
sts_sessions = Table(
    "sts_sessions",
    metadata,
    Column("access_key_id", String(32), primary_key=True),  # ASIA…
    Column("account_id", String(12), nullable=False),
    Column("secret", String(64), nullable=False),
    Column("token", Text, nullable=False),
    Column("expiration", Float, nullable=False, index=True),
    Column("create_date", Float, nullable=False),
    Column("principal_type", String(32), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("user_id", String(160), nullable=False),  # aws:userid
    Column("name", String(128)),  # the role session name, or the user name
    Column("issuer_arn", String(2048), nullable=False),  # the role, user or root behind it
    Column("issuer_id", String(32), nullable=False),  # AROA… / AIDA… / the account id
    Column("policy", Text),  # the inline session policy
    Column("policy_arns", Text, nullable=False),  # managed session policies
    Column("tags", Text, nullable=False),  # session tags, inherited transitive ones included
    Column("transitive_tag_keys", Text, nullable=False),
    Column("source_identity", String(64)),
)


@dataclass(frozen=True)
class IdentityKind:
    """What differs between users, groups and roles where IAM treats them alike (inline and
    attached policies, names in requests, ARNs)."""

    kind: str  # the ARN's resource type, and the SourcePolicyType of its inline policies
    noun: str  # "User" in operation and member names: UserName, ListUserPolicies …
    table: Table
    prefix: str
    # The aggregate size of its inline policies, white space not counted (IAM quotas).
    inline_quota: int

    @property
    def name_member(self) -> str:
        return f"{self.noun}Name"


USER = IdentityKind("user", "User", users, ids.USER_PREFIX, USER_INLINE_SIZE)
GROUP = IdentityKind("group", "Group", groups, ids.GROUP_PREFIX, GROUP_INLINE_SIZE)
ROLE = IdentityKind("role", "Role", roles, ids.ROLE_PREFIX, ROLE_INLINE_SIZE)
