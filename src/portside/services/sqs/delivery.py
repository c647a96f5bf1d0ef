"""Messages in the store: enqueue, receive, delete, change visibility, count, expire.

Each function runs inside the caller's transaction, so a call's whole effect commits at once:
a batch send is one commit, and a receive selects and marks its messages in flight together.
Statements are built once; SQLAlchemy caches their compiled form. The per-message statements of
the hot path (insert, mark received, delete) go to the driver's executemany directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)

from portside.services.sqs.fifo import GroupGate
from portside.services.sqs.model import deduplication_table, messages_table
from portside.services.sqs.receipts import new_token
from portside.services.sqs.registry import Queue
from portside.store.db import executemany

t = messages_table
d = deduplication_table

MAX_VISIBILITY = 43_200  # seconds a message may stay in flight from one receive
_FIFO_PAGE = 100

_INSERT = insert(t)
_INSERT_RETURNING = insert(t).returning(t.c.id, sort_by_parameter_order=True)

_COLUMNS = (t.c.id, t.c.message_id, t.c.body, t.c.sealed_body, t.c.md5_body, t.c.attributes,
            t.c.md5_attributes,
            t.c.trace_header, t.c.sender_id, t.c.sent, t.c.receive_count, t.c.first_received,
            t.c.group_id, t.c.deduplication_id, t.c.source_arn, t.c.receipt, t.c.visible_at)
_VISIBLE = (select(*_COLUMNS)
            .where(t.c.queue_id == bindparam("queue_id"), t.c.visible_at <= bindparam("now"))
            .order_by(t.c.visible_at).limit(bindparam("limit")))
_VISIBLE_IN_ORDER = (select(*_COLUMNS)
                     .where(t.c.queue_id == bindparam("queue_id"),
                            t.c.visible_at <= bindparam("now"), t.c.id > bindparam("after"))
                     .order_by(t.c.id).limit(_FIFO_PAGE))
_INVISIBLE = (select(t.c.group_id, t.c.id, t.c.receive_count)
              .where(t.c.queue_id == bindparam("queue_id"), t.c.visible_at > bindparam("now")))
_MARK_RECEIVED = (update(t).where(t.c.id == bindparam("row_id")).values(
    visible_at=bindparam("until"), receive_count=t.c.receive_count + literal_column("1"),
    first_received=func.coalesce(t.c.first_received, bindparam("now")),
    received=bindparam("now"), receipt=bindparam("token")))
_DELETE_RECEIPT = delete(t).where(t.c.id == bindparam("row_id"),
                                  t.c.queue_id == bindparam("queue_id"),
                                  t.c.receipt == bindparam("token"))
_BY_IDS = select(*_COLUMNS, t.c.received).where(t.c.queue_id == bindparam("queue_id"),
                                                t.c.id.in_(bindparam("ids", expanding=True)))
_NEXT_VISIBLE = select(func.min(t.c.visible_at)).where(t.c.queue_id == bindparam("queue_id"),
                                                       t.c.visible_at > bindparam("now"))


@dataclass(frozen=True)
class Received:
    """A message as one receive took it: its row, the receipt token and its counts after."""

    row: Row
    token: str
    receive_count: int
    first_received: float


@dataclass
class Outcome:
    """What a receive did besides taking messages: the queues that got dead letters."""

    received: list[Received]
    dead_lettered_to: set[int]


# -- sending ------------------------------------------------------------------------------------


def enqueue(conn: Connection, rows: list[dict[str, Any]], want_ids: bool) -> list[int]:
    """Insert message rows (one statement); their row ids when asked (FIFO sequence numbers)."""
    if not rows:
        return []
    if want_ids:
        return list(conn.execute(_INSERT_RETURNING, rows).scalars())
    executemany(conn, _INSERT, rows)
    return []


def recent_duplicates(conn: Connection, queue_id: int, scopes: Iterable[str],
                      now: float) -> dict[str, tuple[str, int]]:
    """The messages sent in the deduplication window under these scopes: scope -> (message
    id, row id)."""
    query = select(d.c.scope, d.c.message_id, d.c.row_id).where(
        d.c.queue_id == queue_id, d.c.scope.in_(list(scopes)), d.c.expires > now)
    return {r.scope: (r.message_id, r.row_id) for r in conn.execute(query)}


def remember_deduplication(conn: Connection, queue_id: int,
                           entries: Sequence[tuple[str, str, int]], expires: float) -> None:
    """Record (scope, message id, row id) until `expires`, replacing expired records."""
    if not entries:
        return
    conn.execute(delete(d).where(d.c.queue_id == queue_id,
                                 d.c.scope.in_([scope for scope, _, _ in entries])))
    conn.execute(insert(d), [{"queue_id": queue_id, "scope": scope, "message_id": message_id,
                              "row_id": row_id, "expires": expires}
                             for scope, message_id, row_id in entries])


# -- receiving ----------------------------------------------------------------------------------


def receive(conn: Connection, queue: Queue, dead_letter: Queue | None, limit: int,
            visibility: int, now: float) -> Outcome:
    """Take up to `limit` receivable messages and put them in flight for `visibility` seconds.

    On the way, messages past the retention period are deleted, and messages received
    maxReceiveCount times already move to the dead-letter queue instead of being delivered."""
    cutoff = now - queue.seconds("MessageRetentionPeriod")
    max_receives = queue.redrive.max_receive_count if queue.redrive and dead_letter else None
    outcome = Outcome([], set())
    candidates = _fifo_candidates(conn, queue, now) if queue.fifo else \
        _standard_candidates(conn, queue, now, limit)
    expired: list[int] = []
    dead: list[int] = []
    for row in candidates:
        if row.sent < cutoff:
            expired.append(row.id)
        elif max_receives is not None and row.receive_count >= max_receives:
            dead.append(row.id)
        else:
            outcome.received.append(Received(row, new_token(), row.receive_count + 1,
                                             row.first_received or now))
            if len(outcome.received) == limit:
                break
    if expired:
        conn.execute(delete(t).where(t.c.id.in_(expired)))
    if dead and dead_letter is not None:
        _move(conn, dead, queue, dead_letter, now)
        outcome.dead_lettered_to.add(dead_letter.id)
    if outcome.received:
        executemany(conn, _MARK_RECEIVED, [{"row_id": r.row.id, "until": now + visibility,
                                             "now": now, "token": r.token}
                                            for r in outcome.received])
    return outcome


def _standard_candidates(conn: Connection, queue: Queue, now: float,
                         limit: int) -> Iterable[Row]:
    """Visible messages, longest visible first, in pages: the caller may skip some (expired,
    dead-lettered) and need more."""
    seen: set[int] = set()
    while True:
        rows = conn.execute(_VISIBLE, {"queue_id": queue.id, "now": now,
                                       "limit": limit + len(seen)}).all()
        fresh = [r for r in rows if r.id not in seen]
        yield from fresh
        if len(rows) < limit + len(seen) or not fresh:
            return
        seen.update(r.id for r in fresh)


def _fifo_candidates(conn: Connection, queue: Queue, now: float) -> Iterable[Row]:
    """Visible messages in send order, those of closed groups left out."""
    gate = GroupGate((r.group_id, r.id, r.receive_count > 0)
                     for r in conn.execute(_INVISIBLE, {"queue_id": queue.id, "now": now}))
    after = 0
    while True:
        rows = conn.execute(_VISIBLE_IN_ORDER,
                            {"queue_id": queue.id, "now": now, "after": after}).all()
        for row in rows:
            if gate.admits(row.group_id, row.id):
                yield row
        if len(rows) < _FIFO_PAGE:
            return
        after = rows[-1].id


def _move(conn: Connection, row_ids: list[int], source: Queue, target: Queue,
          now: float) -> None:
    values: dict[str, Any] = {"queue_id": target.id, "visible_at": now, "receipt": None,
                              "source_arn": source.arn}
    if target.fifo:
        values["sent"] = now  # a FIFO dead-letter queue restarts the retention period
    conn.execute(update(t).where(t.c.id.in_(row_ids)).values(values))


def retake(conn: Connection, queue: Queue, receipts: Sequence[tuple[int, str]],
           visibility: int, now: float) -> list[Received] | None:
    """The messages of an earlier receive again, in flight anew, if none changed since
    (a FIFO ReceiveRequestAttemptId retry); else None."""
    rows = {r.id: r for r in conn.execute(_BY_IDS, {"queue_id": queue.id,
                                                    "ids": [i for i, _ in receipts]})}
    if any(rows.get(i) is None or rows[i].receipt != token for i, token in receipts):
        return None
    conn.execute(update(t).where(t.c.id.in_(list(rows))).values(visible_at=now + visibility))
    return [Received(rows[i], token, rows[i].receive_count, rows[i].first_received)
            for i, token in receipts]


def next_visible(conn: Connection, queue_id: int, now: float) -> float | None:
    """When the next delayed or in-flight message of the queue becomes receivable."""
    return conn.execute(_NEXT_VISIBLE, {"queue_id": queue_id, "now": now}).scalar()


# -- deleting and visibility --------------------------------------------------------------------


def delete_received(conn: Connection, queue_id: int, receipts: Sequence[tuple[int, str]]) -> None:
    """Delete messages whose latest receipt these are; a stale receipt deletes nothing."""
    executemany(conn, _DELETE_RECEIPT, [{"row_id": row_id, "queue_id": queue_id, "token": token}
                                         for row_id, token in receipts])


def rows_by_id(conn: Connection, queue_id: int, row_ids: Sequence[int]) -> dict[int, Row]:
    return {r.id: r for r in conn.execute(_BY_IDS, {"queue_id": queue_id, "ids": list(row_ids)})}


def delete_rows(conn: Connection, row_ids: Sequence[int]) -> None:
    if row_ids:
        conn.execute(delete(t).where(t.c.id.in_(list(row_ids))))


def set_visible_at(conn: Connection, changes: Sequence[tuple[int, float]]) -> None:
    if changes:
        conn.execute(update(t).where(t.c.id == bindparam("row_id"))
                     .values(visible_at=bindparam("until")),
                     [{"row_id": row_id, "until": until} for row_id, until in changes])


def purge(conn: Connection, queue_id: int) -> None:
    conn.execute(delete(t).where(t.c.queue_id == queue_id))


# -- counting and expiry ------------------------------------------------------------------------


def counts(conn: Connection, queue: Queue, now: float) -> tuple[int, int, int]:
    """(available, in flight, delayed) messages, those past retention left out."""
    cutoff = now - queue.seconds("MessageRetentionPeriod")
    visible = t.c.visible_at <= now
    query = select(
        func.count(case((visible, 1))),
        func.count(case((and_(~visible, t.c.receive_count > 0), 1))),
        func.count(case((and_(~visible, t.c.receive_count == 0), 1))),
    ).where(t.c.queue_id == queue.id, t.c.sent >= cutoff)
    available, in_flight, delayed = conn.execute(query).one()
    return available, in_flight, delayed


def delete_expired(conn: Connection, queues: Iterable[Queue], now: float) -> None:
    """Remove messages past their queue's retention period and deduplication records past
    their window."""
    for queue in queues:
        cutoff = now - queue.seconds("MessageRetentionPeriod")
        conn.execute(delete(t).where(t.c.queue_id == queue.id, t.c.sent < cutoff))
    conn.execute(delete(d).where(d.c.expires <= now))
