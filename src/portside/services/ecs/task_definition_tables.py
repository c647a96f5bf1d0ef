"""Task definition tables: one row per revision, and each family's last revision number.

A revision's TaskDefinition is JSON in AWS's shape as registered; its status and the times it
was deregistered and submitted for deletion are columns, since they change and are filtered
on. Families keep their last revision even when every revision is gone: "the revision is
incremented the next time you create a task definition with that name"
(DeleteTaskDefinitions, ECS API reference). Task definitions are regional.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, UniqueConstraint

from portside.store import metadata

task_definitions = Table(
    "ecs_task_definitions",
    metadata,
    Column("arn", String(1024), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("family", String(255), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("status", String(24), nullable=False),  # ACTIVE | INACTIVE | DELETE_IN_PROGRESS
    Column("definition", Text, nullable=False),  # JSON TaskDefinition, as registered
    Column("tags", Text, nullable=False),  # JSON [{key, value}]
    Column("deregistered_at", Float),
    Column("delete_requested_at", Float),
    UniqueConstraint("account_id", "region", "family", "revision",
                     name="uq_ecs_task_definition_revision"),
    Index("ix_ecs_task_definitions_status", "account_id", "region", "status"),
)

families = Table(
    "ecs_task_definition_families",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("family", String(255), primary_key=True),
    Column("last_revision", Integer, nullable=False),
)
