"""Multipart uploads: parts stream to blobs of their own; completing one commits a row whose
segments are those parts, so no byte is copied however large the object.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html — parts 1 to 10,000;
every part but the last at least 5 MiB; the ETag is the MD5 of the parts' binary MD5s with the
part count appended.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, delete, insert, select

from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.services.s3 import attributes, buckets, checksums, listing, versions
from portside.services.s3.checksums import (
    ALGORITHMS,
    COMPOSITE,
    DEFAULT_ALGORITHM,
    FULL_OBJECT,
    BodyDigests,
)
from portside.services.s3.conditions import Conditions, check_copy_source
from portside.services.s3.copysource import parse_copy_source
from portside.services.s3.errors import error
from portside.services.s3.model import Segment, load_segments, parts, uploads
from portside.services.s3.objects import NewObject, WriteConditions, last_modified
from portside.services.s3.ranges import parse_copy_source_range
from portside.services.s3.storage import MAX_PUT_SIZE, Received, empty_body, entity_too_large
from portside.services.s3.tagging import parse_tagging_header

if TYPE_CHECKING:
    from portside.runtime import Runtime
    from portside.services.s3.storage import ObjectStorage

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
MAX_LISTED = 1000


def multipart_etag(part_etags: list[str]) -> str:
    digest = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for e in part_etags))
    return f'"{digest.hexdigest()}-{len(part_etags)}"'


def checksum_plan(algorithm: str | None, checksum_type: str | None) -> tuple[str, str]:
    """The algorithm and type of an upload's checksum: what was asked, else CRC64NVME over the
    full object. CRC64NVME is only full-object; SHA checksums are only composite."""
    if algorithm is None:
        if checksum_type is not None:
            raise error("InvalidRequest", "The x-amz-checksum-type header can only be used with "
                        "the x-amz-checksum-algorithm header.")
        return DEFAULT_ALGORITHM, FULL_OBJECT
    if algorithm not in ALGORITHMS:
        checksums.expected_checksum({"ChecksumAlgorithm": algorithm})  # raises its error
    crc = ALGORITHMS[algorithm].combine is not None
    kind = checksum_type or (FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE)
    if (kind == COMPOSITE and algorithm == "CRC64NVME") or (kind == FULL_OBJECT and not crc):
        raise error("InvalidRequest", f"The {kind} checksum type cannot be used with the "
                    f"{algorithm.lower()} checksum algorithm.")
    return algorithm, kind


def _check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise error("InvalidArgument", "Part number must be an integer between 1 and 10000, "
                    "inclusive", ArgumentName="partNumber", ArgumentValue=number)


def no_such_upload(upload_id: str) -> AwsError:
    return error("NoSuchUpload", "The specified upload does not exist. The upload ID may be "
                 "invalid, or the upload may have been aborted or completed.", UploadId=upload_id)


class MultipartHandlers:
    runtime: Runtime
    storage: ObjectStorage
    bucket_rows: buckets.BucketCache

    def create_multipart_upload(self, ctx: RequestContext,
                                params: dict[str, Any]) -> dict[str, Any]:
        bucket_name, key = params["Bucket"], params["Key"]
        attributes.check_key(key)
        attributes.refuse_unsupported(params)
        requested = params.get("ChecksumAlgorithm")
        algorithm, kind = checksum_plan(requested.upper() if requested else None,
                                        params.get("ChecksumType"))
        spec = {"attrs": attributes.from_request(params),
                "tags": parse_tagging_header(params["Tagging"]) if params.get("Tagging")
                else None,
                "algorithm": algorithm, "type": kind, "requested": requested is not None}
        upload_id = secrets.token_urlsafe(48)
        with self.runtime.store.begin() as conn:
            self.bucket_rows.get(bucket_name, conn)
            conn.execute(insert(uploads).values(
                upload_id=upload_id, bucket=bucket_name, key=key, initiator=ctx.principal.arn,
                initiated=time.time(), attrs=json.dumps(spec)))
        result = {"Bucket": bucket_name, "Key": key, "UploadId": upload_id}
        if requested:
            result.update(ChecksumAlgorithm=algorithm, ChecksumType=kind)
        return result

    def _upload(self, conn: Connection, bucket: str, key: str, upload_id: str
                ) -> tuple[Row, dict[str, Any]]:
        self.bucket_rows.get(bucket, conn)
        row = conn.execute(select(uploads).where(uploads.c.upload_id == upload_id)).first()
        if row is None or row.bucket != bucket or row.key != key:
            raise no_such_upload(upload_id)
        return row, json.loads(row.attrs)

    def _part_digests(self, spec: dict[str, Any], params: dict[str, Any]) -> BodyDigests:
        """Parts are checksummed with their upload's algorithm; a part that names another one is
        refused."""
        expected = checksums.expected_checksum(params, default=spec["algorithm"])
        assert expected is not None
        if expected.algorithm.name != spec["algorithm"] and spec["requested"]:
            raise error("InvalidRequest", "Checksum Type mismatch occurred, expected checksum "
                        f"Type: {spec['algorithm'].lower()}, actual checksum Type: "
                        f"{expected.algorithm.name.lower()}")
        if expected.algorithm.name != spec["algorithm"]:
            expected = checksums.Expected(ALGORITHMS[spec["algorithm"]], None,
                                          expected.content_md5)
        return BodyDigests(expected)

    async def upload_part(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        number = params["PartNumber"]
        _check_part_number(number)
        if (params.get("ContentLength") or 0) > MAX_PUT_SIZE:
            raise entity_too_large(MAX_PUT_SIZE)
        with self.runtime.store.begin() as conn:
            _, spec = self._upload(conn, bucket, key, upload_id)
        digests = self._part_digests(spec, params)
        body = params.get("Body")
        received = await self.storage.receive(body if body is not None else empty_body(), digests)
        try:
            digests.verify(getattr(body, "trailers", {}))
        except BaseException:
            self.storage.discard(received)
            raise
        checksum = self._store_part(bucket, key, upload_id, number, received, digests)
        return {"ETag": digests.etag, f"Checksum{spec['algorithm']}": checksum}

    def _store_part(self, bucket: str, key: str, upload_id: str, number: int,
                    received: Received, digests: BodyDigests) -> str:
        assert digests.checksum is not None
        checksum = digests.checksum.value()
        dropped: list[str] = []
        try:
            with self.runtime.store.begin() as conn:
                self._upload(conn, bucket, key, upload_id)
                old = conn.execute(select(parts).where(parts.c.upload_id == upload_id,
                                                       parts.c.part_number == number)).first()
                if old is not None:
                    conn.execute(delete(parts).where(parts.c.upload_id == upload_id,
                                                     parts.c.part_number == number))
                    dropped = self.storage.release(conn, [Segment(old.ref, old.size)])
                segment = received.commit(conn)
                conn.execute(insert(parts).values(
                    upload_id=upload_id, part_number=number, size=digests.size,
                    etag=digests.etag, checksum=checksum, last_modified=time.time(),
                    ref=segment.ref))
        except BaseException:
            self.storage.discard(received)
            raise
        self.storage.drop(dropped)
        return checksum

    async def upload_part_copy(self, ctx: RequestContext,
                               params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        number = params["PartNumber"]
        _check_part_number(number)
        source = parse_copy_source(params["CopySource"])
        with self.runtime.store.begin() as conn:
            _, spec = self._upload(conn, bucket, key, upload_id)
            source_bucket = self.bucket_rows.get(source.bucket, conn)
            row = versions.readable(conn, source.bucket, source.key, source.version_id)
            check_copy_source(Conditions.of_request(params, "CopySource"),
                              self.storage.etags.of(row), last_modified(row))
            start, end = 0, row.size
            if params.get("CopySourceRange"):
                selected = parse_copy_source_range(params["CopySourceRange"], row.size)
                start, end = selected.start, selected.end
            if end - start > MAX_PUT_SIZE:
                raise entity_too_large(MAX_PUT_SIZE)
            reader = self.storage.open(load_segments(row.segments), start, end)
        digests = self._part_digests(spec, {})
        received = await self.storage.receive(reader, digests)
        checksum = self._store_part(bucket, key, upload_id, number, received, digests)
        result: dict[str, Any] = {"CopyPartResult": {
            "ETag": digests.etag, "LastModified": datetime.now(UTC),
            f"Checksum{spec['algorithm']}": checksum}}
        if source_bucket.versioning is not None:
            result["CopySourceVersionId"] = row.version_id
        return result

    def complete_multipart_upload(self, ctx: RequestContext,
                                  params: dict[str, Any]) -> dict[str, Any]:
        bucket_name, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        listed = (params.get("MultipartUpload") or {}).get("Parts") or []
        conditions = WriteConditions.of_request(params)
        with self.runtime.store.begin() as conn:
            _, spec = self._upload(conn, bucket_name, key, upload_id)
            stored = {p.part_number: p for p in conn.execute(
                select(parts).where(parts.c.upload_id == upload_id))}
        chosen = _chosen_parts(listed, stored, spec["algorithm"], upload_id)
        algorithm = ALGORITHMS[spec["algorithm"]]
        if spec["type"] == COMPOSITE:
            checksum = checksums.composite(algorithm, [p.checksum for p in chosen])
        else:
            checksum = checksums.full_object(algorithm, [(p.checksum, p.size) for p in chosen])
        claimed = params.get(algorithm.member)
        if claimed is not None and claimed.split("-")[0] != checksum.split("-")[0]:
            raise checksums.bad_digest(algorithm)
        size = sum(p.size for p in chosen)
        if params.get("MpuObjectSize") is not None and params["MpuObjectSize"] != size:
            raise error("InvalidRequest", "The provided 'x-amz-mp-object-size' header value "
                        f"{params['MpuObjectSize']} does not match what was computed: {size}")
        new = NewObject(size, multipart_etag([p.etag for p in chosen]), spec["attrs"],
                        spec["tags"], spec["algorithm"], spec["type"], checksum, len(chosen))
        kept = {p.part_number for p in chosen}

        def finish(conn: Connection) -> list[str]:
            """Ends the upload in the commit's transaction; unlisted parts are removed."""
            conn.execute(delete(uploads).where(uploads.c.upload_id == upload_id))
            conn.execute(delete(parts).where(parts.c.upload_id == upload_id))
            unused = [Segment(p.ref, p.size) for n, p in stored.items() if n not in kept]
            return self.storage.release(conn, unused)

        segments = [Segment(p.ref, p.size) for p in chosen]
        bucket, version_id = self.store_object(  # type: ignore[attr-defined]
            ctx, bucket_name, key, segments, new, conditions,
            "ObjectCreated:CompleteMultipartUpload", on_commit=finish)
        result = {"Location": f"/{bucket_name}/{key}", "Bucket": bucket_name, "Key": key,
                  "ETag": new.etag, **new.checksum_members()}
        if bucket.versioning is not None:
            result["VersionId"] = version_id
        return result

    def abort_multipart_upload(self, ctx: RequestContext,
                               params: dict[str, Any]) -> dict[str, Any]:
        upload_id = params["UploadId"]
        with self.runtime.store.begin() as conn:
            self._upload(conn, params["Bucket"], params["Key"], upload_id)
            dropped = self.abort(conn, [upload_id])
        self.storage.drop(dropped)
        return {}

    def abort(self, conn: Connection, upload_ids: list[str]) -> list[str]:
        """Remove uploads and their parts; returns their blobs to drop after the commit."""
        found = conn.execute(select(parts.c.ref, parts.c.size).where(
            parts.c.upload_id.in_(upload_ids))).all()
        conn.execute(delete(parts).where(parts.c.upload_id.in_(upload_ids)))
        conn.execute(delete(uploads).where(uploads.c.upload_id.in_(upload_ids)))
        return self.storage.release(conn, [Segment(ref, size) for ref, size in found])

    def list_parts(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        marker = params.get("PartNumberMarker") or 0
        limit = min(params.get("MaxParts") or MAX_LISTED, MAX_LISTED)
        with self.runtime.store.begin() as conn:
            row, spec = self._upload(conn, bucket, key, upload_id)
            owner = self.bucket_rows.get(bucket, conn).account_id
            found = conn.execute(select(parts).where(
                parts.c.upload_id == upload_id, parts.c.part_number > marker,
            ).order_by(parts.c.part_number).limit(limit + 1)).all()
        page = found[:limit]
        result: dict[str, Any] = {
            "Bucket": bucket, "Key": key, "UploadId": upload_id,
            "PartNumberMarker": marker, "MaxParts": limit, "IsTruncated": len(found) > limit,
            "Parts": [{"PartNumber": p.part_number, "ETag": p.etag, "Size": p.size,
                       "LastModified": datetime.fromtimestamp(p.last_modified, UTC),
                       f"Checksum{spec['algorithm']}": p.checksum} for p in page],
            "Initiator": {"ID": row.initiator, "DisplayName": row.initiator},
            "Owner": buckets.owner(owner), "StorageClass": "STANDARD",
            "ChecksumAlgorithm": spec["algorithm"], "ChecksumType": spec["type"],
        }
        if page:
            result["NextPartNumberMarker"] = page[-1].part_number
        return result

    def list_multipart_uploads(self, ctx: RequestContext,
                               params: dict[str, Any]) -> dict[str, Any]:
        bucket = params["Bucket"]
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or None
        limit = min(params.get("MaxUploads", MAX_LISTED), MAX_LISTED)
        key_marker, id_marker = params.get("KeyMarker"), params.get("UploadIdMarker")
        start = None
        if key_marker:
            start = (listing.Cursor(key_marker, tiebreak=id_marker) if id_marker
                     else listing.after_marker(key_marker, prefix, delimiter))
        encode = listing.encoder(params.get("EncodingType"))
        with self.runtime.store.begin() as conn:
            owner = buckets.owner(self.bucket_rows.get(bucket, conn).account_id)
            page = listing.walk(listing.pending_uploads(conn, bucket, prefix), prefix, delimiter,
                                start, limit, lambda r: listing.Cursor(r.key, tiebreak=r.upload_id))
        uploads_listed = []
        for row in page.entries:
            spec = json.loads(row.attrs)
            item = {"UploadId": row.upload_id, "Key": encode(row.key),
                    "Initiated": datetime.fromtimestamp(row.initiated, UTC),
                    "StorageClass": "STANDARD", "Owner": owner,
                    "Initiator": {"ID": row.initiator, "DisplayName": row.initiator}}
            if spec.get("requested"):
                item.update(ChecksumAlgorithm=spec["algorithm"], ChecksumType=spec["type"])
            uploads_listed.append(item)
        result: dict[str, Any] = {
            "Bucket": bucket, "KeyMarker": encode(key_marker or ""),
            "UploadIdMarker": id_marker or "", "Prefix": encode(prefix), "MaxUploads": limit,
            "IsTruncated": page.truncated, "Uploads": uploads_listed,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes],
        }
        if delimiter:
            result["Delimiter"] = encode(delimiter)
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        if page.truncated and page.last_entry is not None:
            if page.last_is_prefix:
                result["NextKeyMarker"] = encode(page.last_entry)
            else:
                result["NextKeyMarker"] = encode(page.last_entry.key)
                result["NextUploadIdMarker"] = page.last_entry.upload_id
        return result


def _chosen_parts(listed: list[dict[str, Any]], stored: dict[int, Row], algorithm: str,
                  upload_id: str) -> list[Row]:
    """The stored parts a CompleteMultipartUpload names, checked as S3 checks them: ascending
    part numbers, known parts with their ETags (and checksums, if given), all parts but the
    last at least MIN_PART_SIZE."""
    if not listed:
        raise error("MalformedXML", "The XML you provided was not well-formed or did not "
                    "validate against our published schema")
    numbers = [p.get("PartNumber") for p in listed]
    if any(b is None or a is None or b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise error("InvalidPartOrder", "The list of parts was not in ascending order. Parts "
                    "must be ordered by part number.", UploadId=upload_id)
    chosen = []
    for item in listed:
        part = stored.get(item.get("PartNumber"))
        claimed = item.get(f"Checksum{algorithm}")
        if part is None or item.get("ETag", "").strip('"') != part.etag.strip('"') or (
                claimed is not None and claimed != part.checksum):
            raise error("InvalidPart", "One or more of the specified parts could not be found. "
                        "The part may not have been uploaded, or the specified entity tag may "
                        "not match the part's entity tag.", UploadId=upload_id,
                        PartNumber=item.get("PartNumber"), ETag=item.get("ETag"))
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise error("EntityTooSmall", "Your proposed upload is smaller than the minimum "
                        "allowed size", ProposedSize=part.size, MinSizeAllowed=MIN_PART_SIZE,
                        PartNumber=part.part_number, ETag=part.etag)
    return chosen
