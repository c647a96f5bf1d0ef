"""Looking buckets up, and the owner S3 reports for them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, Row, select

from portside.protocol.errors import AwsError
from portside.services.s3.errors import error
from portside.services.s3.model import buckets


def no_such_bucket(name: str) -> AwsError:
    return error("NoSuchBucket", "The specified bucket does not exist", BucketName=name)


def find(conn: Connection, name: str) -> Row | None:
    return conn.execute(select(buckets).where(buckets.c.name == name)).first()


def get(conn: Connection, name: str) -> Row:
    row = find(conn, name)
    if row is None:
        raise no_such_bucket(name)
    return row


def canonical_id(account_id: str) -> str:
    """S3's canonical user id of an account: 64 hex digits, stable per account."""
    return hashlib.sha256(f"portside-s3-owner:{account_id}".encode()).hexdigest()


def owner(account_id: str) -> dict[str, str]:
    return {"ID": canonical_id(account_id), "DisplayName": account_id}


def notification_config(row: Row) -> dict[str, Any] | None:
    return json.loads(row.notification) if row.notification else None
