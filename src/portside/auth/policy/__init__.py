"""IAM policies: parse and validate documents, evaluate requests against them.

A pure engine — no I/O, no clock: the caller looks the policies up, supplies the request's
condition keys (including `aws:CurrentTime`) and acts on the result.

    policy = parse_policy(document_text, PolicyKind.IDENTITY).with_source("arn:…:policy/p")
    result = evaluate(Request(principal, "s3:GetObject", "arn:aws:s3:::b/k"),
                      PolicySet(identity=[policy]))
    if not result.allowed:
        message = access_denied_message(principal.arn, "s3:GetObject", "arn:aws:s3:::b/k", result)

Modules: `document` (validation, compiled statements), `conditions` (operators),
`principals` (the Principal element), `patterns` (wildcards), `variables` (`${…}`),
`request` (the request context), `evaluation` (the decision).
"""

from portside.auth.policy.document import (
    GROUP_INLINE_SIZE,
    MANAGED_POLICY_SIZE,
    ROLE_INLINE_SIZE,
    TRUST_POLICY_SIZE,
    USER_INLINE_SIZE,
    Effect,
    MalformedPolicy,
    Policy,
    PolicyKind,
    PolicyTooLarge,
    Statement,
    check_policy_size,
    parse_policy,
    policy_size,
)
from portside.auth.policy.evaluation import (
    Decision,
    MatchedStatement,
    PolicySet,
    PolicyType,
    Result,
    access_denied_message,
    evaluate,
)
from portside.auth.policy.request import CallerType, PrincipalInfo, Request

__all__ = [
    "GROUP_INLINE_SIZE",
    "MANAGED_POLICY_SIZE",
    "ROLE_INLINE_SIZE",
    "TRUST_POLICY_SIZE",
    "USER_INLINE_SIZE",
    "CallerType",
    "Decision",
    "Effect",
    "MalformedPolicy",
    "MatchedStatement",
    "Policy",
    "PolicyKind",
    "PolicySet",
    "PolicyTooLarge",
    "PolicyType",
    "PrincipalInfo",
    "Request",
    "Result",
    "Statement",
    "access_denied_message",
    "check_policy_size",
    "evaluate",
    "parse_policy",
    "policy_size",
]
