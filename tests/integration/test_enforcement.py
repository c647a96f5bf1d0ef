"""IAM enforced on real requests: identity policies, session policies, permissions boundaries,
resource policies across accounts, the simulator agreeing with reality, and CloudTrail
recording every denial."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from server import ACCOUNT, REGION, PortsideServer

OTHER_ACCOUNT = "111111111111"
ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def allow(actions, resources="*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resources}]})


def client(server: PortsideServer, service: str, creds: dict):
    return boto3.client(service, endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds.get("SessionToken"),
                        config=Config(retries={"max_attempts": 1}))


def new_user(iam, policy: str | None = None, boundary_arn: str | None = None) -> tuple[str, dict]:
    name = unique("u")
    kwargs = {"PermissionsBoundary": boundary_arn} if boundary_arn else {}
    arn = iam.create_user(UserName=name, **kwargs)["User"]["Arn"]
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    return arn, iam.create_access_key(UserName=name)["AccessKey"]


def denied(call) -> dict:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory):
    """A server that knows two accounts' roots."""
    accounts = f"{ACCOUNT}:test:test,{OTHER_ACCOUNT}:other:other-secret"
    server = PortsideServer(tmp_path_factory.mktemp("two") / "data",
                            env={"PORTSIDE_ACCOUNTS": accounts}).start()
    yield server
    server.stop()


def test_a_user_is_allowed_only_what_its_policy_allows(portside):
    iam = portside.client("iam")
    me, key = new_user(iam, allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))
    other, _ = new_user(iam)
    mine = client(portside, "iam", key)
    assert mine.get_user(UserName=me.rsplit("/", 1)[1])["User"]["Arn"] == me
    error = denied(lambda: mine.get_user(UserName=other.rsplit("/", 1)[1]))
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: {me} is not authorized to perform: iam:GetUser on resource: {other} "
        "because no identity-based policy allows the iam:GetUser action")
    assert denied(lambda: mine.list_users())["Code"] == "AccessDenied"


def test_an_explicit_deny_in_a_permissions_boundary_wins(portside):
    iam = portside.client("iam")
    boundary = iam.create_policy(PolicyName=unique("b"), PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*"}]}))["Policy"]["Arn"]
    me, key = new_user(iam, json.dumps(ALLOW_ALL), boundary)
    mine = client(portside, "iam", key)
    mine.list_users()
    error = denied(lambda: mine.list_roles())
    assert error["Message"] == (f"User: {me} is not authorized to perform: iam:ListRoles "
                                "with an explicit deny in a permissions boundary")


def test_a_role_session_is_limited_by_the_role_and_by_its_session_policy(portside):
    iam = portside.client("iam")
    _, key = new_user(iam, allow("sts:AssumeRole"))
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": ACCOUNT}}]}))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p",
                        PolicyDocument=allow(["iam:ListUsers", "iam:ListRoles"]))
    sts = client(portside, "sts", key)
    full = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="full")["Credentials"]
    as_role = client(portside, "iam", full)
    as_role.list_users()
    as_role.list_roles()
    assert denied(lambda: as_role.list_groups())["Code"] == "AccessDenied"
    narrow = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="narrow",
                             Policy=allow("iam:ListUsers"))["Credentials"]
    as_narrow = client(portside, "iam", narrow)
    as_narrow.list_users()
    error = denied(lambda: as_narrow.list_roles())
    assert error["Message"].endswith("because no session policy allows the iam:ListRoles action")
    assert ":assumed-role/" in error["Message"]


def test_assume_role_needs_the_trust_policy(portside):
    iam = portside.client("iam")
    _, key = new_user(iam, allow("sts:AssumeRole"))
    untrusting = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": OTHER_ACCOUNT}}]}))["Role"]
    sts = client(portside, "sts", key)
    assert denied(lambda: sts.assume_role(RoleArn=untrusting["Arn"],
                                          RoleSessionName="s1"))["Code"] == "AccessDenied"


def test_a_trust_policy_grants_another_account_and_its_absence_denies(two_accounts):
    other_root = {"AccessKeyId": "other", "SecretAccessKey": "other-secret"}
    other_iam = client(two_accounts, "iam", other_root)
    trusting = other_iam.create_role(RoleName=unique("shared"), AssumeRolePolicyDocument=(
        json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]})))["Role"]
    private = other_iam.create_role(RoleName=unique("private"), AssumeRolePolicyDocument=(
        json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}}]})))["Role"]
    iam = two_accounts.client("iam")
    _, key = new_user(iam, allow("sts:AssumeRole"))
    sts = client(two_accounts, "sts", key)
    creds = sts.assume_role(RoleArn=trusting["Arn"], RoleSessionName="xx")["Credentials"]
    identity = client(two_accounts, "sts", creds).get_caller_identity()
    assert identity["Account"] == OTHER_ACCOUNT
    error = denied(lambda: sts.assume_role(RoleArn=private["Arn"], RoleSessionName="xx"))
    assert error["Code"] == "AccessDenied"
    # Across accounts both sides must allow: without an identity policy the trust is not enough.
    _, bare = new_user(iam)
    assert denied(lambda: client(two_accounts, "sts", bare).assume_role(
        RoleArn=trusting["Arn"], RoleSessionName="xx"))["Code"] == "AccessDenied"


@pytest.mark.parametrize("action, resource_is_self", [
    ("iam:GetUser", True), ("iam:GetUser", False), ("iam:ListUsers", None),
])
def test_the_simulator_agrees_with_real_requests(portside, action, resource_is_self):
    iam = portside.client("iam")
    me, key = new_user(iam, allow("iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"))
    other, _ = new_user(iam)
    target = me if resource_is_self else other
    resource = target if resource_is_self is not None else "*"
    simulated = iam.simulate_principal_policy(PolicySourceArn=me, ActionNames=[action],
                                              ResourceArns=[resource])
    decision = simulated["EvaluationResults"][0]["EvalDecision"]
    mine = client(portside, "iam", key)
    try:
        if action == "iam:GetUser":
            mine.get_user(UserName=target.rsplit("/", 1)[1])
        else:
            mine.list_users()
        real = "allowed"
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied"
        real = "implicitDeny"
    assert decision == real


def test_every_denied_call_is_in_cloudtrail_as_access_denied(portside):
    iam = portside.client("iam")
    me, key = new_user(iam)
    mine = client(portside, "iam", key)
    for _ in range(3):
        denied(lambda: mine.list_roles())
    time.sleep(0.2)
    events = portside.client("cloudtrail").lookup_events(LookupAttributes=[
        {"AttributeKey": "AccessKeyId", "AttributeValue": key["AccessKeyId"]}])["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    assert len(records) == 3
    for record in records:
        assert record["errorCode"] == "AccessDenied"
        assert record["eventName"] == "ListRoles"
        assert record["userIdentity"]["arn"] == me
        assert record["userIdentity"]["type"] == "IAMUser"


def test_enforcement_can_be_switched_off_for_an_open_sandbox(tmp_path):
    server = PortsideServer(tmp_path / "data", env={"PORTSIDE_IAM_ENFORCEMENT": "off"}).start()
    try:
        iam = server.client("iam")
        _, key = new_user(iam)
        client(server, "iam", key).list_roles()  # no policy at all, and still allowed
    finally:
        server.stop()


def test_a_bucket_policy_grants_another_account_and_its_absence_denies(two_accounts):
    other = {"AccessKeyId": "other", "SecretAccessKey": "other-secret"}
    other_s3 = client(two_accounts, "s3", other)
    bucket = unique("shared")
    other_s3.create_bucket(Bucket=bucket)
    other_s3.put_object(Bucket=bucket, Key="incoming/a.txt", Body=b"hello")
    iam = two_accounts.client("iam")
    _, key = new_user(iam, allow("s3:GetObject"))
    mine = client(two_accounts, "s3", key)
    # The user's own policy allows s3:GetObject on everything, but the bucket is another
    # account's: without a bucket policy naming this account, the read is denied.
    assert denied(lambda: mine.get_object(Bucket=bucket, Key="incoming/a.txt"))[
        "Code"] == "AccessDenied"
    other_s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/incoming/*"}]}))
    assert mine.get_object(Bucket=bucket, Key="incoming/a.txt")["Body"].read() == b"hello"
    # The grant covers incoming/ only, and the root of this account is no exception.
    other_s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"secret")
    assert denied(lambda: mine.get_object(Bucket=bucket, Key="private/b.txt"))[
        "Code"] == "AccessDenied"
    assert denied(lambda: two_accounts.client("s3").get_object(
        Bucket=bucket, Key="private/b.txt"))["Code"] == "AccessDenied"


def test_a_role_allowed_only_get_object_on_incoming_can_do_nothing_else(portside):
    s3 = portside.client("s3")
    bucket = unique("incoming")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="incoming/a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="other/b.txt", Body=b"b")
    iam = portside.client("iam")
    _, key = new_user(iam, allow("s3:GetObject", f"arn:aws:s3:::{bucket}/incoming/*"))
    mine = client(portside, "s3", key)
    assert mine.get_object(Bucket=bucket, Key="incoming/a.txt")["Body"].read() == b"a"
    error = denied(lambda: mine.get_object(Bucket=bucket, Key="other/b.txt"))
    assert error["Code"] == "AccessDenied"
    assert "because no identity-based policy allows the s3:GetObject action" in error["Message"]
    assert denied(lambda: mine.list_objects_v2(Bucket=bucket))["Code"] == "AccessDenied"
    assert denied(lambda: mine.put_object(Bucket=bucket, Key="incoming/c.txt",
                                          Body=b"c"))["Code"] == "AccessDenied"
    elsewhere = unique("elsewhere")
    s3.create_bucket(Bucket=elsewhere)
    s3.put_object(Bucket=elsewhere, Key="incoming/a.txt", Body=b"x")
    assert denied(lambda: mine.get_object(Bucket=elsewhere, Key="incoming/a.txt"))[
        "Code"] == "AccessDenied"
