"""S3's tables. Object data lives in the blob store, or for small bodies in `s3_inline`; a row
names its data as segments (`Segment`), one per part of a multipart object.

Listing reads `(bucket, latest, key)` in key order and never loads a bucket's keys at once;
versions of a key are ordered by `id`, which is never reused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from portside.store import metadata

buckets = Table(
    "s3_buckets",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("versioning", String(16)),  # None (never enabled), Enabled, Suspended
    Column("policy", Text),
    Column("tags", Text),  # JSON object
    Column("notification", Text),  # JSON: the NotificationConfiguration as put
    Index("ix_s3_buckets_account", "account_id", "name"),
)

objects = Table(
    "s3_objects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bucket", String(63), nullable=False),
    Column("key", Text, nullable=False),
    Column("version_id", String(64), nullable=False),  # "null" for the null version
    Column("latest", Boolean, nullable=False),
    Column("delete_marker", Boolean, nullable=False, default=False),
    Column("size", BigInteger, nullable=False, default=0),
    Column("etag", String(64), nullable=False, default=""),
    Column("last_modified", Float, nullable=False),
    Column("attrs", Text, nullable=False, default="{}"),  # JSON: content headers, Metadata…
    Column("checksum_algorithm", String(16)),
    Column("checksum_type", String(16)),
    Column("checksum", String(128)),
    Column("tags", Text),  # JSON object
    Column("parts_count", Integer),  # multipart objects only
    Column("segments", Text, nullable=False, default="[]"),  # JSON: [[ref, size], …]
    Index("ix_s3_objects_version", "bucket", "key", "version_id", unique=True),
    Index("ix_s3_objects_listing", "bucket", "latest", "key"),
    Index("ix_s3_objects_versions", "bucket", "key", "id"),
    sqlite_autoincrement=True,
)

inline_data = Table(
    "s3_inline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("data", LargeBinary, nullable=False),
)

uploads = Table(
    "s3_uploads",
    metadata,
    Column("upload_id", String(128), primary_key=True),
    Column("bucket", String(63), nullable=False),
    Column("key", Text, nullable=False),
    Column("initiator", String(2048), nullable=False),
    Column("initiated", Float, nullable=False),
    Column("attrs", Text, nullable=False),  # JSON: what CreateMultipartUpload set
    Index("ix_s3_uploads_listing", "bucket", "key", "initiated"),
)

parts = Table(
    "s3_parts",
    metadata,
    Column("upload_id", String(128), primary_key=True),
    Column("part_number", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(64), nullable=False),
    Column("checksum", String(128)),
    Column("last_modified", Float, nullable=False),
    Column("ref", String(256), nullable=False),
)


@dataclass(frozen=True)
class Segment:
    """A run of an object's bytes: `b:<blob key>` in the blob store or `i:<id>` in s3_inline."""

    ref: str
    size: int

    @property
    def blob_key(self) -> str | None:
        return self.ref[2:] if self.ref.startswith("b:") else None

    @property
    def inline_id(self) -> int | None:
        return int(self.ref[2:]) if self.ref.startswith("i:") else None


def dump_segments(segments: list[Segment]) -> str:
    return json.dumps([[s.ref, s.size] for s in segments], separators=(",", ":"))


def load_segments(text: str) -> list[Segment]:
    return [Segment(ref, size) for ref, size in json.loads(text)]


def dump_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)
