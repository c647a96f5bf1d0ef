"""Parameter Store tables: parameters and their versions.

Every version keeps its own type, value, description, tier … as PutParameter wrote them
(GetParameterHistory shows them). A SecureString value is sealed (store/sealed.py) and only
the sealed bytes are stored; String and StringList values are stored as they are, as AWS does.
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

parameters_table = Table(
    "ssm_parameters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(2048), nullable=False),
    Column("version", Integer, nullable=False),  # the latest version
    Column("tags", Text, nullable=False),  # JSON [{"Key", "Value"}]
    UniqueConstraint("account_id", "region", "name", name="uq_ssm_parameter_name"),
)

versions_table = Table(
    "ssm_parameter_versions",
    metadata,
    Column("parameter_id", Integer, ForeignKey("ssm_parameters.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("type", String(16), nullable=False),
    Column("value", Text),  # String and StringList
    Column("sealed_value", LargeBinary),  # SecureString
    Column("key_id", String(256)),
    Column("description", Text),
    Column("allowed_pattern", Text),
    Column("tier", String(16), nullable=False),
    Column("data_type", String(128), nullable=False),
    Column("labels", Text, nullable=False),  # JSON list
    Column("last_modified", Float, nullable=False),
    Column("last_modified_user", String(2048), nullable=False),
)
