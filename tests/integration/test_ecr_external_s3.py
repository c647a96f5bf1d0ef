"""The registry's blob backend for an external S3-compatible endpoint (PORTSIDE_ECR_S3_ENDPOINT)
against a real S3 API (a portside server): put in parts with its SHA-256, list with
pagination (what the collector sweeps), ranged get, head, delete."""

import asyncio
import hashlib

from server import REGION

from portside.services.ecr.blobs import ExternalS3Blobs

ACCOUNT = "000000000000"


async def chunks(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_external_s3_blobs_put_list_get_delete(portside, monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    store = ExternalS3Blobs(portside.endpoint, "ext-ecr-")
    data = bytes(range(256)) * (40 * 1024 + 7)  # over one 8 MiB part

    async def main():
        stored = await store.put(ACCOUNT, "blobs/u1/0", chunks(data, 1 << 20))
        assert stored.size == len(data)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        for n in range(3):
            await store.put(ACCOUNT, f"blobs/u2/{n}", chunks(b"x" * n, 1))
        store.client.meta.events.register(  # small pages, so the listing must follow them
            "before-parameter-build.s3.ListObjectsV2",
            lambda params, **_: params.setdefault("MaxKeys", 2))
        listed = [item.key async for item in store.list(ACCOUNT, "blobs/")]
        assert listed == ["blobs/u1/0", "blobs/u2/0", "blobs/u2/1", "blobs/u2/2"]
        assert (await store.head(ACCOUNT, "blobs/u1/0")).size == len(data)
        ranged = b"".join([c async for c in store.get(ACCOUNT, "blobs/u1/0", 10, 20)])
        assert ranged == data[10:20]
        await store.delete(ACCOUNT, "blobs/u1/0")
        assert await store.head(ACCOUNT, "blobs/u1/0") is None
        assert [i.key async for i in store.list("111111111111", "blobs/")] == []

    asyncio.run(main())
    assert portside.client("s3").head_bucket(Bucket=f"ext-ecr-{ACCOUNT}")
