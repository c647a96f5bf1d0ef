"""A 1 GiB layer streams through the registry: pushed as a chunked PATCH and the body of the
final PUT (so the two chunks are also concatenated into one object), the server's resident
memory (VmRSS of its process and descendants) grows by at most 64 MB, and the blob that comes
back has the digest that was pushed."""

import hashlib
import random
import re
import threading
import time
from pathlib import Path

from ecr_helpers import RegistryClient

GIB = 1 << 30
HALF = GIB // 2
RSS_GROWTH_LIMIT = 64 * 10**6
STEP = 1 << 20


def rss_bytes(root: int) -> int:
    """VmRSS of `root` and every process descending from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(),
                              re.MULTILINE)
        except OSError:
            continue
        total += int(found.group(1)) * 1024 if found else 0
    return total


class Peak:
    """The highest RSS of the server's processes, sampled every 20 ms while in use."""

    def __init__(self, pid: int) -> None:
        self.pid, self.before = pid, rss_bytes(pid)
        self.peak, self._done = self.before, threading.Event()
        self._thread = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> "Peak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.before


def random_body(size: int, seed: int, hasher) -> object:
    rng = random.Random(seed)
    for _ in range(size // STEP):
        chunk = rng.randbytes(STEP)
        hasher.update(chunk)
        yield chunk


def test_a_1_gib_layer_streams_through_without_growing_the_server(portside):
    name = f"large/{time.time_ns()}"
    portside.client("ecr").create_repository(repositoryName=name)
    registry = RegistryClient(portside)
    pushed = hashlib.sha256()
    with Peak(portside.process.pid) as memory:
        started = registry.request("POST", f"/v2/{name}/blobs/uploads/")
        assert started.status_code == 202, started.text
        first = registry.request("PATCH", started.headers["Location"],
                                 data=random_body(HALF, 1, pushed),
                                 headers={"Content-Range": f"0-{HALF - 1}",
                                          "Content-Type": "application/octet-stream"})
        assert first.status_code == 202, first.text
        assert first.headers["Range"] == f"0-{HALF - 1}"
        # the digest must be known before the PUT's body is sent: hash the second half first
        whole = pushed.copy()
        for _ in random_body(HALF, 2, whole):
            pass
        digest = "sha256:" + whole.hexdigest()
        done = registry.request("PUT", first.headers["Location"], params={"digest": digest},
                                data=random_body(HALF, 2, pushed))
        assert done.status_code == 201, done.text
    assert "sha256:" + pushed.hexdigest() == digest
    assert memory.growth <= RSS_GROWTH_LIMIT, \
        f"the server's RSS grew by {memory.growth / 1e6:.1f} MB during a 1 GiB push"

    head = registry.request("HEAD", f"/v2/{name}/blobs/{digest}")
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == GIB
    assert head.headers["Docker-Content-Digest"] == digest
