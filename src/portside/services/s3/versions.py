"""An object key's versions under the bucket's versioning state, as rows of `s3_objects`.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html: a bucket that never had
versioning keeps one version per key, the `null` one; an Enabled bucket adds a version with a new
id on every write and a delete marker on every delete; a Suspended bucket writes (and deletes to)
the `null` version, keeping the others. Exactly one row per key is `latest`.

Every function runs in the caller's transaction and returns the data segments it orphaned; the
caller removes their blobs once the transaction has committed.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from portside.protocol.errors import AwsError
from portside.services.s3.errors import error
from portside.services.s3.model import Segment, load_segments, objects
from portside.store import execute, first

NULL = "null"
ENABLED = "Enabled"
SUSPENDED = "Suspended"


def new_version_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(24)).decode()


def is_valid_version_id(version_id: str) -> bool:
    return version_id == NULL or (len(version_id) == 32 and version_id.isascii()
                                  and all(c.isalnum() or c in "-_" for c in version_id))


@dataclass
class Written:
    row_id: int
    version_id: str
    orphaned: list[Segment]


_CURRENT = select(objects).where(objects.c.bucket == bindparam("bucket"),
                                 objects.c.key == bindparam("key"), objects.c.latest.is_(True))


_UPDATE_ROW = update(objects).where(objects.c.id == bindparam("row_id"))
_INSERT_ROW = insert(objects)


def current(conn: Connection, bucket: str, key: str) -> Row | None:
    """The latest version of a key (possibly a delete marker). Through the driver: GET and PUT
    read it on every call (its Booleans come back as SQLite's 0 and 1)."""
    return first(conn, _CURRENT, {"bucket": bucket, "key": key})


def find(conn: Connection, bucket: str, key: str, version_id: str | None) -> Row | None:
    if version_id is None:
        return current(conn, bucket, key)
    t = objects
    return conn.execute(select(t).where(t.c.bucket == bucket, t.c.key == key,
                                        t.c.version_id == version_id)).first()


def readable(conn: Connection, bucket: str, key: str, version_id: str | None) -> Row:
    """The version a GET or HEAD reads, or S3's error: NoSuchKey (the key's latest version is a
    delete marker, or there is none), NoSuchVersion, or 405 for a delete marker asked by id."""
    if version_id is not None and not is_valid_version_id(version_id):
        raise error("InvalidArgument", "Invalid version id specified",
                    ArgumentName="versionId", ArgumentValue=version_id)
    row = find(conn, bucket, key, version_id)
    if row is None:
        if version_id is not None:
            raise error("NoSuchVersion", "The specified version does not exist.", Key=key,
                        VersionId=version_id)
        raise no_such_key(key)
    if row.delete_marker:
        headers = {"x-amz-delete-marker": "true"}
        if row.version_id != NULL or version_id is not None:
            headers["x-amz-version-id"] = row.version_id
        if version_id is None:
            raise AwsError("The specified key does not exist.", code="NoSuchKey", status=404,
                           fields={"Key": key}, headers=headers)
        raise AwsError("The specified method is not allowed against this resource.",
                       code="MethodNotAllowed", status=405,
                       fields={"Method": "GET", "ResourceType": "DeleteMarker"},
                       headers={**headers, "Last-Modified": _http_date(row.last_modified)})
    return row


def no_such_key(key: str) -> AwsError:
    return error("NoSuchKey", "The specified key does not exist.", Key=key)


def write(conn: Connection, bucket: Row, key: str, values: dict[str, Any]) -> Written:
    """Make `values` (a row without its identity) the key's latest version."""
    t = objects
    if bucket.versioning is None:
        # One version per key: the row is replaced in place (two statements on the hot path).
        old = current(conn, bucket.name, key)
        if old is not None:
            execute(conn, _UPDATE_ROW, {"row_id": old.id, **values})
            return Written(old.id, NULL, load_segments(old.segments))
    version_id = new_version_id() if bucket.versioning == ENABLED else NULL
    orphaned: list[Segment] = []
    if version_id == NULL:
        orphaned = _remove(conn, bucket.name, key, NULL) or []
    conn.execute(update(t).where(t.c.bucket == bucket.name, t.c.key == key,
                                 t.c.latest.is_(True)).values(latest=False))
    row_id = conn.execute(_INSERT_ROW, {"bucket": bucket.name, "key": key,
                                        "version_id": version_id, "latest": True,
                                        **values}).inserted_primary_key[0]
    return Written(row_id, version_id, orphaned)


def delete_current(conn: Connection, bucket: Row, key: str, now: float) -> Written | None:
    """DeleteObject without a version: remove the null version, and in a versioned bucket put
    a delete marker on top. None when there was nothing to do (unversioned, no such key)."""
    if bucket.versioning is None:
        orphaned = _remove(conn, bucket.name, key, NULL)
        return Written(0, NULL, orphaned) if orphaned is not None else None
    return write(conn, bucket, key, {"delete_marker": True, "last_modified": now})


def delete_version(conn: Connection, bucket: str, key: str, version_id: str
                   ) -> tuple[Row | None, list[Segment]]:
    """DeleteObject with a version id: remove exactly that version; the next newest becomes the
    latest. Returns the removed row (None if there was none) and its orphaned segments."""
    row = find(conn, bucket, key, version_id)
    if row is None:
        return None, []
    orphaned = _remove(conn, bucket, key, version_id) or []
    if row.latest:
        t = objects
        newest = conn.execute(select(func.max(t.c.id)).where(
            t.c.bucket == bucket, t.c.key == key)).scalar()
        if newest is not None:
            conn.execute(update(t).where(t.c.id == newest).values(latest=True))
    return row, orphaned


def _remove(conn: Connection, bucket: str, key: str, version_id: str) -> list[Segment] | None:
    """Delete one version's row; its segments, or None when it did not exist."""
    t = objects
    row = conn.execute(select(t.c.id, t.c.segments).where(
        t.c.bucket == bucket, t.c.key == key, t.c.version_id == version_id)).first()
    if row is None:
        return None
    conn.execute(delete(t).where(t.c.id == row.id))
    return load_segments(row.segments)


def _http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)
