"""Upload sessions in process: an interrupted upload resumes (its hash recomputed from the
stored parts after a restart), a mismatched digest stores nothing, an abandoned upload is
swept with its parts, and a second copy of a digest is deduplicated."""

import asyncio
import hashlib
import time

from sqlalchemy import select

from portside.auth.identity import Principal, PrincipalType
from portside.config import Settings
from portside.context import RequestContext
from portside.runtime import Runtime
from portside.services.ecr.api import DigestMismatch
from portside.services.ecr.model import blobs, uploads

ACCOUNT = "000000000000"


def ctx() -> RequestContext:
    root = Principal(PrincipalType.ROOT, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    return RequestContext(account_id=ACCOUNT, region="us-east-1", principal=root,
                          access_key_id="test", request_id="r", source_ip="127.0.0.1")


async def body(*chunks: bytes):
    for chunk in chunks:
        yield chunk


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def setup(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path))
    ecr = runtime.services["ecr"]
    ecr.create_repository(ctx(), {"repositoryName": "app"})
    with runtime.store.begin() as conn:
        repo = ecr.find_repository(conn, ACCOUNT, "us-east-1", "app")
    return runtime, ecr, repo


def upload_row(runtime, upload_id):
    with runtime.store.begin() as conn:
        return conn.execute(select(uploads).where(uploads.c.id == upload_id)).first()


def test_upload_resumes_after_a_restart(tmp_path):
    runtime, ecr, repo = setup(tmp_path)
    upload_id = ecr.start_upload(repo)
    asyncio.run(ecr.append_part(repo, upload_row(runtime, upload_id), body(b"first-")))
    runtime.close()

    runtime = Runtime(Settings(data_dir=tmp_path))  # nothing of the upload is in memory
    ecr = runtime.services["ecr"]

    async def main():
        await ecr.append_part(repo, upload_row(runtime, upload_id), body(b"second"))
        await ecr.finish_upload(repo, upload_id, digest(b"first-second"))
        chunks = [c async for c in ecr.blobs.get(ACCOUNT, _object_key(runtime))]
        assert b"".join(chunks) == b"first-second"

    asyncio.run(main())
    runtime.close()


def _object_key(runtime) -> str:
    with runtime.store.begin() as conn:
        return conn.execute(select(blobs.c.object_key)).scalar_one()


def test_digest_mismatch_removes_the_parts(tmp_path):
    runtime, ecr, repo = setup(tmp_path)

    async def main():
        upload_id = ecr.start_upload(repo)
        await ecr.append_part(repo, upload_row(runtime, upload_id), body(b"bytes"))
        try:
            await ecr.finish_upload(repo, upload_id, digest(b"other"))
        except DigestMismatch:
            pass
        else:
            raise AssertionError("a wrong digest was accepted")
        assert upload_row(runtime, upload_id) is None
        assert await ecr.blobs.head(ACCOUNT, f"blobs/{upload_id}/0") is None

    asyncio.run(main())
    runtime.close()


def test_abandoned_uploads_are_swept_with_their_parts(tmp_path):
    runtime, ecr, repo = setup(tmp_path)

    async def main():
        upload_id = ecr.start_upload(repo)
        await ecr.append_part(repo, upload_row(runtime, upload_id), body(b"abandoned"))
        assert await ecr.expire_uploads(time.time() - 60) == 0
        assert await ecr.expire_uploads(time.time() + 1) == 1
        assert upload_row(runtime, upload_id) is None
        assert await ecr.blobs.head(ACCOUNT, f"blobs/{upload_id}/0") is None

    asyncio.run(main())
    runtime.close()


def test_a_second_copy_of_a_digest_is_deduplicated(tmp_path):
    runtime, ecr, repo = setup(tmp_path)

    async def main():
        keys = []
        for _ in range(2):
            upload_id = ecr.start_upload(repo)
            await ecr.append_part(repo, upload_row(runtime, upload_id), body(b"same"))
            await ecr.finish_upload(repo, upload_id, digest(b"same"))
            keys.append(f"blobs/{upload_id}/0")
        assert await ecr.blobs.head(ACCOUNT, keys[0]) is not None
        assert await ecr.blobs.head(ACCOUNT, keys[1]) is None

    asyncio.run(main())
    runtime.close()
