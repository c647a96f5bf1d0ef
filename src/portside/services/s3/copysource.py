"""The `x-amz-copy-source` header of CopyObject and UploadPartCopy.

`[/]<bucket>/<key>[?versionId=<id>]`, with the bucket and key URL-encoded.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from portside.protocol.errors import AwsError

_MISSING_PARTS = "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"


@dataclass(frozen=True)
class CopySource:
    bucket: str
    key: str
    version_id: str | None = None


def parse_copy_source(header: str) -> CopySource:
    path, _, query = header.partition("?")
    version_id = None
    if query:
        values = parse_qs(query, keep_blank_values=True).get("versionId")
        if not values or not values[0]:
            raise _invalid(header, "Invalid version id specified")
        version_id = values[0]
    try:
        path = unquote(path.removeprefix("/"), errors="strict")
    except UnicodeDecodeError:
        raise _invalid(header, _MISSING_PARTS) from None
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise _invalid(header, _MISSING_PARTS)
    return CopySource(bucket, key, version_id)


def _invalid(header: str, message: str) -> AwsError:
    return AwsError(message, code="InvalidArgument",
                    fields={"ArgumentName": "x-amz-copy-source", "ArgumentValue": header})
