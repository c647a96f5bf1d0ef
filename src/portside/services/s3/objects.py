"""Object operations: PUT, GET, HEAD, DELETE (one or many), copy, and object tags."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Connection, Row, update

from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.services.s3 import attributes, buckets, checksums, notifications, versions
from portside.services.s3.checksums import ALGORITHMS, FULL_OBJECT, BodyDigests, Expected
from portside.services.s3.conditions import (
    Conditions,
    check_copy_source,
    check_read,
    etag_matches,
    precondition_failed,
)
from portside.services.s3.copysource import parse_copy_source
from portside.services.s3.errors import error
from portside.services.s3.model import (
    Segment,
    dump_json,
    dump_segments,
    load_segments,
    objects,
)
from portside.services.s3.ranges import Unsatisfiable, invalid_range, parse_range
from portside.services.s3.storage import (
    INLINE_MAX,
    MAX_PUT_SIZE,
    Received,
    empty_body,
    entity_too_large,
    read_inline,
)
from portside.services.s3.tagging import (
    OBJECT_TAG_LIMIT,
    from_tag_set,
    parse_tagging_header,
    tag_set,
)

if TYPE_CHECKING:
    from portside.runtime import Runtime
    from portside.services.s3.etags import ETags
    from portside.services.s3.storage import ObjectStorage

MAX_DELETE_KEYS = 1000


@dataclass(frozen=True)
class WriteConditions:
    """Conditional writes: `If-None-Match: *` (only if the key has no current object) and
    `If-Match: <etag>` (only over that object). Checked again in the transaction that commits
    the write, so of concurrent writers exactly one can win.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html"""

    if_match: str | None = None
    if_none_match: str | None = None

    @classmethod
    def of_request(cls, params: dict[str, Any]) -> WriteConditions:
        if_none_match = params.get("IfNoneMatch")
        if if_none_match is not None and if_none_match.strip() != "*":
            raise AwsError("A header you provided implies functionality that is not "
                           "implemented", code="NotImplemented", status=501,
                           fields={"Header": "If-None-Match"})
        return cls(params.get("IfMatch"), if_none_match)

    def check(self, conn: Connection, bucket: str, key: str, etags: ETags) -> None:
        if self.if_match is None and self.if_none_match is None:
            return
        row = versions.current(conn, bucket, key)
        exists = row is not None and not row.delete_marker
        if self.if_none_match is not None and exists:
            raise precondition_failed("If-None-Match")
        if self.if_match is not None:
            if not exists:
                raise versions.no_such_key(key)
            if not etag_matches(self.if_match, etags.of(row)):
                raise precondition_failed("If-Match")


@dataclass(frozen=True)
class NewObject:
    """What a write stores besides its bytes."""

    size: int
    etag: str | None  # None: deferred (etags.py)
    attrs: dict[str, Any]
    tags: dict[str, str] | None
    algorithm: str
    checksum_type: str
    checksum: str
    parts_count: int | None = None

    def row_values(self, segments_json: str, now: float) -> dict[str, Any]:
        return {"size": self.size, "etag": self.etag or "", "last_modified": now,
                "attrs": attributes.dump(self.attrs), "checksum_algorithm": self.algorithm,
                "checksum_type": self.checksum_type, "checksum": self.checksum,
                "tags": dump_json(self.tags), "parts_count": self.parts_count,
                "segments": segments_json, "delete_marker": False}

    def checksum_members(self) -> dict[str, str]:
        return {f"Checksum{self.algorithm}": self.checksum, "ChecksumType": self.checksum_type}


def sequencer() -> str:
    """Event sequencers: hex, increasing for a key's successive events."""
    return f"{time.time_ns():020X}"


def last_modified(row: Row) -> datetime:
    return datetime.fromtimestamp(row.last_modified, UTC)


def version_member(bucket: Row, version_id: str) -> dict[str, str]:
    """`x-amz-version-id` is sent for buckets that have (had) versioning."""
    return {} if bucket.versioning is None else {"VersionId": version_id}


class ObjectHandlers:
    runtime: Runtime
    storage: ObjectStorage
    bucket_rows: buckets.BucketCache

    # S3's object-level operations are CloudTrail data events: the event history (LookupEvents)
    # never shows them, as in AWS, where only a trail with data-event selectors records them.
    # Bucket operations stay management events.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html
    data_events: ClassVar[frozenset[str]] = frozenset({
        "GetObject", "HeadObject", "PutObject", "CopyObject", "DeleteObject", "DeleteObjects",
        "GetObjectAcl", "PutObjectAcl", "GetObjectAttributes", "GetObjectTagging",
        "PutObjectTagging", "DeleteObjectTagging", "GetObjectLegalHold", "PutObjectLegalHold",
        "GetObjectRetention", "PutObjectRetention", "GetObjectTorrent", "RestoreObject",
        "SelectObjectContent", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
        "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts",
    })

    # -- writing -----------------------------------------------------------------------------

    async def put_object(self, ctx: RequestContext, params: dict[str, Any], *,
                         defer_etag: bool = False) -> dict[str, Any]:
        """`defer_etag` is for in-process writers that do not read the ETag (the registry): a
        large body's MD5 is then computed after the response (etags.py), which has no ETag."""
        bucket_name, key = params["Bucket"], params["Key"]
        attributes.check_key(key)
        attributes.refuse_unsupported(params)
        if (params.get("ContentLength") or 0) > MAX_PUT_SIZE:
            raise entity_too_large(MAX_PUT_SIZE)
        expected = checksums.expected_checksum(params)
        tags = parse_tagging_header(params["Tagging"]) if params.get("Tagging") else None
        attrs = attributes.from_request(params)
        conditions = WriteConditions.of_request(params)
        if (params.get("ContentLength") or 0) > INLINE_MAX:
            # Checked again at the commit; beforehand, it spares a large upload made in vain.
            with self.runtime.store.begin() as conn:
                self.bucket_rows.get(bucket_name, conn)
                conditions.check(conn, bucket_name, key, self.storage.etags)
        body = params.get("Body")
        digests = BodyDigests(expected, defer_md5=defer_etag)
        received = await self.storage.receive(body if body is not None else empty_body(), digests)
        try:
            digests.verify(getattr(body, "trailers", {}))
        except BaseException:
            self.storage.discard(received)
            raise
        assert digests.checksum is not None
        new = NewObject(digests.size, digests.etag, attrs, tags, digests.checksum.algorithm.name,
                        FULL_OBJECT, digests.checksum.value())
        bucket, version_id = self.store_object(ctx, bucket_name, key, received, new, conditions,
                                               "ObjectCreated:Put")
        etag = {} if new.etag is None else {"ETag": new.etag}
        return {**etag, **new.checksum_members(), **version_member(bucket, version_id)}

    def store_object(self, ctx: RequestContext, bucket_name: str, key: str,
                     received: Received | list[Segment], new: NewObject,
                     conditions: WriteConditions, event_name: str,
                     on_commit: Callable[[Connection], list[str]] | None = None
                     ) -> tuple[Row, str]:
        """Commit a new version whose bytes have arrived: the row, the event, and the removal
        of what it replaced. `received` is a body, or the segments of a completed multipart
        upload; `on_commit(conn)` runs last in the same transaction and returns blobs to drop.
        A deferred ETag is queued once the row has committed; computed now if a notification
        is to carry it."""
        dropped: list[str] = []
        try:
            with self.runtime.store.begin() as conn:
                bucket = self.bucket_rows.get(bucket_name, conn)
                conditions.check(conn, bucket_name, key, self.storage.etags)
                segments = received if isinstance(received, list) else [received.commit(conn)]
                segments_json = dump_segments(segments)
                if new.etag is None and buckets.notification_config(bucket):
                    new = replace(new, etag=self.storage.etags.md5(segments_json))
                written = versions.write(conn, bucket, key,
                                         new.row_values(segments_json, time.time()))
                dropped = self.storage.release(conn, written.orphaned)
                self.notify(conn, ctx, bucket, notifications.ObjectEvent(
                    event_name, bucket_name, key, sequencer(), new.size, new.etag,
                    written.version_id if bucket.versioning else None))
                if on_commit is not None:
                    dropped += on_commit(conn)
        except BaseException:
            if isinstance(received, Received):
                self.storage.discard(received)
            raise
        self.storage.drop(dropped)
        if new.etag is None:
            self.storage.etags.defer(written.row_id, segments_json)
        return bucket, written.version_id

    def notify(self, conn: Connection, ctx: RequestContext, bucket: Row,
               event: notifications.ObjectEvent) -> None:
        notifications.publish(self.runtime.bus, conn, ctx, buckets.notification_config(bucket),
                              bucket.account_id, bucket.region, event)

    async def copy_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket_name, key = params["Bucket"], params["Key"]
        attributes.check_key(key)
        attributes.refuse_unsupported(params)
        source = parse_copy_source(params["CopySource"])
        directive = params.get("MetadataDirective") or "COPY"
        tagging_directive = params.get("TaggingDirective") or "COPY"
        for name, value in (("MetadataDirective", directive),
                            ("TaggingDirective", tagging_directive)):
            if value not in ("COPY", "REPLACE"):
                raise error("InvalidArgument", f"Unknown {name[0].lower() + name[1:]}.",
                            ArgumentName=name, ArgumentValue=value)
        conditions = WriteConditions.of_request(params)
        with self.runtime.store.begin() as conn:
            self.bucket_rows.get(bucket_name, conn)
            source_bucket = self.bucket_rows.get(source.bucket, conn)
            row = versions.readable(conn, source.bucket, source.key, source.version_id)
            check_copy_source(Conditions.of_request(params, "CopySource"),
                              self.storage.etags.of(row), last_modified(row))
            if row.size > MAX_PUT_SIZE:
                raise error("InvalidRequest", "The specified copy source is larger than the "
                            "maximum allowable size for a copy source: 5368709120")
            changes = directive == "REPLACE" or any(params.get(m) for m in (
                "StorageClass", "WebsiteRedirectLocation", "ServerSideEncryption",
                "ChecksumAlgorithm"))
            if (source.bucket, source.key) == (bucket_name, key) and not changes:
                raise error("InvalidRequest", "This copy request is illegal because it is trying "
                            "to copy an object to itself without changing the object's metadata, "
                            "storage class, website redirect location or encryption attributes.")
            conditions.check(conn, bucket_name, key, self.storage.etags)
            reader = self.storage.open(load_segments(row.segments), 0, row.size)
            source_attrs = attributes.load(row.attrs)
            source_tags = dict(_tags(row))
        attrs = source_attrs if directive == "COPY" else attributes.from_request(params)
        if directive == "COPY" and params.get("StorageClass"):
            attrs = {**attrs, "StorageClass": params["StorageClass"]}
        tags = source_tags if tagging_directive == "COPY" else (
            parse_tagging_header(params["Tagging"]) if params.get("Tagging") else None)
        algorithm = (params.get("ChecksumAlgorithm") or row.checksum_algorithm
                     or checksums.DEFAULT_ALGORITHM).upper()
        if algorithm not in ALGORITHMS:
            checksums.expected_checksum({"ChecksumAlgorithm": algorithm})  # raises its error
        digests = BodyDigests(Expected(ALGORITHMS[algorithm], None))
        received = await self.storage.receive(reader, digests)
        assert digests.checksum is not None
        new = NewObject(digests.size, digests.etag, attrs, tags or None, algorithm, FULL_OBJECT,
                        digests.checksum.value())
        bucket, version_id = self.store_object(ctx, bucket_name, key, received, new, conditions,
                                               "ObjectCreated:Copy")
        result: dict[str, Any] = {
            "CopyObjectResult": {"ETag": new.etag, "LastModified": datetime.now(UTC),
                                 **new.checksum_members()},
            **version_member(bucket, version_id),
        }
        if source_bucket.versioning is not None:
            result["CopySourceVersionId"] = row.version_id
        return result

    # -- reading -----------------------------------------------------------------------------

    def get_object(self, ctx: RequestContext, params: dict[str, Any], *,
                   with_etag: bool = True) -> dict[str, Any]:
        """Without `with_etag` (in-process readers that ignore it: the registry), an object
        whose ETag is still being computed (etags.py) is served without waiting for it."""
        return self._read(params, with_body=True, with_etag=with_etag)

    def head_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._read(params, with_body=False, with_etag=True)

    def _read(self, params: dict[str, Any], with_body: bool, with_etag: bool) -> dict[str, Any]:
        key = params["Key"]
        with self.runtime.store.begin() as conn:
            bucket = self.bucket_rows.get(params["Bucket"], conn)
            row = versions.readable(conn, bucket.name, key, params.get("VersionId"))
            modified = last_modified(row)
            conditions = Conditions.of_request(params)
            result: dict[str, Any] = {}
            if with_etag or conditions.given:
                result["ETag"] = etag = self.storage.etags.of(row)
                check_read(conditions, etag, modified, {
                    "ETag": etag, "Last-Modified": formatdate(row.last_modified, usegmt=True)})
            segments = load_segments(row.segments)
            result.update({
                "LastModified": modified, "AcceptRanges": "bytes",
                **attributes.to_response(attributes.load(row.attrs), params),
                **version_member(bucket, row.version_id),
            })
            tags = _tags(row)
            if tags:
                result["TagCount"] = len(tags)
            start, end = self._selected_bytes(params, row, segments, result)
            result["ContentLength"] = end - start
            if params.get("ChecksumMode") == "ENABLED" and row.checksum and (
                    (start, end) == (0, row.size) and "ContentRange" not in result):
                result[f"Checksum{row.checksum_algorithm}"] = row.checksum
                result["ChecksumType"] = row.checksum_type
            if with_body:
                result["Body"] = self._body(conn, segments, start, end)
        return result

    @staticmethod
    def _selected_bytes(params: dict[str, Any], row: Row, segments: list,
                        result: dict[str, Any]) -> tuple[int, int]:
        """The bytes a GET serves: a part (`partNumber`), a `Range`, or all of them; sets
        Content-Range (a 206) for the first two."""
        size = row.size
        part_number = params.get("PartNumber")
        if part_number is not None:
            count = row.parts_count or 1
            if not 1 <= part_number <= count:
                raise AwsError("The requested partnumber is not satisfiable",
                               code="InvalidPartNumber", status=416,
                               fields={"PartNumberRequested": part_number,
                                       "ActualPartCount": count})
            result["PartsCount"] = count
            if row.parts_count is None:
                start, end = 0, size
            else:
                start = sum(s.size for s in segments[:part_number - 1])
                end = start + segments[part_number - 1].size
            result["ContentRange"] = f"bytes {start}-{max(end - 1, 0)}/{size}"
            return start, end
        header = params.get("Range")
        if header:
            try:
                selected = parse_range(header, size)
            except Unsatisfiable:
                raise invalid_range(header, size) from None
            if selected is not None:
                result["ContentRange"] = selected.content_range(size)
                return selected.start, selected.end
        return 0, size

    def _body(self, conn: Connection, segments: list, start: int, end: int) -> Any:
        """Small objects come out of the row's transaction as bytes; others stream."""
        if len(segments) == 1 and segments[0].inline_id is not None:
            data = read_inline(conn, segments[0].inline_id)
            return data if (start, end) == (0, len(data)) else data[start:end]
        return self.storage.open(segments, start, end)

    # -- deleting ----------------------------------------------------------------------------

    def delete_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            bucket = self.bucket_rows.get(params["Bucket"], conn)
            if params.get("IfMatch") is not None:
                row = versions.readable(conn, bucket.name, params["Key"], params.get("VersionId"))
                if not etag_matches(params["IfMatch"], self.storage.etags.of(row)):
                    raise precondition_failed("If-Match")
            result, dropped = self._delete(conn, ctx, bucket, params["Key"],
                                           params.get("VersionId"))
        self.storage.drop(dropped)
        return result

    def delete_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        request = params.get("Delete") or {}
        items = request.get("Objects") or []
        if not items or len(items) > MAX_DELETE_KEYS:
            raise error("MalformedXML", "The XML you provided was not well-formed or did not "
                        "validate against our published schema")
        deleted, errors, dropped = [], [], []
        with self.runtime.store.begin() as conn:
            bucket = self.bucket_rows.get(params["Bucket"], conn)
            for item in items:
                key, version_id = item.get("Key", ""), item.get("VersionId")
                try:
                    result, blobs = self._delete(conn, ctx, bucket, key, version_id)
                except AwsError as exc:
                    errors.append({"Key": key, "Code": exc.code, "Message": exc.message,
                                   **({"VersionId": version_id} if version_id else {})})
                    continue
                dropped += blobs
                if request.get("Quiet"):
                    continue
                entry: dict[str, Any] = {"Key": key}
                if version_id is not None:
                    entry["VersionId"] = version_id
                if result.get("DeleteMarker"):
                    entry["DeleteMarker"] = True
                    entry["DeleteMarkerVersionId"] = result["VersionId"]
                deleted.append(entry)
        self.storage.drop(dropped)
        return {"Deleted": deleted, "Errors": errors}

    def _delete(self, conn: Connection, ctx: RequestContext, bucket: Row, key: str,
                version_id: str | None) -> tuple[dict[str, Any], list[str]]:
        """Delete a key (or one version); returns the response members and blobs to drop."""
        if version_id is not None:
            if not versions.is_valid_version_id(version_id):
                raise error("InvalidArgument", "Invalid version id specified",
                            ArgumentName="versionId", ArgumentValue=version_id)
            row, orphaned = versions.delete_version(conn, bucket.name, key, version_id)
            result: dict[str, Any] = {"VersionId": version_id}
            if row is None:
                return result, []
            if row.delete_marker:
                result["DeleteMarker"] = True
            event = notifications.ObjectEvent("ObjectRemoved:Delete", bucket.name, key,
                                              sequencer(), version_id=version_id)
        else:
            written = versions.delete_current(conn, bucket, key, time.time())
            if written is None:
                return {}, []
            orphaned = written.orphaned
            if bucket.versioning is None:
                result = {}
                event = notifications.ObjectEvent("ObjectRemoved:Delete", bucket.name, key,
                                                  sequencer())
            else:
                result = {"DeleteMarker": True, "VersionId": written.version_id}
                event = notifications.ObjectEvent("ObjectRemoved:DeleteMarkerCreated",
                                                  bucket.name, key, sequencer(),
                                                  version_id=written.version_id)
        self.notify(conn, ctx, bucket, event)
        return result, self.storage.release(conn, orphaned)

    # -- tags --------------------------------------------------------------------------------

    def put_object_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = from_tag_set((params.get("Tagging") or {}).get("TagSet") or [], OBJECT_TAG_LIMIT)
        return self._set_tags(params, tags)

    def delete_object_tagging(self, ctx: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        return self._set_tags(params, None)

    def get_object_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            bucket = self.bucket_rows.get(params["Bucket"], conn)
            row = versions.readable(conn, bucket.name, params["Key"], params.get("VersionId"))
            return {"TagSet": tag_set(_tags(row)), **version_member(bucket, row.version_id)}

    def _set_tags(self, params: dict[str, Any], tags: dict[str, str] | None) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            bucket = self.bucket_rows.get(params["Bucket"], conn)
            row = versions.readable(conn, bucket.name, params["Key"], params.get("VersionId"))
            conn.execute(update(objects).where(objects.c.id == row.id).values(
                tags=dump_json(tags or None)))
            return version_member(bucket, row.version_id)


def _tags(row: Row) -> dict[str, str]:
    return json.loads(row.tags) if row.tags else {}
