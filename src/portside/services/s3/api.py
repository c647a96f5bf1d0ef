"""Amazon S3 on portside: one method per S3 operation. Objects live in `objects`, multipart
uploads in `multipart`; this module holds the bucket operations, listings and the hooks the
gateway and IAM use."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, insert, select, update

from portside.auth.actions import Check, checks_for
from portside.auth.policy import MalformedPolicy, PolicyKind, parse_policy
from portside.context import RequestContext
from portside.gateway.authorize import authorize
from portside.protocol.errors import AccessDenied, AwsError
from portside.services.base import ResourcePolicy, Service
from portside.services.s3 import access, buckets, listing, notifications, versions
from portside.services.s3.errors import error
from portside.services.s3.model import buckets as buckets_table
from portside.services.s3.model import dump_json, objects, uploads
from portside.services.s3.multipart import MultipartHandlers
from portside.services.s3.names import check_bucket_name
from portside.services.s3.objects import ObjectHandlers, last_modified
from portside.services.s3.storage import ObjectStorage
from portside.services.s3.tagging import BUCKET_TAG_LIMIT, from_tag_set, tag_set

log = logging.getLogger("portside.s3")

US_EAST_1 = "us-east-1"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_LEGACY_LOCATIONS = {"EU": "eu-west-1"}
POLICY_LIMIT = 20 * 1024  # bytes of a bucket policy
QUEUE_DELIVERER = "s3-queue-notifications"


class S3(ObjectHandlers, MultipartHandlers, Service):
    name = "s3"
    streams_requests = True
    actions = access.ACTIONS

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.storage = ObjectStorage(runtime.blobs, runtime.store)
        self._started = time.time()
        self.bucket_rows = buckets.BucketCache(runtime.store)

    def start(self) -> None:
        self.runtime.bus.subscribe(QUEUE_DELIVERER,
                                   notifications.QueueDeliverer(self.runtime))

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._sweep(), self._recover_etags()]

    async def _sweep(self) -> None:
        removed = await asyncio.to_thread(self.storage.sweep, self._started)
        if removed:
            log.info("removed %d blobs that no object names (left by an interrupted write)",
                     removed)

    async def _recover_etags(self) -> None:
        etags = self.storage.etags
        rows = await asyncio.to_thread(etags.missing)
        for row in rows:
            etags.defer(row.id, row.segments)
        if rows:
            log.info("computing the ETags of %d objects whose writer left them for later",
                     len(rows))

    def reset(self) -> None:
        self.storage = ObjectStorage(self.runtime.blobs, self.runtime.store)
        self.bucket_rows.clear()

    # -- IAM hooks ---------------------------------------------------------------------------

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        context = self.condition_keys(ctx, operation, params)
        special = access.special_checks(operation, params, context)
        if special is not None:
            return special
        return checks_for("s3", self.actions, ctx, operation, params, context)

    def condition_keys(self, ctx: RequestContext, operation: str,
                       params: dict[str, Any]) -> dict[str, Any]:
        keys = access.request_condition_keys(operation, params)
        if operation in access.READS_EXISTING_TAGS and not ctx.principal.is_root:
            keys.update(access.existing_tag_keys(self._existing_tags(params)))
        return keys

    def _existing_tags(self, params: dict[str, Any]) -> dict[str, str]:
        with self.runtime.store.begin() as conn:
            row = versions.find(conn, params.get("Bucket", ""), params.get("Key", ""),
                                params.get("VersionId"))
        return json.loads(row.tags) if row is not None and row.tags else {}

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        """The bucket policy of `arn:aws:s3:::bucket` or of any object ARN in it, and the
        bucket's owner even without a policy: S3 ARNs name no account, and a caller from
        another account must be held to the cross-account rules."""
        prefix = "arn:aws:s3:::"
        if not resource_arn.startswith(prefix):
            return None
        name = resource_arn[len(prefix):].split("/", 1)[0]
        row = self.bucket_rows.find(name)
        return ResourcePolicy(row.policy, row.account_id) if row else None

    # -- buckets -----------------------------------------------------------------------------

    def create_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        check_bucket_name(name)
        region = _bucket_region(ctx.region, params.get("CreateBucketConfiguration") or {})
        with self.runtime.store.begin() as conn:
            found = self.bucket_rows.find(name, conn)
            if found is not None:
                if found.account_id != ctx.account_id:
                    raise error("BucketAlreadyExists", "The requested bucket name is not "
                                "available. The bucket namespace is shared by all users of the "
                                "system. Please select a different name and try again.",
                                BucketName=name)
                if found.region != US_EAST_1:
                    raise error("BucketAlreadyOwnedByYou", "Your previous request to create the "
                                "named bucket succeeded and you already own it.", BucketName=name)
                # us-east-1 answers 200 to its owner creating the bucket again (legacy behaviour)
            else:
                conn.execute(insert(buckets_table).values(
                    name=name, account_id=ctx.account_id, region=region,
                    created_at=time.time()))
        self.bucket_rows.forget(name)
        return {"Location": f"/{name}", "BucketArn": f"arn:aws:s3:::{name}"}

    def delete_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        with self.runtime.store.begin() as conn:
            self.bucket_rows.get(name, conn)
            if conn.execute(select(exists().where(objects.c.bucket == name))).scalar():
                raise error("BucketNotEmpty", "The bucket you tried to delete is not empty",
                            BucketName=name)
            pending = [u for (u,) in conn.execute(
                select(uploads.c.upload_id).where(uploads.c.bucket == name))]
            dropped = self.abort(conn, pending) if pending else []
            conn.execute(delete(buckets_table).where(buckets_table.c.name == name))
        self.bucket_rows.forget(name)
        self.storage.drop(dropped)
        return {}

    def head_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            row = self.bucket_rows.get(params["Bucket"], conn)
        return {"BucketRegion": row.region, "BucketArn": f"arn:aws:s3:::{row.name}"}

    def get_bucket_location(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            row = self.bucket_rows.get(params["Bucket"], conn)
        return {"LocationConstraint": None if row.region == US_EAST_1 else row.region}

    def list_buckets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        t = buckets_table
        where = [t.c.account_id == ctx.account_id]
        if params.get("Prefix"):
            where += listing.prefix_range(t.c.name, params["Prefix"])
        if params.get("BucketRegion"):
            where.append(t.c.region == params["BucketRegion"])
        if params.get("ContinuationToken"):
            where.append(t.c.name > params["ContinuationToken"])
        limit = params.get("MaxBuckets") or 10_000
        with self.runtime.store.begin() as conn:
            rows = conn.execute(select(t).where(*where).order_by(t.c.name)
                                .limit(limit + 1)).all()
        result: dict[str, Any] = {
            "Buckets": [{"Name": r.name, "CreationDate": datetime.fromtimestamp(r.created_at, UTC),
                         "BucketRegion": r.region, "BucketArn": f"arn:aws:s3:::{r.name}"}
                        for r in rows[:limit]],
            "Owner": buckets.owner(ctx.account_id),
        }
        if params.get("Prefix"):
            result["Prefix"] = params["Prefix"]
        if len(rows) > limit:
            result["ContinuationToken"] = rows[limit - 1].name
        return result

    # -- listing -----------------------------------------------------------------------------

    def list_objects_v2(self, ctx: RequestContext, params: dict[str, Any], *,
                        with_etag: bool = True) -> dict[str, Any]:
        """Without `with_etag` (in-process readers that ignore it: the registry's collector),
        the entries have no ETag, so none still being computed (etags.py) is waited for."""
        token = params.get("ContinuationToken")
        start_after = params.get("StartAfter")
        start = listing.parse_token(token) if token is not None else (
            listing.Cursor(start_after) if start_after else None)
        page, bucket, limit = self._list_latest(params, start)
        encode = listing.encoder(params.get("EncodingType"))
        result = self._listing_common(params, page, limit, encode, bucket.account_id,
                                      owner=bool(params.get("FetchOwner")), with_etag=with_etag)
        result["KeyCount"] = len(page.entries) + len(page.prefixes)
        if token is not None:
            result["ContinuationToken"] = token
        if start_after:
            result["StartAfter"] = encode(start_after)
        if page.truncated and page.next_cursor is not None:
            result["NextContinuationToken"] = page.next_cursor.token()
        return result

    def list_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        marker = params.get("Marker") or ""
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or None
        start = listing.after_marker(marker, prefix, delimiter) if marker else None
        page, bucket, limit = self._list_latest(params, start)
        encode = listing.encoder(params.get("EncodingType"))
        result = self._listing_common(params, page, limit, encode, bucket.account_id,
                                      owner=True)
        result["Marker"] = encode(marker)
        if page.truncated and delimiter and page.last_entry is not None:
            # S3 sends NextMarker only with a delimiter; clients use the last key otherwise.
            last = page.last_entry if page.last_is_prefix else page.last_entry.key
            result["NextMarker"] = encode(last)
        return result

    def _list_latest(self, params: dict[str, Any], start: listing.Cursor | None):
        limit = _max_keys(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or None
        with self.runtime.store.begin() as conn:
            bucket = self.bucket_rows.get(params["Bucket"], conn)
            page = listing.walk(listing.latest_objects(conn, bucket.name, prefix), prefix,
                                delimiter, start, limit, lambda r: listing.Cursor(r.key))
        return page, bucket, limit

    def _listing_common(self, params: dict[str, Any], page: listing.Page, limit: int, encode,
                        account_id: str, owner: bool, with_etag: bool = True) -> dict[str, Any]:
        contents = []
        for row in page.entries:
            item: dict[str, Any] = {
                "Key": encode(row.key), "LastModified": last_modified(row),
                "Size": row.size, "StorageClass": _storage_class(row),
            }
            if with_etag:
                item["ETag"] = self.storage.etags.of(row)
            if row.checksum_algorithm:
                item["ChecksumAlgorithm"] = [row.checksum_algorithm]
                item["ChecksumType"] = row.checksum_type
            if owner:
                item["Owner"] = buckets.owner(account_id)
            contents.append(item)
        result: dict[str, Any] = {
            "Name": params["Bucket"], "Prefix": encode(params.get("Prefix") or ""),
            "MaxKeys": limit, "IsTruncated": page.truncated, "Contents": contents,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.prefixes],
        }
        if params.get("Delimiter"):
            result["Delimiter"] = encode(params["Delimiter"])
        if params.get("EncodingType"):
            result["EncodingType"] = params["EncodingType"]
        return result

    def list_object_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = _max_keys(params)
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or None
        key_marker, id_marker = params.get("KeyMarker"), params.get("VersionIdMarker")
        encode = listing.encoder(params.get("EncodingType"))
        with self.runtime.store.begin() as conn:
            bucket = self.bucket_rows.get(params["Bucket"], conn)
            start = None
            if key_marker:
                start = listing.after_marker(key_marker, prefix, delimiter)
                if id_marker:
                    marker_row = versions.find(conn, bucket.name, key_marker, id_marker)
                    if marker_row is None:
                        raise error("InvalidArgument", "Invalid version id specified",
                                    ArgumentName="version-id-marker", ArgumentValue=id_marker)
                    start = listing.Cursor(key_marker, tiebreak=marker_row.id)
            page = listing.walk(listing.all_versions(conn, bucket.name, prefix), prefix,
                                delimiter, start, limit,
                                lambda r: listing.Cursor(r.key, tiebreak=r.id))
        owner = buckets.owner(bucket.account_id)
        found, markers = [], []
        for row in page.entries:
            item: dict[str, Any] = {"Key": encode(row.key), "VersionId": row.version_id,
                                    "IsLatest": row.latest, "LastModified": last_modified(row),
                                    "Owner": owner}
            if row.delete_marker:
                markers.append(item)
                continue
            item.update(ETag=self.storage.etags.of(row), Size=row.size,
                        StorageClass=_storage_class(row))
            if row.checksum_algorithm:
                item["ChecksumAlgorithm"] = [row.checksum_algorithm]
                item["ChecksumType"] = row.checksum_type
            found.append(item)
        result: dict[str, Any] = {
            "Name": bucket.name, "Prefix": encode(prefix), "KeyMarker": encode(key_marker or ""),
            "VersionIdMarker": id_marker or "", "MaxKeys": limit, "IsTruncated": page.truncated,
            "Versions": found, "DeleteMarkers": markers,
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
                result["NextVersionIdMarker"] = page.last_entry.version_id
        return result

    # -- bucket configuration ----------------------------------------------------------------

    def put_bucket_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        document = params.get("Policy") or ""
        if len(document.encode()) > POLICY_LIMIT:
            raise error("PolicyTooLarge", "Policy exceeds the maximum allowed document size.")
        try:
            parse_policy(document, PolicyKind.RESOURCE)
        except MalformedPolicy as exc:
            raise error("MalformedPolicy", exc.reason) from None
        self._update_bucket(params["Bucket"], policy=document)
        return {}

    def get_bucket_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self._get_bucket(params["Bucket"])
        if not row.policy:
            raise error("NoSuchBucketPolicy", "The bucket policy does not exist",
                        BucketName=row.name)
        return {"Policy": row.policy}

    def delete_bucket_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._update_bucket(params["Bucket"], policy=None)
        return {}

    def put_bucket_versioning(self, ctx: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        status = (params.get("VersioningConfiguration") or {}).get("Status")
        if status not in (versions.ENABLED, versions.SUSPENDED):
            raise error("MalformedXML", "The XML you provided was not well-formed or did not "
                        "validate against our published schema")
        self._update_bucket(params["Bucket"], versioning=status)
        return {}

    def get_bucket_versioning(self, ctx: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        row = self._get_bucket(params["Bucket"])
        return {"Status": row.versioning} if row.versioning else {}

    def put_bucket_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = from_tag_set((params.get("Tagging") or {}).get("TagSet") or [], BUCKET_TAG_LIMIT)
        self._update_bucket(params["Bucket"], tags=dump_json(tags))
        return {}

    def get_bucket_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self._get_bucket(params["Bucket"])
        if not row.tags:
            raise error("NoSuchTagSet", "The TagSet does not exist", BucketName=row.name)
        return {"TagSet": tag_set(json.loads(row.tags))}

    def delete_bucket_tagging(self, ctx: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        self._update_bucket(params["Bucket"], tags=None)
        return {}

    def put_bucket_notification_configuration(self, ctx: RequestContext,
                                              params: dict[str, Any]) -> dict[str, Any]:
        config = params.get("NotificationConfiguration") or {}
        notifications.validate(config)
        bucket = self._get_bucket(params["Bucket"])
        queue_arns = [q["QueueArn"] for q in config.get("QueueConfigurations") or []]
        if not params.get("SkipDestinationValidation"):
            self._check_destinations(config, bucket)
        stored = {k: v for k, v in config.items() if v or k == "EventBridgeConfiguration"}
        with self.runtime.store.begin() as conn:
            conn.execute(update(buckets_table).where(buckets_table.c.name == bucket.name)
                         .values(notification=dump_json(stored) if stored else None))
            self.bucket_rows.forget(bucket.name)
            notifications.publish_test_event(self.runtime.bus, conn, ctx, bucket.account_id,
                                             bucket.region, bucket.name, sorted(set(queue_arns)))
        return {}

    def _check_destinations(self, config: dict[str, Any], bucket: Any) -> None:
        """Every destination must exist and let S3 send to it, as S3 checks by sending a test
        message: a queue is looked up, and S3's sending authorized, through SQS itself. portside
        has no SNS or Lambda to send to."""
        failed = []
        sqs = self.runtime.services.get("sqs")
        for arn in sorted({q["QueueArn"] for q in config.get("QueueConfigurations") or []}):
            target = notifications.queue_target(arn, bucket.name, bucket.account_id)
            if target is None or sqs is None:
                failed.append((arn, "The destination queue does not exist"))
                continue
            params = {"QueueUrl": target.url, "MessageBody": "s3:TestEvent"}
            try:
                sqs.handler("GetQueueAttributes")(target.ctx, {"QueueUrl": target.url})
            except AwsError:
                failed.append((arn, "The destination queue does not exist"))
                continue
            try:
                authorize(self.runtime, target.ctx, sqs, "SendMessage", params)
            except AccessDenied:
                failed.append((arn, "Permissions on the destination queue do not allow S3 to "
                               "publish notifications from this bucket"))
        for kind, member in (("TopicConfigurations", "TopicArn"),
                             ("LambdaFunctionConfigurations", "LambdaFunctionArn")):
            for item in config.get(kind) or []:
                failed.append((item.get(member, ""), "portside has no such destination service"))
        if failed:
            raise notifications.unreachable_destinations(failed)

    def get_bucket_notification_configuration(self, ctx: RequestContext,
                                              params: dict[str, Any]) -> dict[str, Any]:
        return buckets.notification_config(self._get_bucket(params["Bucket"])) or {}

    def _get_bucket(self, name: str):
        return self.bucket_rows.get(name)

    def _update_bucket(self, name: str, **values: Any) -> None:
        with self.runtime.store.begin() as conn:
            self.bucket_rows.get(name, conn)
            conn.execute(update(buckets_table).where(buckets_table.c.name == name)
                         .values(**values))
        self.bucket_rows.forget(name)


def _bucket_region(request_region: str, configuration: dict[str, Any]) -> str:
    """The region a CreateBucket puts the bucket in. Outside us-east-1 the LocationConstraint
    must name the region the request was sent to; us-east-1 (the global endpoint) takes any
    region's constraint, and none for itself.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html"""
    constraint = configuration.get("LocationConstraint")
    if constraint is None:
        if request_region != US_EAST_1:
            raise error("IllegalLocationConstraintException", "The unspecified location "
                        "constraint is incompatible for the region specific endpoint this "
                        "request was sent to.")
        return US_EAST_1
    region = _LEGACY_LOCATIONS.get(constraint, constraint)
    if region == US_EAST_1 or not _REGION.fullmatch(region):
        raise error("InvalidLocationConstraint", "The specified location-constraint is not "
                    "valid", LocationConstraint=constraint)
    if region != request_region and request_region != US_EAST_1:
        raise error("IllegalLocationConstraintException", f"The {constraint} location "
                    "constraint is incompatible for the region specific endpoint this request "
                    "was sent to.")
    return region


def _max_keys(params: dict[str, Any]) -> int:
    value = params.get("MaxKeys")
    if value is None:
        return listing.MAX_KEYS
    if value < 0:
        raise error("InvalidArgument", "Argument maxKeys must be an integer between 0 and "
                    "2147483647", ArgumentName="maxKeys", ArgumentValue=value)
    return min(value, listing.MAX_KEYS)


def _storage_class(row) -> str:
    return json.loads(row.attrs).get("StorageClass", "STANDARD")
