"""What an object carries besides its bytes: content headers, user metadata, storage class.

Stored as the JSON `attrs` of its row; set by PutObject, CreateMultipartUpload and a CopyObject
that replaces metadata, and returned by GetObject and HeadObject.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from portside.services.s3.errors import error

# Members stored as sent and returned under the same name.
CONTENT_MEMBERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage",
                   "CacheControl", "WebsiteRedirectLocation", "StorageClass")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
METADATA_LIMIT = 2048  # bytes of user-defined metadata (keys and values, UTF-8)
KEY_LIMIT = 1024  # bytes of an object key, UTF-8
# GetObject's response-* query parameters and the headers they override.
OVERRIDES = {"ResponseContentType": "ContentType", "ResponseContentLanguage": "ContentLanguage",
             "ResponseContentDisposition": "ContentDisposition",
             "ResponseContentEncoding": "ContentEncoding", "ResponseCacheControl": "CacheControl",
             "ResponseExpires": "Expires"}


def refuse_unsupported(params: dict[str, Any]) -> None:
    """Write options portside does not implement are refused, never silently dropped: data a
    client believes encrypted with its own key, or locked, must not be stored as if it were."""
    if params.get("SSECustomerAlgorithm") or params.get("SSECustomerKey"):
        raise error("NotImplemented", "portside does not implement server-side encryption with "
                    "customer-provided keys (SSE-C).", Header="x-amz-server-side-encryption-"
                    "customer-algorithm")
    if params.get("ObjectLockMode") or params.get("ObjectLockLegalHoldStatus"):
        raise error("InvalidRequest", "Bucket is missing Object Lock Configuration")
    if params.get("WriteOffsetBytes") is not None:
        raise error("NotImplemented", "portside does not implement appends "
                    "(x-amz-write-offset-bytes).", Header="x-amz-write-offset-bytes")


def check_key(key: str) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > KEY_LIMIT:
        raise error("KeyTooLongError", "Your key is too long", Size=len(key.encode()),
                    MaxSizeAllowed=KEY_LIMIT)


def from_request(params: dict[str, Any]) -> dict[str, Any]:
    """The attributes a write request sets. `aws-chunked` names the transfer encoding of the
    request, not the object's: S3 drops it from Content-Encoding."""
    attrs = {m: params[m] for m in CONTENT_MEMBERS if params.get(m)}
    if "ContentEncoding" in attrs:
        kept = [e.strip() for e in attrs["ContentEncoding"].split(",")
                if e.strip() and e.strip().lower() != "aws-chunked"]
        if kept:
            attrs["ContentEncoding"] = ",".join(kept)
        else:
            del attrs["ContentEncoding"]
    if attrs.get("StorageClass") == "STANDARD":
        del attrs["StorageClass"]
    if params.get("Expires") is not None:
        attrs["Expires"] = params["Expires"].timestamp()
    metadata = params.get("Metadata") or {}
    if metadata:
        size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
        if size > METADATA_LIMIT:
            raise error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed "
                        "metadata size", Size=size, MaxSizeAllowed=METADATA_LIMIT)
        attrs["Metadata"] = metadata
    return attrs


def dump(attrs: dict[str, Any]) -> str:
    return json.dumps(attrs, separators=(",", ":"))


def load(text: str) -> dict[str, Any]:
    return json.loads(text)


def to_response(attrs: dict[str, Any], overrides: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """The response members of stored attributes, with GetObject's response-* overrides."""
    result: dict[str, Any] = {m: attrs[m] for m in CONTENT_MEMBERS if m in attrs}
    result.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
    if "Expires" in attrs:
        result["Expires"] = datetime.fromtimestamp(attrs["Expires"], UTC)
    if attrs.get("Metadata"):
        result["Metadata"] = attrs["Metadata"]
    for parameter, member in OVERRIDES.items():
        if overrides and overrides.get(parameter) is not None:
            result[member] = overrides[parameter]
    return result
