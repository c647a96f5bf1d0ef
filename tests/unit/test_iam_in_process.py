"""IAM and STS as portside's other parts use them in-process: service roles, the policies
enforcement reads, key use, and the CloudTrail identity of a role session."""

from __future__ import annotations

import json

import pytest

from portside.auth.identity import Principal, PrincipalType
from portside.auth.policy import PolicySet, Request, evaluate
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.runtime import Runtime
from portside.services.cloudtrail.records import user_identity

ACCOUNT = "000000000000"
ROOT = Principal.root(ACCOUNT)


def ctx(principal: Principal = ROOT) -> RequestContext:
    return RequestContext(ACCOUNT, "us-east-1", principal, None, "req", "127.0.0.1")


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": "*", **extra}


@pytest.fixture
def runtime(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime
    runtime.close()


@pytest.fixture
def iam(runtime):
    return runtime.services["iam"]


@pytest.fixture
def sts(runtime):
    return runtime.services["sts"]


def service_role(iam, service: str, **condition) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return iam.create_role(ctx(), {"RoleName": f"for-{service.split('.')[0]}",
                                   "AssumeRolePolicyDocument": document(statement)})["Role"]["Arn"]


def test_a_service_assumes_a_role_that_trusts_it(runtime, iam, sts):
    arn = service_role(iam, "ecs-tasks.amazonaws.com",
                       StringEquals={"aws:SourceAccount": ACCOUNT})
    creds = sts.assume_role_for_service("ecs-tasks.amazonaws.com", arn, "task-1",
                                        source_account=ACCOUNT, duration=900)
    key = runtime.keyring.lookup(creds["AccessKeyId"])
    assert key.session_token == creds["SessionToken"]
    assert key.principal.type is PrincipalType.ASSUMED_ROLE
    assert key.principal.arn.endswith(":assumed-role/for-ecs-tasks/task-1")
    assert key.principal.issuer_arn == arn
    with pytest.raises(AwsError) as info:  # the condition on the source account
        sts.assume_role_for_service("ecs-tasks.amazonaws.com", arn, "task-2",
                                    source_account="111122223333")
    assert info.value.code == "AccessDenied"


def test_a_role_that_does_not_trust_a_service_cannot_be_used_by_it(iam, sts):
    arn = service_role(iam, "events.amazonaws.com")
    with pytest.raises(AwsError) as info:
        sts.assume_role_for_service("ecs-tasks.amazonaws.com", arn, "task")
    assert info.value.code == "AccessDenied"
    assert sts.assume_role_for_service("events.amazonaws.com", arn, "rule")["AccessKeyId"]


def test_principal_policies_gather_user_group_boundary_and_tags(runtime, iam):
    iam.create_user(ctx(), {"UserName": "ann", "Tags": [{"Key": "team", "Value": "blue"}]})
    iam.create_group(ctx(), {"GroupName": "readers"})
    iam.add_user_to_group(ctx(), {"GroupName": "readers", "UserName": "ann"})
    iam.put_group_policy(ctx(), {"GroupName": "readers", "PolicyName": "get",
                                 "PolicyDocument": document(allow("s3:GetObject"))})
    iam.attach_user_policy(ctx(), {"UserName": "ann",
                                   "PolicyArn": "arn:aws:iam::aws:policy/AmazonSQSFullAccess"})
    boundary = iam.create_policy(ctx(), {"PolicyName": "b", "PolicyDocument": document(
        allow("s3:*"))})["Policy"]["Arn"]
    iam.put_user_permissions_boundary(ctx(), {"UserName": "ann",
                                              "PermissionsBoundary": boundary})
    key = iam.create_access_key(ctx(), {"UserName": "ann"})["AccessKey"]
    principal = runtime.keyring.lookup(key["AccessKeyId"]).principal

    found = iam.principal_policies(principal)
    assert len(found.identity) == 2 and found.boundary is not None
    assert found.tags == {"team": "blue"}

    def decision(action: str) -> str:
        request = Request(found.caller(principal), action, "*")
        return evaluate(request, PolicySet(found.identity, None, found.boundary,
                                           found.session)).decision

    assert decision("s3:GetObject") == "allowed"
    assert decision("sqs:SendMessage") == "implicitDeny"  # allowed, but outside the boundary
    iam.put_user_policy(ctx(), {"UserName": "ann", "PolicyName": "no", "PolicyDocument":
                                document({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})})
    found = iam.principal_policies(principal)  # a write drops the cached policies
    assert len(found.identity) == 3
    assert decision("s3:GetObject") == "explicitDeny"


def test_a_role_session_carries_session_policies_and_tags(runtime, iam, sts):
    iam.create_user(ctx(), {"UserName": "bo"})
    bo = runtime.keyring.lookup(
        iam.create_access_key(ctx(), {"UserName": "bo"})["AccessKey"]["AccessKeyId"]).principal
    iam.create_role(ctx(), {"RoleName": "worker", "Tags": [{"Key": "tier", "Value": "1"}],
                            "AssumeRolePolicyDocument": document({
                                "Effect": "Allow", "Principal": {"AWS": bo.arn},
                                "Action": ["sts:AssumeRole", "sts:TagSession"]})})
    iam.put_role_policy(ctx(), {"RoleName": "worker", "PolicyName": "all",
                                "PolicyDocument": document(allow("s3:*"))})
    got = sts.assume_role(ctx(bo), {
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/worker", "RoleSessionName": "w1",
        "Policy": document(allow("s3:GetObject")), "Tags": [{"Key": "Tier", "Value": "2"}]})
    session = runtime.keyring.lookup(got["Credentials"]["AccessKeyId"]).principal
    found = iam.principal_policies(session)
    assert len(found.identity) == 1 and len(found.session) == 1
    assert found.tags == {"Tier": "2"}  # a session tag overrides the role's tag of that key
    assert found.caller(session).parent_arn == f"arn:aws:iam::{ACCOUNT}:role/worker"

    identity = user_identity(RequestContext(ACCOUNT, "us-east-1", session,
                                            got["Credentials"]["AccessKeyId"], "r", "ip"))
    assert identity["type"] == "AssumedRole"
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role", "principalId": session.user_id.split(":")[0],
        "arn": f"arn:aws:iam::{ACCOUNT}:role/worker", "accountId": ACCOUNT,
        "userName": "worker"}


def test_recorded_key_use_is_the_last_used_answer(iam):
    iam.create_user(ctx(), {"UserName": "cy"})
    key_id = iam.create_access_key(ctx(), {"UserName": "cy"})["AccessKey"]["AccessKeyId"]
    iam.record_access_key_use(key_id, "s3", "eu-west-1")
    used = iam.get_access_key_last_used(ctx(), {"AccessKeyId": key_id})["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("s3", "eu-west-1")
    assert used["LastUsedDate"] > 0
