"""Group commit: calls queued together share one transaction, and one call's failure fails no
other."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, insert, select

from portside.services.sqs.commits import GroupCommit
from portside.services.sqs.model import queues_table
from portside.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store.in_directory(tmp_path)
    store.migrate()
    yield store
    store.close()


def add_queue(name: str):
    def work(conn):
        conn.execute(insert(queues_table).values(account_id="0", region="r", name=name,
                                                 attributes="{}", tags="{}", created=0,
                                                 last_modified=0))
        return name
    return work


def names(store: Store) -> set[str]:
    with store.begin() as conn:
        return set(conn.execute(select(queues_table.c.name)).scalars())


def test_calls_queued_together_share_one_commit(store):
    commits = []
    event.listen(store.engine, "commit", lambda conn: commits.append(conn))
    group = GroupCommit(store)

    async def main():
        return await asyncio.gather(*(group.run(add_queue(f"q{i}")) for i in range(5)))

    assert asyncio.run(main()) == [f"q{i}" for i in range(5)]
    assert len(commits) == 1
    assert names(store) == {f"q{i}" for i in range(5)}


def test_a_failing_call_fails_alone(store):
    group = GroupCommit(store)

    def broken(conn):
        conn.execute(insert(queues_table).values(account_id="0", region="r", name="bad"))
        return "unreachable"  # the insert violates NOT NULL first

    async def main():
        return await asyncio.gather(group.run(add_queue("a")), group.run(broken),
                                    group.run(add_queue("b")), return_exceptions=True)

    first, failure, second = asyncio.run(main())
    assert (first, second) == ("a", "b")
    assert isinstance(failure, Exception)
    assert names(store) == {"a", "b"}
