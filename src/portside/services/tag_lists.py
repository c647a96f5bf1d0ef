"""Tags kept as AWS's `[{"Key": …, "Value": …}]` lists (Secrets Manager, SSM): merging,
removing, the common rules, and the `aws:ResourceTag/…` condition keys they give a resource.

https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html#tag-conventions
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from portside.protocol.errors import AwsError, error

Tags = list[dict[str, str]]
MAX_TAGS = 50
RESERVED_PREFIX = "aws:"


def merged(existing: Tags, added: Iterable[dict[str, Any]],
           invalid: Callable[[str], AwsError] | None = None) -> Tags:
    """`existing` with `added` applied: a key already there takes the new value in place. A
    tag without a key (models where Key is optional let it through) is `invalid`."""
    values = {t["Key"]: t["Value"] for t in existing}
    for tag in added:
        if tag.get("Key") is None:
            message = "A tag must have a key."  # wording: portside
            raise invalid(message) if invalid else error("InvalidParameterException", message)
        values[tag["Key"]] = tag.get("Value") or ""
    return [{"Key": k, "Value": v} for k, v in values.items()]


def without(existing: Tags, keys: Iterable[str]) -> Tags:
    gone = set(keys)
    return [t for t in existing if t["Key"] not in gone]


def check(tags: Tags, invalid: Callable[[str], AwsError],
          too_many: Callable[[str], AwsError] | None = None, limit: int = MAX_TAGS) -> None:
    """The rules every AWS tag follows: at most `limit` per resource (`too_many` errors, else
    `invalid`) and no key in the `aws:` namespace, which AWS reserves for itself."""
    if len(tags) > limit:
        raise (too_many or invalid)(f"A resource can have at most {limit} tags; this one "
                                    f"would have {len(tags)}.")
    for tag in tags:
        if tag["Key"].lower().startswith(RESERVED_PREFIX):
            raise invalid(f"Tag keys beginning with '{RESERVED_PREFIX}' are reserved for AWS "
                          f"use: {tag['Key']}")


def resource_tag_keys(tags: Tags, service_prefix: str) -> dict[str, str]:
    """`aws:ResourceTag/<key>` and the service's own `<prefix>:ResourceTag/<key>` of a
    resource's tags."""
    keys: dict[str, str] = {}
    for tag in tags:
        keys[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
        keys[f"{service_prefix}:ResourceTag/{tag['Key']}"] = tag["Value"]
    return keys
