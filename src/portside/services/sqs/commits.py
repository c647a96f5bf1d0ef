"""Group commit: the store work of SQS calls that arrive together shares one transaction.

A commit costs about as much as storing a batch of ten messages. Under load several calls are
ready at once, so each call queues its work and the queue runs in one transaction at the end of
the event loop's turn. A caller still gets its answer only after the commit that holds its
work: durability is unchanged, only the commits are fewer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from portside.store import Store

T = TypeVar("T")
Work = Callable[[Connection], Any]


class GroupCommit:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction shared with the calls queued beside it; return its
        result once that transaction has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((work, future))
        if len(self._pending) == 1:
            loop.call_soon(self._commit)
        return await future

    def _commit(self) -> None:
        pending, self._pending = self._pending, []
        if len(pending) == 1:
            self._commit_alone(*pending[0])
            return
        try:
            with self._store.begin() as conn:
                results = [work(conn) for work, _ in pending]
        except Exception:  # one call's failure must not fail the others: each runs alone
            for work, future in pending:
                self._commit_alone(work, future)
            return
        for (_, future), result in zip(pending, results, strict=True):
            if not future.done():
                future.set_result(result)

    def _commit_alone(self, work: Work, future: asyncio.Future[Any]) -> None:
        try:
            with self._store.begin() as conn:
                result = work(conn)
        except Exception as exc:  # handed to the caller, whose gateway reports it
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
