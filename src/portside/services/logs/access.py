"""What IAM checks for each CloudWatch Logs call.

Group-level actions are checked on `log-group:<name>:*` (the ARN form AWS says policies use for
them), stream-level ones (CreateLogStream, DeleteLogStream, PutLogEvents, GetLogEvents) on
`log-group:<name>:log-stream:<stream>`, the tagging actions on the ARN the call names, and
DescribeLogGroups on every group of the account.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html
"""

from __future__ import annotations

from typing import Any

from portside.auth.actions import Action
from portside.context import RequestContext
from portside.services.logs.names import group_arn, parse_group_arn, stream_arn


def group_name(params: dict[str, Any]) -> str:
    """The group a call names by `logGroupName` or `logGroupIdentifier` (a name or an ARN)."""
    identifier = params.get("logGroupIdentifier") or ""
    ref = parse_group_arn(identifier)
    return ref.name if ref else (params.get("logGroupName") or identifier or "*")


def _group(ctx: RequestContext, params: dict[str, Any]) -> str:
    return group_arn(ctx.region, ctx.account_id, group_name(params)) + ":*"


def _stream(ctx: RequestContext, params: dict[str, Any]) -> str:
    return stream_arn(ctx.region, ctx.account_id, group_name(params),
                      params.get("logStreamName") or "*")


def _named(ctx: RequestContext, params: dict[str, Any]) -> str:
    return params.get("resourceArn") or "*"


_ON_GROUP = ("CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy",
             "DescribeLogStreams", "FilterLogEvents", "TagLogGroup", "UntagLogGroup",
             "ListTagsLogGroup")
_ON_STREAM = ("CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents")
_ON_ARN = ("TagResource", "UntagResource", "ListTagsForResource")

ACTIONS: dict[str, Action | tuple[Action, ...]] = {
    **{op: Action(f"logs:{op}", _group) for op in _ON_GROUP},
    **{op: Action(f"logs:{op}", _stream) for op in _ON_STREAM},
    **{op: Action(f"logs:{op}", _named) for op in _ON_ARN},
    "DescribeLogGroups": Action("logs:DescribeLogGroups",
                                "arn:aws:logs:{region}:{account}:log-group:*"),
}
