"""The `Range` header of GetObject and HeadObject, and `x-amz-copy-source-range`.

S3 serves one byte range per request (RFC 9110 §14.1.2 `bytes=first-last`, `bytes=first-` and
the suffix form `bytes=-n`). A header that does not parse, or asks for several ranges, is
ignored and the whole object is served, as HTTP says a server may; a range that starts past
the end of the object is unsatisfiable: 416 InvalidRange.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portside.protocol.errors import AwsError

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


@dataclass(frozen=True)
class ByteRange:
    start: int  # first byte served
    end: int  # one past the last byte served

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class Unsatisfiable(ValueError):
    """A well-formed range that selects no byte of the object."""


def parse_range(header: str, size: int) -> ByteRange | None:
    """The bytes `header` selects of an object of `size` bytes; None means the whole object.
    Raises Unsatisfiable when it selects none."""
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # last < first: syntactically invalid, so ignored
    if start >= size:
        raise Unsatisfiable(header)
    return ByteRange(start, min(end, size))


def invalid_range(header: str, size: int) -> AwsError:
    return AwsError("The requested range is not satisfiable", code="InvalidRange", status=416,
                    fields={"RangeRequested": header, "ActualObjectSize": size},
                    headers={"Content-Range": f"bytes */{size}"})


_COPY_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def parse_copy_source_range(header: str, size: int) -> ByteRange:
    """UploadPartCopy's `x-amz-copy-source-range`: strictly `bytes=first-last`, inside the
    source object."""
    match = _COPY_RANGE.fullmatch(header.strip())
    if match is None:
        raise AwsError("The x-amz-copy-source-range value must be of the form "
                       "bytes=first-last where first and last are the zero-based offsets of "
                       "the first and last bytes to copy", code="InvalidArgument",
                       fields={"ArgumentName": "x-amz-copy-source-range",
                               "ArgumentValue": header})
    start, last = int(match.group(1)), int(match.group(2))
    if last < start or last >= size:
        raise AwsError(f"Range specified is not valid for source object of size: {size}",
                       code="InvalidArgument", fields={
                           "ArgumentName": "x-amz-copy-source-range", "ArgumentValue": header})
    return ByteRange(start, last + 1)
