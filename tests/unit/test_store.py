"""The store: schema versioning, reset, and the blob store's all-or-nothing writes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from portside.store import SCHEMA_VERSION, BlobStore, Store
from portside.store.blobs import InvalidBlobKey
from portside.store.db import SchemaTooNew


def test_migrate_records_the_schema_version_and_is_idempotent(tmp_path):
    store = Store.in_directory(tmp_path)
    store.migrate()
    store.migrate()
    with store.begin() as conn:
        assert conn.execute(text("select version from schema_version")).scalar() == SCHEMA_VERSION
        assert conn.execute(text("pragma journal_mode")).scalar() == "wal"


def test_a_newer_schema_is_refused_not_misread(tmp_path):
    store = Store.in_directory(tmp_path)
    store.migrate()
    with store.begin() as conn:
        conn.execute(text("update schema_version set version = :v"), {"v": SCHEMA_VERSION + 1})
    with pytest.raises(SchemaTooNew):
        Store.in_directory(tmp_path).migrate()


def test_a_version_1_database_gains_the_sealed_body_column(tmp_path):
    import portside.services.sqs.model  # noqa: F401  (declares sqs_messages)

    store = Store.in_directory(tmp_path)
    store.migrate()
    with store.begin() as conn:  # back to what portside wrote before SQS encrypted bodies
        conn.execute(text("alter table sqs_messages drop column sealed_body"))
        conn.execute(text("update schema_version set version = 1"))
    store.migrate()
    with store.begin() as conn:
        columns = {row[1] for row in conn.execute(text("pragma table_info(sqs_messages)"))}
        assert "sealed_body" in columns
        assert conn.execute(text("select version from schema_version")).scalar() == SCHEMA_VERSION


@pytest.mark.parametrize("version, index, columns, partial", [
    (2, "ix_ecs_tasks_stopped", "stopped_at", "WHERE stopped_at IS NOT NULL"),
    (4, "ix_ecs_tasks_host", "host_id, released", "WHERE launch_type = 'FARGATE'"),
])
def test_an_older_database_gets_its_partial_task_index(tmp_path, version, index, columns,
                                                       partial):
    """Version 2 indexed every task by stop time, version 4 every task by host: the
    migration recreates each index over only the tasks it serves."""
    import portside.services.ecs.model  # noqa: F401  (declares ecs_tasks)

    store = Store.in_directory(tmp_path)
    store.migrate()
    with store.begin() as conn:  # back to the whole index that version had
        conn.execute(text(f"drop index {index}"))
        conn.execute(text(f"create index {index} on ecs_tasks ({columns})"))
        conn.execute(text("update schema_version set version = :v"), {"v": version})
    store.migrate()
    with store.begin() as conn:
        sql = conn.execute(text("select sql from sqlite_master where name = :name"),
                           {"name": index}).scalar()
        assert sql.endswith(partial)
        assert conn.execute(text("select version from schema_version")).scalar() == SCHEMA_VERSION


def test_a_version_3_database_numbers_events_on_after_its_cursors(tmp_path):
    """Version 3's bus table had AUTOINCREMENT, and its prune could empty it: the table is
    made anew with its rows, and a cursor past its newest row moves back to that row, so the
    next event is delivered (not numbered below a cursor)."""
    from portside.events.bus import bus_cursors, bus_events

    store = Store.in_directory(tmp_path)
    store.migrate()
    with store.begin() as conn:  # back to version 3's table: one event kept, cursors past it
        conn.execute(text("drop table bus_events"))
        conn.execute(text(
            "create table bus_events (seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
            "account_id VARCHAR(12) NOT NULL, region VARCHAR(32) NOT NULL, "
            "source VARCHAR(256) NOT NULL, detail_type VARCHAR(256) NOT NULL, "
            "time FLOAT NOT NULL, event TEXT NOT NULL)"))
        conn.execute(bus_events.insert(), [
            {"seq": seq, "account_id": "a", "region": "r", "source": "s", "detail_type": "d",
             "time": 0.0, "event": "{}"} for seq in (7, 8)])
        conn.execute(bus_cursors.insert(), [{"subscriber": "behind", "seq": 7},
                                            {"subscriber": "past", "seq": 12}])
        conn.execute(text("update schema_version set version = 3"))
    store.migrate()
    with store.begin() as conn:
        sql = conn.execute(text("select sql from sqlite_master where name = 'bus_events'"))
        assert "AUTOINCREMENT" not in sql.scalar().upper()
        assert [r.seq for r in conn.execute(select(bus_events.c.seq))] == [7, 8]
        assert dict(conn.execute(select(bus_cursors.c.subscriber, bus_cursors.c.seq)).all()) \
            == {"behind": 7, "past": 8}
        assert conn.execute(bus_events.insert().values(
            account_id="a", region="r", source="s", detail_type="d", time=0.0,
            event="{}")).inserted_primary_key[0] == 9
        assert conn.execute(text("select version from schema_version")).scalar() == SCHEMA_VERSION


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


def test_blob_write_streams_and_digests(tmp_path):
    blobs = BlobStore(tmp_path)
    info = asyncio.run(blobs.write("s3/abc", _chunks(b"hello ", b"world"), hashes=["md5"]))
    assert info.size == 11
    assert info.digests["md5"] == "5eb63bbbe01eeed093cb22bb8f5acdc3"
    assert blobs.read_bytes("s3/abc") == b"hello world"

    async def ranged():
        return b"".join([c async for c in blobs.read("s3/abc", 6, 9)])

    assert asyncio.run(ranged()) == b"wor"


def test_a_failed_write_leaves_the_previous_blob_intact(tmp_path):
    blobs = BlobStore(tmp_path)
    blobs.write_bytes("k", b"old")

    async def broken():
        yield b"new partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        asyncio.run(blobs.write("k", broken()))
    assert blobs.read_bytes("k") == b"old"
    assert list((tmp_path / ".tmp").iterdir()) == []


@pytest.mark.parametrize("key", ["", "../x", "a/../b", "a//b", ".tmp/x", "/abs"])
def test_blob_keys_cannot_escape_the_root(tmp_path, key):
    with pytest.raises(InvalidBlobKey):
        BlobStore(tmp_path).path(key)
