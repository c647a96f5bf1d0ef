"""Storing and reading log events: the queries behind PutLogEvents, GetLogEvents,
FilterLogEvents and retention, over a connection the caller's transaction owns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, case, delete, func, insert, select, tuple_, update

from portside.services.logs.model import events_table, groups_table, streams_table
from portside.services.logs.names import Position
from portside.store.db import executemany

DAY_MS = 86_400_000
# The (timestamp, id) after every event: where a backward read with no token starts.
END = Position(2**63 - 1, 2**63 - 1)
SCAN_CHUNK = 1000  # rows FilterLogEvents reads per query while it looks for matches

_insert_event = insert(events_table)


@dataclass(frozen=True)
class Event:
    id: int
    stream_id: int
    timestamp: int
    ingestion: int
    message: str

    @property
    def position(self) -> Position:
        return Position(self.timestamp, self.id)


def store_events(conn: Connection, group_id: int, stream_id: int,
                 events: Sequence[tuple[int, str]], now_ms: int) -> None:
    """Insert events (in timestamp order) with one executemany and bring the stream's event
    times and stored bytes up to date, in the caller's transaction."""
    if not events:
        return
    rows = [{"group_id": group_id, "stream_id": stream_id, "timestamp": ts, "ingestion": now_ms,
             "message": message, "size": len(message.encode())} for ts, message in events]
    executemany(conn, _insert_event, rows)
    stream = streams_table.c
    first, last = events[0][0], events[-1][0]
    conn.execute(update(streams_table).where(stream.id == stream_id).values(
        first_event=case((stream.first_event.is_(None) | (stream.first_event > first), first),
                         else_=stream.first_event),
        last_event=case((stream.last_event.is_(None) | (stream.last_event < last), last),
                        else_=stream.last_event),
        last_ingestion=now_ms,
        stored_bytes=stream.stored_bytes + sum(r["size"] for r in rows)))


def _in_window(start: int | None, end: int | None) -> list:
    """startTime is inclusive, endTime exclusive (GetLogEvents and FilterLogEvents alike)."""
    column = events_table.c.timestamp
    return ([column >= start] if start is not None else []) + \
        ([column < end] if end is not None else [])


def read_stream(conn: Connection, group_id: int, stream_id: int, start: int | None,
                end: int | None, after: Position | None, before: Position | None,
                limit: int) -> list[Event]:
    """Up to `limit` events of a stream in [start, end), in timestamp order: the first ones
    after `after`, or the last ones before `before`."""
    e = events_table.c
    key = tuple_(e.timestamp, e.id)
    conditions = [e.group_id == group_id, e.stream_id == stream_id, *_in_window(start, end)]
    query = select(e.id, e.stream_id, e.timestamp, e.ingestion, e.message)
    if before is not None:
        query = query.where(*conditions, key < tuple_(*before)) \
            .order_by(e.timestamp.desc(), e.id.desc())
    else:
        query = query.where(*conditions, key > tuple_(*(after or Position(-1, -1)))) \
            .order_by(e.timestamp, e.id)
    found = [Event(*row) for row in conn.execute(query.limit(limit))]
    return found[::-1] if before is not None else found


def scan_group(conn: Connection, group_id: int, stream_ids: Sequence[int] | None,
               start: int | None, end: int | None, after: Position | None) -> Iterator[Event]:
    """A group's events (of some streams) in [start, end) after `after`, in timestamp order,
    read a chunk at a time so that a caller that stops early reads no more."""
    e = events_table.c
    conditions = [e.group_id == group_id, *_in_window(start, end)]
    if stream_ids is not None:
        conditions.append(e.stream_id.in_(stream_ids))
    position = after or Position(-1, -1)
    while True:
        rows = conn.execute(
            select(e.id, e.stream_id, e.timestamp, e.ingestion, e.message)
            .where(*conditions, tuple_(e.timestamp, e.id) > tuple_(*position))
            .order_by(e.timestamp, e.id).limit(SCAN_CHUNK)).all()
        for row in rows:
            yield Event(*row)
        if len(rows) < SCAN_CHUNK:
            return
        position = Position(rows[-1].timestamp, rows[-1].id)


def expire(conn: Connection, now_ms: int, group_id: int | None = None) -> int:
    """Delete the events older than their group's retention (of one group, or of all) and
    recompute the stored bytes and first event time of the streams they left; answer how many
    events went."""
    g = groups_table.c
    query = select(g.id, g.retention_days).where(g.retention_days.is_not(None))
    if group_id is not None:
        query = query.where(g.id == group_id)
    removed = 0
    for gid, days in conn.execute(query).all():
        e = events_table.c
        removed += conn.execute(delete(events_table).where(
            e.group_id == gid, e.timestamp < now_ms - days * DAY_MS)).rowcount
    if removed:
        _recount_streams(conn, group_id)
    return removed


def _recount_streams(conn: Connection, group_id: int | None) -> None:
    s, e = streams_table.c, events_table.c
    of_stream = e.stream_id == s.id
    statement = update(streams_table).values(
        stored_bytes=select(func.coalesce(func.sum(e.size), 0)).where(of_stream)
        .scalar_subquery(),
        first_event=select(func.min(e.timestamp)).where(of_stream).scalar_subquery())
    if group_id is not None:
        statement = statement.where(s.group_id == group_id)
    conn.execute(statement)


def group_stored_bytes(conn: Connection, group_ids: Sequence[int]) -> dict[int, int]:
    s = streams_table.c
    rows = conn.execute(select(s.group_id, func.sum(s.stored_bytes))
                        .where(s.group_id.in_(group_ids)).group_by(s.group_id))
    return {gid: int(total or 0) for gid, total in rows}

