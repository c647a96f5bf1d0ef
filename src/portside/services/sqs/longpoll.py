"""Long polling: a ReceiveMessage that found nothing waits until a message may have arrived.

Senders wake the waiters of their queue after committing, so a waiting receive answers within
a loop iteration of the send instead of polling the store. Messages that become visible by the
clock (a delay or a visibility timeout ending) wake nobody: the waiter sleeps only until the
next such moment, which the caller computes.
"""

from __future__ import annotations

import asyncio
import threading


class Wakeups:
    def __init__(self) -> None:
        self._waiting: dict[int, set[asyncio.Future[None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    async def wait(self, queue_id: int, timeout: float) -> None:
        """Return when `queue_id` is notified or `timeout` seconds have passed."""
        if timeout <= 0:
            return
        loop = asyncio.get_running_loop()
        self._loop, self._loop_thread = loop, threading.get_ident()
        future: asyncio.Future[None] = loop.create_future()
        waiters = self._waiting.setdefault(queue_id, set())
        waiters.add(future)
        timer = loop.call_later(timeout, _settle, future)
        try:
            await future
        finally:
            timer.cancel()
            waiters.discard(future)
            if not waiters and self._waiting.get(queue_id) is waiters:
                del self._waiting[queue_id]

    def notify(self, queue_id: int) -> None:
        """Wake every receive waiting on `queue_id`; safe to call from any thread."""
        if queue_id not in self._waiting:
            return
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._wake, queue_id)
        else:
            self._wake(queue_id)

    def _wake(self, queue_id: int) -> None:
        for future in self._waiting.get(queue_id, ()):
            _settle(future)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
