"""Large bytes (S3 objects, registry layers) on the local disk.

A blob is written to a temporary name, fsynced and atomically renamed: a reader sees the
whole blob or none of it, and a crash mid-write leaves the previous blob of that key intact.
Bytes stream through; a blob is never held whole in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

_TMP = ".tmp"


@dataclass(frozen=True)
class BlobInfo:
    size: int
    digests: dict[str, str] = field(default_factory=dict)  # hashlib name -> hex digest


class InvalidBlobKey(ValueError):
    pass


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / _TMP).mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file of a key. Keys are relative, '/'-separated, without '.' or '..' parts."""
        parts = key.split("/")
        if not key or any(p in ("", ".", "..", _TMP) for p in parts):
            raise InvalidBlobKey(key)
        return self.root.joinpath(*parts)

    async def write(
        self, key: str, chunks: AsyncIterator[bytes], hashes: Iterable[str] = ()
    ) -> BlobInfo:
        """Stream chunks into the blob `key`; returns its size and the requested digests."""
        target = self.path(key)
        tmp = self.root / _TMP / uuid.uuid4().hex
        hashers = {name: hashlib.new(name) for name in hashes}
        size = 0
        try:
            with open(tmp, "wb") as f:
                async for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
                    for h in hashers.values():
                        h.update(chunk)
                await asyncio.to_thread(_flush_and_sync, f)
            await asyncio.to_thread(_publish, tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return BlobInfo(size, {name: h.hexdigest() for name, h in hashers.items()})

    def write_bytes(self, key: str, data: bytes) -> BlobInfo:
        target = self.path(key)
        tmp = self.root / _TMP / uuid.uuid4().hex
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                _flush_and_sync(f)
            _publish(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return BlobInfo(len(data))

    async def read(self, key: str, start: int = 0, end: int | None = None,
                   chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """Stream bytes [start, end) of a blob."""
        with open(self.path(key), "rb") as f:
            f.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                n = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = f.read(n)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def reset(self) -> None:
        """Remove every blob."""
        for child in self.root.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        (self.root / _TMP).mkdir(exist_ok=True)


def _flush_and_sync(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def _publish(tmp: Path, target: Path) -> None:
    """Rename into place and fsync the directory, so the rename itself is durable."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
