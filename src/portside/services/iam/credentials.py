"""Credentials IAM and STS issue: users' access keys and STS sessions, as the keyring needs
them, and the issuing of session credentials.

An Inactive or unknown user key resolves to nothing, which the gateway answers with
InvalidClientTokenId, as AWS does. A session key resolves until it is deleted, expired or
not; the gateway compares the expiration on every request (ExpiredToken) and the token.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from portside.auth.identity import AccessKey, Principal, PrincipalType
from portside.services.iam import ids
from portside.services.iam.model import access_keys, sts_sessions, users

# Sessions are kept a day past their expiration, so a late request still hears ExpiredToken
# rather than that its key is unknown.
EXPIRED_SESSION_RETENTION = 86_400


def user_key(conn: Connection, access_key_id: str) -> AccessKey | None:
    """An IAM user's Active access key, or None."""
    row = conn.execute(select(access_keys.c.secret, users.c.account_id, users.c.arn,
                              users.c.id, users.c.name).join(
        users, users.c.id == access_keys.c.user_id).where(
        access_keys.c.access_key_id == access_key_id,
        access_keys.c.status == "Active")).first()
    if row is None:
        return None
    principal = Principal(PrincipalType.IAM_USER, row.account_id, row.arn, row.id, row.name)
    return AccessKey(access_key_id, row.secret, principal)


def session_key(conn: Connection, access_key_id: str) -> AccessKey | None:
    """An STS session's temporary key with its token and expiration, or None."""
    row = conn.execute(select(sts_sessions).where(
        sts_sessions.c.access_key_id == access_key_id)).first()
    if row is None:
        return None
    principal = Principal(PrincipalType(row.principal_type), row.account_id, row.arn,
                          row.user_id, row.name, issuer_arn=row.issuer_arn,
                          session_key_id=row.access_key_id)
    return AccessKey(access_key_id, row.secret, principal, session_token=row.token,
                     expiration=datetime.fromtimestamp(row.expiration, UTC))


@dataclass(frozen=True)
class SessionSpec:
    """What a new STS session is: who it acts as, for how long, narrowed and labelled how."""

    principal_type: PrincipalType
    account_id: str
    arn: str
    user_id: str
    name: str | None
    issuer_arn: str
    issuer_id: str
    duration: int  # seconds
    policy: str | None = None
    policy_arns: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    transitive_tag_keys: list[str] = field(default_factory=list)
    source_identity: str | None = None


def issue_session(conn: Connection, spec: SessionSpec) -> dict[str, Any]:
    """Store a new session and return its Credentials (the STS shape)."""
    now = time.time()
    conn.execute(delete(sts_sessions).where(
        sts_sessions.c.expiration < now - EXPIRED_SESSION_RETENTION))
    row = {
        "access_key_id": ids.access_key_id(ids.SESSION_KEY_PREFIX, spec.account_id),
        "account_id": spec.account_id,
        "secret": ids.secret_access_key(),
        "token": ids.session_token(),
        "expiration": float(int(now) + spec.duration),
        "create_date": now,
        "principal_type": str(spec.principal_type),
        "arn": spec.arn,
        "user_id": spec.user_id,
        "name": spec.name,
        "issuer_arn": spec.issuer_arn,
        "issuer_id": spec.issuer_id,
        "policy": spec.policy,
        "policy_arns": json.dumps(spec.policy_arns),
        "tags": json.dumps(spec.tags),
        "transitive_tag_keys": json.dumps(spec.transitive_tag_keys),
        "source_identity": spec.source_identity,
    }
    conn.execute(insert(sts_sessions).values(**row))
    return {"AccessKeyId": row["access_key_id"], "SecretAccessKey": row["secret"],
            "SessionToken": row["token"],
            "Expiration": datetime.fromtimestamp(row["expiration"], UTC)}


def transitive_tags(conn: Connection, session_key_id: str | None) -> list[dict[str, str]]:
    """The tags a session passes on to the sessions it starts (role chaining)."""
    if session_key_id is None:
        return []
    row = conn.execute(select(sts_sessions.c.tags, sts_sessions.c.transitive_tag_keys).where(
        sts_sessions.c.access_key_id == session_key_id)).first()
    if row is None:
        return []
    keys = {k.lower() for k in json.loads(row.transitive_tag_keys)}
    return [t for t in json.loads(row.tags) if t["Key"].lower() in keys]


def source_identity(conn: Connection, session_key_id: str | None) -> str | None:
    if session_key_id is None:
        return None
    return conn.execute(select(sts_sessions.c.source_identity).where(
        sts_sessions.c.access_key_id == session_key_id)).scalar()
