"""Looking buckets up, and the owner S3 reports for them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from portside.protocol.errors import AwsError
from portside.services.s3.errors import error
from portside.services.s3.model import buckets
from portside.store import Store


def no_such_bucket(name: str) -> AwsError:
    return error("NoSuchBucket", "The specified bucket does not exist", BucketName=name)


_BY_NAME = select(buckets).where(buckets.c.name == bindparam("name"))


class BucketCache:
    """Bucket rows by name, read once: every request names its bucket, few change one. Valid
    because one portside process serves a data directory and every change to a bucket row goes
    through `forget` after its commit (all on the event loop's thread)."""

    LIMIT = 10_000  # names remembered, missing buckets included, before starting over

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rows: dict[str, Row | None] = {}

    def find(self, name: str, conn: Connection | None = None) -> Row | None:
        """The bucket's row; read in `conn` (the caller's transaction) or a transaction of its
        own when not known yet."""
        try:
            return self._rows[name]
        except KeyError:
            pass
        if len(self._rows) >= self.LIMIT:
            self._rows.clear()
        if conn is None:
            with self._store.begin() as own:
                row = own.execute(_BY_NAME, {"name": name}).first()
        else:
            row = conn.execute(_BY_NAME, {"name": name}).first()
        self._rows[name] = row
        return row

    def get(self, name: str, conn: Connection | None = None) -> Row:
        row = self.find(name, conn)
        if row is None:
            raise no_such_bucket(name)
        return row

    def forget(self, name: str) -> None:
        self._rows.pop(name, None)

    def clear(self) -> None:
        self._rows.clear()


def canonical_id(account_id: str) -> str:
    """S3's canonical user id of an account: 64 hex digits, stable per account."""
    return hashlib.sha256(f"portside-s3-owner:{account_id}".encode()).hexdigest()


def owner(account_id: str) -> dict[str, str]:
    return {"ID": canonical_id(account_id), "DisplayName": account_id}


def notification_config(row: Row) -> dict[str, Any] | None:
    return json.loads(row.notification) if row.notification else None
