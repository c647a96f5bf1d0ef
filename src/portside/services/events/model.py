"""EventBridge tables: buses, rules, targets, and the deliveries still owed to targets.

A delivery row is written when an event matches a rule, before the internal bus's cursor moves
past the event, and deleted when the target took it (or it went to the dead-letter queue):
a retry waiting out its backoff survives a restart or a kill -9.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from portside.store import metadata

buses_table = Table(
    "events_buses",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("description", Text),
    Column("policy", Text),  # the bus's resource policy (JSON), who may PutEvents to it
    Column("tags", Text, nullable=False),  # JSON [{Key, Value}]
    Column("created", Float, nullable=False),
    Column("modified", Float, nullable=False),
)

rules_table = Table(
    "events_rules",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("bus", String(256), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("event_pattern", Text),
    Column("schedule", String(256)),
    Column("state", String(64), nullable=False),
    Column("description", Text),
    Column("role_arn", Text),
    Column("tags", Text, nullable=False),  # JSON [{Key, Value}]
    Column("created", Float, nullable=False),
    Column("anchor", Float, nullable=False),  # a rate schedule counts its periods from here
    Column("last_fired", Float),  # the scheduled time fired last: at most once each
)

targets_table = Table(
    "events_targets",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("bus", String(256), primary_key=True),
    Column("rule", String(64), primary_key=True),
    Column("target_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),  # targets list in the order they were added
    Column("target", Text, nullable=False),  # JSON: the Target as PutTargets gave it
)

deliveries_table = Table(
    "events_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # bus event, rule and target: a bus event delivered twice (after a crash) adds no row
    Column("key", String(1024), nullable=False, unique=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("rule_arn", Text, nullable=False),
    Column("rule_name", String(64), nullable=False),
    Column("target", Text, nullable=False),  # JSON: the target as it was when the event matched
    Column("event", Text, nullable=False),  # JSON: the event as the bus received it
    Column("ingested", Float, nullable=False),  # MaximumEventAgeInSeconds counts from here
    Column("hops", Integer, nullable=False),  # how many buses forwarded the event to this one
    Column("attempts", Integer, nullable=False),  # failed attempts so far
    Column("due", Float, nullable=False),  # the next attempt, after the backoff
    Index("ix_events_deliveries_due", "due"),
)
