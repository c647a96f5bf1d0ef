"""Messages in the store, on a clock the test controls: retention, visibility and counts."""

from __future__ import annotations

import pytest

from portside.services.sqs import delivery
from portside.services.sqs.attributes import defaults
from portside.services.sqs.registry import Queue, QueueRegistry
from portside.services.sqs.sending import message_size, prepare
from portside.store import Store

T0 = 1_800_000_000.0


@pytest.fixture
def store(tmp_path):
    store = Store.in_directory(tmp_path)
    store.migrate()
    yield store
    store.close()


def make_queue(store: Store, **attributes: str) -> Queue:
    return QueueRegistry(store).create(Queue(0, "000000000000", "us-east-1", "q",
                                             {**defaults(False), **attributes}, {}, T0, T0))


def send(store: Store, queue: Queue, body: str, now: float) -> None:
    with store.begin() as conn:
        request = {"MessageBody": body}
        delivery.enqueue(conn, [prepare(queue, request, "sender", now, message_size(request)).row],
                         False)


def receive(store: Store, queue: Queue, now: float, visibility: int = 30) -> list[str]:
    with store.begin() as conn:
        outcome = delivery.receive(conn, queue, None, 10, visibility, now)
    return [r.row.body for r in outcome.received]


def counts(store: Store, queue: Queue, now: float) -> tuple[int, int, int]:
    with store.begin() as conn:
        return delivery.counts(conn, queue, now)


def test_messages_past_the_retention_period_vanish(store):
    queue = make_queue(store, MessageRetentionPeriod="60")
    send(store, queue, "old", T0)
    send(store, queue, "new", T0 + 30)
    assert counts(store, queue, T0 + 61) == (1, 0, 0)
    assert receive(store, queue, T0 + 61) == ["new"]
    with store.begin() as conn:
        assert delivery.rows_by_id(conn, queue.id, [1, 2]).keys() == {2}


def test_in_flight_messages_expire_too(store):
    queue = make_queue(store, MessageRetentionPeriod="60")
    send(store, queue, "m", T0)
    assert receive(store, queue, T0 + 1, visibility=120) == ["m"]
    assert counts(store, queue, T0 + 2) == (0, 1, 0)
    assert counts(store, queue, T0 + 61) == (0, 0, 0)
    with store.begin() as conn:
        delivery.delete_expired(conn, [queue], T0 + 61)
        assert delivery.rows_by_id(conn, queue.id, [1]) == {}


def test_visibility_ends_on_the_clock(store):
    queue = make_queue(store)
    send(store, queue, "m", T0)
    assert receive(store, queue, T0, visibility=10) == ["m"]
    assert receive(store, queue, T0 + 9.9) == []
    with store.begin() as conn:
        assert delivery.next_visible(conn, queue.id, T0 + 9.9) == pytest.approx(T0 + 10)
    assert receive(store, queue, T0 + 10) == ["m"]


def test_delays_count_as_delayed_until_due(store):
    queue = make_queue(store, DelaySeconds="5")
    send(store, queue, "m", T0)
    assert counts(store, queue, T0 + 1) == (0, 0, 1)
    assert receive(store, queue, T0 + 1) == []
    assert counts(store, queue, T0 + 5) == (1, 0, 0)
