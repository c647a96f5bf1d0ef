"""Object bytes: received as a stream, kept in the blob store (or, when small, in the database),
served as a stream across the segments of an object.

Durability and visibility follow from the order of steps. A body is written in full (blobs are
fsynced and renamed into place by the blob store) before the row that names it commits, so a
reader finds a whole object or the previous one; the data a commit replaced is removed only after
it. A crash between the two leaves unreferenced blobs, which `sweep` removes at the next start.

Bodies of at most INLINE_MAX bytes are stored in `s3_inline`, in the same transaction as their
row: SQLite's WAL makes them as durable as every other committed state of portside (they survive
kill -9), and it spares small objects the two fsyncs of a blob (~6 ms here), which would cap a
client at ~150 small PUTs a second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, bindparam, delete, insert, select

from portside.auth import sigv4
from portside.protocol.errors import AwsError
from portside.services.s3.checksums import BodyDigests
from portside.services.s3.etags import ETags
from portside.services.s3.model import (
    Segment,
    inline_data,
    load_segments,
    objects,
    parts,
)
from portside.store import BlobStore, Store, execute, executemany, first

log = logging.getLogger("portside.s3")

INLINE_MAX = 256 * 1024
MAX_PUT_SIZE = 5 * 1024**3  # a single PUT (or part) carries at most 5 GiB
_BATCH = 1024 * 1024  # bytes hashed and written per step of a large body
_READ_CHUNK = 1024 * 1024
_BLOB_PREFIX = "s3"


# Built once, and run through the driver: small PUTs and GETs run them on every request.
_INSERT_INLINE = insert(inline_data)
_DELETE_INLINE = delete(inline_data).where(inline_data.c.id == bindparam("id"))
_INLINE_DATA = select(inline_data.c.data).where(inline_data.c.id == bindparam("id"))


@dataclass
class Received:
    """A body that has fully arrived but that no row names yet: bytes in memory (small) or a
    durable blob."""

    size: int
    data: bytes | None = None
    blob_key: str | None = None

    def commit(self, conn: Connection) -> Segment:
        """The segment that names these bytes, stored in the caller's transaction."""
        if self.data is not None:
            return Segment(f"i:{execute(conn, _INSERT_INLINE, {'data': self.data})}", self.size)
        return Segment(f"b:{self.blob_key}", self.size)


class ObjectStorage:
    def __init__(self, blobs: BlobStore, store: Store) -> None:
        self.blobs = blobs
        self.store = store
        self._reading: Counter[str] = Counter()  # blob key -> responses streaming it
        self._doomed: set[str] = set()  # replaced while being read: removed when the last ends
        self.etags = ETags(blobs, store)

    # -- writing -----------------------------------------------------------------------------

    async def receive(self, stream: AsyncIterable[bytes], digests: BodyDigests,
                      limit: int = MAX_PUT_SIZE) -> Received:
        """Read a request body to its end, hashing it; small bodies stay in memory, larger ones
        go to a new blob. Raises before anything is kept if the body is refused."""
        chunks = _checked(stream).__aiter__()
        head = bytearray()
        async for chunk in chunks:
            head += chunk
            if len(head) > INLINE_MAX:
                break
        else:
            data = bytes(head)
            digests.update(data)
            return Received(len(data), data=data)
        key = f"{_BLOB_PREFIX}/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"
        info = await self.blobs.write(key, _hashed(_batched(bytes(head), chunks), digests, limit))
        return Received(info.size, blob_key=key)

    async def copy(self, segments: list[Segment], start: int, end: int,
                   digests: BodyDigests) -> Received:
        """New bytes holding [start, end) of another object (CopyObject, UploadPartCopy)."""
        return await self.receive(self.open(segments, start, end), digests)

    def release(self, conn: Connection, segments: list[Segment]) -> list[str]:
        """Forget segments in the caller's transaction; returns the blobs to remove once it
        has committed (`drop`)."""
        executemany(conn, _DELETE_INLINE,
                    [{"id": s.inline_id} for s in segments if s.inline_id is not None])
        return [s.blob_key for s in segments if s.blob_key is not None]

    def drop(self, blob_keys: list[str]) -> None:
        """Remove blobs no row names any more; one still being served goes when it ends."""
        for key in blob_keys:
            if self._reading[key]:
                self._doomed.add(key)
            else:
                self.blobs.delete(key)

    def discard(self, received: Received) -> None:
        if received.blob_key is not None:
            self.blobs.delete(received.blob_key)

    # -- reading -----------------------------------------------------------------------------

    def open(self, segments: list[Segment], start: int, end: int) -> SegmentReader:
        """A stream of bytes [start, end) across `segments`. Call it in the same event-loop
        turn that read the row: from then on the blobs stay until the stream is done."""
        return SegmentReader(self, segments, start, end)

    def _acquire(self, keys: list[str]) -> None:
        self._reading.update(keys)

    def _release(self, keys: list[str]) -> None:
        self._reading.subtract(keys)
        for key in keys:
            if self._reading[key] <= 0:
                del self._reading[key]
                if key in self._doomed:
                    self._doomed.discard(key)
                    self.blobs.delete(key)

    # -- recovery ----------------------------------------------------------------------------

    def sweep(self, before: float) -> int:
        """Remove blobs that no row names and that were written before `before` (the start of
        this process): what a crash between a blob's write and its row's commit left behind."""
        root = self.blobs.root / _BLOB_PREFIX
        if not root.is_dir():
            return 0
        with self.store.begin() as conn:
            named = {s.blob_key for (text,) in conn.execute(select(objects.c.segments))
                     for s in load_segments(text)}
            named |= {ref[2:] for (ref,) in conn.execute(select(parts.c.ref))}
        removed = 0
        for path in root.rglob("*"):
            key = path.relative_to(self.blobs.root).as_posix()
            if path.is_file() and key not in named and _older(path, before):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class SegmentReader:
    """Streams a byte range across segments; holds its blobs against removal until it is
    exhausted, closed or collected."""

    def __init__(self, storage: ObjectStorage, segments: list[Segment], start: int,
                 end: int) -> None:
        self._storage = storage
        self._pieces: list[tuple[Segment, int, int]] = []
        offset = 0
        for segment in segments:
            lo, hi = max(start, offset), min(end, offset + segment.size)
            if lo < hi:
                self._pieces.append((segment, lo - offset, hi - offset))
            offset += segment.size
        self._keys = [s.blob_key for s, _, _ in self._pieces if s.blob_key is not None]
        storage._acquire(self._keys)
        self._iterator = self._read()

    def __aiter__(self) -> SegmentReader:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._iterator.__anext__()
        except BaseException:
            self.close()
            raise

    async def _read(self) -> AsyncIterator[bytes]:
        for segment, lo, hi in self._pieces:
            if segment.inline_id is not None:
                with self._storage.store.begin() as conn:
                    data = read_inline(conn, segment.inline_id)
                yield data[lo:hi]
            else:
                async for chunk in self._storage.blobs.read(segment.blob_key, lo, hi,
                                                            chunk_size=_READ_CHUNK):
                    yield chunk

    def close(self) -> None:
        if self._keys is not None:
            keys, self._keys = self._keys, None
            self._storage._release(keys)

    def __del__(self) -> None:
        self.close()


def read_inline(conn: Connection, inline_id: int) -> bytes:
    return first(conn, _INLINE_DATA, {"id": inline_id}).data


async def _checked(stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The body, with a signature or chunk-encoding fault found while reading it turned into
    S3's error."""
    try:
        async for chunk in stream:
            yield chunk
    except sigv4.SigV4Error as exc:
        raise sigv4.aws_error(exc, "rest-xml") from None


async def _batched(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """The chunks as they came, in groups of about _BATCH bytes: one hashing step per group,
    without copying the chunks into one buffer."""
    group, size = [head], len(head)
    async for chunk in rest:
        group.append(chunk)
        size += len(chunk)
        if size >= _BATCH:
            yield group
            group, size = [], 0
    if group:
        yield group


async def _hashed(groups: AsyncIterator[list[bytes]], digests: BodyDigests,
                  limit: int) -> AsyncIterator[bytes]:
    """Pass each group on to be written while worker threads hash it, one thread per running
    digest (hashlib releases the GIL): the event loop receives and writes the next group
    meanwhile, so hashing overlaps the transfer instead of following each group of it. One
    group is hashed at a time, so every digest sees the bytes in order, and the last group's
    hashing ends before the stream does."""
    size, lanes = digests.size, digests.lanes()
    hashing: asyncio.Future[list[None]] | None = None
    try:
        async for group in groups:
            size += sum(map(len, group))
            if size > limit:
                raise entity_too_large(limit)
            if hashing is not None:
                await hashing
            hashing = asyncio.gather(*(asyncio.to_thread(_feed, lane, group) for lane in lanes))
            for chunk in group:
                yield chunk
    finally:
        if hashing is not None:
            await hashing


def _feed(lane: Callable[[bytes], None], chunks: list[bytes]) -> None:
    for chunk in chunks:
        lane(chunk)


async def empty_body() -> AsyncIterator[bytes]:
    """A request that came without a body stream reads as empty."""
    return
    yield b""


def entity_too_large(limit: int) -> AwsError:
    return AwsError("Your proposed upload exceeds the maximum allowed size",
                    code="EntityTooLarge", fields={"MaxSizeAllowed": limit})


def _older(path: Path, before: float) -> bool:
    try:
        return os.stat(path).st_mtime < before
    except FileNotFoundError:
        return False

