"""Which IAM actions a call needs, on which resources: a declarative table per service.

Most operations need the action named after them (`ecs:RunTask`) on a resource ARN built from
the request; S3 names its actions its own way (ListObjectsV2 needs `s3:ListBucket`). A service
lists only what differs from the default in its `actions` table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portside.context import RequestContext

ResourceFn = Callable[[RequestContext, dict[str, Any]], str]


@dataclass(frozen=True)
class Action:
    """One IAM action a call needs. `resource` is an ARN template over the request's members
    and `{partition}`, `{region}`, `{account}` — or a function of the context and the request
    when the ARN needs computing (an SQS queue URL to its ARN)."""

    name: str  # e.g. "s3:GetObject"
    resource: str | ResourceFn = "*"
    # The call creates the resource for the caller (CreateBucket): whoever owns a resource of
    # that name now, it is the caller's identity policies that decide.
    creates: bool = False


@dataclass(frozen=True)
class Check:
    """One authorization question: may the caller do `action` on `resource`?"""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)  # condition keys the service supplies
    creates: bool = False  # see Action.creates


class _Members(dict):
    """Template values: the request's members, and '*' for any member the request lacks."""

    def __missing__(self, key: str) -> str:
        return "*"


def resource_arn(template: str | ResourceFn, ctx: RequestContext, params: dict[str, Any]) -> str:
    if callable(template):
        return template(ctx, params)
    if "{" not in template:
        return template
    values = _Members({k: v for k, v in params.items() if isinstance(v, str | int)})
    values.update(partition="aws", region=ctx.region, account=ctx.account_id)
    return template.format_map(values)


def checks_for(prefix: str, table: dict[str, Action | tuple[Action, ...]], ctx: RequestContext,
               operation: str, params: dict[str, Any],
               context: dict[str, Any] | None = None) -> list[Check]:
    """The checks a call must pass: the table's actions for the operation (an empty tuple for
    calls IAM never restricts, like GetCallerIdentity), else `<prefix>:<Operation>` on "*"."""
    actions = table[operation] if operation in table else Action(f"{prefix}:{operation}")
    if isinstance(actions, Action):
        actions = (actions,)
    return [Check(a.name, resource_arn(a.resource, ctx, params), context or {}, a.creates)
            for a in actions]
