"""AddPermission and RemovePermission: statements of the queue policy, one per label.

AddPermission writes the policy a user could write with SetQueueAttributes: one Allow statement
per label, naming accounts (as their roots) and `SQS:<Action>`s on the queue, at most seven
actions to a statement.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_AddPermission.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from portside.protocol.errors import AwsError, error

MAX_ACTIONS = 7
# The actions a queue policy can grant (Developer Guide, "Amazon SQS API permissions").
GRANTABLE = frozenset({
    "*", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
    "ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage", "SendMessage",
    "ListQueueTags", "ListMessageMoveTasks", "StartMessageMoveTask", "CancelMessageMoveTask",
})
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT = re.compile(r"[0-9]{12}")


def add_statement(policy: str | None, queue_arn: str, label: str, accounts: Sequence[str],
                  actions: Sequence[str]) -> str:
    """The queue policy with a statement for `label` added."""
    if not _LABEL.fullmatch(label):
        raise _invalid(label, "Label", "Label can only include alphanumeric characters, "
                       "hyphens, or underscores. 1 to 80 in length.")
    for account in accounts:
        if not _ACCOUNT.fullmatch(account):
            raise _invalid(account, "AWSAccountId", "AddPermission supports account principals "
                           "only: 12-digit account ids.")
    if len(actions) > MAX_ACTIONS:
        raise error("OverLimit", f"{len(actions)} Actions were found, maximum allowed is "
                    f"{MAX_ACTIONS}.")
    for action in actions:
        if action not in GRANTABLE:
            raise _invalid(action, "ActionName", "Please refer to the appropriate WSDL for a "
                           "list of valid actions.")
    document = _document(policy, queue_arn)
    if any(s.get("Sid") == label for s in document["Statement"]):
        raise _invalid(label, "Label", "Already exists.")
    principals = [f"arn:aws:iam::{a}:root" for a in accounts]
    granted = [f"SQS:{a}" for a in actions]
    document["Statement"].append({
        "Sid": label, "Effect": "Allow",
        "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
        "Action": granted[0] if len(granted) == 1 else granted, "Resource": queue_arn})
    return json.dumps(document, separators=(",", ":"))


def remove_statement(policy: str | None, queue_arn: str, label: str) -> str:
    """The queue policy without the statement for `label`; empty when none is left."""
    document = _document(policy, queue_arn)
    kept = [s for s in document["Statement"] if s.get("Sid") != label]
    if len(kept) == len(document["Statement"]):
        raise _invalid(label, "Label", "can't find label.")
    document["Statement"] = kept
    return json.dumps(document, separators=(",", ":")) if kept else ""


def _document(policy: str | None, queue_arn: str) -> dict:
    if not policy:
        return {"Version": "2012-10-17", "Id": f"{queue_arn}/SQSDefaultPolicy", "Statement": []}
    document = json.loads(policy)  # stored policies were validated when set
    statements = document.get("Statement", [])
    document["Statement"] = statements if isinstance(statements, list) else [statements]
    return document


def _invalid(value: str, parameter: str, reason: str) -> AwsError:
    return error("InvalidParameterValue",
                 f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")
