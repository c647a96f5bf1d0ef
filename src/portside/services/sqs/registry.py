"""The queues of every account and region, read once from the store and kept in memory.

Every SQS call names a queue; looking it up in the store each time would cost more than many
calls do. One portside process owns its data directory, so the cache is the truth after the
first read and every change is written through.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

from sqlalchemy import Connection, delete, insert, select, update

from portside.services.sqs.attributes import (
    Redrive,
    RedriveAllow,
    parse_redrive,
    parse_redrive_allow,
)
from portside.services.sqs.model import deduplication_table, messages_table, queues_table
from portside.services.sqs.names import is_fifo_name, queue_arn
from portside.store import Store

Key = tuple[str, str, str]  # account, region, name


@dataclass(frozen=True)
class Queue:
    id: int
    account_id: str
    region: str
    name: str
    attributes: Mapping[str, str]
    tags: Mapping[str, str] = field(default_factory=dict)
    created: float = 0.0
    last_modified: float = 0.0
    purged: float | None = None

    @property
    def key(self) -> Key:
        return self.account_id, self.region, self.name

    @property
    def fifo(self) -> bool:
        return is_fifo_name(self.name)

    @cached_property
    def arn(self) -> str:
        return queue_arn(self.region, self.account_id, self.name)

    def seconds(self, name: str) -> int:
        """An integer attribute (VisibilityTimeout, DelaySeconds …)."""
        return int(self.attributes[name])

    @cached_property
    def redrive(self) -> Redrive | None:
        value = self.attributes.get("RedrivePolicy")
        return parse_redrive(value) if value else None

    @cached_property
    def redrive_allow(self) -> RedriveAllow:
        value = self.attributes.get("RedriveAllowPolicy")
        return parse_redrive_allow(value) if value else RedriveAllow("allowAll")

    @property
    def content_based_deduplication(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    @property
    def deduplication_per_group(self) -> bool:
        return self.attributes.get("DeduplicationScope") == "messageGroup"


class QueueRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._queues: dict[Key, Queue] | None = None

    def _all(self) -> dict[Key, Queue]:
        if self._queues is None:
            with self._store.begin() as conn:
                rows = conn.execute(select(queues_table)).all()
            self._queues = {}
            for row in rows:
                queue = Queue(row.id, row.account_id, row.region, row.name,
                              json.loads(row.attributes), json.loads(row.tags), row.created,
                              row.last_modified, row.purged)
                self._queues[queue.key] = queue
        return self._queues

    def get(self, account_id: str, region: str, name: str) -> Queue | None:
        return self._all().get((account_id, region, name))

    def all(self) -> list[Queue]:
        return list(self._all().values())

    def in_region(self, account_id: str, region: str) -> Iterator[Queue]:
        return (q for q in self._all().values()
                if q.account_id == account_id and q.region == region)

    def create(self, queue: Queue) -> Queue:
        with self._store.begin() as conn:
            result = conn.execute(insert(queues_table).values(
                account_id=queue.account_id, region=queue.region, name=queue.name,
                attributes=json.dumps(dict(queue.attributes)), tags=json.dumps(dict(queue.tags)),
                created=queue.created, last_modified=queue.last_modified))
        created = replace(queue, id=result.inserted_primary_key[0])
        self._all()[created.key] = created
        return created

    def update(self, queue: Queue, **changes: object) -> Queue:
        """Write changed fields (attributes, tags, last_modified, purged) and cache them."""
        values = {k: json.dumps(dict(v)) if k in ("attributes", "tags") else v  # type: ignore
                  for k, v in changes.items()}
        with self._store.begin() as conn:
            conn.execute(update(queues_table).where(queues_table.c.id == queue.id).values(values))
        updated = replace(queue, **changes)  # type: ignore[arg-type]
        self._all()[updated.key] = updated
        return updated

    def delete(self, queue: Queue) -> None:
        with self._store.begin() as conn:
            _delete_rows(conn, queue.id)
        self._all().pop(queue.key, None)

    def reset(self) -> None:
        self._queues = None


def _delete_rows(conn: Connection, queue_id: int) -> None:
    # Explicit deletes rather than ON DELETE CASCADE alone: they hold however the database was
    # configured (foreign keys are a per-connection setting in SQLite).
    conn.execute(delete(messages_table).where(messages_table.c.queue_id == queue_id))
    conn.execute(delete(deduplication_table).where(deduplication_table.c.queue_id == queue_id))
    conn.execute(delete(queues_table).where(queues_table.c.id == queue_id))
