"""CloudWatch Logs tables: log groups, their streams and the events of each stream.

An event is a row; GetLogEvents walks the index on (stream, timestamp, id) and FilterLogEvents
the one on (group, timestamp, id), so a page costs an index range scan whatever the volume.
A stream keeps its own first/last event times and stored bytes, updated in the transaction
that inserts its events, so DescribeLogStreams and DescribeLogGroups never scan events.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from portside.store import metadata

groups_table = Table(
    "logs_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    Column("created", BigInteger, nullable=False),  # epoch milliseconds
    Column("retention_days", Integer),  # None: events never expire
    Column("tags", Text, nullable=False),  # JSON object
    UniqueConstraint("account_id", "region", "name", name="uq_logs_group_name"),
)

streams_table = Table(
    "logs_streams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, ForeignKey("logs_groups.id", ondelete="CASCADE"),
           nullable=False),
    Column("name", String(512), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("first_event", BigInteger),  # the earliest event timestamp
    Column("last_event", BigInteger),  # the latest event timestamp
    Column("last_ingestion", BigInteger),
    Column("stored_bytes", BigInteger, nullable=False),  # UTF-8 bytes of its messages
    UniqueConstraint("group_id", "name", name="uq_logs_stream_name"),
)

events_table = Table(
    "logs_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", Integer, ForeignKey("logs_groups.id", ondelete="CASCADE"),
           nullable=False),
    Column("stream_id", Integer, ForeignKey("logs_streams.id", ondelete="CASCADE"),
           nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("ingestion", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("size", Integer, nullable=False),  # UTF-8 bytes of the message
    Index("ix_logs_events_stream", "group_id", "stream_id", "timestamp", "id"),
    Index("ix_logs_events_group", "group_id", "timestamp", "id"),
)

# Account-level resource policies (PutResourcePolicy): they apply to every log group of their
# account and region, e.g. to let events.amazonaws.com write EventBridge targets' events.
policies_table = Table(
    "logs_resource_policies",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated", BigInteger, nullable=False),
)
