"""What IAM checks for each SQS call: `sqs:<Action>` on the queue's ARN.

Batch calls need the action of their single form (SendMessageBatch needs sqs:SendMessage), and
ListQueues names no resource.
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
"""

from __future__ import annotations

from typing import Any

from portside.auth.actions import Action
from portside.context import RequestContext
from portside.services.sqs.names import parse_queue_url, queue_arn


def arn_of_url(ctx: RequestContext, params: dict[str, Any]) -> str:
    """The ARN of the queue a QueueUrl names (in any account); a URL that names no queue is
    checked as any queue of the caller's account, and the handler then refuses it."""
    ref = parse_queue_url(params.get("QueueUrl") or "")
    if ref is None:
        return queue_arn(ctx.region, ctx.account_id, "*")
    return queue_arn(ctx.region, ref.account_id, ref.name)


def arn_of_name(ctx: RequestContext, params: dict[str, Any]) -> str:
    account = params.get("QueueOwnerAWSAccountId") or ctx.account_id
    return queue_arn(ctx.region, account, params.get("QueueName") or "*")


_ON_URL = ("AddPermission", "ChangeMessageVisibility", "DeleteMessage", "DeleteQueue",
           "GetQueueAttributes", "ListDeadLetterSourceQueues", "ListQueueTags", "PurgeQueue",
           "ReceiveMessage", "RemovePermission", "SendMessage", "SetQueueAttributes", "TagQueue",
           "UntagQueue")
_BATCHES = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}

ACTIONS: dict[str, Action | tuple[Action, ...]] = {
    **{op: Action(f"sqs:{op}", arn_of_url) for op in _ON_URL},
    **{batch: Action(f"sqs:{single}", arn_of_url) for batch, single in _BATCHES.items()},
    "CreateQueue": Action("sqs:CreateQueue", arn_of_name),
    "GetQueueUrl": Action("sqs:GetQueueUrl", arn_of_name),
    "ListQueues": Action("sqs:ListQueues"),
}
