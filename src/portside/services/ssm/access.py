"""What IAM checks for each Parameter Store call: `ssm:<Operation>` on the parameter's ARN
(`arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`), one check per
parameter for GetParameters and DeleteParameters, the path for GetParametersByPath, `*` for
DescribeParameters. Tagging a parameter on creation also needs ssm:AddTagsToResource.
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.auth.actions import Check
from portside.context import RequestContext
from portside.services import tag_lists
from portside.services.ssm.names import (
    BadReference,
    parameter_arn,
    parse_reference,
    path_arn,
)
from portside.services.tag_lists import Tags

PREFIX = "ssm"
ONE_PARAMETER = frozenset({"PutParameter", "GetParameter", "DeleteParameter",
                           "GetParameterHistory", "LabelParameterVersion",
                           "UnlabelParameterVersion"})
MANY_PARAMETERS = frozenset({"GetParameters", "DeleteParameters"})
TAGGING = frozenset({"AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"})

# (account, region, candidate names) -> the parameter's tags, None when there is none
TagLookup = Callable[[str, str, tuple[str, ...]], Tags | None]


class AccessRules:
    def __init__(self, tags_of: TagLookup) -> None:
        self._tags_of = tags_of

    def checks(self, ctx: RequestContext, operation: str,
               params: dict[str, Any]) -> list[Check]:
        action = f"{PREFIX}:{operation}"
        if operation in ONE_PARAMETER:
            checks = [self.parameter_check(ctx, action, params.get("Name") or "*")]
            if operation == "PutParameter" and params.get("Tags"):
                checks.append(Check(f"{PREFIX}:AddTagsToResource", checks[0].resource,
                                    checks[0].context))
            return checks
        if operation in MANY_PARAMETERS:
            return [self.parameter_check(ctx, action, n) for n in params.get("Names") or []]
        if operation == "GetParametersByPath":
            return [Check(action, path_arn(ctx.region, ctx.account_id, params.get("Path") or "/"))]
        if operation in TAGGING:
            if params.get("ResourceType") == "Parameter":
                return [self.parameter_check(ctx, action, params.get("ResourceId") or "*")]
            return [Check(action, _other_resource(ctx, params))]
        return [Check(action, "*")]

    def parameter_check(self, ctx: RequestContext, action: str, reference: str) -> Check:
        """`action` on the parameter a Name (or ARN, with or without a selector) names."""
        try:
            ref = parse_reference(reference, ctx.account_id, ctx.region)
        except BadReference:
            return Check(action, parameter_arn(ctx.region, ctx.account_id, reference.strip()))
        tags = self._tags_of(ref.account_id, ref.region, ref.names)
        keys = tag_lists.resource_tag_keys(tags, PREFIX) if tags else {}
        return Check(action, parameter_arn(ref.region, ref.account_id, ref.name), keys)


def _other_resource(ctx: RequestContext, params: dict[str, Any]) -> str:
    kind = (params.get("ResourceType") or "").lower()
    return f"arn:aws:ssm:{ctx.region}:{ctx.account_id}:{kind}/{params.get('ResourceId') or '*'}"
