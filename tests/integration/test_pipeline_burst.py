"""The seed's pipeline under a burst: 100 CSV uploads to the incoming bucket give 100 results in
the outgoing bucket and 100 messages on the queue, none lost — also when the server is killed
(-9) and restarted in the middle of the burst. A duplicate may come only from EventBridge's
at-least-once redelivery; the test reports how many there were."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from ecs_support import wait_for
from server import REGION, PortsideServer
from test_demo import _connected, _remove_containers

from portside.demo import Demo, Pipeline, output_key, sample_csv

pytestmark = pytest.mark.docker

UPLOADS = 100
THREADS = 10


@dataclass
class Burst:
    """What came out of one burst of uploads."""

    keys: list[str]
    accepted: set[str] = field(default_factory=set)
    messages: list[str] = field(default_factory=list)  # the input each message names
    started: float = field(default_factory=time.monotonic)


def _demo(server: PortsideServer) -> Demo:
    return Demo(server.endpoint, "test", "test", REGION, echo=lambda _: None)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("burst") / "data"


@pytest.fixture(scope="module")
def server(data, docker_available, python_boto3_image):
    started = PortsideServer(data).start()
    try:
        wait_for(lambda: _connected(started), timeout=30)
        yield started
    finally:
        started.stop()
        _remove_containers(data)


@pytest.fixture(scope="module")
def pipeline(server) -> Pipeline:
    return _demo(server).setup(secrets=False)


def _upload_all(server: PortsideServer, pipeline: Pipeline, burst: Burst) -> None:
    """Each key uploaded until one PUT is acknowledged (the server may be down meanwhile)."""

    def upload(keys: list[str]) -> None:
        demo = _demo(server)
        for key in keys:
            while True:
                try:
                    demo.upload(pipeline, key, sample_csv(rows=3))
                    break
                except (BotoCoreError, ClientError):
                    time.sleep(0.2)
            burst.accepted.add(key)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(upload, [burst.keys[n::THREADS] for n in range(THREADS)]))


def _collect(server: PortsideServer, pipeline: Pipeline, burst: Burst,
             timeout: float) -> set[str]:
    """Messages and results until every key has both (or the time is up); the keys with a
    result."""
    wanted = {f"s3://{pipeline.incoming}/{k}": k for k in burst.keys}
    results: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            demo = _demo(server)
            burst.messages += [m.get("input", "") for m in demo.messages(pipeline.queue_url)]
            if len(results) < len(burst.keys):
                prefix = output_key(burst.keys[0]).rsplit("/", 1)[0] + "/"
                pages = demo.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=pipeline.outgoing, Prefix=prefix)
                results = {o["Key"] for page in pages for o in page.get("Contents", [])}
        except (BotoCoreError, ClientError):
            pass  # the server is restarting
        if len(results) == len(burst.keys) and set(wanted) <= set(burst.messages):
            break
        time.sleep(0.5)
    return results


def _report(capsys, name: str, burst: Burst, results: set[str], extra: str = "") -> str:
    """One line with the counts, shown in the test run's output (not captured)."""
    distinct = set(burst.messages)
    line = (f"{name}: {len(burst.accepted)} uploads accepted, {len(results)} results, "
            f"{len(distinct)} distinct messages, {len(burst.messages) - len(distinct)} "
            f"duplicates, {time.monotonic() - burst.started:.1f} s{extra}")
    with capsys.disabled():
        print(f"\n{line}")
    return line


def _check(pipeline: Pipeline, burst: Burst, results: set[str]) -> None:
    expected = {output_key(k) for k in burst.keys}
    assert results == expected, f"{len(expected - results)} results lost"
    inputs = {f"s3://{pipeline.incoming}/{k}" for k in burst.keys}
    assert set(burst.messages) == inputs, f"{len(inputs - set(burst.messages))} messages lost"


def test_a_burst_of_100_uploads_gives_100_results_and_100_messages(
        server, pipeline, record_property, capsys):
    run = uuid.uuid4().hex[:8]
    burst = Burst([f"uploads/{run}/file-{n:03d}.csv" for n in range(UPLOADS)])
    _upload_all(server, pipeline, burst)
    uploaded = time.monotonic() - burst.started
    results = _collect(server, pipeline, burst, timeout=240)
    record_property("burst", _report(capsys, "burst", burst, results,
                                     f" (uploads took {uploaded:.1f} s)"))
    _check(pipeline, burst, results)
    assert len(burst.messages) == UPLOADS  # no crash: no redelivery, so no duplicate


def test_none_is_lost_when_the_server_is_killed_in_the_middle_of_the_burst(
        server, pipeline, record_property, capsys):
    run = uuid.uuid4().hex[:8]
    burst = Burst([f"uploads/{run}/file-{n:03d}.csv" for n in range(UPLOADS)])
    uploading = threading.Thread(target=_upload_all, args=(server, pipeline, burst))
    uploading.start()
    wait_for(lambda: len(burst.accepted) >= UPLOADS // 2, timeout=60, every=0.005)
    server.kill()
    killed_at = len(burst.accepted)
    server.start()
    uploading.join(120)
    wait_for(lambda: _connected(server), timeout=30)
    results = _collect(server, pipeline, burst, timeout=300)
    record_property("burst_kill", _report(
        capsys, "burst with kill -9", burst, results, f" (killed after {killed_at} uploads)"))
    _check(pipeline, burst, results)
