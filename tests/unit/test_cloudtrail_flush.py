"""CloudTrail's queued records survive a failed write: the store busy at the moment of a
flush (a long transaction elsewhere) once cost the batch; the records stay queued and the
next flush writes them, in their order."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.models import operation_model
from portside.runtime import Runtime
from portside.services.cloudtrail import api
from portside.services.cloudtrail.records import build_record

ACCOUNT = "000000000000"


def record(runtime: Runtime, operation: str) -> None:
    ctx = RequestContext(ACCOUNT, "us-east-1", Principal.root(ACCOUNT), "test", "r",
                         "127.0.0.1", "ua", "ecs", operation)
    runtime.trail.record(ctx, build_record(ctx, "ecs.amazonaws.com",
                                           operation_model("ecs", operation), {}, {}, None), {})


def names(runtime: Runtime) -> list[str]:
    ctx = RequestContext(ACCOUNT, "us-east-1", Principal.root(ACCOUNT), None, "r", "127.0.0.1")
    return [e["EventName"] for e in runtime.trail.lookup_events(ctx, {})["Events"]]


def test_records_of_a_failed_flush_are_written_by_the_next(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    begin = runtime.store.begin
    failures = [OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))]

    def busy_once() -> AbstractContextManager[Connection]:
        if failures:
            raise failures.pop()
        return begin()

    monkeypatch.setattr(runtime.store, "begin", busy_once)
    monkeypatch.setattr(api, "FLUSH_INTERVAL", 0.01)

    async def calls() -> None:
        record(runtime, "CreateCluster")
        record(runtime, "DeleteCluster")
        await asyncio.sleep(0.2)  # the failed flush, then the one it scheduled

    try:
        asyncio.run(calls())
        assert not failures
        assert names(runtime) == ["DeleteCluster", "CreateCluster"]  # newest first
    finally:
        runtime.close()
