"""Reading and writing secrets and versions in the store. Values stay sealed here; the service
seals and opens them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from portside.services.secretsmanager.ids import SecretRef
from portside.services.secretsmanager.model import secrets_table, versions_table
from portside.services.tag_lists import Tags


@dataclass(frozen=True)
class Secret:
    id: int
    account_id: str
    region: str
    name: str
    arn: str
    description: str | None = None
    kms_key_id: str | None = None
    tags: Tags = field(default_factory=list)
    policy: str | None = None
    created: float = 0.0
    last_changed: float = 0.0
    last_accessed: float | None = None
    deletion_date: float | None = None

    @property
    def scheduled_for_deletion(self) -> bool:
        return self.deletion_date is not None


@dataclass(frozen=True)
class Version:
    version_id: str
    secret_string: bytes | None  # sealed
    secret_binary: bytes | None  # sealed
    stages: list[str]
    created: float
    last_accessed: float | None = None


def _secret(row: Row) -> Secret:
    return Secret(row.id, row.account_id, row.region, row.name, row.arn, row.description,
                  row.kms_key_id, json.loads(row.tags), row.policy, row.created,
                  row.last_changed, row.last_accessed, row.deletion_date)


def _version(row: Row) -> Version:
    return Version(row.version_id, row.secret_string, row.secret_binary,
                   json.loads(row.stages), row.created, row.last_accessed)


def find(conn: Connection, ref: SecretRef) -> Secret | None:
    """The secret a SecretId names: by its exact ARN when complete, else by name."""
    t = secrets_table
    where = [t.c.arn == ref.arn] if ref.arn else [
        t.c.account_id == ref.account_id, t.c.region == ref.region, t.c.name == ref.name]
    row = conn.execute(select(t).where(*where)).first()
    return _secret(row) if row else None


def by_arn(conn: Connection, arn: str) -> Secret | None:
    row = conn.execute(select(secrets_table).where(secrets_table.c.arn == arn)).first()
    return _secret(row) if row else None


def in_region(conn: Connection, account_id: str, region: str) -> list[Secret]:
    t = secrets_table
    rows = conn.execute(select(t).where(t.c.account_id == account_id, t.c.region == region))
    return [_secret(r) for r in rows]


def due_for_purge(conn: Connection, now: float) -> list[Secret]:
    t = secrets_table
    rows = conn.execute(select(t).where(t.c.deletion_date.is_not(None),
                                        t.c.deletion_date <= now))
    return [_secret(r) for r in rows]


def create(conn: Connection, secret: Secret) -> Secret:
    values = _columns(secret.__dict__)
    values.pop("id")
    result = conn.execute(insert(secrets_table).values(values))
    return Secret(**{**secret.__dict__, "id": result.inserted_primary_key[0]})


def change(conn: Connection, secret: Secret, **changes: Any) -> Secret:
    """Write the changed fields of a secret and answer the secret as it now is."""
    conn.execute(update(secrets_table).where(secrets_table.c.id == secret.id)
                 .values(_columns(changes)))
    return Secret(**{**secret.__dict__, **changes})


def remove(conn: Connection, secret: Secret) -> None:
    # Explicit deletes rather than ON DELETE CASCADE alone: foreign keys are a per-connection
    # setting in SQLite.
    conn.execute(delete(versions_table).where(versions_table.c.secret_id == secret.id))
    conn.execute(delete(secrets_table).where(secrets_table.c.id == secret.id))


def versions(conn: Connection, secret: Secret) -> list[Version]:
    """A secret's versions, oldest first."""
    t = versions_table
    rows = conn.execute(select(t).where(t.c.secret_id == secret.id)
                        .order_by(t.c.created, t.c.version_id))
    return [_version(r) for r in rows]


def add_version(conn: Connection, secret: Secret, version: Version) -> None:
    conn.execute(insert(versions_table).values(
        secret_id=secret.id, version_id=version.version_id,
        secret_string=version.secret_string, secret_binary=version.secret_binary,
        stages=json.dumps(version.stages), created=version.created,
        last_accessed=version.last_accessed))


def set_stages(conn: Connection, secret: Secret, before: Mapping[str, list[str]],
               after: Mapping[str, list[str]]) -> None:
    """Write the labels of the versions whose labels changed."""
    t = versions_table
    for version_id, labels in after.items():
        if before.get(version_id) != labels:
            conn.execute(update(t).where(t.c.secret_id == secret.id,
                                         t.c.version_id == version_id)
                         .values(stages=json.dumps(labels)))


def drop_versions(conn: Connection, secret: Secret, version_ids: Iterable[str]) -> None:
    t = versions_table
    ids = list(version_ids)
    if ids:
        conn.execute(delete(t).where(t.c.secret_id == secret.id, t.c.version_id.in_(ids)))


def touch_version(conn: Connection, secret: Secret, version_id: str, day: float) -> None:
    """Record a read: the secret's and the version's LastAccessedDate become `day`."""
    conn.execute(update(secrets_table).where(secrets_table.c.id == secret.id)
                 .values(last_accessed=day))
    conn.execute(update(versions_table).where(versions_table.c.secret_id == secret.id,
                                              versions_table.c.version_id == version_id)
                 .values(last_accessed=day))


def _columns(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if k == "tags" else v for k, v in values.items()}
