"""The internal event bus: ordered, durable, at least once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portside.events import BusEvent, EventBus
from portside.events.bus import bus_events
from portside.store import Store


def open_bus(tmp_path) -> EventBus:
    store = Store.in_directory(tmp_path)
    store.migrate()
    return EventBus(store)


async def deliver_until(bus: EventBus, got: list, n: int) -> None:
    task = asyncio.create_task(bus.run())
    for _ in range(200):
        if len(got) >= n:
            break
        await asyncio.sleep(0.01)
    task.cancel()


def collected(bus: EventBus) -> list[BusEvent]:
    """The events a subscriber `s` gets, as it gets them."""
    got: list[BusEvent] = []

    async def handler(events: list[BusEvent]) -> None:
        got.extend(events)

    bus.subscribe("s", handler)
    return got


def publish(bus: EventBus, n: int, start: int = 0) -> None:
    with bus.store.begin() as conn:
        for i in range(start, start + n):
            bus.publish(conn, "000000000000", "us-east-1", {"source": "test", "detail": {"i": i}})


def test_events_arrive_in_order(tmp_path):
    bus = open_bus(tmp_path)
    got = collected(bus)
    publish(bus, 5)
    asyncio.run(deliver_until(bus, got, 5))
    assert [e.event["detail"]["i"] for e in got] == [0, 1, 2, 3, 4]


def test_a_failing_subscriber_gets_the_events_again(tmp_path):
    bus = open_bus(tmp_path)
    got: list[int] = []
    calls = {"n": 0}

    async def flaky(events):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("target down")
        got.extend(e.event["detail"]["i"] for e in events)

    bus.subscribe("s", flaky)
    publish(bus, 3)
    asyncio.run(deliver_until(bus, got, 3))
    assert got == [0, 1, 2]


def test_a_restarted_subscriber_resumes_after_its_cursor(tmp_path):
    bus = open_bus(tmp_path)
    got: list[int] = []

    async def handler(events):
        got.extend(e.event["detail"]["i"] for e in events)

    bus.subscribe("s", handler)
    publish(bus, 2)
    asyncio.run(deliver_until(bus, got, 2))
    publish(bus, 2, start=2)  # published while "portside is down"
    again = EventBus(Store.in_directory(tmp_path))
    again.subscribe("s", handler)
    asyncio.run(deliver_until(again, got, 4))
    assert got == [0, 1, 2, 3]


def test_a_rolled_back_transaction_publishes_nothing(tmp_path):
    bus = open_bus(tmp_path)
    got = collected(bus)
    try:
        with bus.store.begin() as conn:
            bus.publish(conn, "000000000000", "us-east-1", {"source": "x"})
            raise RuntimeError("the state change failed")
    except RuntimeError:
        pass
    asyncio.run(deliver_until(bus, got, 1))
    assert got == []


def test_the_prune_keeps_the_newest_event_so_numbers_go_on_after_it(tmp_path):
    """Every subscriber has seen every event: all but the newest go, and the next event is
    numbered after it (a number below a cursor would never be delivered)."""
    bus = open_bus(tmp_path)
    got = collected(bus)
    publish(bus, 3)
    asyncio.run(deliver_until(bus, got, 3))
    bus._prune()
    with bus.store.begin() as conn:
        assert [r.seq for r in conn.execute(select(bus_events.c.seq))] == [got[-1].seq]
    publish(bus, 1, start=3)
    asyncio.run(deliver_until(bus, got, 4))
    assert [e.event["detail"]["i"] for e in got] == [0, 1, 2, 3]
    assert got[-1].seq == got[-2].seq + 1


def test_a_failing_store_call_does_not_end_delivery(tmp_path):
    """A store error in the dispatcher (SQLite busy, say) costs a turn, not the bus: the
    events published after it are still delivered."""
    bus = open_bus(tmp_path)
    prune, failures = bus._prune, []

    def failing_once() -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("prune", {}, Exception("database is locked"))
        prune()

    bus._prune = failing_once
    got = collected(bus)

    async def scenario() -> None:
        publish(bus, 1)
        task = asyncio.create_task(bus.run())
        for _ in range(300):
            if failures and len(got) == 1:
                break
            await asyncio.sleep(0.01)
        publish(bus, 1, start=1)
        bus._wake.set()
        for _ in range(300):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert failures and [e.event["detail"]["i"] for e in got] == [0, 1]
