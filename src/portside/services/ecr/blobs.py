"""Where registry blobs live: objects in an S3 bucket per account, behind a narrow interface.

`S3Blobs` calls portside's own S3 service in process (the bytes stream through its storage
layer, never whole in memory); `ExternalS3Blobs` talks to any S3-compatible endpoint with
boto3. `PORTSIDE_ECR_S3_ENDPOINT` selects the second: a configuration change, not a code change.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from portside.auth.identity import Principal, PrincipalType
from portside.context import RequestContext
from portside.ids import new_uuid
from portside.protocol.errors import AwsError

if TYPE_CHECKING:
    from portside.runtime import Runtime

_PART = 8 * 1024 * 1024  # an external multipart upload buffers at most one part


@dataclass(frozen=True)
class Stored:
    size: int
    sha256: str | None = None  # hex, of the bytes `put` stored (not known to `head`)


@dataclass(frozen=True)
class Listed:
    key: str
    last_modified: float  # epoch seconds


class BlobBackend(Protocol):
    """The object calls the registry needs, on its per-account bucket."""

    async def put(self, account_id: str, key: str, body: AsyncIterable[bytes]) -> Stored: ...

    def get(self, account_id: str, key: str, start: int = 0,
            end: int | None = None) -> AsyncIterator[bytes]: ...

    async def head(self, account_id: str, key: str) -> Stored | None: ...

    async def delete(self, account_id: str, key: str) -> None: ...

    def list(self, account_id: str, prefix: str) -> AsyncIterator[Listed]: ...

    def bucket(self, account_id: str) -> str: ...


class S3Blobs:
    """Objects in portside's own S3, in bucket `portside-ecr-<account>` owned by the account."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._ready: set[str] = set()

    @property
    def _s3(self) -> Any:
        return self.runtime.services["s3"]

    def bucket(self, account_id: str) -> str:
        return f"portside-ecr-{account_id}"

    def _ctx(self, account_id: str) -> RequestContext:
        principal = Principal(PrincipalType.ROOT, account_id, f"arn:aws:iam::{account_id}:root",
                              account_id)
        return RequestContext(account_id=account_id, region=self.runtime.settings.default_region,
                              principal=principal, access_key_id=None, request_id=new_uuid(),
                              source_ip="127.0.0.1", service="s3")

    def _ensure_bucket(self, account_id: str) -> None:
        if account_id in self._ready:
            return
        try:
            self._s3.create_bucket(self._ctx(account_id), {"Bucket": self.bucket(account_id)})
        except AwsError as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise
        self._ready.add(account_id)

    async def put(self, account_id: str, key: str, body: AsyncIterable[bytes]) -> Stored:
        """The object's SHA-256 is S3's own checksum of it (ChecksumAlgorithm SHA256), which
        S3 computes off the event loop as the bytes stream: the registry's digest costs no
        pass of its own. The registry never reads the object's ETag (an MD5, ~1.4 s of CPU
        per GiB): S3 computes it after the push has its answer (s3/etags.py)."""
        self._ensure_bucket(account_id)
        counted = _Counted(body)
        answer = await self._s3.put_object(self._ctx(account_id), {
            "Bucket": self.bucket(account_id), "Key": key, "Body": counted,
            "ChecksumAlgorithm": "SHA256"}, defer_etag=True)
        return Stored(counted.size, base64.b64decode(answer["ChecksumSHA256"]).hex())

    async def get(self, account_id: str, key: str, start: int = 0,
                  end: int | None = None) -> AsyncIterator[bytes]:
        params = {"Bucket": self.bucket(account_id), "Key": key}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        body = self._s3.get_object(self._ctx(account_id), params, with_etag=False)["Body"]
        if isinstance(body, bytes | bytearray):
            yield bytes(body)
            return
        async for chunk in body:
            yield chunk

    async def head(self, account_id: str, key: str) -> Stored | None:
        try:
            found = self._s3.head_object(self._ctx(account_id), {
                "Bucket": self.bucket(account_id), "Key": key})
        except AwsError:
            return None
        return Stored(found["ContentLength"])

    async def delete(self, account_id: str, key: str) -> None:
        try:
            self._s3.delete_object(self._ctx(account_id), {"Bucket": self.bucket(account_id),
                                                           "Key": key})
        except AwsError as exc:
            if exc.code != "NoSuchBucket":
                raise

    async def list(self, account_id: str, prefix: str) -> AsyncIterator[Listed]:
        params: dict[str, Any] = {"Bucket": self.bucket(account_id), "Prefix": prefix}
        while True:
            try:
                page = self._s3.list_objects_v2(self._ctx(account_id), params, with_etag=False)
            except AwsError as exc:
                if exc.code == "NoSuchBucket":
                    return
                raise
            for item in page.get("Contents", []):
                yield Listed(item["Key"], item["LastModified"].timestamp())
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]
            await asyncio.sleep(0)  # a long listing lets requests in between its pages

    def reset(self) -> None:
        self._ready.clear()


class ExternalS3Blobs:
    """Objects in an external S3-compatible store, bucket `<prefix><account>`; boto3's blocking
    calls run in threads, a body goes up in parts of _PART bytes."""

    def __init__(self, endpoint: str, bucket_prefix: str) -> None:
        import boto3  # only needed when configured

        self.client = boto3.client("s3", endpoint_url=endpoint)
        self.prefix = bucket_prefix
        self._ready: set[str] = set()

    def bucket(self, account_id: str) -> str:
        return f"{self.prefix}{account_id}"

    async def _ensure_bucket(self, account_id: str) -> None:
        if account_id in self._ready:
            return
        name = self.bucket(account_id)
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=name)
        except self.client.exceptions.ClientError:
            await asyncio.to_thread(self.client.create_bucket, Bucket=name)
        self._ready.add(account_id)

    async def put(self, account_id: str, key: str, body: AsyncIterable[bytes]) -> Stored:
        await self._ensure_bucket(account_id)
        bucket = self.bucket(account_id)
        upload = await asyncio.to_thread(self.client.create_multipart_upload, Bucket=bucket,
                                         Key=key)
        parts: list[dict[str, Any]] = []
        size, buffer, hasher = 0, bytearray(), hashlib.sha256()
        try:
            async for chunk in body:
                hasher.update(chunk)
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= _PART:
                    parts.append(await self._part(bucket, key, upload["UploadId"], len(parts) + 1,
                                                  bytes(buffer)))
                    buffer.clear()
            if buffer or not parts:
                parts.append(await self._part(bucket, key, upload["UploadId"], len(parts) + 1,
                                              bytes(buffer)))
            await asyncio.to_thread(self.client.complete_multipart_upload, Bucket=bucket,
                                    Key=key, UploadId=upload["UploadId"],
                                    MultipartUpload={"Parts": parts})
        except BaseException:
            await asyncio.to_thread(self.client.abort_multipart_upload, Bucket=bucket, Key=key,
                                    UploadId=upload["UploadId"])
            raise
        return Stored(size, hasher.hexdigest())

    async def _part(self, bucket: str, key: str, upload_id: str, number: int,
                    data: bytes) -> dict[str, Any]:
        answer = await asyncio.to_thread(self.client.upload_part, Bucket=bucket, Key=key,
                                         UploadId=upload_id, PartNumber=number, Body=data)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def get(self, account_id: str, key: str, start: int = 0,
                  end: int | None = None) -> AsyncIterator[bytes]:
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket(account_id),
                                         Key=key, **extra)
        stream = answer["Body"]
        while chunk := await asyncio.to_thread(stream.read, 1024 * 1024):
            yield chunk

    async def head(self, account_id: str, key: str) -> Stored | None:
        try:
            answer = await asyncio.to_thread(self.client.head_object,
                                             Bucket=self.bucket(account_id), Key=key)
        except self.client.exceptions.ClientError:
            return None
        return Stored(answer["ContentLength"])

    async def delete(self, account_id: str, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket(account_id),
                                Key=key)

    async def list(self, account_id: str, prefix: str) -> AsyncIterator[Listed]:
        params: dict[str, Any] = {"Bucket": self.bucket(account_id), "Prefix": prefix}
        while True:
            try:
                page = await asyncio.to_thread(self.client.list_objects_v2, **params)
            except self.client.exceptions.NoSuchBucket:
                return
            for item in page.get("Contents", []):
                yield Listed(item["Key"], item["LastModified"].timestamp())
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]

    def reset(self) -> None:
        self._ready.clear()


class _Counted:
    """A body that counts the bytes read from it."""

    def __init__(self, body: AsyncIterable[bytes]) -> None:
        self.body = body
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.body:
            self.size += len(chunk)
            yield chunk
