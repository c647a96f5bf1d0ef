"""The internal event bus: a durable, ordered log with one cursor per subscriber.

A service publishes inside the transaction that changes its state, so an event exists exactly
when the change does. Each subscriber gets every event after its cursor, in order; the cursor
moves only after the subscriber's handler returns, so delivery is at least once, also across a
restart or a kill -9. Events every subscriber has seen are pruned, except the newest: sequence
numbers follow the newest row, so the table is never emptied and a number is never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    select,
)

from portside.store import Store, executemany, metadata

log = logging.getLogger("portside.events")

bus_events = Table(
    "bus_events",
    metadata,
    # SQLite numbers a new row one past the newest, which the prune keeps: no number is reused
    # (cursors compare against them) without AUTOINCREMENT, whose sqlite_sequence row was one
    # more page written by every publishing transaction.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("source", String(256), nullable=False),
    Column("detail_type", String(256), nullable=False),
    Column("time", Float, nullable=False),
    Column("event", Text, nullable=False),  # JSON, in EventBridge's event shape
)

bus_cursors = Table(
    "bus_cursors",
    metadata,
    Column("subscriber", String(128), primary_key=True),
    Column("seq", Integer, nullable=False),
)


BATCH = 100
# Built once: the dispatcher runs these after every publish.
_INSERT = bus_events.insert()
_CURSOR = select(bus_cursors.c.seq).where(bus_cursors.c.subscriber == bindparam("name"))
_AFTER = (select(bus_events).where(bus_events.c.seq > bindparam("cursor"))
          .order_by(bus_events.c.seq).limit(BATCH))
_MOVE = bus_cursors.update().where(bus_cursors.c.subscriber == bindparam("b_name")).values(
    seq=bindparam("b_seq"))
_OLDEST_CURSOR = select(func.min(bus_cursors.c.seq))
_NEWEST = select(func.max(bus_events.c.seq))
_PRUNE = bus_events.delete().where(bus_events.c.seq <= bindparam("seq"))


@dataclass(frozen=True)
class EncodedEvent:
    """An event already in its JSON text, for a publisher that encodes the same data for its own
    row anyway (ECS's task state changes) and would otherwise pay for the encoding twice."""

    source: str
    detail_type: str
    text: str


Publishable = dict[str, Any] | EncodedEvent


def _row(account_id: str, region: str, event: Publishable) -> dict[str, Any]:
    if isinstance(event, EncodedEvent):
        return {"account_id": account_id, "region": region, "source": event.source,
                "detail_type": event.detail_type, "time": time.time(), "event": event.text}
    return {"account_id": account_id, "region": region, "source": event.get("source", ""),
            "detail_type": event.get("detail-type", ""), "time": time.time(),
            "event": json.dumps(event, separators=(",", ":"), default=str)}


@dataclass(frozen=True)
class BusEvent:
    seq: int
    account_id: str
    region: str
    event: dict[str, Any]  # source, detail-type, detail, resources, time, id, …


Handler = Callable[[list[BusEvent]], Awaitable[None]]

IDLE_WAKE = 1.0  # seconds: how often an idle dispatcher looks again (retries after a failure)
# Seconds a woken dispatcher waits before it delivers: the work the publishing request set off
# goes first (`portside up`'s agent starting the task RunTask placed, on this same loop), and
# a burst's events go in one delivery. The events are in the store already: nothing is lost.
DELIVERY_PAUSE = 0.05


class EventBus:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()

    def publish(self, conn: Connection, account_id: str, region: str,
                event: Publishable) -> int:
        """Append an event in the caller's transaction; delivered once that commits."""
        seq = conn.execute(_INSERT, _row(account_id, region, event)).inserted_primary_key[0]
        self._wake.set()
        return seq

    def publish_many(self, conn: Connection,
                     events: Sequence[tuple[str, str, Publishable]]) -> None:
        """Append `(account, region, event)`s in order, in one statement: for a change that
        makes many events at once (a RunTask of ten tasks)."""
        executemany(conn, _INSERT, [_row(account, region, event)
                                    for account, region, event in events])
        self._wake.set()

    def subscribe(self, name: str, handler: Handler) -> None:
        """Register a subscriber. A new one starts after the newest event; a known one resumes
        after its cursor, so nothing published while portside was down is missed."""
        self._handlers[name] = handler
        self._ensure_cursor(name)

    def reset(self) -> None:
        """After the store was wiped: the subscribers start over from the next event."""
        for name in self._handlers:
            self._ensure_cursor(name)

    def _ensure_cursor(self, name: str) -> None:
        with self.store.begin() as conn:
            known = conn.execute(select(bus_cursors.c.seq).where(
                bus_cursors.c.subscriber == name)).scalar()
            if known is None:
                newest = conn.execute(select(func.max(bus_events.c.seq))).scalar() or 0
                conn.execute(bus_cursors.insert().values(subscriber=name, seq=newest))

    async def run(self) -> None:
        """Deliver forever: DELIVERY_PAUSE after a publish woke it, or every IDLE_WAKE seconds
        to retry."""
        while True:
            self._wake.clear()
            try:
                delivered = any([await self._deliver(name) for name in list(self._handlers)])
                self._prune()
            except Exception:  # e.g. the store busy: the events wait in it for the next turn
                log.exception("event delivery failed; retrying in %s s", IDLE_WAKE)
                delivered = False
            if not delivered:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_WAKE)
                    await asyncio.sleep(DELIVERY_PAUSE)

    async def _deliver(self, name: str) -> bool:
        with self.store.begin() as conn:
            cursor = conn.execute(_CURSOR, {"name": name}).scalar() or 0
            rows = conn.execute(_AFTER, {"cursor": cursor}).all()
        if not rows:
            return False
        events = [BusEvent(r.seq, r.account_id, r.region, json.loads(r.event)) for r in rows]
        try:
            await self._handlers[name](events)
        except Exception:
            log.exception("event subscriber %s failed; it gets these events again", name)
            return False
        with self.store.begin() as conn:
            conn.execute(_MOVE, {"b_name": name, "b_seq": events[-1].seq})
        return True

    def _prune(self) -> None:
        """Drop what every subscriber has seen, but keep the newest event: the next one is
        numbered after it."""
        with self.store.begin() as conn:
            newest = conn.execute(_NEWEST).scalar()
            if newest is None:
                return
            oldest_cursor = conn.execute(_OLDEST_CURSOR).scalar()
            seen = newest if oldest_cursor is None else oldest_cursor
            conn.execute(_PRUNE, {"seq": min(seen, newest - 1)})
