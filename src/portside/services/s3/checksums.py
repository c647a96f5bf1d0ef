"""Object integrity: the MD5 behind ETags and Content-MD5, and S3's additional checksums.

A client may send a checksum of the body as a header (`x-amz-checksum-crc32: <base64>`) or, in an
aws-chunked body, as a trailer named by `x-amz-sdk-checksum-algorithm`; S3 computes the same over
what it received and refuses a mismatch with BadDigest. Every object keeps one checksum: the one
the client chose, else CRC64NVME, which S3 computes for uploads that send none. CRC32C and
CRC64NVME come from awscrt (the AWS Common Runtime botocore itself uses for them), as do the CRC
combinations a multipart upload's full-object checksum needs.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portside.protocol.errors import AwsError
from portside.services.s3.errors import error

DEFAULT_ALGORITHM = "CRC64NVME"
FULL_OBJECT = "FULL_OBJECT"
COMPOSITE = "COMPOSITE"


@dataclass(frozen=True)
class Algorithm:
    name: str  # as in ChecksumAlgorithm: CRC32, CRC32C, CRC64NVME, SHA1, SHA256
    width: int  # bytes of the raw checksum
    crc: Callable[[bytes, int], int] | None = None  # CRC algorithms: (data, previous) -> crc
    combine: Callable[[int, int, int], int] | None = None  # (crc1, crc2, length2) -> crc
    hashlib_name: str | None = None

    @property
    def member(self) -> str:
        """The request and response member: ChecksumCRC32…"""
        return f"Checksum{self.name}"

    @property
    def header(self) -> str:
        return f"x-amz-checksum-{self.name.lower()}"

    def new(self) -> Digest:
        return Digest(self)


def _crt(name: str) -> Callable[..., int]:
    """A function of awscrt's checksums, imported on first use: awscrt's native library is
    ~6 MB resident, and boto3's default checksum (CRC32) and MD5 need none of it."""

    def call(*args: int | bytes) -> int:
        from awscrt import checksums

        return getattr(checksums, name)(*args)

    return call


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm("CRC32", 4, lambda data, prev: zlib.crc32(data, prev), _crt("combine_crc32")),
    Algorithm("CRC32C", 4, _crt("crc32c"), _crt("combine_crc32c")),
    Algorithm("CRC64NVME", 8, _crt("crc64nvme"), _crt("combine_crc64nvme")),
    Algorithm("SHA1", 20, hashlib_name="sha1"),
    Algorithm("SHA256", 32, hashlib_name="sha256"),
)}
# Modelled, but portside computes none of them: refused rather than stored unverified.
UNSUPPORTED = ("SHA512", "MD5", "XXHASH64", "XXHASH3", "XXHASH128")


class Digest:
    """One running checksum."""

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm = algorithm
        self._crc = 0
        self._hash: Any = hashlib.new(algorithm.hashlib_name) if algorithm.hashlib_name else None

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._crc = self.algorithm.crc(data, self._crc)  # type: ignore[misc]

    def raw(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        return self._crc.to_bytes(self.algorithm.width, "big")

    def value(self) -> str:
        return base64.b64encode(self.raw()).decode()


def decode(algorithm: Algorithm, value: str) -> bytes | None:
    """The raw checksum of a base64 value, or None if it is not one of this algorithm."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == algorithm.width else None


@dataclass(frozen=True)
class Expected:
    """What a request says about its body's checksum."""

    algorithm: Algorithm
    value: str | None  # from a header; None when it comes in a trailer, or not at all
    content_md5: str | None = None


def expected_checksum(params: dict[str, Any], default: str | None = DEFAULT_ALGORITHM
                      ) -> Expected | None:
    """The checksum a write request declares (`x-amz-checksum-*` or the SDK's algorithm
    header), validated; else the default algorithm with no value to check."""
    sent = [name for name in (*ALGORITHMS, *UNSUPPORTED) if params.get(f"Checksum{name}")]
    if len(sent) > 1:
        raise error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple "
                    "checksum Types are not allowed.")
    md5 = params.get("ContentMD5")
    if md5 is not None and decode(_MD5, md5) is None:
        raise error("InvalidDigest", "The Content-MD5 you specified was invalid.",
                    **{"Content-MD5": md5})
    named = (sent[0] if sent else params.get("ChecksumAlgorithm") or "").upper()
    if named in UNSUPPORTED:
        raise error("InvalidRequest", f"portside does not compute {named} checksums; use "
                    "CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.")
    if named and named not in ALGORITHMS:
        raise error("InvalidRequest", "Checksum algorithm provided is unsupported. Please try "
                    "again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, "
                    "SHA256]")
    if not named:
        return None if default is None else Expected(ALGORITHMS[default], None, md5)
    algorithm = ALGORITHMS[named]
    value = params.get(algorithm.member)
    if value is not None and decode(algorithm, value) is None:
        raise error("InvalidRequest", f"Value for {algorithm.header} header is invalid.")
    return Expected(algorithm, value, md5)


_MD5 = Algorithm("MD5", 16)


class BodyDigests:
    """The MD5 (the ETag) and the object's checksum of a body, fed chunk by chunk.

    With `defer_md5`, a large body is hashed without its MD5: the object is stored with its
    ETag still to compute (etags.py). A small body, and one with a Content-MD5 to verify, get
    theirs at once."""

    def __init__(self, expected: Expected | None, defer_md5: bool = False) -> None:
        self.expected = expected
        self.md5: Any = hashlib.md5()
        self.checksum = expected.algorithm.new() if expected else None
        self.size = 0
        self._defer_md5 = defer_md5 and self.checksum is not None and \
            expected is not None and expected.content_md5 is None

    def update(self, chunk: bytes) -> None:
        """A small body, whole: every digest, MD5 included."""
        for lane in self._lanes():
            lane(chunk)

    def lanes(self) -> list[Callable[[bytes], None]]:
        """A large body's running digests as independent update functions (the first counts
        the size too): each may be fed from a thread of its own, so that hashing a body takes
        as long as its slowest digest rather than all of them. Without the MD5 if deferred."""
        if self._defer_md5:
            self.md5 = None
        return self._lanes()

    def _lanes(self) -> list[Callable[[bytes], None]]:
        first, *rest = [d.update for d in (self.md5, self.checksum) if d is not None]

        def counted(chunk: bytes) -> None:
            first(chunk)
            self.size += len(chunk)

        return [counted, *rest]

    @property
    def etag(self) -> str | None:
        """The quoted MD5; None when it was deferred."""
        return None if self.md5 is None else f'"{self.md5.hexdigest()}"'

    def verify(self, trailers: dict[str, str]) -> None:
        """Compare with what the client sent, in headers or trailers: BadDigest if different."""
        expected = self.expected
        if expected is None:
            return
        if expected.content_md5 is not None and \
                base64.b64decode(expected.content_md5) != self.md5.digest():
            raise error("BadDigest", "The Content-MD5 you specified did not match what we "
                        "received.", ExpectedDigest=expected.content_md5,
                        CalculatedDigest=base64.b64encode(self.md5.digest()).decode())
        algorithm = expected.algorithm
        claimed = expected.value or trailers.get(algorithm.header)
        if claimed is None or self.checksum is None:
            return
        if expected.value is None and decode(algorithm, claimed) is None:
            raise error("InvalidRequest", f"Value for {algorithm.header} trailing header is "
                        "invalid.")
        if claimed != self.checksum.value():
            raise bad_digest(algorithm)


def bad_digest(algorithm: Algorithm) -> AwsError:
    return error("BadDigest", f"The {algorithm.name} you specified did not match the "
                 "calculated checksum.")


def composite(algorithm: Algorithm, part_values: list[str]) -> str:
    """A multipart object's COMPOSITE checksum: the checksum of the parts' raw checksums,
    suffixed with the part count."""
    digest = algorithm.new()
    for value in part_values:
        digest.update(base64.b64decode(value))
    return f"{digest.value()}-{len(part_values)}"


def full_object(algorithm: Algorithm, parts: list[tuple[str, int]]) -> str:
    """A multipart object's FULL_OBJECT checksum from its parts' CRCs and sizes."""
    assert algorithm.combine is not None
    crc: int | None = None
    for value, size in parts:
        part = int.from_bytes(base64.b64decode(value), "big")
        crc = part if crc is None else algorithm.combine(crc, part, size)
    return base64.b64encode((crc or 0).to_bytes(algorithm.width, "big")).decode()
