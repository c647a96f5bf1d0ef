"""Secrets Manager tables: secrets and their versions.

Secret values are sealed (store/sealed.py) with the secret's ARN and the version id as
associated data; no plaintext value is ever written to the database.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from portside.store import metadata

secrets_table = Table(
    "secretsmanager_secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(512), nullable=False),
    Column("arn", String(700), nullable=False, unique=True),
    Column("description", Text),
    Column("kms_key_id", String(2048)),  # recorded as given; portside has no KMS
    Column("tags", Text, nullable=False),  # JSON [{"Key", "Value"}], in the order given
    Column("policy", Text),  # the resource policy
    Column("created", Float, nullable=False),
    Column("last_changed", Float, nullable=False),
    Column("last_accessed", Float),  # midnight UTC of the day of the last read
    Column("deletion_date", Float),  # set while scheduled for deletion: when it is purged
    UniqueConstraint("account_id", "region", "name", name="uq_secretsmanager_secret_name"),
)

versions_table = Table(
    "secretsmanager_versions",
    metadata,
    Column("secret_id", Integer, ForeignKey("secretsmanager_secrets.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version_id", String(64), primary_key=True),
    Column("secret_string", LargeBinary),  # sealed
    Column("secret_binary", LargeBinary),  # sealed
    Column("stages", Text, nullable=False),  # JSON list of staging labels
    Column("created", Float, nullable=False),
    Column("last_accessed", Float),
)
