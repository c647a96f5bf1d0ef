"""Object and bucket tags: the `x-amz-tagging` header and the rules every tag set obeys.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html — up to 10 tags per
object (50 per bucket), keys of 1 to 128 and values of 0 to 256 Unicode characters, unique keys,
no `aws:` prefix.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from portside.protocol.errors import AwsError
from portside.services.s3.errors import error

OBJECT_TAG_LIMIT = 10
BUCKET_TAG_LIMIT = 50
_ALLOWED = re.compile(r"[\w\s+\-=._:/@]*", re.UNICODE)

Tags = dict[str, str]


def parse_tagging_header(header: str) -> Tags:
    """`k1=v1&k2=v2`, URL-encoded as a query string."""
    try:
        pairs = parse_qsl(header, keep_blank_values=True, strict_parsing=bool(header),
                          errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise error("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 "
                    "then URLEncoded URL query parameters without tag name duplicates.") from None
    return check_tags(pairs, OBJECT_TAG_LIMIT)


def tagging_header(tags: Tags) -> str:
    return urlencode(tags)


def tag_set(tags: Tags) -> list[dict[str, str]]:
    """The wire form: `[{"Key": …, "Value": …}]`."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def from_tag_set(items: list[dict[str, str]], limit: int) -> Tags:
    return check_tags([(t.get("Key", ""), t.get("Value", "")) for t in items], limit)


def check_tags(pairs: list[tuple[str, str]], limit: int) -> Tags:
    if len(pairs) > limit:
        kind = "Object" if limit == OBJECT_TAG_LIMIT else "Bucket"
        raise error("BadRequest", f"{kind} tags cannot be greater than {limit}")
    tags: Tags = {}
    for key, value in pairs:
        if key in tags:
            raise _invalid_tag("Cannot provide multiple Tags with the same key", key)
        if not 1 <= len(key) <= 128 or not _ALLOWED.fullmatch(key):
            raise _invalid_tag("The TagKey you have provided is invalid", key)
        if key.lower().startswith("aws:"):
            raise _invalid_tag("Your TagKey cannot be prefixed with aws:", key)
        if len(value) > 256 or not _ALLOWED.fullmatch(value):
            raise _invalid_tag("The TagValue you have provided is invalid", key)
        tags[key] = value
    return tags


def _invalid_tag(message: str, key: str) -> AwsError:
    return error("InvalidTag", message, TagKey=key)
