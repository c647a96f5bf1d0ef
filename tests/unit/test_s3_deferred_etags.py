"""Deferred ETags in process: an object written with `defer_etag` (the registry's writes) gets
its ETag stored after the response; until then every path that shows or compares the ETag
computes the right one; a row left without its ETag by a process that ended is completed at the
next start; the worker never stores an ETag over bytes the row no longer names."""

import asyncio
import hashlib
import threading
import time

import pytest
from sqlalchemy import select

from portside.auth.identity import Principal, PrincipalType
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.runtime import Runtime
from portside.services.s3.model import objects
from portside.services.s3.storage import INLINE_MAX

ACCOUNT = "000000000000"
BUCKET = "deferred"
LARGE = bytes(range(256)) * (INLINE_MAX // 256 * 3)  # stored as a blob, not inline


def ctx() -> RequestContext:
    root = Principal(PrincipalType.ROOT, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    return RequestContext(account_id=ACCOUNT, region="us-east-1", principal=root,
                          access_key_id="test", request_id="r", source_ip="127.0.0.1",
                          service="s3")


def etag_of(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


async def body(data: bytes):
    for start in range(0, len(data), 64 * 1024):
        yield data[start:start + 64 * 1024]


def open_s3(path):
    runtime = Runtime(Settings(data_dir=path))
    return runtime, runtime.services["s3"]


@pytest.fixture
def s3(tmp_path):
    runtime, service = open_s3(tmp_path)
    service.create_bucket(ctx(), {"Bucket": BUCKET})
    yield service
    runtime.close()


def put(s3, key: str, data: bytes) -> dict:
    return asyncio.run(s3.put_object(ctx(), {"Bucket": BUCKET, "Key": key, "Body": body(data)},
                                     defer_etag=True))


def stored_etag(s3, key: str) -> str:
    with s3.runtime.store.begin() as conn:
        return conn.execute(select(objects.c.etag).where(objects.c.key == key)).scalar_one()


def wait_for_stored_etag(s3, key: str) -> str:
    deadline = time.monotonic() + 30
    while not (etag := stored_etag(s3, key)):
        assert time.monotonic() < deadline, "the worker never stored the ETag"
        time.sleep(0.01)
    return etag


@pytest.fixture
def held(s3, monkeypatch):
    """The worker does not run: rows stay without their ETag, as after a kill."""
    queued = []
    monkeypatch.setattr(s3.storage.etags, "defer", lambda *job: queued.append(job))
    return queued


def test_a_deferred_put_answers_without_etag_and_the_worker_stores_the_md5(s3):
    answer = put(s3, "layer", LARGE)
    assert "ETag" not in answer
    assert answer["ChecksumCRC64NVME"]
    assert wait_for_stored_etag(s3, "layer") == etag_of(LARGE)


def test_a_small_body_gets_its_etag_at_once(s3, held):
    assert put(s3, "config", b"{}")["ETag"] == etag_of(b"{}")
    assert stored_etag(s3, "config") == etag_of(b"{}") and not held


def test_every_reader_computes_a_missing_etag(s3, held):
    put(s3, "layer", LARGE)
    assert stored_etag(s3, "layer") == ""
    expected = etag_of(LARGE)
    assert s3.head_object(ctx(), {"Bucket": BUCKET, "Key": "layer"})["ETag"] == expected
    assert s3.get_object(ctx(), {"Bucket": BUCKET, "Key": "layer"})["ETag"] == expected
    for listing in (s3.list_objects, s3.list_objects_v2):
        assert listing(ctx(), {"Bucket": BUCKET})["Contents"][0]["ETag"] == expected
    versions = s3.list_object_versions(ctx(), {"Bucket": BUCKET})["Versions"]
    assert versions[0]["ETag"] == expected


def test_conditions_compare_a_missing_etag_with_the_computed_one(s3, held):
    put(s3, "layer", LARGE)
    expected = etag_of(LARGE)
    read = {"Bucket": BUCKET, "Key": "layer"}
    assert s3.head_object(ctx(), {**read, "IfMatch": expected})["ETag"] == expected
    with pytest.raises(AwsError) as failed:
        s3.head_object(ctx(), {**read, "IfMatch": '"0"'})
    assert failed.value.code == "PreconditionFailed"
    with pytest.raises(AwsError) as unchanged:
        s3.head_object(ctx(), {**read, "IfNoneMatch": expected})
    assert unchanged.value.status == 304
    with pytest.raises(AwsError) as refused:
        asyncio.run(s3.put_object(ctx(), {**read, "Body": body(b"new"), "IfMatch": '"0"'}))
    assert refused.value.code == "PreconditionFailed"
    with pytest.raises(AwsError) as copy_refused:
        asyncio.run(s3.copy_object(ctx(), {"Bucket": BUCKET, "Key": "copy",
                                           "CopySource": f"{BUCKET}/layer",
                                           "CopySourceIfMatch": '"0"'}))
    assert copy_refused.value.code == "PreconditionFailed"
    copied = asyncio.run(s3.copy_object(ctx(), {"Bucket": BUCKET, "Key": "copy",
                                                "CopySource": f"{BUCKET}/layer",
                                                "CopySourceIfMatch": expected}))
    assert copied["CopyObjectResult"]["ETag"] == expected


def test_an_in_process_reader_without_etag_is_not_held_up(s3, held, monkeypatch):
    put(s3, "layer", LARGE)
    monkeypatch.setattr(s3.storage.etags, "md5", lambda *_: pytest.fail("computed an ETag"))
    got = s3.get_object(ctx(), {"Bucket": BUCKET, "Key": "layer"}, with_etag=False)
    assert "ETag" not in got

    async def read() -> bytes:
        return b"".join([chunk async for chunk in got["Body"]])

    assert asyncio.run(read()) == LARGE
    listed = s3.list_objects_v2(ctx(), {"Bucket": BUCKET}, with_etag=False)["Contents"]
    assert [item["Key"] for item in listed] == ["layer"] and "ETag" not in listed[0]


def test_a_bucket_with_notifications_gets_the_etag_at_the_write(s3, held):
    s3.put_bucket_notification_configuration(ctx(), {
        "Bucket": BUCKET, "NotificationConfiguration": {"EventBridgeConfiguration": {}}})
    put(s3, "layer", LARGE)
    assert stored_etag(s3, "layer") == etag_of(LARGE) and not held


def test_a_missing_etag_is_completed_at_the_next_start(tmp_path):
    runtime, s3 = open_s3(tmp_path)
    s3.create_bucket(ctx(), {"Bucket": BUCKET})
    s3.storage.etags.defer = lambda *job: None  # the process ends before the worker runs
    put(s3, "layer", LARGE)
    assert stored_etag(s3, "layer") == ""
    runtime.close()

    runtime, s3 = open_s3(tmp_path)

    async def start() -> None:
        runtime.start_background()  # as the server does at its start
        await asyncio.sleep(0.5)
        await runtime.stop_background()

    asyncio.run(start())
    assert wait_for_stored_etag(s3, "layer") == etag_of(LARGE)
    runtime.close()


def test_the_worker_skips_bytes_the_row_no_longer_names(s3, held, monkeypatch):
    put(s3, "layer", LARGE)
    put(s3, "layer", LARGE[::-1])  # the same row, new bytes; the first blob is gone
    assert len({row_id for row_id, _ in held}) == 1
    etags = s3.storage.etags
    etags._queue.extend(held)
    monkeypatch.setattr("portside.services.s3.etags._lower_priority", lambda: None)
    etags._work()  # in this thread: the first job finds its bytes gone, the second stores
    assert stored_etag(s3, "layer") == etag_of(LARGE[::-1])
    assert not etags._queue and not etags._known


def test_the_worker_hands_its_etag_to_the_loop_which_stores_it(s3, monkeypatch):
    """Only the event loop writes the store: it never waits for the write lock held by
    another thread of its own process."""
    etags = s3.storage.etags
    store, threads = etags._store, []

    def recorded(*args):
        threads.append(threading.get_ident())
        store(*args)

    monkeypatch.setattr(etags, "_store", recorded)

    async def scenario() -> str:
        await s3.put_object(ctx(), {"Bucket": BUCKET, "Key": "k", "Body": body(LARGE)},
                            defer_etag=True)
        for _ in range(3000):
            if stored_etag(s3, "k"):
                break
            await asyncio.sleep(0.01)
        return stored_etag(s3, "k")

    assert asyncio.run(scenario()) == etag_of(LARGE)
    assert threads == [threading.main_thread().ident]
