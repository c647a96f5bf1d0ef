"""Access denied messages in AWS's words.

https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html: "User: <arn>
is not authorized to perform: <action> on resource: <arn>", then "with an explicit deny in a
<type> policy" or "because no <type> policy allows the <action> action".
"""

from __future__ import annotations

import pytest

from portside.auth.policy import (
    CallerType,
    Decision,
    PolicyKind,
    PolicySet,
    PolicyType,
    PrincipalInfo,
    Request,
    Result,
    access_denied_message,
    evaluate,
    parse_policy,
)

SESSION = "arn:aws:sts::000000000000:assumed-role/r/s"
USER = "arn:aws:iam::123456789012:user/JohnDoe"
OBJECT = "arn:aws:s3:::b/k"

MESSAGES = [
    (Result(Decision.IMPLICIT_DENY, PolicyType.IDENTITY), SESSION, "s3:GetObject", OBJECT,
     f"User: {SESSION} is not authorized to perform: s3:GetObject on resource: {OBJECT} "
     "because no identity-based policy allows the s3:GetObject action"),
    (Result(Decision.EXPLICIT_DENY, PolicyType.IDENTITY), USER, "codedeploy:ListDeployments",
     "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*",
     f"User: {USER} is not authorized to perform: codedeploy:ListDeployments on resource: "
     "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* with an explicit deny in an "
     "identity-based policy"),
    (Result(Decision.IMPLICIT_DENY, PolicyType.BOUNDARY), USER, "codedeploy:ListDeployments",
     "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*",
     f"User: {USER} is not authorized to perform: codedeploy:ListDeployments on resource: "
     "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:* because no permissions "
     "boundary allows the codedeploy:ListDeployments action"),
    (Result(Decision.EXPLICIT_DENY, PolicyType.BOUNDARY), USER, "sagemaker:ListModels", "*",
     f"User: {USER} is not authorized to perform: sagemaker:ListModels with an explicit deny in "
     "a permissions boundary"),
    (Result(Decision.IMPLICIT_DENY, PolicyType.SESSION), USER, "codecommit:ListRepositories",
     "*", f"User: {USER} is not authorized to perform: codecommit:ListRepositories because no "
     "session policy allows the codecommit:ListRepositories action"),
    (Result(Decision.EXPLICIT_DENY, PolicyType.SESSION), SESSION, "s3:PutObject", OBJECT,
     f"User: {SESSION} is not authorized to perform: s3:PutObject on resource: {OBJECT} with an "
     "explicit deny in a session policy"),
    (Result(Decision.IMPLICIT_DENY, PolicyType.RESOURCE), USER, "secretsmanager:GetSecretValue",
     None, f"User: {USER} is not authorized to perform: secretsmanager:GetSecretValue because "
     "no resource-based policy allows the secretsmanager:GetSecretValue action"),
    (Result(Decision.EXPLICIT_DENY, PolicyType.RESOURCE), USER, "secretsmanager:GetSecretValue",
     "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
     f"User: {USER} is not authorized to perform: secretsmanager:GetSecretValue on resource: "
     "arn:aws:secretsmanager:us-east-1:123456789012:secret:* with an explicit deny in a "
     "resource-based policy"),
    (Result(Decision.IMPLICIT_DENY, PolicyType.TRUST), USER, "sts:AssumeRole",
     "arn:aws:iam::123456789012:role/r",
     f"User: {USER} is not authorized to perform: sts:AssumeRole on resource: "
     "arn:aws:iam::123456789012:role/r because no role trust policy allows the sts:AssumeRole "
     "action"),
    (Result(Decision.EXPLICIT_DENY, PolicyType.TRUST), USER, "sts:AssumeRole", None,
     f"User: {USER} is not authorized to perform: sts:AssumeRole with an explicit deny in the "
     "role trust policy"),
]


@pytest.mark.parametrize(("result", "principal", "action", "resource", "message"), MESSAGES,
                         ids=[f"{r.decision}-{r.denied_by}" for r, *_ in MESSAGES])
def test_message_form(result: Result, principal: str, action: str, resource: str | None,
                      message: str) -> None:
    assert access_denied_message(principal, action, resource, result) == message


def test_message_of_an_evaluated_denial() -> None:
    caller = PrincipalInfo(CallerType.ASSUMED_ROLE, SESSION, "000000000000", "AROAEXAMPLE:s", "s",
                           parent_arn="arn:aws:iam::000000000000:role/r")
    boundary = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}, PolicyKind.BOUNDARY)
    identity = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, PolicyKind.IDENTITY)
    result = evaluate(Request(caller, "s3:GetObject", OBJECT),
                      PolicySet(identity=[identity], boundary=boundary))
    assert access_denied_message(SESSION, "s3:GetObject", OBJECT, result) == (
        f"User: {SESSION} is not authorized to perform: s3:GetObject on resource: {OBJECT} "
        "because no permissions boundary allows the s3:GetObject action")


def test_an_allowed_result_has_no_message() -> None:
    with pytest.raises(ValueError):
        access_denied_message(USER, "s3:GetObject", OBJECT, Result(Decision.ALLOW))
