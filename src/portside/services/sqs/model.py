"""SQS tables: queues, messages and the FIFO deduplication window.

Messages are rows; receiving is an indexed range query on (queue, visible_at) followed by one
UPDATE of the rows taken, in one transaction. A message's row id is its place in send order:
FIFO queues deliver by it and derive the SequenceNumber from it.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from portside.store import metadata

queues_table = Table(
    "sqs_queues",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(80), nullable=False),
    Column("attributes", Text, nullable=False),  # JSON: the settable attributes it has
    Column("tags", Text, nullable=False),  # JSON object
    Column("created", Float, nullable=False),
    Column("last_modified", Float, nullable=False),
    Column("purged", Float),  # when PurgeQueue last ran
    UniqueConstraint("account_id", "region", "name", name="uq_sqs_queue_name"),
)

messages_table = Table(
    "sqs_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue_id", Integer, ForeignKey("sqs_queues.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("body", Text, nullable=False),  # "" when the body is sealed (encryption.py)
    Column("sealed_body", LargeBinary),
    Column("md5_body", String(32), nullable=False),
    Column("attributes", Text),  # JSON message attributes (binary values in base64)
    Column("md5_attributes", String(32)),
    Column("trace_header", Text),  # the AWSTraceHeader system attribute
    Column("sender_id", String(128), nullable=False),
    Column("sent", Float, nullable=False),  # epoch seconds; retention counts from here
    Column("visible_at", Float, nullable=False),  # receivable from then on
    Column("receive_count", Integer, nullable=False),
    Column("first_received", Float),
    Column("received", Float),  # the latest receive: the 12-hour visibility limit counts from it
    Column("receipt", String(16)),  # the latest receive's token; older handles are stale
    Column("group_id", String(128)),
    Column("deduplication_id", String(128)),
    Column("source_arn", String(256)),  # the queue a dead-lettered message came from
    Index("ix_sqs_messages_visible", "queue_id", "visible_at"),
)

deduplication_table = Table(
    "sqs_deduplication",
    metadata,
    Column("queue_id", Integer, ForeignKey("sqs_queues.id", ondelete="CASCADE"),
           primary_key=True),
    Column("scope", String(300), primary_key=True),  # the id, prefixed by its group if scoped
    Column("message_id", String(36), nullable=False),
    Column("row_id", Integer, nullable=False),  # the message's SequenceNumber source
    Column("expires", Float, nullable=False),
)
