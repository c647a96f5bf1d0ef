"""S3 under kill -9 and at scale: acknowledged objects survive a kill during concurrent PUTs,
nothing partial is ever visible, orphaned blobs are swept at the next start; a 2 GiB multipart
upload streams through without the server's memory growing."""

from __future__ import annotations

import hashlib
import random
import re
import sqlite3
import threading
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from s3_helpers import aws
from server import PortsideServer

GiB = 1024**3


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024


def test_acknowledged_puts_survive_kill_9_and_nothing_partial_is_visible(tmp_path):
    server = PortsideServer(tmp_path / "data").start()
    server.client("s3").create_bucket(Bucket="durable")
    acked: dict[str, str] = {}  # key -> md5 of the last acknowledged body
    pending: dict[str, str] = {}  # key -> md5 of a body sent but not acknowledged
    written: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker: int) -> None:
        client = server.client("s3")
        rng = random.Random(worker)
        n = 0
        while not stop.is_set():
            key = f"w{worker}/k{n % 5}"
            body = rng.randbytes(rng.choice([100, 5_000, 200_000, 700_000, 2_500_000]))
            digest = hashlib.md5(body).hexdigest()
            with lock:
                pending[key] = digest
                written.add(digest)
            try:
                client.put_object(Bucket="durable", Key=key, Body=body)
            except (BotoCoreError, ClientError):
                return  # the server is gone
            with lock:
                acked[key] = digest
                pending.pop(key, None)
            n += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(3)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(30)
        assert len(acked) >= 10, "too few writes acknowledged before the kill to test anything"
        server.start()
        s3 = server.client("s3")
        for key, digest in acked.items():
            body = s3.get_object(Bucket="durable", Key=key)["Body"].read()
            assert hashlib.md5(body).hexdigest() in (digest, pending.get(key)), key
        for item in s3.list_objects_v2(Bucket="durable")["Contents"]:
            body = s3.get_object(Bucket="durable", Key=item["Key"])["Body"].read()
            assert len(body) == item["Size"]
            assert hashlib.md5(body).hexdigest() in written  # whole bodies only
        # blobs written before the kill but never committed are swept at start
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _blob_files(tmp_path / "data") == _named_blobs(tmp_path / "data"):
                break
            time.sleep(0.2)
        assert _blob_files(tmp_path / "data") == _named_blobs(tmp_path / "data")
    finally:
        stop.set()
        server.stop()


def _blob_files(data_dir: Path) -> set[str]:
    root = data_dir / "blobs"
    return {p.relative_to(root).as_posix() for p in (root / "s3").rglob("*") if p.is_file()}


def _named_blobs(data_dir: Path) -> set[str]:
    import json

    with sqlite3.connect(data_dir / "portside.db") as db:
        segments = [json.loads(s) for (s,) in db.execute("SELECT segments FROM s3_objects")]
        parts = [r for (r,) in db.execute("SELECT ref FROM s3_parts")]
    refs = [ref for segs in segments for ref, _ in segs] + parts
    return {ref[2:] for ref in refs if ref.startswith("b:")}


def test_a_2_gib_multipart_upload_streams_through_without_memory_growth(portside, tmp_path):
    """`aws s3 cp` of a 2 GiB file (multipart, from disk), read back as a stream and hashed;
    the server's resident memory is sampled throughout."""
    source = tmp_path / "two-gib.bin"
    expected = hashlib.sha256()
    rng = random.Random(7)
    with open(source, "wb") as f:  # sparse, with random marks every 64 MiB
        for offset in range(0, 2 * GiB, 64 * 1024 * 1024):
            mark = rng.randbytes(4096)
            f.seek(offset)
            f.write(mark)
        f.truncate(2 * GiB)
    with open(source, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            expected.update(chunk)
    s3 = portside.client("s3")
    s3.create_bucket(Bucket="two-gib")
    pid = portside.process.pid
    baseline = rss_bytes(pid)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        aws(portside, "s3", "cp", str(source), "s3://two-gib/big.bin", timeout=600)
        head = s3.head_object(Bucket="two-gib", Key="big.bin")
        assert head["ContentLength"] == 2 * GiB and "-" in head["ETag"]
        body = s3.get_object(Bucket="two-gib", Key="big.bin")["Body"]
        got = hashlib.sha256()
        while chunk := body.read(8 * 1024 * 1024):
            got.update(chunk)
        assert got.hexdigest() == expected.hexdigest()
    finally:
        done.set()
        sampler.join()
        s3.delete_object(Bucket="two-gib", Key="big.bin")
    growth = peak - baseline
    print(f"server RSS {baseline / 2**20:.0f} MiB before, peak {peak / 2**20:.0f} MiB "
          f"(growth {growth / 2**20:.1f} MiB)")
    assert growth <= 64 * 1024 * 1024
