"""Reading and writing parameters and their versions in the store. SecureString values stay
sealed here; the service seals and opens them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Row, delete, insert, select, update

from portside.services.ssm.model import parameters_table, versions_table
from portside.services.tag_lists import Tags


@dataclass(frozen=True)
class Parameter:
    id: int
    account_id: str
    region: str
    name: str
    version: int  # the latest
    tags: Tags = field(default_factory=list)


@dataclass(frozen=True)
class ParameterVersion:
    version: int
    type: str
    value: str | None  # String, StringList
    sealed_value: bytes | None  # SecureString
    key_id: str | None
    description: str | None
    allowed_pattern: str | None
    tier: str
    data_type: str
    labels: list[str]
    last_modified: float
    last_modified_user: str


def _parameter(row: Row) -> Parameter:
    return Parameter(row.id, row.account_id, row.region, row.name, row.version,
                     json.loads(row.tags))


def _version(row: Row) -> ParameterVersion:
    return ParameterVersion(row.version, row.type, row.value, row.sealed_value, row.key_id,
                            row.description, row.allowed_pattern, row.tier, row.data_type,
                            json.loads(row.labels), row.last_modified, row.last_modified_user)


def find(conn: Connection, account_id: str, region: str,
         names: Iterable[str]) -> Parameter | None:
    """The first of `names` that is a parameter of the account in the region."""
    t = parameters_table
    for name in names:
        row = conn.execute(select(t).where(t.c.account_id == account_id, t.c.region == region,
                                           t.c.name == name)).first()
        if row is not None:
            return _parameter(row)
    return None


def current(conn: Connection, account_id: str,
            region: str) -> list[tuple[Parameter, ParameterVersion]]:
    """Every parameter of the account in the region with its latest version, by name."""
    p, v = parameters_table, versions_table
    rows = conn.execute(
        select(p.c.id, p.c.account_id, p.c.region, p.c.name, p.c.tags, v)
        .join(v, (v.c.parameter_id == p.c.id) & (v.c.version == p.c.version))
        .where(p.c.account_id == account_id, p.c.region == region).order_by(p.c.name))
    return [(_parameter(r), _version(r)) for r in rows]


def with_labels(conn: Connection, parameter_ids: Iterable[int]) -> dict[int, set[str]]:
    """The labels of every version of the given parameters."""
    ids = list(parameter_ids)
    if not ids:
        return {}
    v = versions_table
    found: dict[int, set[str]] = {}
    for row in conn.execute(select(v.c.parameter_id, v.c.labels)
                            .where(v.c.parameter_id.in_(ids))):
        found.setdefault(row.parameter_id, set()).update(json.loads(row.labels))
    return found


def versions(conn: Connection, parameter: Parameter) -> list[ParameterVersion]:
    """A parameter's versions, oldest first."""
    v = versions_table
    rows = conn.execute(select(v).where(v.c.parameter_id == parameter.id).order_by(v.c.version))
    return [_version(r) for r in rows]


def version(conn: Connection, parameter: Parameter, number: int) -> ParameterVersion | None:
    v = versions_table
    row = conn.execute(select(v).where(v.c.parameter_id == parameter.id,
                                       v.c.version == number)).first()
    return _version(row) if row else None


def create(conn: Connection, account_id: str, region: str, name: str, tags: Tags) -> Parameter:
    result = conn.execute(insert(parameters_table).values(
        account_id=account_id, region=region, name=name, version=0, tags=json.dumps(tags)))
    return Parameter(result.inserted_primary_key[0], account_id, region, name, 0, tags)


def add_version(conn: Connection, parameter: Parameter, found: ParameterVersion) -> Parameter:
    """Store a new latest version."""
    conn.execute(insert(versions_table).values(
        parameter_id=parameter.id, version=found.version, type=found.type, value=found.value,
        sealed_value=found.sealed_value, key_id=found.key_id, description=found.description,
        allowed_pattern=found.allowed_pattern, tier=found.tier, data_type=found.data_type,
        labels=json.dumps(found.labels), last_modified=found.last_modified,
        last_modified_user=found.last_modified_user))
    conn.execute(update(parameters_table).where(parameters_table.c.id == parameter.id)
                 .values(version=found.version))
    return replace(parameter, version=found.version)


def drop_version(conn: Connection, parameter: Parameter, number: int) -> None:
    v = versions_table
    conn.execute(delete(v).where(v.c.parameter_id == parameter.id, v.c.version == number))


def set_labels(conn: Connection, parameter: Parameter, number: int, labels: list[str]) -> None:
    v = versions_table
    conn.execute(update(v).where(v.c.parameter_id == parameter.id, v.c.version == number)
                 .values(labels=json.dumps(labels)))


def set_tags(conn: Connection, parameter: Parameter, tags: Tags) -> None:
    conn.execute(update(parameters_table).where(parameters_table.c.id == parameter.id)
                 .values(tags=json.dumps(tags)))


def remove(conn: Connection, parameter: Parameter) -> None:
    # Explicit deletes rather than ON DELETE CASCADE alone: foreign keys are a per-connection
    # setting in SQLite.
    conn.execute(delete(versions_table).where(versions_table.c.parameter_id == parameter.id))
    conn.execute(delete(parameters_table).where(parameters_table.c.id == parameter.id))
