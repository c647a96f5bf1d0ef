"""STS through boto3 and the AWS CLI against a real server: role sessions, their limits and
their end, user sessions, and whose key is which."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from server import ACCOUNT, REGION

from portside.services.iam import ids

AWS_CLI = str(Path(sys.executable).with_name("aws"))
MAY_ASSUME = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
     "Resource": "*"}]}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def trust(principal: dict, **condition) -> str:
    statement = {"Effect": "Allow", "Principal": principal,
                 "Action": ["sts:AssumeRole", "sts:TagSession"]}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


def session_client(portside, service: str, credentials: dict):
    return boto3.client(service, endpoint_url=portside.endpoint, region_name=REGION,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"],
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def iam(portside):
    return portside.client("iam")


@pytest.fixture
def user(portside, iam):
    """An IAM user allowed to assume roles: (its ARN, its access key, an STS client)."""
    name = unique("caller")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps(MAY_ASSUME))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, key, portside.client("sts", key=key["AccessKeyId"],
                                     secret=key["SecretAccessKey"])


def make_role(iam, trust_policy: str, **kwargs) -> dict:
    return iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=trust_policy,
                           **kwargs)["Role"]


# -- AssumeRole ---------------------------------------------------------------------------

def test_assume_role_gives_credentials_that_act_as_the_role(portside, iam, user):
    _, _, sts = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), Path="/apps/")
    got = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build-42")
    creds = got["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and creds["SessionToken"]
    remaining = creds["Expiration"] - datetime.now(UTC)
    assert timedelta(minutes=59) < remaining <= timedelta(hours=1)
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/build-42"
    assert got["AssumedRoleUser"] == {"AssumedRoleId": f"{role['RoleId']}:build-42",
                                      "Arn": session_arn}
    identity = session_client(portside, "sts", creds).get_caller_identity()
    assert identity["Arn"] == session_arn
    assert identity["UserId"] == f"{role['RoleId']}:build-42"
    assert identity["Account"] == ACCOUNT
    last_used = iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]
    assert last_used["Region"] == REGION


def test_assume_role_is_denied_when_the_trust_policy_does_not_name_the_caller(iam, user):
    caller_arn, _, sts = user
    role = make_role(iam, trust({"AWS": "arn:aws:iam::111122223333:root"}))
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert code(info) == "AccessDenied"
    assert info.value.response["Error"]["Message"] == (
        f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: "
        f"{role['Arn']} because no role trust policy allows the sts:AssumeRole action")
    missing = f"arn:aws:iam::{ACCOUNT}:role/{unique('absent')}"
    with pytest.raises(ClientError) as info:  # an unknown role is denied alike
        sts.assume_role(RoleArn=missing, RoleSessionName="s1")
    assert code(info) == "AccessDenied"


def test_assume_role_trusting_the_user_itself(iam, user):
    caller_arn, _, sts = user
    role = make_role(iam, trust({"AWS": caller_arn}))
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="me")["Credentials"]


def test_roles_may_not_be_assumed_by_root(portside, iam):
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    with pytest.raises(ClientError) as info:
        portside.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="root")
    assert code(info) == "AccessDenied"
    assert "root accounts" in info.value.response["Error"]["Message"]


def test_external_id_condition(iam, user):
    _, _, sts = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                StringEquals={"sts:ExternalId": "Unicorn-42"}))
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="no-id")
    assert code(info) == "AccessDenied"
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad-id", ExternalId="unicorn-42")
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ok",
                           ExternalId="Unicorn-42")["Credentials"]


def test_duration_seconds_limits(portside, iam, user):
    _, _, sts = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
                     MaxSessionDuration=7200)
    short = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)
    assert short["Credentials"]["Expiration"] - datetime.now(UTC) <= timedelta(seconds=900)
    sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7200)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7201)
    assert code(info) == "ValidationError"
    assert "MaxSessionDuration" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=43201)
    assert code(info) == "ValidationError"

    # Role chaining: a role session that assumes a role gets at most an hour.
    chained = make_role(iam, trust({"AWS": role["Arn"]}), MaxSessionDuration=7200)
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="assume",
                        PolicyDocument=json.dumps(MAY_ASSUME))
    as_role = session_client(portside, "sts", short["Credentials"])
    with pytest.raises(ClientError) as info:
        as_role.assume_role(RoleArn=chained["Arn"], RoleSessionName="c1", DurationSeconds=3601)
    assert "role chaining" in info.value.response["Error"]["Message"]
    got = as_role.assume_role(RoleArn=chained["Arn"], RoleSessionName="c1")
    assert got["AssumedRoleUser"]["Arn"].endswith(f"/{chained['RoleName']}/c1")


def test_session_policies_narrow_the_role(portside, iam, user):
    _, _, sts = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="list", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:ListUsers"],
             "Resource": "*"}]}))
    only_roles = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}]}
    got = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="narrow",
                          Policy=json.dumps(only_roles))
    assert 0 < got["PackedPolicySize"] <= 100
    narrowed = session_client(portside, "iam", got["Credentials"])
    narrowed.list_roles(MaxItems=1)
    with pytest.raises(ClientError) as info:
        narrowed.list_users(MaxItems=1)
    assert code(info) == "AccessDenied"
    whole = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="whole")
    assert "PackedPolicySize" not in whole
    session_client(portside, "iam", whole["Credentials"]).list_users(MaxItems=1)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad", Policy="{}")
    assert code(info) == "MalformedPolicyDocument"


def test_session_tags_are_principal_tags_and_pass_down_role_chains(portside, iam, user):
    _, _, sts = user
    team_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListUsers", "sts:AssumeRole", "sts:TagSession"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}
    first = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    iam.put_role_policy(RoleName=first["RoleName"], PolicyName="team",
                        PolicyDocument=json.dumps(team_only))
    blue = sts.assume_role(RoleArn=first["Arn"], RoleSessionName="blue",
                           Tags=[{"Key": "team", "Value": "blue"}], TransitiveTagKeys=["team"])
    assert blue["PackedPolicySize"] > 0
    session_client(portside, "iam", blue["Credentials"]).list_users(MaxItems=1)
    red = sts.assume_role(RoleArn=first["Arn"], RoleSessionName="red",
                          Tags=[{"Key": "team", "Value": "red"}])
    with pytest.raises(ClientError):
        session_client(portside, "iam", red["Credentials"]).list_users(MaxItems=1)

    second = make_role(iam, trust({"AWS": first["Arn"]}))
    iam.put_role_policy(RoleName=second["RoleName"], PolicyName="team",
                        PolicyDocument=json.dumps(team_only))
    as_blue = session_client(portside, "sts", blue["Credentials"])
    chained = as_blue.assume_role(RoleArn=second["Arn"], RoleSessionName="chained")
    session_client(portside, "iam", chained["Credentials"]).list_users(MaxItems=1)
    with pytest.raises(ClientError) as info:  # an inherited transitive tag cannot be reset
        as_blue.assume_role(RoleArn=second["Arn"], RoleSessionName="again",
                            Tags=[{"Key": "Team", "Value": "red"}])
    assert code(info) == "InvalidParameterValue"


def test_tags_need_the_trust_policy_to_allow_tag_session(iam, user):
    _, _, sts = user
    no_tags = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "sts:AssumeRole"}]})
    role = make_role(iam, no_tags)
    sts.assume_role(RoleArn=role["Arn"], RoleSessionName="plain")
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tagged",
                        Tags=[{"Key": "a", "Value": "b"}])
    assert "sts:TagSession" in info.value.response["Error"]["Message"]


def test_too_many_long_tags_do_not_pack(iam, user):
    _, _, sts = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    tags = [{"Key": f"k{i:02d}" + "x" * 120,
             "Value": "".join(ids.secret_access_key() for _ in range(6))[:256]}
            for i in range(50)]
    with pytest.raises(sts.exceptions.PackedPolicyTooLargeException):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="big", Tags=tags)


def test_source_identity_needs_the_trust_policy_and_stays_down_the_chain(portside, iam, user):
    _, _, sts = user
    plain = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=plain["Arn"], RoleSessionName="si", SourceIdentity="alice")
    assert "sts:SetSourceIdentity" in info.value.response["Error"]["Message"]
    statement = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                 "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}
    role = make_role(iam, json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    got = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="si", SourceIdentity="alice")
    assert got["SourceIdentity"] == "alice"
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="assume",
                        PolicyDocument=json.dumps(MAY_ASSUME))
    chained = make_role(iam, trust({"AWS": role["Arn"]}))
    again = session_client(portside, "sts", got["Credentials"]).assume_role(
        RoleArn=chained["Arn"], RoleSessionName="next")
    assert again["SourceIdentity"] == "alice"


# -- the end of a session -----------------------------------------------------------------

def test_an_expired_session_is_refused_with_expired_token(portside, iam, user):
    _, _, sts = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="old")["Credentials"]
    as_role = session_client(portside, "sts", creds)
    as_role.get_caller_identity()
    with sqlite3.connect(portside.data_dir / "portside.db") as db:  # age the session
        db.execute("UPDATE sts_sessions SET expiration = ? WHERE access_key_id = ?",
                   (time.time() - 1, creds["AccessKeyId"]))
    with pytest.raises(ClientError) as info:
        as_role.get_caller_identity()
    assert code(info) == "ExpiredToken"


def test_a_wrong_or_missing_session_token_is_refused(portside, iam, user):
    _, _, sts = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tok")["Credentials"]
    forged = {**creds, "SessionToken": creds["SessionToken"][:-4] + "AAAA"}
    with pytest.raises(ClientError) as info:
        session_client(portside, "sts", forged).get_caller_identity()
    assert code(info) == "InvalidClientTokenId"
    without = portside.client("sts", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
    with pytest.raises(ClientError) as info:
        without.get_caller_identity()
    assert code(info) == "InvalidClientTokenId"


# -- GetSessionToken and GetAccessKeyInfo -----------------------------------------------------

def test_get_session_token_acts_as_the_user(portside, user):
    caller_arn, _, sts = user
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"] - datetime.now(UTC) <= timedelta(seconds=900)
    as_session = session_client(portside, "sts", creds)
    assert as_session.get_caller_identity()["Arn"] == caller_arn
    with pytest.raises(ClientError) as info:
        as_session.get_session_token()
    assert code(info) == "AccessDenied"
    with pytest.raises(ClientError) as info:
        sts.get_session_token(DurationSeconds=129601)
    assert code(info) == "ValidationError"


def test_root_sessions_last_at_most_an_hour(portside):
    creds = portside.client("sts").get_session_token(DurationSeconds=7200)["Credentials"]
    assert creds["Expiration"] - datetime.now(UTC) <= timedelta(hours=1)
    identity = session_client(portside, "sts", creds).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_get_access_key_info_names_the_keys_account(portside, user):
    _, key, _ = user
    sts = portside.client("sts")
    assert sts.get_access_key_info(AccessKeyId=key["AccessKeyId"])["Account"] == ACCOUNT
    elsewhere = ids.access_key_id(ids.ACCESS_KEY_PREFIX, "123456789012")
    assert sts.get_access_key_info(AccessKeyId=elsewhere)["Account"] == "123456789012"


# -- the AWS CLI -------------------------------------------------------------------------------

def test_aws_cli_assume_role(portside, iam, user):
    _, key, _ = user
    role = make_role(iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    env = {**portside.cli_env(), "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    out = subprocess.run(
        [AWS_CLI, "sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name",
         "cli", "--duration-seconds", "900", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    got = json.loads(out.stdout)
    assert got["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/cli")
    assert got["Credentials"]["AccessKeyId"].startswith("ASIA")
