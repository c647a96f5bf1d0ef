"""Secrets Manager through boto3 and the AWS CLI: secrets and their ids, values and versions,
staging labels, deletion and recovery, listing and filters, batches, random passwords,
resource policies and IAM, tags; values kept out of CloudTrail, the log and the disk."""

from __future__ import annotations

import base64
import json
import re
import string
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from secrets_helpers import (
    aws,
    client_as,
    data_dir_bytes,
    error_of,
    new_user,
    policy,
    trail_records,
    unique,
)
from server import ACCOUNT, REGION

ARN = re.compile(rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:(?P<name>.+)-[A-Za-z0-9]{{6}}")


@pytest.fixture
def sm(portside):
    return portside.client("secretsmanager")


def token() -> str:
    return str(uuid.uuid4())


# -- creating and reading ----------------------------------------------------------------------

def test_a_secret_is_read_by_name_full_arn_or_partial_arn(sm):
    name = unique("app/db")
    created = sm.create_secret(Name=name, SecretString="hunter2", Description="the db")
    assert ARN.fullmatch(created["ARN"])["name"] == name
    assert created["Name"] == name and created["VersionId"]
    for secret_id in (name, created["ARN"], created["ARN"][:-7]):
        value = sm.get_secret_value(SecretId=secret_id)
        assert value["SecretString"] == "hunter2"
        assert value["VersionStages"] == ["AWSCURRENT"]
        assert value["VersionId"] == created["VersionId"]
        assert value["ARN"] == created["ARN"]


def test_a_name_with_the_random_suffix_names_nothing(sm):
    created = sm.create_secret(Name=unique("suffixed"), SecretString="x")
    suffixed_name = created["ARN"].split(":secret:")[1]
    assert error_of(lambda: sm.get_secret_value(SecretId=suffixed_name))["Code"] == \
        "ResourceNotFoundException"


def test_a_binary_secret_comes_back_as_bytes(sm):
    name = unique("bin")
    sm.create_secret(Name=name, SecretBinary=b"\x00\xffkey")
    value = sm.get_secret_value(SecretId=name)
    assert value["SecretBinary"] == b"\x00\xffkey" and "SecretString" not in value


def test_a_secret_without_a_value_has_no_current_version(sm):
    name = unique("empty")
    created = sm.create_secret(Name=name)
    assert "VersionId" not in created
    error = error_of(lambda: sm.get_secret_value(SecretId=name))
    assert error == {"Code": "ResourceNotFoundException", "Message": "Secrets Manager can't find "
                     "the specified secret value for staging label: AWSCURRENT"}


@pytest.mark.parametrize("name", ["has space", "colon:name", "star*"])
def test_invalid_names_are_refused(sm, name):
    error = error_of(lambda: sm.create_secret(Name=name, SecretString="x"))
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("Invalid name. Must be a valid name containing "
                                       "alphanumeric characters")


def test_a_string_and_a_binary_value_cannot_go_together(sm):
    error = error_of(lambda: sm.create_secret(Name=unique("both"), SecretString="a",
                                              SecretBinary=b"b"))
    assert error["Code"] == "InvalidParameterException"


def test_create_is_idempotent_for_the_same_token_and_value_only(sm):
    name, first = unique("idem"), token()
    created = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=first)
    again = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=first)
    assert (again["ARN"], again["VersionId"]) == (created["ARN"], first)
    changed = error_of(lambda: sm.create_secret(Name=name, SecretString="other",
                                                ClientRequestToken=first))
    assert changed == {"Code": "ResourceExistsException", "Message": "You can't modify an "
                       "existing version, you can only create a new version."}
    other = error_of(lambda: sm.create_secret(Name=name, SecretString="v"))
    assert other == {"Code": "ResourceExistsException",
                     "Message": f"The operation failed because the secret {name} already exists."}
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 1


def test_kms_key_id_is_recorded_and_shown(sm):
    name = unique("kms")
    sm.create_secret(Name=name, SecretString="v", KmsKeyId="alias/my-key")
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == "alias/my-key"
    assert "KmsKeyId" not in sm.describe_secret(
        SecretId=sm.create_secret(Name=unique("nokms"), SecretString="v")["ARN"])


def test_replication_is_refused_rather_than_faked(sm):
    error = error_of(lambda: sm.create_secret(Name=unique("replica"), SecretString="v",
                                              AddReplicaRegions=[{"Region": "eu-west-1"}]))
    assert error["Code"] == "InvalidRequestException" and "portside" in error["Message"]


# -- versions and staging labels -----------------------------------------------------------------

def test_staging_labels_follow_new_versions(sm):
    name = unique("stages")
    v1 = sm.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId=name, SecretString="two")
    assert v2["VersionStages"] == ["AWSCURRENT"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {v1: ["AWSPREVIOUS"], v2["VersionId"]: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    v3 = sm.put_secret_value(SecretId=name, SecretString="three")["VersionId"]
    listed = {v["VersionId"]: v.get("VersionStages") for v in
              sm.list_secret_version_ids(SecretId=name)["Versions"]}
    assert listed == {v2["VersionId"]: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    every = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert {v["VersionId"] for v in every} == {v1, v2["VersionId"], v3}
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "one"


def test_a_pending_version_becomes_current_when_its_label_moves(sm):
    name = unique("rotate")
    current = sm.create_secret(Name=name, SecretString="old")["VersionId"]
    pending = sm.put_secret_value(SecretId=name, SecretString="new",
                                  VersionStages=["AWSPENDING"])["VersionId"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "old"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretString"] == "new"
    error = error_of(lambda: sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending))
    assert error["Code"] == "InvalidParameterException"
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT",
                                   MoveToVersionId=pending, RemoveFromVersionId=current)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "new"
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {
        current: ["AWSPREVIOUS"], pending: ["AWSPENDING", "AWSCURRENT"]}
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING",
                                   RemoveFromVersionId=pending)
    assert error_of(lambda: sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=pending))["Code"] == \
        "InvalidParameterException"


def test_custom_labels_move_between_versions(sm):
    name = unique("custom")
    v1 = sm.create_secret(Name=name, SecretString="1")["VersionId"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v1)
    v2 = sm.put_secret_value(SecretId=name, SecretString="2", VersionStages=["blue"])["VersionId"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {v1: ["AWSCURRENT"], v2: ["blue"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="blue")["SecretString"] == "2"


def test_a_version_id_and_a_stage_must_agree(sm):
    name = unique("agree")
    v1 = sm.create_secret(Name=name, SecretString="1")["VersionId"]
    sm.put_secret_value(SecretId=name, SecretString="2")
    error = error_of(lambda: sm.get_secret_value(SecretId=name, VersionId=v1,
                                                 VersionStage="AWSCURRENT"))
    assert error == {"Code": "InvalidRequestException", "Message": "You provided a VersionStage "
                     "that is not associated to the provided VersionId."}
    missing = str(uuid.uuid4())
    assert error_of(lambda: sm.get_secret_value(SecretId=name, VersionId=missing))["Message"] == \
        f"Secrets Manager can't find the specified secret value for VersionId: {missing}"


def test_put_secret_value_is_idempotent_per_token(sm):
    name, again = unique("put-idem"), token()
    sm.create_secret(Name=name, SecretString="1")
    first = sm.put_secret_value(SecretId=name, SecretString="2", ClientRequestToken=again)
    second = sm.put_secret_value(SecretId=name, SecretString="2", ClientRequestToken=again)
    assert first["VersionId"] == second["VersionId"] == again
    assert error_of(lambda: sm.put_secret_value(SecretId=name, SecretString="3",
                                                ClientRequestToken=again))["Code"] == \
        "ResourceExistsException"


def test_update_secret_changes_settings_and_may_add_a_version(sm):
    name = unique("update")
    sm.create_secret(Name=name, SecretString="1")
    unchanged = sm.update_secret(SecretId=name, Description="now described")
    assert "VersionId" not in unchanged
    updated = sm.update_secret(SecretId=name, SecretString="2", KmsKeyId="alias/k2")
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "now described" and described["KmsKeyId"] == "alias/k2"
    assert described["VersionIdsToStages"][updated["VersionId"]] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "2"


def test_describe_secret_reports_dates_and_no_rotation(sm):
    name = unique("describe")
    sm.create_secret(Name=name, SecretString="1", Tags=[{"Key": "team", "Value": "a"}])
    before = sm.describe_secret(SecretId=name)
    assert before["RotationEnabled"] is False
    assert "LastAccessedDate" not in before and "DeletedDate" not in before
    assert before["Tags"] == [{"Key": "team", "Value": "a"}]
    assert abs(before["CreatedDate"] - datetime.now(UTC)) < timedelta(minutes=1)
    sm.get_secret_value(SecretId=name)
    accessed = sm.describe_secret(SecretId=name)["LastAccessedDate"]
    assert accessed.astimezone(UTC).time() == datetime.min.time()  # kept to the day


def test_rotation_is_refused_with_a_reason(sm):
    name = unique("rot")
    sm.create_secret(Name=name, SecretString="1")
    error = error_of(lambda: sm.rotate_secret(SecretId=name, RotateImmediately=True))
    assert error["Code"] == "InvalidRequestException"
    assert "portside does not rotate secrets" in error["Message"]


# -- deletion and recovery ---------------------------------------------------------------------

def test_a_deleted_secret_waits_its_recovery_window_and_can_be_restored(sm):
    name = unique("deleted")
    sm.create_secret(Name=name, SecretString="v")
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs(deleted["DeletionDate"] - expected) < timedelta(minutes=1)
    error = error_of(lambda: sm.get_secret_value(SecretId=name))
    assert error == {"Code": "InvalidRequestException", "Message": "You can't perform this "
                     "operation on the secret because it was marked for deletion."}
    assert error_of(lambda: sm.put_secret_value(SecretId=name, SecretString="w"))["Code"] == \
        "InvalidRequestException"
    assert sm.describe_secret(SecretId=name)["DeletedDate"] == deleted["DeletionDate"]
    recreate = error_of(lambda: sm.create_secret(Name=name, SecretString="v"))
    assert recreate["Code"] == "InvalidRequestException"
    assert name not in _names(sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}]))
    assert name in _names(sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}],
                                          IncludePlannedDeletion=True))
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)


def test_the_default_recovery_window_is_thirty_days(sm):
    name = unique("thirty")
    sm.create_secret(Name=name, SecretString="v")
    deleted = sm.delete_secret(SecretId=name)
    assert abs(deleted["DeletionDate"] - (datetime.now(UTC) + timedelta(days=30))) < \
        timedelta(minutes=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"RecoveryWindowInDays": 6}, "The RecoveryWindowInDays value must be between 7 and 30 days "
                                  "(inclusive)."),
    ({"RecoveryWindowInDays": 31}, "The RecoveryWindowInDays value must be between 7 and 30 "
                                   "days (inclusive)."),
    ({"RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": True},
     "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."),
])
def test_deletion_options_are_checked(sm, kwargs, message):
    name = unique("delopts")
    sm.create_secret(Name=name, SecretString="v")
    assert error_of(lambda: sm.delete_secret(SecretId=name, **kwargs)) == {
        "Code": "InvalidParameterException", "Message": message}


def test_force_delete_removes_at_once_and_frees_the_name(sm):
    name = unique("force")
    first = sm.create_secret(Name=name, SecretString="v")["ARN"]
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert error_of(lambda: sm.describe_secret(SecretId=name))["Code"] == \
        "ResourceNotFoundException"
    second = sm.create_secret(Name=name, SecretString="w")["ARN"]
    assert second != first
    # Forcing the deletion of a secret that is not there is not an error.
    sm.delete_secret(SecretId=unique("never"), ForceDeleteWithoutRecovery=True)


def test_a_missing_secret_is_not_found(sm):
    for call in (lambda: sm.describe_secret(SecretId=unique("nope")),
                 lambda: sm.delete_secret(SecretId=unique("nope")),
                 lambda: sm.restore_secret(SecretId=unique("nope"))):
        assert error_of(call) == {"Code": "ResourceNotFoundException",
                                  "Message": "Secrets Manager can't find the specified secret."}


# -- listing and batches -----------------------------------------------------------------------

def _names(listing: dict) -> list[str]:
    return [s["Name"] for s in listing["SecretList"]]


def test_list_secrets_filters(sm):
    prefix = unique("lf")
    sm.create_secret(Name=f"{prefix}/alpha", SecretString="a", Description="Primary Database",
                     Tags=[{"Key": "env", "Value": "prod"}])
    sm.create_secret(Name=f"{prefix}/beta", SecretString="b",
                     Tags=[{"Key": "owner", "Value": "team-b"}])

    def listed(*filters):
        return sorted(_names(sm.list_secrets(Filters=[
            {"Key": "name", "Values": [prefix]}, *filters])))

    assert listed() == [f"{prefix}/alpha", f"{prefix}/beta"]
    assert listed({"Key": "tag-key", "Values": ["env"]}) == [f"{prefix}/alpha"]
    assert listed({"Key": "tag-value", "Values": ["team"]}) == [f"{prefix}/beta"]
    assert listed({"Key": "description", "Values": ["primary"]}) == [f"{prefix}/alpha"]
    assert listed({"Key": "name", "Values": [f"!{prefix}/alpha"]}) == [f"{prefix}/beta"]
    assert listed({"Key": "all", "Values": ["database"]}) == [f"{prefix}/alpha"]
    assert listed({"Key": "primary-region", "Values": [REGION]}) == [f"{prefix}/alpha",
                                                                     f"{prefix}/beta"]
    entry = sm.list_secrets(Filters=[{"Key": "name", "Values": [f"{prefix}/alpha"]}])
    assert list(entry["SecretList"][0]["SecretVersionsToStages"].values()) == [["AWSCURRENT"]]


def test_list_secrets_pages_and_sorts(sm, portside):
    prefix = unique("page")
    for i in range(5):
        sm.create_secret(Name=f"{prefix}-{i}", SecretString="v")
    wanted = [{"Key": "name", "Values": [prefix]}]
    seen, next_token = [], None
    while True:
        page = sm.list_secrets(Filters=wanted, MaxResults=2,
                               **({"NextToken": next_token} if next_token else {}))
        assert len(page["SecretList"]) <= 2
        seen += _names(page)
        next_token = page.get("NextToken")
        if not next_token:
            break
    assert seen == [f"{prefix}-{i}" for i in range(5)]
    descending = sm.list_secrets(Filters=wanted, SortOrder="desc", SortBy="name")
    assert _names(descending) == [f"{prefix}-{i}" for i in reversed(range(5))]
    assert error_of(lambda: sm.list_secrets(NextToken="bogus"))["Code"] == \
        "InvalidNextTokenException"
    cli = aws(portside, "secretsmanager", "list-secrets", "--filters",
              f"Key=name,Values={prefix}", "--page-size", "2")
    assert sorted(s["Name"] for s in cli["SecretList"]) == seen


def test_batch_get_secret_value_by_ids_reports_each_failure(sm):
    ok, gone = unique("batch-ok"), unique("batch-gone")
    sm.create_secret(Name=ok, SecretString="fine")
    sm.create_secret(Name=gone, SecretString="x")
    sm.delete_secret(SecretId=gone)
    missing = unique("batch-missing")
    answer = sm.batch_get_secret_value(SecretIdList=[ok, gone, missing])
    assert [(v["Name"], v["SecretString"]) for v in answer["SecretValues"]] == [(ok, "fine")]
    assert {(e["SecretId"], e["ErrorCode"]) for e in answer["Errors"]} == {
        (gone, "InvalidRequestException"), (missing, "ResourceNotFoundException")}


def test_batch_get_secret_value_by_filters_pages(sm):
    prefix = unique("bf")
    for i in range(3):
        sm.create_secret(Name=f"{prefix}-{i}", SecretString=f"value-{i}")
    values, next_token = {}, None
    while True:
        page = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": [prefix]}],
                                         MaxResults=2,
                                         **({"NextToken": next_token} if next_token else {}))
        values.update({v["Name"]: v["SecretString"] for v in page["SecretValues"]})
        next_token = page.get("NextToken")
        if not next_token:
            break
    assert values == {f"{prefix}-{i}": f"value-{i}" for i in range(3)}
    assert error_of(lambda: sm.batch_get_secret_value(
        SecretIdList=[prefix], Filters=[{"Key": "name", "Values": [prefix]}]))["Code"] == \
        "InvalidParameterException"


def test_batch_reads_need_get_secret_value_on_each_secret(portside, sm):
    allowed, other = unique("batch-allowed"), unique("batch-other")
    allowed_arn = sm.create_secret(Name=allowed, SecretString="yes")["ARN"]
    sm.create_secret(Name=other, SecretString="no")
    _, key = new_user(portside, policy(
        {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": allowed_arn}))
    answer = client_as(portside, "secretsmanager", key).batch_get_secret_value(
        SecretIdList=[allowed, other])
    assert [v["SecretString"] for v in answer["SecretValues"]] == ["yes"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in answer["Errors"]] == [
        (other, "AccessDeniedException")]
    records = trail_records(portside, "secretsmanager.amazonaws.com")
    reads = {(r["requestParameters"]["secretId"], r.get("errorCode")) for r in records
             if r["eventName"] == "GetSecretValue"}
    assert {(allowed, None), (other, "AccessDenied")} <= reads


# -- random passwords --------------------------------------------------------------------------

def test_random_passwords_honour_their_options(sm, portside):
    assert len(sm.get_random_password()["RandomPassword"]) == 32
    password = sm.get_random_password(PasswordLength=64, ExcludePunctuation=True,
                                      ExcludeCharacters="aeiou0")["RandomPassword"]
    assert len(password) == 64
    assert not set(password) & set(string.punctuation + "aeiou0")
    assert any(c.isupper() for c in password) and any(c.isdigit() for c in password)
    spaced = sm.get_random_password(PasswordLength=4, ExcludeLowercase=True,
                                    ExcludeUppercase=True, ExcludeNumbers=True,
                                    ExcludePunctuation=True, IncludeSpace=True)
    assert spaced["RandomPassword"] == "    "
    digits = sm.get_random_password(PasswordLength=3, ExcludeLowercase=True,
                                    ExcludeUppercase=True, ExcludePunctuation=True,
                                    RequireEachIncludedType=False)["RandomPassword"]
    assert digits.isdigit()
    error = error_of(lambda: sm.get_random_password(PasswordLength=2))
    assert error["Code"] == "InvalidParameterException"
    cli = aws(portside, "secretsmanager", "get-random-password", "--password-length", "20",
              "--exclude-numbers")
    assert len(cli["RandomPassword"]) == 20 and not any(c.isdigit() for c in
                                                        cli["RandomPassword"])


# -- resource policies, IAM and tags -----------------------------------------------------------

def test_a_resource_policy_lets_another_user_read(portside, sm):
    name = unique("shared")
    arn = sm.create_secret(Name=name, SecretString="for-you")["ARN"]
    reader_arn, key = new_user(portside)
    theirs = client_as(portside, "secretsmanager", key)
    error = error_of(lambda: theirs.get_secret_value(SecretId=arn))
    assert error["Code"] == "AccessDeniedException"
    assert "secretsmanager:GetSecretValue" in error["Message"] and "for-you" not in \
        error["Message"]
    document = policy({"Effect": "Allow", "Principal": {"AWS": reader_arn},
                       "Action": "secretsmanager:GetSecretValue", "Resource": "*"})
    sm.put_resource_policy(SecretId=name, ResourcePolicy=document)
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"]) == \
        json.loads(document)
    assert theirs.get_secret_value(SecretId=arn)["SecretString"] == "for-you"
    assert error_of(lambda: theirs.put_secret_value(SecretId=arn, SecretString="x"))["Code"] == \
        "AccessDeniedException"
    sm.delete_resource_policy(SecretId=name)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)
    assert error_of(lambda: theirs.get_secret_value(SecretId=arn))["Code"] == \
        "AccessDeniedException"


def test_a_resource_policy_deny_wins_over_an_identity_allow(portside, sm):
    name = unique("denied")
    sm.create_secret(Name=name, SecretString="v")
    user_arn, key = new_user(portside, policy({"Effect": "Allow", "Action": "secretsmanager:*",
                                               "Resource": "*"}))
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy(
        {"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "secretsmanager:*",
         "Resource": "*"}))
    theirs = client_as(portside, "secretsmanager", key)
    assert error_of(lambda: theirs.get_secret_value(SecretId=name))["Code"] == \
        "AccessDeniedException"


def test_resource_policies_are_validated(sm):
    name = unique("validate")
    sm.create_secret(Name=name, SecretString="v")
    malformed = error_of(lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy="{nope"))
    assert malformed["Code"] == "MalformedPolicyDocumentException"
    no_principal = policy({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"})
    assert error_of(lambda: sm.validate_resource_policy(ResourcePolicy=no_principal))["Code"] == \
        "MalformedPolicyDocumentException"
    public = policy({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:*",
                     "Resource": "*"})
    assert sm.validate_resource_policy(SecretId=name, ResourcePolicy=public)[
        "PolicyValidationPassed"] is True
    blocked = error_of(lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy=public,
                                                      BlockPublicPolicy=True))
    assert blocked["Code"] == "PublicPolicyException"
    sm.put_resource_policy(SecretId=name, ResourcePolicy=public)


def test_identity_policies_scope_secrets_by_arn_pattern(portside, sm):
    prefix = unique("team")
    mine = sm.create_secret(Name=f"{prefix}/mine", SecretString="m")["ARN"]
    sm.create_secret(Name=f"{prefix}-other", SecretString="o")
    _, key = new_user(portside, policy({
        "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue",
                                      "secretsmanager:DescribeSecret"],
        "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix}/*"}))
    theirs = client_as(portside, "secretsmanager", key)
    assert theirs.get_secret_value(SecretId=f"{prefix}/mine")["SecretString"] == "m"
    assert theirs.get_secret_value(SecretId=mine)["SecretString"] == "m"
    denied = error_of(lambda: theirs.get_secret_value(SecretId=f"{prefix}-other"))
    assert denied["Code"] == "AccessDeniedException"
    # A name the policy covers but that does not exist is not found; one it does not cover is
    # denied: the check is made against name-??????.
    assert error_of(lambda: theirs.describe_secret(SecretId=f"{prefix}/none"))["Code"] == \
        "ResourceNotFoundException"
    assert error_of(lambda: theirs.describe_secret(SecretId=unique("elsewhere")))["Code"] == \
        "AccessDeniedException"


def test_condition_keys_of_secrets(portside, sm):
    tagged, plain = unique("tagged"), unique("plain")
    sm.create_secret(Name=tagged, SecretString="t", Tags=[{"Key": "env", "Value": "dev"}])
    sm.create_secret(Name=plain, SecretString="p")
    _, key = new_user(portside, policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringEquals": {"secretsmanager:ResourceTag/env": "dev"}}},
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringEquals": {"secretsmanager:VersionStage": "AWSPREVIOUS"}}}))
    theirs = client_as(portside, "secretsmanager", key)
    assert theirs.get_secret_value(SecretId=tagged)["SecretString"] == "t"
    assert error_of(lambda: theirs.get_secret_value(SecretId=plain))["Code"] == \
        "AccessDeniedException"
    assert error_of(lambda: theirs.get_secret_value(
        SecretId=tagged, VersionStage="AWSPREVIOUS"))["Code"] == "AccessDeniedException"


def test_tagging_on_creation_also_needs_tag_resource(portside):
    _, key = new_user(portside, policy({"Effect": "Allow",
                                        "Action": "secretsmanager:CreateSecret",
                                        "Resource": "*"}))
    theirs = client_as(portside, "secretsmanager", key)
    theirs.create_secret(Name=unique("untagged"), SecretString="v")
    error = error_of(lambda: theirs.create_secret(Name=unique("tagged"), SecretString="v",
                                                  Tags=[{"Key": "a", "Value": "b"}]))
    assert error["Code"] == "AccessDeniedException"
    assert "secretsmanager:TagResource" in error["Message"]


def test_tags_are_added_replaced_and_removed(sm):
    name = unique("tags")
    sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "a", "Value": "1"}])
    sm.tag_resource(SecretId=name, Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "a", "Value": "2"},
                                                         {"Key": "b", "Value": "3"}]
    sm.untag_resource(SecretId=name, TagKeys=["a"])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "b", "Value": "3"}]
    reserved = error_of(lambda: sm.tag_resource(SecretId=name,
                                                Tags=[{"Key": "aws:x", "Value": "1"}]))
    assert reserved["Code"] == "InvalidParameterException"
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert error_of(lambda: sm.tag_resource(SecretId=name, Tags=too_many))["Code"] == \
        "InvalidParameterException"


# -- the AWS CLI -------------------------------------------------------------------------------

def test_the_aws_cli_creates_reads_and_deletes_secrets(portside):
    name = unique("cli")
    created = aws(portside, "secretsmanager", "create-secret", "--name", name,
                  "--secret-string", '{"user":"admin","password":"pw"}')
    assert ARN.fullmatch(created["ARN"])
    value = aws(portside, "secretsmanager", "get-secret-value", "--secret-id", name)
    assert json.loads(value["SecretString"]) == {"user": "admin", "password": "pw"}
    put = aws(portside, "secretsmanager", "put-secret-value", "--secret-id", name,
              "--secret-string", "second", "--version-stages", "AWSPENDING")
    assert put["VersionStages"] == ["AWSPENDING"]
    described = aws(portside, "secretsmanager", "describe-secret", "--secret-id", created["ARN"])
    assert described["Name"] == name
    deleted = aws(portside, "secretsmanager", "delete-secret", "--secret-id", name,
                  "--force-delete-without-recovery")
    assert deleted["Name"] == name


# -- secret material stays secret --------------------------------------------------------------

def test_values_never_reach_cloudtrail_the_log_or_error_messages(portside, sm):
    marker = f"very-secret-{uuid.uuid4().hex}"
    name, first = unique("hidden"), token()
    sm.create_secret(Name=name, SecretString=f"{marker}-1", ClientRequestToken=first)
    sm.put_secret_value(SecretId=name, SecretString=f"{marker}-2")
    sm.update_secret(SecretId=name, SecretString=f"{marker}-3")
    sm.put_secret_value(SecretId=name, SecretBinary=f"{marker}-4".encode())
    sm.get_secret_value(SecretId=name)
    refused = error_of(lambda: sm.create_secret(Name=name, SecretString=f"{marker}-5",
                                                ClientRequestToken=first))
    password = sm.get_random_password(PasswordLength=40)["RandomPassword"]
    sm.batch_get_secret_value(SecretIdList=[name])
    assert marker not in refused["Message"]
    records = trail_records(portside, "secretsmanager.amazonaws.com")
    recorded = json.dumps(records) + portside.log_path.read_text()
    assert marker not in recorded and password not in recorded
    assert base64.b64encode(f"{marker}-4".encode()).decode() not in recorded
    create = next(r for r in records if r["eventName"] == "CreateSecret"
                  and r["requestParameters"]["name"] == name)
    assert create["requestParameters"]["secretString"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    put = next(r for r in records if r["eventName"] == "PutSecretValue"
               and r["requestParameters"]["secretId"] == name
               and "secretBinary" in r["requestParameters"])
    assert put["requestParameters"]["secretBinary"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    random = [r for r in records if r["eventName"] == "GetRandomPassword"]
    assert random and all(r["responseElements"] is None for r in random)


def test_values_are_encrypted_at_rest(portside, sm):
    marker = f"at-rest-{uuid.uuid4().hex}"
    name = unique("disk")
    sm.create_secret(Name=name, SecretString=marker)
    sm.put_secret_value(SecretId=name, SecretBinary=marker.encode() + b"-binary")
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == \
        marker
    time.sleep(0.1)
    on_disk = data_dir_bytes(portside)
    assert name.encode() in on_disk  # the database is what was read
    assert marker.encode() not in on_disk
    key_file = portside.data_dir / "master.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
