"""Conditional requests: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.

S3 follows RFC 7232's precedence (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html):
If-Match decides before If-Unmodified-Since, and If-None-Match before If-Modified-Since — so an
If-Match that holds serves the object whatever If-Unmodified-Since says, and an If-None-Match
that fails answers 304 whatever If-Modified-Since says. Reads answer 304 Not Modified for the
If-None-Match and If-Modified-Since pair; a copy source answers 412 for every failed condition.
Dates compare at the second: Last-Modified is sent with second precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from portside.protocol.errors import AwsError


def etag_list(header: str) -> list[str]:
    """The entity tags of an If-Match / If-None-Match header, unquoted; `*` stays `*`.
    Weak tags (`W/"…"`) compare by their value, as S3's tags are never weak."""
    tags = []
    for item in header.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        if len(item) >= 2 and item[0] == item[-1] == '"':
            item = item[1:-1]
        if item:
            tags.append(item)
    return tags


def etag_matches(header: str, etag: str) -> bool:
    bare = etag.strip('"')
    return any(tag == "*" or tag == bare for tag in etag_list(header))


@dataclass(frozen=True)
class Conditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None

    @classmethod
    def of_request(cls, params: dict, prefix: str = "") -> Conditions:
        """From a request's members: `IfMatch`…, or `CopySourceIfMatch`… with the prefix."""
        return cls(params.get(f"{prefix}IfMatch"), params.get(f"{prefix}IfNoneMatch"),
                   params.get(f"{prefix}IfModifiedSince"), params.get(f"{prefix}IfUnmodifiedSince"))

    @property
    def given(self) -> bool:
        return any(value is not None for value in (
            self.if_match, self.if_none_match, self.if_modified_since, self.if_unmodified_since))


class Verdict:
    OK = "ok"
    NOT_MODIFIED = "not-modified"  # 304 on reads
    FAILED = "failed"  # 412


def evaluate(conditions: Conditions, etag: str, last_modified: datetime) -> tuple[str, str]:
    """The verdict on an object, and the header that decided it."""
    modified = _seconds(last_modified)
    if conditions.if_match is not None:
        if not etag_matches(conditions.if_match, etag):
            return Verdict.FAILED, "If-Match"
    elif conditions.if_unmodified_since is not None and \
            modified > _seconds(conditions.if_unmodified_since):
        return Verdict.FAILED, "If-Unmodified-Since"
    if conditions.if_none_match is not None:
        if etag_matches(conditions.if_none_match, etag):
            return Verdict.NOT_MODIFIED, "If-None-Match"
    elif conditions.if_modified_since is not None and \
            modified <= _seconds(conditions.if_modified_since):
        return Verdict.NOT_MODIFIED, "If-Modified-Since"
    return Verdict.OK, ""


def check_read(conditions: Conditions, etag: str, last_modified: datetime,
               headers: dict[str, str]) -> None:
    """GetObject and HeadObject: raise 412 or 304 (with the object's validators) if a
    condition fails."""
    verdict, header = evaluate(conditions, etag, last_modified)
    if verdict == Verdict.FAILED:
        raise precondition_failed(header)
    if verdict == Verdict.NOT_MODIFIED:
        raise AwsError("Not Modified", code="NotModified", status=304, headers=headers)


def check_copy_source(conditions: Conditions, etag: str, last_modified: datetime) -> None:
    """CopyObject and UploadPartCopy: any failed x-amz-copy-source-if-* condition is a 412."""
    verdict, header = evaluate(conditions, etag, last_modified)
    if verdict != Verdict.OK:
        raise precondition_failed(f"x-amz-copy-source-{header.lower()}")


def precondition_failed(condition: str) -> AwsError:
    return AwsError("At least one of the pre-conditions you specified did not hold",
                    code="PreconditionFailed", status=412, fields={"Condition": condition})


def _seconds(when: datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())
