"""What IAM checks for each S3 call: actions, resource ARNs and S3's condition keys.

From "Actions, resources, and condition keys for Amazon S3"
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html) and the
permissions each API reference page lists. Calls on a version use the *Version actions
(GetObject with versionId needs s3:GetObjectVersion); a copy needs read on its source and write
on its target; DeleteObjects needs s3:DeleteObject on each key.
"""

from __future__ import annotations

from typing import Any

from portside.auth.actions import Action, Check
from portside.protocol.errors import AwsError
from portside.services.s3.copysource import parse_copy_source
from portside.services.s3.tagging import parse_tagging_header

BUCKET = "arn:{partition}:s3:::{Bucket}"
OBJECT = "arn:{partition}:s3:::{Bucket}/{Key}"

ACTIONS: dict[str, Action | tuple[Action, ...]] = {
    "ListBuckets": Action("s3:ListAllMyBuckets"),
    "CreateBucket": Action("s3:CreateBucket", BUCKET, creates=True),
    "DeleteBucket": Action("s3:DeleteBucket", BUCKET),
    "HeadBucket": Action("s3:ListBucket", BUCKET),
    "GetBucketLocation": Action("s3:GetBucketLocation", BUCKET),
    "ListObjects": Action("s3:ListBucket", BUCKET),
    "ListObjectsV2": Action("s3:ListBucket", BUCKET),
    "ListObjectVersions": Action("s3:ListBucketVersions", BUCKET),
    "ListMultipartUploads": Action("s3:ListBucketMultipartUploads", BUCKET),
    "GetBucketPolicy": Action("s3:GetBucketPolicy", BUCKET),
    "PutBucketPolicy": Action("s3:PutBucketPolicy", BUCKET),
    "DeleteBucketPolicy": Action("s3:DeleteBucketPolicy", BUCKET),
    "GetBucketVersioning": Action("s3:GetBucketVersioning", BUCKET),
    "PutBucketVersioning": Action("s3:PutBucketVersioning", BUCKET),
    "GetBucketTagging": Action("s3:GetBucketTagging", BUCKET),
    "PutBucketTagging": Action("s3:PutBucketTagging", BUCKET),
    "DeleteBucketTagging": Action("s3:PutBucketTagging", BUCKET),
    "GetBucketNotificationConfiguration": Action("s3:GetBucketNotification", BUCKET),
    "PutBucketNotificationConfiguration": Action("s3:PutBucketNotification", BUCKET),
    "PutObject": Action("s3:PutObject", OBJECT),
    "CreateMultipartUpload": Action("s3:PutObject", OBJECT),
    "UploadPart": Action("s3:PutObject", OBJECT),
    "CompleteMultipartUpload": Action("s3:PutObject", OBJECT),
    "AbortMultipartUpload": Action("s3:AbortMultipartUpload", OBJECT),
    "ListParts": Action("s3:ListMultipartUploadParts", OBJECT),
    "GetObject": Action("s3:GetObject", OBJECT),
    "HeadObject": Action("s3:GetObject", OBJECT),
    "GetObjectAttributes": Action("s3:GetObjectAttributes", OBJECT),
    "DeleteObject": Action("s3:DeleteObject", OBJECT),
    "GetObjectTagging": Action("s3:GetObjectTagging", OBJECT),
    "PutObjectTagging": Action("s3:PutObjectTagging", OBJECT),
    "DeleteObjectTagging": Action("s3:DeleteObjectTagging", OBJECT),
}

# Calls whose action differs when they name a version (`versionId`).
VERSIONED = {
    "GetObject": "s3:GetObjectVersion",
    "HeadObject": "s3:GetObjectVersion",
    "GetObjectAttributes": "s3:GetObjectVersionAttributes",
    "DeleteObject": "s3:DeleteObjectVersion",
    "GetObjectTagging": "s3:GetObjectVersionTagging",
    "PutObjectTagging": "s3:PutObjectVersionTagging",
    "DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
}


# Calls on an existing object, whose tags policies may test with s3:ExistingObjectTag/<key>.
READS_EXISTING_TAGS = frozenset({
    "GetObject", "HeadObject", "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging",
    "GetObjectAttributes", "DeleteObject",
})


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def special_checks(operation: str, params: dict[str, Any],
                   context: dict[str, Any]) -> list[Check] | None:
    """The checks of calls the table cannot express, or None to use the table."""
    bucket, key = params.get("Bucket", "*"), params.get("Key", "*")
    if operation in VERSIONED and params.get("VersionId"):
        return [Check(VERSIONED[operation], object_arn(bucket, key), context)]
    if operation == "DeleteObjects":
        return [Check("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject",
                      object_arn(bucket, o.get("Key", "")), context)
                for o in (params.get("Delete") or {}).get("Objects") or []]
    if operation in ("CopyObject", "UploadPartCopy"):
        checks = []
        try:
            source = parse_copy_source(params.get("CopySource", ""))
            read = "s3:GetObjectVersion" if source.version_id else "s3:GetObject"
            checks.append(Check(read, object_arn(source.bucket, source.key), context))
        except AwsError:
            pass  # a malformed source is the handler's error to raise
        checks.append(Check("s3:PutObject", object_arn(bucket, key), context))
        return checks
    if operation == "PutObject" and params.get("Tagging"):
        return [Check("s3:PutObject", object_arn(bucket, key), context),
                Check("s3:PutObjectTagging", object_arn(bucket, key), context)]
    return None


def request_condition_keys(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """S3's condition keys that the request itself carries."""
    keys: dict[str, Any] = {}
    if operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        keys["s3:prefix"] = params.get("Prefix", "")
        if params.get("Delimiter") is not None:
            keys["s3:delimiter"] = params["Delimiter"]
        if params.get("MaxKeys") is not None:
            keys["s3:max-keys"] = params["MaxKeys"]
    if params.get("ACL"):
        keys["s3:x-amz-acl"] = params["ACL"]
    if params.get("VersionId"):
        keys["s3:VersionId"] = params["VersionId"]
    if params.get("CopySource"):
        keys["s3:x-amz-copy-source"] = params["CopySource"]
    if params.get("MetadataDirective"):
        keys["s3:x-amz-metadata-directive"] = params["MetadataDirective"]
    if params.get("StorageClass"):
        keys["s3:x-amz-storage-class"] = params["StorageClass"]
    if params.get("ServerSideEncryption"):
        keys["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
    if params.get("IfNoneMatch"):
        keys["s3:if-none-match"] = params["IfNoneMatch"]
    if params.get("IfMatch") and operation in ("PutObject", "CompleteMultipartUpload"):
        keys["s3:if-match"] = params["IfMatch"]
    request_tags = _request_tags(operation, params)
    if request_tags is not None:
        keys["s3:RequestObjectTagKeys"] = list(request_tags)
        for tag, value in request_tags.items():
            keys[f"s3:RequestObjectTag/{tag}"] = value
    return keys


def _request_tags(operation: str, params: dict[str, Any]) -> dict[str, str] | None:
    if operation == "PutObjectTagging":
        return {t["Key"]: t["Value"] for t in (params.get("Tagging") or {}).get("TagSet") or []}
    if operation in ("PutObject", "CopyObject", "CreateMultipartUpload") and params.get("Tagging"):
        try:
            return parse_tagging_header(params["Tagging"])
        except AwsError:
            return None  # the handler refuses malformed tags
    return None


def existing_tag_keys(tags: dict[str, str]) -> dict[str, Any]:
    """s3:ExistingObjectTag/<key> of the object a call acts on."""
    return {f"s3:ExistingObjectTag/{k}": v for k, v in tags.items()}
