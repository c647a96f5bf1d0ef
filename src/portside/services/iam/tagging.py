"""Tags of IAM users, roles and customer managed policies.

Keys are case-insensitive with case kept: tagging `Env` over `env` replaces the value and the
spelling. A resource holds at most 50 tags.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_rules
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, insert, select

from portside.protocol.errors import error
from portside.services.iam.model import tags

MAX_TAGS = 50


def validated(request_tags: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """The tags of a request, refused when two keys differ only in case or use `aws:`."""
    seen: set[str] = set()
    out = []
    for tag in request_tags:
        key = tag["Key"]
        if key.lower().startswith("aws:"):
            raise error("InvalidInput", "User-defined tag keys can't start with 'aws:'. "
                        "This prefix is reserved for AWS use.")
        if key.lower() in seen:
            raise error("InvalidInput", "Duplicate tag keys found. Please note that Tag keys "
                        "are case insensitive.")
        seen.add(key.lower())
        out.append({"Key": key, "Value": tag["Value"]})
    return out


def of(conn: Connection, resource_id: str) -> list[dict[str, str]]:
    """A resource's tags, by key (case-insensitive)."""
    rows = conn.execute(select(tags).where(tags.c.resource_id == resource_id)
                        .order_by(tags.c.key_lower)).all()
    return [{"Key": r.key, "Value": r.value} for r in rows]


def put(conn: Connection, resource_id: str, new: list[dict[str, str]]) -> None:
    """Add or replace `new` (already validated) on a resource."""
    if not new:
        return
    keys = [t["Key"].lower() for t in new]
    existing = {r for (r,) in conn.execute(select(tags.c.key_lower).where(
        tags.c.resource_id == resource_id))}
    if len(existing | set(keys)) > MAX_TAGS:
        raise error("LimitExceeded", f"The number of tags has reached the maximum limit of "
                    f"{MAX_TAGS}.")
    conn.execute(delete(tags).where(tags.c.resource_id == resource_id,
                                    tags.c.key_lower.in_(keys)))
    conn.execute(insert(tags), [{"resource_id": resource_id, "key_lower": t["Key"].lower(),
                                 "key": t["Key"], "value": t["Value"]} for t in new])


def remove(conn: Connection, resource_id: str, keys: Iterable[str] | None = None) -> None:
    """Remove the tags with `keys` (any case), or all of them."""
    query = delete(tags).where(tags.c.resource_id == resource_id)
    if keys is not None:
        query = query.where(tags.c.key_lower.in_([k.lower() for k in keys]))
    conn.execute(query)
