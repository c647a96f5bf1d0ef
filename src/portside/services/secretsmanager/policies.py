"""Secret resource policies: validated by the IAM policy engine, and the public-access check
BlockPublicPolicy asks for.

https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_resource-policies.html
"""

from __future__ import annotations

import json
from typing import Any

from portside.auth.policy import MalformedPolicy, PolicyKind, parse_policy
from portside.protocol.errors import AwsError, error


def validated(document: str) -> str:
    """The document, when IAM would accept it as a resource policy."""
    try:
        parse_policy(document, PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise malformed(exc.reason) from None
    return document


def malformed(reason: str) -> AwsError:
    return error("MalformedPolicyDocumentException", reason)


def grants_public_access(document: str) -> bool:
    """Whether an Allow statement names every principal (`*`, or `{"AWS": "*"}`) with no
    condition to narrow it: the policies BlockPublicPolicy refuses."""
    statements = json.loads(document).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return any(s.get("Effect") == "Allow" and not s.get("Condition")
               and _everyone(s.get("Principal")) for s in statements if isinstance(s, dict))


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


def public_policy() -> AwsError:
    return error("PublicPolicyException",
                 "This resource policy contains a policy statement that grants public access.")
