"""ETags computed after the write, for objects whose writer has no use for them at once.

An object's ETag is the MD5 of its bytes: ~1.4 s of CPU per GiB here, which a client waits for
when it is computed while the body arrives. The registry keeps layers as S3 objects
(ecr/blobs.py) and never reads their ETags; its writes (`put_object(..., defer_etag=True)`)
commit the object with an empty `etag` and leave the MD5 to a worker thread at the lowest CPU
priority, which stores it when done.

Every path that shows or compares an object's ETag reads it through `ETags.of`, which computes a
missing one at once, in the caller's thread, rather than show none. At start, objects found
without their ETag (the process ended before the worker stored it) are queued again.

The worker only reads and hashes: it hands each ETag back to the event loop, which stores it.
Every other write runs on that loop, so the loop never waits for SQLite's one write lock held by
another thread (it would wait synchronously, and every request with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sys
import threading
from collections import deque

from sqlalchemy import Row, select, update

from portside.services.s3.model import load_segments, objects
from portside.store import BlobStore, Store

log = logging.getLogger("portside.s3")

_READ_CHUNK = 1024 * 1024


class ETags:
    """The accessor of objects' ETags and the worker that completes deferred ones."""

    def __init__(self, blobs: BlobStore, store: Store) -> None:
        self.blobs = blobs
        self.store = store
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, str]] = deque()  # (row id, segments) awaiting its ETag
        self._known: dict[str, str] = {}  # segments -> ETag computed but not stored yet
        self._worker: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # where the ETags are stored

    def of(self, row: Row) -> str:
        """The ETag of an object's row (a delete marker has none: ""). A row's `segments`
        name bytes written once, so they identify the ETag even when the row is reused."""
        if row.etag or row.delete_marker:
            return row.etag
        etag = self._known.get(row.segments)
        if etag is None:
            etag = self.md5(row.segments)
            self._queue_store(row.id, row.segments, etag)
        return etag

    def defer(self, row_id: int, segments: str) -> None:
        """Compute the ETag of a committed row in the background; called on the event loop,
        which stores it."""
        with contextlib.suppress(RuntimeError):  # no loop (a script, a test): the worker stores
            self._loop = asyncio.get_running_loop()
        with self._lock:
            self._queue.append((row_id, segments))
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="s3-etags", daemon=True)
                self._worker.start()

    def missing(self) -> list[Row]:
        """The objects whose ETag was never stored (the process ended first): `defer` them."""
        with self.store.begin() as conn:
            return conn.execute(select(objects.c.id, objects.c.segments).where(
                objects.c.etag == "", objects.c.delete_marker.is_(False))).all()

    def md5(self, segments: str, abandon: bool = False) -> str:
        """The quoted MD5 of the bytes `segments` name (blobs: an object written with its ETag
        deferred is never inline). With `abandon`, stops early and returns the ETag another
        thread computed meanwhile."""
        digest = hashlib.md5()
        buffer = bytearray(_READ_CHUNK)
        view = memoryview(buffer)
        for segment in load_segments(segments):
            assert segment.blob_key is not None, "a deferred ETag's object is in blobs"
            with open(self.blobs.path(segment.blob_key), "rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    if abandon and segments in self._known:
                        return self._known[segments]
                    digest.update(view[:n])
        return f'"{digest.hexdigest()}"'

    def _queue_store(self, row_id: int, segments: str, etag: str) -> None:
        with self._lock:
            self._known[segments] = etag
        self.defer(row_id, segments)

    def _work(self) -> None:
        _lower_priority()
        while True:
            with self._lock:
                if not self._queue:
                    self._worker = None
                    return
                row_id, segments = self._queue.popleft()
            try:
                if self._missing(row_id, segments):
                    etag = self._known.get(segments) or self.md5(segments, abandon=True)
                    self._hand_back(row_id, segments, etag)
                    continue  # _known keeps it until the loop stored it
            except FileNotFoundError:
                pass  # overwritten or deleted meanwhile: no row names these bytes now
            except Exception:
                log.exception("computing the ETag of object row %d failed; it is computed "
                              "when read, or at the next start", row_id)
            with self._lock:
                self._known.pop(segments, None)

    def _hand_back(self, row_id: int, segments: str, etag: str) -> None:
        """The ETag to the loop, which stores it; stored here when no loop runs any more
        (none is left to write beside this thread)."""
        with self._lock:
            self._known[segments] = etag
        try:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._store, row_id, segments, etag)
                return
        except RuntimeError:  # closed meanwhile
            pass
        self._store(row_id, segments, etag)

    def _missing(self, row_id: int, segments: str) -> bool:
        """Whether the row still names these bytes and lacks their ETag (queued twice, or
        overwritten or deleted since, it does not)."""
        with self.store.begin() as conn:
            return conn.execute(select(objects.c.id).where(
                objects.c.id == row_id, objects.c.segments == segments,
                objects.c.etag == "")).first() is not None

    def _store(self, row_id: int, segments: str, etag: str) -> None:
        """On the event loop."""
        try:
            with self.store.begin() as conn:
                conn.execute(update(objects).where(
                    objects.c.id == row_id, objects.c.segments == segments,
                    objects.c.etag == "").values(etag=etag))
        except Exception:
            log.exception("storing the ETag of object row %d failed; it is computed when "
                          "read, or at the next start", row_id)
        finally:
            with self._lock:
                self._known.pop(segments, None)


def _lower_priority() -> None:
    """Nice 19 for the calling thread alone (Linux applies PRIO_PROCESS to a thread id), so the
    deferred MD5s take CPU that requests leave idle."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
