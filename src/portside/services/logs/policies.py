"""Account-level resource policies of CloudWatch Logs: stored by name, checked by the policy
engine when put, and joined into one document for IAM evaluation of a log group's calls.
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html
"""

from __future__ import annotations

import json
from typing import Any

from portside.auth.policy import PolicyKind, parse_policy

MAX_POLICIES = 10  # per account and region


def check(document: str) -> None:
    """Raise portside.auth.policy.MalformedPolicy unless `document` is a valid resource policy."""
    parse_policy(document, PolicyKind.RESOURCE)


def joined(documents: list[str]) -> str:
    """One policy holding every statement of `documents`: what IAM evaluates, since each
    account policy applies to all of the account's log groups."""
    statements: list[Any] = []
    for document in documents:
        found = json.loads(document).get("Statement", [])
        statements += found if isinstance(found, list) else [found]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})

