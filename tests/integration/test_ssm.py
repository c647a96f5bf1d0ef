"""Parameter Store through boto3 and the AWS CLI: types and overwrites, names and hierarchies,
tiers and value rules, selectors and labels, history, paths and filters with paging, deletes,
tags, IAM, Secrets Manager references; SecureString values kept out of CloudTrail, the log and
the disk."""

from __future__ import annotations

import base64
import json
import time
import uuid

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


@pytest.fixture
def ssm(portside):
    return portside.client("ssm")


def root_path() -> str:
    return "/" + unique("t")


def arn_of(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"


# -- writing -----------------------------------------------------------------------------------

def test_each_type_round_trips_and_versions_count_up(ssm):
    base = root_path()
    put = ssm.put_parameter(Name=f"{base}/s", Value="plain", Type="String")
    assert (put["Version"], put["Tier"]) == (1, "Standard")
    ssm.put_parameter(Name=f"{base}/l", Value="a,b,c", Type="StringList")
    ssm.put_parameter(Name=f"{base}/x", Value="s3cret", Type="SecureString")
    plain = ssm.get_parameter(Name=f"{base}/s")["Parameter"]
    assert (plain["Type"], plain["Value"], plain["Version"]) == ("String", "plain", 1)
    assert plain["ARN"] == arn_of(f"{base}/s") and plain["DataType"] == "text"
    assert ssm.get_parameter(Name=f"{base}/l")["Parameter"]["Value"] == "a,b,c"
    hidden = ssm.get_parameter(Name=f"{base}/x")["Parameter"]["Value"]
    assert hidden != "s3cret" and base64.b64decode(hidden)  # the ciphertext, as AWS shows it
    shown = ssm.get_parameter(Name=f"{base}/x", WithDecryption=True)["Parameter"]
    assert (shown["Type"], shown["Value"]) == ("SecureString", "s3cret")
    assert ssm.put_parameter(Name=f"{base}/s", Value="two", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name=f"{base}/s")["Parameter"]["Type"] == "String"


def test_an_existing_parameter_needs_overwrite(ssm):
    name = f"{root_path()}/p"
    ssm.put_parameter(Name=name, Value="1", Type="String")
    assert error_of(lambda: ssm.put_parameter(Name=name, Value="2", Type="String")) == {
        "Code": "ParameterAlreadyExists", "Message": "The parameter already exists. To "
        "overwrite this value, set the overwrite option in the request to true."}


def test_tags_and_overwrite_cannot_go_together(ssm):
    error = error_of(lambda: ssm.put_parameter(Name=f"{root_path()}/p", Value="1",
                                               Type="String", Overwrite=True,
                                               Tags=[{"Key": "a", "Value": "b"}]))
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("Invalid request: tags and overwrite can't be used "
                                       "together.")


def test_a_new_parameter_needs_a_type(ssm):
    assert error_of(lambda: ssm.put_parameter(Name=f"{root_path()}/p", Value="1"))["Code"] == \
        "ValidationException"


@pytest.mark.parametrize("name, code", [
    ("awsfoo", "AccessDeniedException"), ("/aws/mine", "AccessDeniedException"),
    ("ssm-param", "ValidationException"), ("/SSM/x", "ValidationException"),
    ("no/leading/slash", "ValidationException"), ("has space", "ValidationException"),
    ("/a/" + "/".join(["l"] * 15), "HierarchyLevelLimitExceededException"),
])
def test_names_follow_the_naming_rules(ssm, name, code):
    error = error_of(lambda: ssm.put_parameter(Name=name, Value="1", Type="String"))
    assert error["Code"] == code
    if code == "AccessDeniedException":
        assert error["Message"] == f"No access to reserved parameter name: {name}."


def test_tiers_limit_value_sizes(ssm):
    base = root_path()
    assert ssm.put_parameter(Name=f"{base}/std", Value="x" * 4096, Type="String")["Tier"] == \
        "Standard"
    too_big = error_of(lambda: ssm.put_parameter(Name=f"{base}/big", Value="x" * 4097,
                                                 Type="String"))
    assert too_big["Code"] == "ValidationException"
    assert ssm.put_parameter(Name=f"{base}/adv", Value="x" * 8192, Type="String",
                             Tier="Advanced")["Tier"] == "Advanced"
    assert ssm.put_parameter(Name=f"{base}/auto", Value="x" * 5000, Type="String",
                             Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    downgrade = error_of(lambda: ssm.put_parameter(Name=f"{base}/adv", Value="x",
                                                   Overwrite=True, Tier="Standard"))
    assert "can't downgrade" in downgrade["Message"]
    described = ssm.describe_parameters(ParameterFilters=[
        {"Key": "Path", "Values": [base]}, {"Key": "Tier", "Values": ["Advanced"]}])
    assert sorted(p["Name"] for p in described["Parameters"]) == [f"{base}/adv", f"{base}/auto"]


def test_allowed_pattern_and_data_type_check_the_value(ssm):
    base = root_path()
    ssm.put_parameter(Name=f"{base}/port", Value="8080", Type="String", AllowedPattern=r"^\d+$")
    mismatch = error_of(lambda: ssm.put_parameter(Name=f"{base}/port", Value="http-secret",
                                                  Overwrite=True))
    assert mismatch["Code"] == "ParameterPatternMismatchException"
    assert "http-secret" not in mismatch["Message"]
    ssm.put_parameter(Name=f"{base}/ami", Value="ami-0123456789abcdef0", Type="String",
                      DataType="aws:ec2:image")
    assert ssm.get_parameter(Name=f"{base}/ami")["Parameter"]["DataType"] == "aws:ec2:image"
    assert error_of(lambda: ssm.put_parameter(Name=f"{base}/ami2", Value="nope", Type="String",
                                              DataType="aws:ec2:image"))["Code"] == \
        "ValidationException"


def test_parameter_policies_are_refused_rather_than_ignored(ssm):
    expiry = json.dumps([{"Type": "Expiration", "Version": "1.0",
                          "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}])
    error = error_of(lambda: ssm.put_parameter(Name=f"{root_path()}/p", Value="1", Type="String",
                                               Tier="Advanced", Policies=expiry))
    assert error["Code"] == "ValidationException" and "portside" in error["Message"]


def test_the_oldest_of_100_versions_goes_unless_a_label_holds_it(ssm):
    name = f"{root_path()}/many"
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    for i in range(2, 101):
        ssm.put_parameter(Name=name, Value=f"v{i}", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["keep"])
    assert ssm.put_parameter(Name=name, Value="v101", Overwrite=True)["Version"] == 101
    assert error_of(lambda: ssm.get_parameter(Name=f"{name}:1"))["Code"] == \
        "ParameterVersionNotFound"
    error = error_of(lambda: ssm.put_parameter(Name=name, Value="v102", Overwrite=True))
    assert error["Code"] == "ParameterMaxVersionLimitExceeded"
    assert "Version 2, the oldest version, can't be deleted" in error["Message"]


# -- selectors, labels, history ----------------------------------------------------------------

def test_selectors_pick_a_version_or_a_label(ssm):
    name = f"{root_path()}/sel"
    for value in ("one", "two", "three"):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod"])
    by_version = ssm.get_parameter(Name=f"{name}:2", WithDecryption=True)["Parameter"]
    assert (by_version["Value"], by_version["Version"], by_version["Selector"]) == \
        ("two", 2, ":2")
    by_label = ssm.get_parameter(Name=f"{name}:prod", WithDecryption=True)["Parameter"]
    assert (by_label["Value"], by_label["Selector"]) == ("one", ":prod")
    by_arn = ssm.get_parameter(Name=f"{arn_of(name)}:prod", WithDecryption=True)["Parameter"]
    assert by_arn["Value"] == "one"
    assert error_of(lambda: ssm.get_parameter(Name=f"{name}:9")) == {
        "Code": "ParameterVersionNotFound", "Message": f"Systems Manager could not find version "
        f"9 of {name}. Verify the version and try again."}
    assert error_of(lambda: ssm.get_parameter(Name=f"{name}:nolabel"))["Code"] == \
        "ParameterVersionNotFound"
    missing = error_of(lambda: ssm.get_parameter(Name=f"{name}-none"))
    assert missing["Code"] == "ParameterNotFound"


def test_get_parameters_reports_what_it_cannot_find(ssm):
    base = root_path()
    ssm.put_parameter(Name=f"{base}/a", Value="A", Type="String")
    ssm.put_parameter(Name=f"{base}/b", Value="B", Type="SecureString")
    found = ssm.get_parameters(Names=[f"{base}/a", f"{base}/b:1", f"{base}/c", f"{base}/a:7"],
                               WithDecryption=True)
    assert [(p["Name"], p["Value"]) for p in found["Parameters"]] == [(f"{base}/a", "A"),
                                                                      (f"{base}/b", "B")]
    assert found["Parameters"][1]["Selector"] == ":1"
    assert found["InvalidParameters"] == [f"{base}/c", f"{base}/a:7"]


def test_labels_move_and_follow_the_label_rules(ssm):
    name = f"{root_path()}/lab"
    ssm.put_parameter(Name=name, Value="1", Type="String")
    ssm.put_parameter(Name=name, Value="2", Type="String", Overwrite=True)
    answer = ssm.label_parameter_version(Name=name, ParameterVersion=1,
                                         Labels=["live", "1st", "aws-x", "ok_label"])
    assert answer["InvalidLabels"] == ["1st", "aws-x"] and answer["ParameterVersion"] == 1
    moved = ssm.label_parameter_version(Name=name, Labels=["live"])
    assert moved["ParameterVersion"] == 2 and "InvalidLabels" not in moved
    history = {h["Version"]: h.get("Labels", []) for h in
               ssm.get_parameter_history(Name=name)["Parameters"]}
    assert history == {1: ["ok_label"], 2: ["live"]}
    many = [f"l{i}" for i in range(10)]
    error = error_of(lambda: ssm.label_parameter_version(Name=name, ParameterVersion=2,
                                                         Labels=many))
    assert error["Code"] == "ParameterVersionLabelLimitExceeded"
    unlabelled = ssm.unlabel_parameter_version(Name=name, ParameterVersion=2,
                                               Labels=["live", "absent"])
    assert unlabelled["RemovedLabels"] == ["live"] and unlabelled["InvalidLabels"] == ["absent"]
    assert error_of(lambda: ssm.label_parameter_version(Name=name, ParameterVersion=5,
                                                        Labels=["x"]))["Code"] == \
        "ParameterVersionNotFound"


def test_history_lists_every_version_and_pages(ssm):
    name = f"{root_path()}/hist"
    for i in range(1, 6):
        ssm.put_parameter(Name=name, Value=f"v{i}", Type="SecureString", Overwrite=True,
                          Description=f"d{i}")
    seen, next_token = [], None
    while True:
        page = ssm.get_parameter_history(Name=name, WithDecryption=True, MaxResults=2,
                                         **({"NextToken": next_token} if next_token else {}))
        seen += [(h["Version"], h["Value"], h["Description"]) for h in page["Parameters"]]
        next_token = page.get("NextToken")
        if not next_token:
            break
    assert seen == [(i, f"v{i}", f"d{i}") for i in range(1, 6)]
    entry = ssm.get_parameter_history(Name=name)["Parameters"][0]
    assert entry["KeyId"] == "alias/aws/ssm" and entry["Value"] != "v1"
    assert entry["LastModifiedUser"] == f"arn:aws:iam::{ACCOUNT}:root"


# -- paths and descriptions --------------------------------------------------------------------

def test_parameters_by_path_one_level_or_recursive_with_paging(ssm):
    base = root_path()
    names = [f"{base}/a", f"{base}/b", f"{base}/c", f"{base}/sub/d", f"{base}/sub/deeper/e"]
    for n in names:
        ssm.put_parameter(Name=n, Value=n[-1], Type="String")
    top = ssm.get_parameters_by_path(Path=base)["Parameters"]
    assert [p["Name"] for p in top] == names[:3]
    seen, next_token = [], None
    while True:
        page = ssm.get_parameters_by_path(Path=base + "/", Recursive=True, MaxResults=2,
                                          **({"NextToken": next_token} if next_token else {}))
        assert len(page["Parameters"]) <= 2
        seen += [p["Name"] for p in page["Parameters"]]
        next_token = page.get("NextToken")
        if not next_token:
            break
    assert seen == names
    assert error_of(lambda: ssm.get_parameters_by_path(Path="no-slash"))["Code"] == \
        "ValidationException"
    assert error_of(lambda: ssm.get_parameters_by_path(Path=base, MaxResults=11))["Code"] == \
        "ValidationException"
    assert error_of(lambda: ssm.get_parameters_by_path(Path=base, NextToken="junk"))["Code"] == \
        "InvalidNextToken"


def test_parameters_by_path_filters_and_decrypts(ssm):
    base = root_path()
    ssm.put_parameter(Name=f"{base}/plain", Value="p", Type="String")
    ssm.put_parameter(Name=f"{base}/secret", Value="s", Type="SecureString")
    ssm.put_parameter(Name=f"{base}/secret", Value="s2", Overwrite=True)
    ssm.label_parameter_version(Name=f"{base}/secret", ParameterVersion=1, Labels=["stable"])
    secure = ssm.get_parameters_by_path(Path=base, WithDecryption=True, ParameterFilters=[
        {"Key": "Type", "Values": ["SecureString"]}])["Parameters"]
    assert [(p["Name"], p["Value"]) for p in secure] == [(f"{base}/secret", "s2")]
    stable = ssm.get_parameters_by_path(Path=base, WithDecryption=True, ParameterFilters=[
        {"Key": "Label", "Values": ["stable"]}])["Parameters"]
    assert [(p["Name"], p["Value"], p["Version"]) for p in stable] == [(f"{base}/secret", "s", 1)]
    assert error_of(lambda: ssm.get_parameters_by_path(Path=base, ParameterFilters=[
        {"Key": "Name", "Values": ["x"]}]))["Code"] == "InvalidFilterKey"


def test_describe_parameters_filters_and_pages(ssm):
    base = root_path()
    ssm.put_parameter(Name=f"{base}/db/user", Value="u", Type="String",
                      Tags=[{"Key": "team", "Value": "data"}], Description="the user")
    ssm.put_parameter(Name=f"{base}/db/pass", Value="p", Type="SecureString", KeyId="alias/mine")
    ssm.put_parameter(Name=f"{base}/web", Value="w", Type="StringList")

    def described(*filters, **kwargs):
        return [p["Name"] for p in ssm.describe_parameters(ParameterFilters=list(filters),
                                                           **kwargs)["Parameters"]]

    under = {"Key": "Path", "Option": "Recursive", "Values": [base]}
    assert described(under) == [f"{base}/db/pass", f"{base}/db/user", f"{base}/web"]
    assert described({"Key": "Path", "Values": [base]}) == [f"{base}/web"]
    assert described(under, {"Key": "Type", "Values": ["SecureString"]}) == [f"{base}/db/pass"]
    assert described(under, {"Key": "KeyId", "Values": ["alias/mine"]}) == [f"{base}/db/pass"]
    assert described(under, {"Key": "tag:team", "Values": ["data"]}) == [f"{base}/db/user"]
    assert described(under, {"Key": "tag:team"}) == [f"{base}/db/user"]
    assert described({"Key": "Name", "Option": "BeginsWith", "Values": [f"{base}/db"]}) == \
        [f"{base}/db/pass", f"{base}/db/user"]
    assert described({"Key": "Name", "Values": [f"{base}/web"]}) == [f"{base}/web"]
    legacy = ssm.describe_parameters(Filters=[{"Key": "Name", "Values": [f"{base}/db"]}])
    assert [p["Name"] for p in legacy["Parameters"]] == [f"{base}/db/pass", f"{base}/db/user"]
    meta = ssm.describe_parameters(ParameterFilters=[
        {"Key": "Name", "Values": [f"{base}/db/user"]}])["Parameters"][0]
    assert meta["Description"] == "the user" and meta["Version"] == 1
    assert meta["ARN"] == arn_of(f"{base}/db/user") and "Value" not in meta
    paged, next_token = [], None
    while True:
        page = ssm.describe_parameters(ParameterFilters=[under], MaxResults=1,
                                       **({"NextToken": next_token} if next_token else {}))
        paged += [p["Name"] for p in page["Parameters"]]
        next_token = page.get("NextToken")
        if not next_token:
            break
    assert paged == described(under)
    both = error_of(lambda: ssm.describe_parameters(
        Filters=[{"Key": "Name", "Values": ["x"]}],
        ParameterFilters=[{"Key": "Name", "Values": ["x"]}]))
    assert both["Code"] == "ValidationException"
    assert error_of(lambda: described({"Key": "Path", "Option": "Equals",
                                       "Values": [base]}))["Code"] == "InvalidFilterOption"


# -- deleting and tags -------------------------------------------------------------------------

def test_deleting_one_or_many(ssm):
    base = root_path()
    for n in ("a", "b"):
        ssm.put_parameter(Name=f"{base}/{n}", Value=n, Type="String")
    ssm.delete_parameter(Name=f"{base}/a")
    assert error_of(lambda: ssm.delete_parameter(Name=f"{base}/a"))["Code"] == "ParameterNotFound"
    answer = ssm.delete_parameters(Names=[f"{base}/b", f"{base}/z"])
    assert answer["DeletedParameters"] == [f"{base}/b"]
    assert answer["InvalidParameters"] == [f"{base}/z"]
    ssm.put_parameter(Name=f"{base}/a", Value="again", Type="String")
    assert ssm.get_parameter(Name=f"{base}/a")["Parameter"]["Version"] == 1


def test_tags_of_parameters(ssm):
    name = f"{root_path()}/tagged"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "a", "Value": "1"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                             Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
    listed = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert listed == [{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["a"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"] == \
        [{"Key": "b", "Value": "3"}]
    assert error_of(lambda: ssm.list_tags_for_resource(
        ResourceType="Parameter", ResourceId=name + "-none"))["Code"] == "InvalidResourceId"
    assert error_of(lambda: ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=name,
        Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]))["Code"] == "TooManyTagsError"
    assert error_of(lambda: ssm.list_tags_for_resource(
        ResourceType="Document", ResourceId="doc"))["Code"] == "InvalidResourceType"


# -- IAM ---------------------------------------------------------------------------------------

def test_iam_scopes_parameters_by_their_arn(portside, ssm):
    base = root_path()
    ssm.put_parameter(Name=f"{base}/app/key", Value="k", Type="SecureString")
    ssm.put_parameter(Name=f"{base}/other/key", Value="o", Type="String")
    _, key = new_user(portside, policy({
        "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters",
                                      "ssm:GetParametersByPath"],
        "Resource": arn_of(f"{base}/app") + "*"}))
    theirs = client_as(portside, "ssm", key)
    assert theirs.get_parameter(Name=f"{base}/app/key", WithDecryption=True)["Parameter"][
        "Value"] == "k"
    denied = error_of(lambda: theirs.get_parameter(Name=f"{base}/other/key"))
    assert denied["Code"] == "AccessDeniedException"
    assert f"ssm:GetParameter on resource: {arn_of(f'{base}/other/key')}" in denied["Message"]
    assert error_of(lambda: theirs.get_parameters(
        Names=[f"{base}/app/key", f"{base}/other/key"]))["Code"] == "AccessDeniedException"
    assert [p["Name"] for p in theirs.get_parameters_by_path(Path=f"{base}/app")[
        "Parameters"]] == [f"{base}/app/key"]
    assert error_of(lambda: theirs.get_parameters_by_path(Path=base))["Code"] == \
        "AccessDeniedException"
    assert error_of(lambda: theirs.put_parameter(Name=f"{base}/app/new", Value="x",
                                                 Type="String"))["Code"] == \
        "AccessDeniedException"


def test_tag_conditions_apply_to_parameters(portside, ssm):
    base = root_path()
    ssm.put_parameter(Name=f"{base}/dev", Value="d", Type="String",
                      Tags=[{"Key": "env", "Value": "dev"}])
    ssm.put_parameter(Name=f"{base}/prod", Value="p", Type="String")
    _, key = new_user(portside, policy({
        "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/env": "dev"}}}))
    theirs = client_as(portside, "ssm", key)
    assert theirs.get_parameter(Name=f"{base}/dev")["Parameter"]["Value"] == "d"
    assert error_of(lambda: theirs.get_parameter(Name=f"{base}/prod"))["Code"] == \
        "AccessDeniedException"


# -- Secrets Manager references ----------------------------------------------------------------

def test_secrets_manager_secrets_read_through_parameter_store(portside, ssm):
    secret = unique("referenced")
    portside.client("secretsmanager").create_secret(Name=secret, SecretString="via-ssm")
    reference = f"/aws/reference/secretsmanager/{secret}"
    shown = ssm.get_parameter(Name=reference, WithDecryption=True)["Parameter"]
    assert (shown["Value"], shown["Type"], shown["Version"]) == ("via-ssm", "SecureString", 0)
    assert json.loads(shown["SourceResult"])["Name"] == secret
    error = error_of(lambda: ssm.get_parameter(Name=reference))
    assert error == {"Code": "ValidationException", "Message": "WithDecryption flag must be True "
                     "for retrieving a Secret Manager secret."}
    assert error_of(lambda: ssm.get_parameters(Names=[reference]))["Code"] == \
        "ValidationException"
    both = ssm.get_parameters(Names=[reference, "/aws/reference/secretsmanager/none"],
                              WithDecryption=True)
    assert [p["Value"] for p in both["Parameters"]] == ["via-ssm"]
    assert both["InvalidParameters"] == ["/aws/reference/secretsmanager/none"]
    _, key = new_user(portside, policy({"Effect": "Allow", "Action": "ssm:GetParameter",
                                        "Resource": "*"}))
    denied = error_of(lambda: client_as(portside, "ssm", key).get_parameter(
        Name=reference, WithDecryption=True))
    assert denied["Code"] == "AccessDeniedException"
    assert "secretsmanager:GetSecretValue" in denied["Message"]


# -- the AWS CLI -------------------------------------------------------------------------------

def test_the_aws_cli_puts_gets_and_lists_parameters(portside):
    base = root_path()
    put = aws(portside, "ssm", "put-parameter", "--name", f"{base}/cli", "--value", "from-cli",
              "--type", "SecureString")
    assert put["Version"] == 1
    got = aws(portside, "ssm", "get-parameter", "--name", f"{base}/cli", "--with-decryption")
    assert got["Parameter"]["Value"] == "from-cli"
    for i in range(3):
        aws(portside, "ssm", "put-parameter", "--name", f"{base}/many/{i}", "--value", str(i),
            "--type", "String")
    listed = aws(portside, "ssm", "get-parameters-by-path", "--path", f"{base}/many",
                 "--page-size", "1")
    assert [p["Value"] for p in listed["Parameters"]] == ["0", "1", "2"]
    described = aws(portside, "ssm", "describe-parameters", "--parameter-filters",
                    f"Key=Path,Option=Recursive,Values={base}")
    assert len(described["Parameters"]) == 4


# -- SecureString values stay secret -----------------------------------------------------------

def test_values_never_reach_cloudtrail_the_log_or_error_messages(portside, ssm):
    marker = f"ssm-secret-{uuid.uuid4().hex}"
    name = f"{root_path()}/hidden"
    ssm.put_parameter(Name=name, Value=f"{marker}-1", Type="SecureString")
    ssm.put_parameter(Name=name, Value=f"{marker}-2", Overwrite=True, AllowedPattern="^ssm.*")
    ssm.get_parameter(Name=name, WithDecryption=True)
    ssm.get_parameters(Names=[name], WithDecryption=True)
    ssm.get_parameter_history(Name=name, WithDecryption=True)
    refused = error_of(lambda: ssm.put_parameter(Name=name, Value=f"x-{marker}", Overwrite=True))
    assert marker not in refused["Message"]
    records = trail_records(portside, "ssm.amazonaws.com")
    recorded = json.dumps(records) + portside.log_path.read_text()
    assert marker not in recorded
    put = next(r for r in records if r["eventName"] == "PutParameter"
               and r["requestParameters"]["name"] == name)
    assert put["requestParameters"]["value"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    gets = [r for r in records if r["eventName"] == "GetParameter"
            and r["requestParameters"]["name"] == name]
    assert gets and all(r["responseElements"] is None for r in gets)


def test_secure_strings_are_encrypted_at_rest_and_strings_are_not(portside, ssm):
    marker = f"ssm-at-rest-{uuid.uuid4().hex}"
    base = root_path()
    ssm.put_parameter(Name=f"{base}/secure", Value=marker, Type="SecureString")
    ssm.put_parameter(Name=f"{base}/plain", Value=f"plain-{marker}", Type="String")
    time.sleep(0.1)
    on_disk = data_dir_bytes(portside)
    assert f"plain-{marker}".encode() in on_disk  # a String is stored as it is, as in AWS
    assert on_disk.count(marker.encode()) == on_disk.count(f"plain-{marker}".encode())
