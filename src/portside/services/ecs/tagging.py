"""Tags of ECS resources: the rules every resource's tags follow, and TagResource,
UntagResource and ListTagsForResource for any taggable resource ARN.

Each kind of resource keeps its tags where it keeps itself (a JSON column of its row) and
registers, under its ARN's resource type (`task-definition`, `cluster`, `task`,
`container-instance`, `capacity-provider` …), how to read and write them. The handlers find the
kind from the ARN, so one implementation serves every resource.

Tag rules (TagResource, ECS API reference): at most 50 tags, keys unique, keys 1–128 and values
0–256 characters (the model checks lengths), and neither keys nor values may start with `aws:`
in any case. Keys are case-sensitive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from portside.auth.actions import Action
from portside.context import RequestContext
from portside.protocol.errors import AwsError, error
from portside.services.base import Service

Tags = list[dict[str, str]]
MAX_TAGS = 50
_RESERVED = "aws:"

# Each call needs its action on the resource it names (Service Authorization Reference, ECS).
TAGGING_ACTIONS: dict[str, Action | tuple[Action, ...]] = {
    operation: Action(f"ecs:{operation}", "{resourceArn}")
    for operation in ("TagResource", "UntagResource", "ListTagsForResource")
}


@dataclass(frozen=True)
class ResourceArn:
    arn: str
    region: str
    account_id: str
    resource_type: str  # "task-definition", "cluster", "task" …
    resource_id: str  # what follows the type: "family:3", "my-cluster", "cluster/0123abcd…"


@dataclass(frozen=True)
class TagHolder:
    """How one kind of resource stores its tags. `read` answers None for a resource that does
    not exist; `write` replaces the whole list."""

    read: Callable[[Connection, ResourceArn], Tags | None]
    write: Callable[[Connection, ResourceArn, Tags], None]


_HOLDERS: dict[str, TagHolder] = {}


def register(resource_type: str, holder: TagHolder) -> None:
    """Make a kind of resource taggable through TagResource and its siblings."""
    _HOLDERS[resource_type] = holder


def parse_resource_arn(arn: str) -> ResourceArn:
    parts = arn.split(":", 5)
    resource_type, _, resource_id = parts[-1].partition("/")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs" or not resource_id:
        # wording: portside
        raise error("InvalidParameterException", f"Invalid resource ARN: {arn}")
    return ResourceArn(arn, parts[3], parts[4], resource_type, resource_id)


def validated(request_tags: Iterable[Mapping[str, Any]]) -> Tags:
    """A request's tags as stored: `{key, value}` pairs, a missing value read as empty."""
    out: Tags = []
    seen: set[str] = set()
    for tag in request_tags:
        key, value = tag.get("key") or "", tag.get("value") or ""
        if not key:
            # wording: portside
            raise error("InvalidParameterException", "Tag keys can't be empty.")
        if key.lower().startswith(_RESERVED) or value.lower().startswith(_RESERVED):
            raise error(  # wording: portside
                "InvalidParameterException",
                "Tag keys and values can't start with 'aws:'. This prefix is reserved for AWS use.")
        if key in seen:
            # wording: portside
            raise error("InvalidParameterException", f"Duplicate tag key: {key}")
        seen.add(key)
        out.append({"key": key, "value": value})
    if len(out) > MAX_TAGS:
        raise _too_many()
    return out


def merged(existing: Tags, new: Tags) -> Tags:
    """`existing` with `new` added; a key already there takes the new value."""
    keys = {tag["key"] for tag in new}
    result = [tag for tag in existing if tag["key"] not in keys] + new
    if len(result) > MAX_TAGS:
        raise _too_many()
    return result


def without(existing: Tags, keys: Iterable[str]) -> Tags:
    removed = set(keys)
    return [tag for tag in existing if tag["key"] not in removed]


def _too_many() -> AwsError:
    # wording: portside
    return error("LimitExceededException", f"A resource can have at most {MAX_TAGS} tags.")


class TaggingApi(Service):
    """TagResource, UntagResource and ListTagsForResource for every registered kind."""

    def tag_resource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        new = validated(request["tags"])
        with self.runtime.store.begin() as conn:
            arn, holder, tags = self._tagged(conn, ctx, request["resourceArn"])
            holder.write(conn, arn, merged(tags, new))
        return {}

    def untag_resource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            arn, holder, tags = self._tagged(conn, ctx, request["resourceArn"])
            holder.write(conn, arn, without(tags, request["tagKeys"]))
        return {}

    def list_tags_for_resource(self, ctx: RequestContext,
                               request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            _, _, tags = self._tagged(conn, ctx, request["resourceArn"])
        return {"tags": tags}

    def _tagged(self, conn: Connection, ctx: RequestContext,
                value: str) -> tuple[ResourceArn, TagHolder, Tags]:
        """The resource an ARN names in the caller's account, how it keeps its tags, and
        its tags; ResourceNotFoundException when there is no such resource."""
        arn = parse_resource_arn(value)
        holder = _HOLDERS.get(arn.resource_type)
        if holder is None:
            raise error("InvalidParameterException",  # wording: portside
                        f"The resource type '{arn.resource_type}' can't be tagged.")
        tags = holder.read(conn, arn) if arn.account_id == ctx.account_id else None
        if tags is None:
            raise error("ResourceNotFoundException", "The specified resource wasn't found.")
        return arn, holder, tags
