"""Garbage collection of registry blobs: a blob that no manifest of any repository of its
account names is removed, with its object in S3 storage; so are objects that no row names
(what a crash between an object's write and its row's commit leaves behind).

A push names its blobs before its manifest does: docker checks (HEAD) or uploads every layer,
then puts the manifest. Every such step records the time in `ecr_blob_uses` (`touch`), in the
same transaction in which it reads or links the blob, and the collector removes a blob only
when, in its own transaction, that time is older than the grace period. So a push either
touched the blob first (and the collector leaves it) or finds it gone (and uploads it again):
it never links a manifest to a blob that is about to disappear. The grace period is also the
lifetime of an unfinished upload, so a push may take that long.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, delete, exists, insert, select, update

from portside.services.ecr import manifests
from portside.services.ecr.model import (
    blob_uses,
    blobs,
    images,
    repositories,
    repository_blobs,
    uploads,
)

if TYPE_CHECKING:
    from portside.services.ecr.api import Ecr

log = logging.getLogger("portside.ecr")

BLOB_PREFIX = "blobs/"  # every registry object: blobs/<upload-id>[/<part>]


@dataclass(frozen=True)
class Collected:
    uploads: int = 0  # abandoned uploads removed with their parts
    blobs: int = 0  # blobs no manifest named
    orphans: int = 0  # objects no row named


def touch(conn: Connection, account_id: str, digests: Iterable[str], now: float) -> None:
    """Record that a push names these blobs now. Call it before reading the blobs' rows in the
    same transaction: the write serializes it with the collector's removal."""
    wanted = sorted(set(digests))
    if not wanted:
        return
    done = conn.execute(update(blob_uses).where(
        blob_uses.c.account_id == account_id, blob_uses.c.digest.in_(wanted)).values(
        used_at=now)).rowcount
    if done == len(wanted):
        return
    recorded = set(conn.execute(select(blob_uses.c.digest).where(
        blob_uses.c.account_id == account_id, blob_uses.c.digest.in_(wanted))).scalars())
    stored = conn.execute(select(blobs.c.digest).where(
        blobs.c.account_id == account_id,
        blobs.c.digest.in_([d for d in wanted if d not in recorded]))).scalars()
    for digest in stored:
        conn.execute(insert(blob_uses).values(account_id=account_id, digest=digest,
                                              used_at=now))


def unreferenced(stored: Iterable[str], manifest_texts: Iterable[tuple[str, str]]) -> set[str]:
    """The stored digests that none of the manifests (text, media type) names as its config or
    a layer. A manifest that no longer parses names nothing."""
    named: set[str] = set()
    for text, media_type in manifest_texts:
        try:
            named.update(manifests.parse_manifest(text.encode(), media_type).blobs)
        except manifests.ManifestInvalid:
            continue
    return set(stored) - named


async def collect(ecr: Ecr, now: float) -> Collected:
    """One round: abandoned uploads, then unreferenced blobs, then orphaned objects, in every
    account that has registry storage."""
    cutoff = now - ecr.runtime.settings.ecr_gc_grace
    swept = await ecr.expire_uploads(cutoff)
    removed = orphans = 0
    with ecr.runtime.store.begin() as conn:
        accounts = sorted(set(conn.execute(select(blobs.c.account_id).distinct()).scalars())
                          | set(conn.execute(select(repositories.c.account_id).distinct())
                                .scalars()))
    for account_id in accounts:
        removed += await collect_blobs(ecr, account_id, cutoff)
        orphans += await sweep_orphans(ecr, account_id, cutoff)
    return Collected(swept, removed, orphans)


async def collect_blobs(ecr: Ecr, account_id: str, cutoff: float) -> int:
    """Remove the account's blobs that no manifest names and no push used since `cutoff`."""
    with ecr.runtime.store.begin() as conn:
        stale = dict(conn.execute(
            select(blobs.c.digest, blobs.c.object_key).where(
                blobs.c.account_id == account_id, ~_used_since(account_id, cutoff))).all())
        texts = conn.execute(select(images.c.manifest, images.c.media_type).join(
            repositories, repositories.c.id == images.c.repository_id).where(
            repositories.c.account_id == account_id)).all()
    removed = 0
    for digest in sorted(unreferenced(stale, texts)):
        if remove_blob(ecr, account_id, digest, cutoff):
            await ecr.blobs.delete(account_id, stale[digest])
            removed += 1
    return removed


def remove_blob(ecr: Ecr, account_id: str, digest: str, cutoff: float) -> bool:
    """Forget a blob unless a push used it since `cutoff` (checked in the deleting statement
    itself); its links go in the same transaction. True when it was removed: its object may
    then be deleted."""
    with ecr.runtime.store.begin() as conn:
        gone = conn.execute(delete(blobs).where(
            blobs.c.account_id == account_id, blobs.c.digest == digest,
            ~_used_since(account_id, cutoff))).rowcount
        if not gone:
            return False
        conn.execute(delete(blob_uses).where(blob_uses.c.account_id == account_id,
                                             blob_uses.c.digest == digest))
        conn.execute(delete(repository_blobs).where(
            repository_blobs.c.digest == digest,
            repository_blobs.c.repository_id.in_(select(repositories.c.id).where(
                repositories.c.account_id == account_id))))
    return True


def _used_since(account_id: str, cutoff: float):  # noqa: ANN202 - a SQL expression
    return exists().where(and_(blob_uses.c.account_id == account_id,
                               blob_uses.c.digest == blobs.c.digest,
                               blob_uses.c.used_at >= cutoff))


async def sweep_orphans(ecr: Ecr, account_id: str, cutoff: float) -> int:
    """Delete objects older than `cutoff` that neither a blob nor an unfinished upload names.
    The listing comes first and the rows after it, so an upload that completes in between is
    seen as the blob it became."""
    listed = [item async for item in ecr.blobs.list(account_id, BLOB_PREFIX)
              if item.last_modified < cutoff]
    if not listed:
        return 0
    with ecr.runtime.store.begin() as conn:
        named = set(conn.execute(select(blobs.c.object_key).where(
            blobs.c.account_id == account_id)).scalars())
        live = set(conn.execute(select(uploads.c.id).join(
            repositories, repositories.c.id == uploads.c.repository_id).where(
            repositories.c.account_id == account_id)).scalars())
    removed = 0
    for item in listed:
        upload_id = item.key[len(BLOB_PREFIX):].split("/")[0]
        if item.key in named or upload_id in live:
            continue
        await ecr.blobs.delete(account_id, item.key)
        removed += 1
    return removed
