"""IAM through boto3 against a real server: each operation family, paging, AWS's errors, and
access keys that really authenticate."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from server import ACCOUNT

ALLOW_S3 = {"Version": "2012-10-17", "Statement": [
    {"Sid": "S3", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
DENY_DELETE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}
TRUST_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
     "Action": "sts:AssumeRole"}]}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def iam(portside):
    return portside.client("iam")


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


# -- users -------------------------------------------------------------------------------

def test_user_lifecycle_with_path_tags_and_rename(iam):
    name = unique("alice")
    user = iam.create_user(UserName=name, Path="/eng/", Tags=[{"Key": "team", "Value": "a"}])
    created = user["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/{name}"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    got = iam.get_user(UserName=name.upper())["User"]  # names are case-insensitive
    assert got["UserName"] == name and got["Tags"] == [{"Key": "team", "Value": "a"}]

    renamed = unique("bob")
    iam.update_user(UserName=name, NewUserName=renamed, NewPath="/ops/")
    got = iam.get_user(UserName=renamed)["User"]
    assert got["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/{renamed}"
    assert got["UserId"] == created["UserId"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=name)
    iam.delete_user(UserName=renamed)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as info:
        iam.delete_user(UserName=renamed)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_user_names_are_unique_without_regard_to_case(iam):
    name = unique("Carol")
    iam.create_user(UserName=name)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as info:
        iam.create_user(UserName=name.lower())
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_list_users_filters_by_path_prefix_and_pages(iam):
    path = f"/{unique('p')}/"
    names = sorted(unique("u") for _ in range(5))
    for name in names:
        iam.create_user(UserName=name, Path=path)
    iam.create_user(UserName=unique("elsewhere"))
    first = iam.list_users(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in first["Users"]] == names[:2]
    paginator = iam.get_paginator("list_users")
    listed = [u["UserName"] for page in paginator.paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 2}) for u in page["Users"]]
    assert listed == names


def test_a_made_up_marker_is_invalid_input(iam):
    with pytest.raises(iam.exceptions.InvalidInputException):
        iam.list_users(Marker="not-a-marker")


def test_get_user_without_a_name_answers_for_the_calling_user(portside, iam):
    name = unique("self")
    iam.create_user(UserName=name, Path="/staff/")
    own = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetUser", "iam:ListAccessKeys"],
         "Resource": "arn:aws:iam::*:user/staff/${aws:username}"}]}
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps(own))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = portside.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert as_user.get_user()["User"]["UserName"] == name
    assert [k["AccessKeyId"] for k in as_user.list_access_keys()["AccessKeyMetadata"]] == [
        key["AccessKeyId"]]
    other = unique("other")
    iam.create_user(UserName=other, Path="/staff/")
    with pytest.raises(ClientError) as info:
        as_user.get_user(UserName=other)  # the policy names the caller's own ARN only
    assert code(info) == "AccessDenied"


# -- groups ------------------------------------------------------------------------------

def test_groups_hold_users_and_refuse_deletion_while_they_do(iam):
    group, user = unique("devs"), unique("dana")
    created = iam.create_group(GroupName=group, Path="/g/")["Group"]
    assert created["GroupId"].startswith("AGPA")
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/g/{group}"
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)  # again: no change
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert group in [g["GroupName"] for g in iam.list_groups(PathPrefix="/g/")["Groups"]]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_group(GroupName=group)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=user)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    assert iam.list_groups_for_user(UserName=user)["Groups"] == []
    iam.delete_group(GroupName=group)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_group(GroupName=group)


# -- roles -------------------------------------------------------------------------------

def test_role_lifecycle(iam):
    name = unique("app")
    role = iam.create_role(RoleName=name, Path="/service/",
                           AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT),
                           Description="the app", MaxSessionDuration=7200)["Role"]
    assert role["RoleId"].startswith("AROA")
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service/{name}"
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == TRUST_ACCOUNT  # URL-encoded on the wire
    assert (got["Description"], got["MaxSessionDuration"]) == ("the app", 7200)

    iam.update_role(RoleName=name, Description="changed", MaxSessionDuration=43200)
    trust = {**TRUST_ACCOUNT, "Statement": [
        {**TRUST_ACCOUNT["Statement"][0], "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("changed", 43200)
    assert got["AssumeRolePolicyDocument"] == trust
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/service/")["Roles"]]
    iam.delete_role(RoleName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=name)


def test_role_max_session_duration_is_at_most_twelve_hours(iam):
    with pytest.raises(ClientError) as info:
        iam.create_role(RoleName=unique("long"), MaxSessionDuration=43201,
                        AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    assert code(info) == "ValidationError"


@pytest.mark.parametrize("document", [
    "not json",
    json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole"}]}),  # a trust policy names principals
])
def test_malformed_trust_policies_are_refused(iam, document):
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument=document)


# -- access keys -------------------------------------------------------------------------

def test_a_users_access_key_works_until_made_inactive(portside, iam):
    name = unique("erin")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    sts = portside.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    identity = sts.get_caller_identity()
    assert identity["Arn"] == user["Arn"] and identity["UserId"] == user["UserId"]

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [
        (key["AccessKeyId"], "Inactive")]
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert code(info) == "InvalidClientTokenId"

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"] == user["Arn"]
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert code(info) == "InvalidClientTokenId"


def test_a_user_has_at_most_two_access_keys(iam):
    name = unique("frank")
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    iam.create_access_key(UserName=name)
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_access_key(UserName=name)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.update_access_key(UserName=name, AccessKeyId="AKIAAAAAAAAAAAAAAAAA",
                              Status="Inactive")
    iam.delete_access_key(UserName=name, AccessKeyId=first["AccessKeyId"])
    assert len(iam.list_access_keys(UserName=name)["AccessKeyMetadata"]) == 1


def test_access_key_last_used_says_never_before_first_use(iam):
    name = unique("gina")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    got = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert got["UserName"] == name
    assert got["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}


def test_access_key_last_used_follows_the_keys_requests(portside, iam):
    name = unique("hank")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    portside.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"],
                    region="eu-west-1").get_caller_identity()
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("sts", "eu-west-1")
    assert "LastUsedDate" in used


# -- managed policies --------------------------------------------------------------------

def test_managed_policy_versions(iam):
    name = unique("s3")
    policy = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(ALLOW_S3),
                               Description="s3", Tags=[{"Key": "k", "Value": "v"}])["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    assert policy["PolicyId"].startswith("ANPA") and policy["DefaultVersionId"] == "v1"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == ALLOW_S3 and version["IsDefaultVersion"] is True

    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DENY_DELETE))
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DENY_DELETE))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]

    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    made = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ALLOW_S3),
                                     SetAsDefault=True)["PolicyVersion"]
    assert made["VersionId"] == "v6"  # version ids are not reused
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v6"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy_version(PolicyArn=arn, VersionId="v5")

    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)  # it has non-default versions
    for version_id in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version_id)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)


def test_malformed_and_oversized_policies_are_refused(iam):
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as info:
        iam.create_policy(PolicyName=unique("bad"), PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}))
    assert "actions" in info.value.response["Error"]["Message"]
    big = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"s3:Get{i:05d}" for i in range(500)], "Resource": "*"}]}
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_policy(PolicyName=unique("big"), PolicyDocument=json.dumps(big))


def test_policy_names_are_unique_in_the_account(iam):
    name = unique("dup")
    iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(ALLOW_S3))
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_policy(PolicyName=name.upper(), Path="/other/",
                          PolicyDocument=json.dumps(ALLOW_S3))


def test_attached_policies_block_deletion_and_count(iam):
    user, role = unique("ivy"), unique("svc")
    iam.create_user(UserName=user)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    arn = iam.create_policy(PolicyName=unique("att"), Path="/team/",
                            PolicyDocument=json.dumps(ALLOW_S3))["Policy"]["Arn"]
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=admin)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == {arn, admin}
    under_team = iam.list_attached_role_policies(RoleName=role, PathPrefix="/team/")
    assert [p["PolicyArn"] for p in under_team["AttachedPolicies"]] == [arn]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    only_attached = iam.get_paginator("list_policies").paginate(Scope="Local", OnlyAttached=True)
    assert arn in [p["Arn"] for page in only_attached for p in page["Policies"]]

    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName=role)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_user_policy(UserName=user, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/none")
    for detach in (lambda: iam.detach_user_policy(UserName=user, PolicyArn=arn),
                   lambda: iam.detach_role_policy(RoleName=role, PolicyArn=arn),
                   lambda: iam.detach_role_policy(RoleName=role, PolicyArn=admin)):
        detach()
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.detach_role_policy(RoleName=role, PolicyArn=admin)
    iam.delete_policy(PolicyArn=arn)
    iam.delete_role(RoleName=role)


def test_list_policies_by_scope(iam):
    aws = [p["Arn"] for page in iam.get_paginator("list_policies").paginate(Scope="AWS")
           for p in page["Policies"]]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in aws
    assert ("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy" in aws)
    assert all(a.startswith("arn:aws:iam::aws:policy/") for a in aws)
    local = iam.list_policies(Scope="Local", MaxItems=1000)["Policies"]
    assert all(f":{ACCOUNT}:" in p["Arn"] for p in local)
    with pytest.raises(ClientError) as info:
        iam.delete_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert code(info) == "UnmodifiableEntity"


# -- inline policies ---------------------------------------------------------------------

@pytest.mark.parametrize("noun", ["user", "group", "role"])
def test_inline_policies_of_users_groups_and_roles(iam, noun):
    name = unique(noun)
    member = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[noun]
    if noun == "role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    else:
        getattr(iam, f"create_{noun}")(**{member: name})
    cap = noun.capitalize()
    put = getattr(iam, f"put_{noun}_policy")
    put(**{member: name}, PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
    put(**{member: name}, PolicyName="deny", PolicyDocument=json.dumps(DENY_DELETE))
    got = getattr(iam, f"get_{noun}_policy")(**{member: name}, PolicyName="S3")
    assert (got[member], got["PolicyName"], got["PolicyDocument"]) == (name, "s3", ALLOW_S3)
    listed = getattr(iam, f"list_{noun}_policies")(**{member: name}, MaxItems=1)
    assert listed["PolicyNames"] == ["deny"] and listed["IsTruncated"] is True
    with pytest.raises(iam.exceptions.DeleteConflictException):
        getattr(iam, f"delete_{noun}")(**{member: name})
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        put(**{member: name}, PolicyName="bad", PolicyDocument="{}")
    for policy in ("s3", "deny"):
        getattr(iam, f"delete_{noun}_policy")(**{member: name}, PolicyName=policy)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as info:
        getattr(iam, f"get_{noun}_policy")(**{member: name}, PolicyName="s3")
    assert f"{noun} policy with name s3" in info.value.response["Error"]["Message"]
    assert cap and getattr(iam, f"list_{noun}_policies")(**{member: name})["PolicyNames"] == []
    getattr(iam, f"delete_{noun}")(**{member: name})


def test_inline_policies_of_a_user_share_its_size_quota(iam):
    name = unique("quota")
    iam.create_user(UserName=name)
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"s3:Get{i:04d}" for i in range(80)], "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="one", PolicyDocument=json.dumps(doc))
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.put_user_policy(UserName=name, PolicyName="two", PolicyDocument=json.dumps(doc))


# -- tags and permissions boundaries -----------------------------------------------------

@pytest.mark.parametrize("noun", ["user", "role", "policy"])
def test_tags_of_users_roles_and_policies(iam, noun):
    name = unique(noun)
    if noun == "user":
        iam.create_user(UserName=name)
        target = {"UserName": name}
    elif noun == "role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
        target = {"RoleName": name}
    else:
        arn = iam.create_policy(PolicyName=name,
                                PolicyDocument=json.dumps(ALLOW_S3))["Policy"]["Arn"]
        target = {"PolicyArn": arn}
    cap = noun.capitalize()
    tag, untag = getattr(iam, f"tag_{noun}"), getattr(iam, f"untag_{noun}")
    tag(**target, Tags=[{"Key": "Env", "Value": "dev"}, {"Key": "team", "Value": "a"}])
    tag(**target, Tags=[{"Key": "env", "Value": "prod"}])  # keys are case-insensitive
    listed = getattr(iam, f"list_{noun}_tags")(**target)["Tags"]
    assert listed == [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a"}]
    untag(**target, TagKeys=["TEAM", "absent"])
    assert getattr(iam, f"list_{noun}_tags")(**target, MaxItems=5)["Tags"] == [
        {"Key": "env", "Value": "prod"}]
    with pytest.raises(iam.exceptions.InvalidInputException):
        tag(**target, Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    with pytest.raises(iam.exceptions.LimitExceededException):
        tag(**target, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert cap


def test_permissions_boundaries(iam):
    user, role = unique("jay"), unique("bounded")
    boundary = iam.create_policy(PolicyName=unique("boundary"),
                                 PolicyDocument=json.dumps(ALLOW_S3))["Policy"]["Arn"]
    created = iam.create_user(UserName=user, PermissionsBoundary=boundary)["User"]
    assert created["PermissionsBoundary"] == {"PermissionsBoundaryType": "Policy",
                                              "PermissionsBoundaryArn": boundary}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ACCOUNT))
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=boundary)
    assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"][
        "PermissionsBoundaryArn"] == boundary
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 2
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=boundary)
    iam.delete_role_permissions_boundary(RoleName=role)
    iam.delete_user_permissions_boundary(UserName=user)
    assert "PermissionsBoundary" not in iam.get_user(UserName=user)["User"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.put_user_permissions_boundary(
            UserName=user, PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/none")
    iam.delete_policy(PolicyArn=boundary)


# -- authorization details and simulation --------------------------------------------------

def test_account_authorization_details_by_filter_and_page(iam):
    user, group = unique("kim"), unique("readers")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
    iam.attach_group_policy(GroupName=group,
                            PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    details = iam.get_account_authorization_details(Filter=["User", "AWSManagedPolicy"])
    assert details["GroupDetailList"] == [] and details["RoleDetailList"] == []
    mine = next(u for u in details["UserDetailList"] if u["UserName"] == user)
    assert mine["GroupList"] == [group]
    assert mine["UserPolicyList"] == [{"PolicyName": "s3", "PolicyDocument": ALLOW_S3}]
    assert "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" in [
        p["Arn"] for p in details["Policies"]]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" not in [
        p["Arn"] for p in details["Policies"]]  # AWS managed policies only where attached
    pages = list(iam.get_paginator("get_account_authorization_details").paginate(
        PaginationConfig={"PageSize": 1}))
    groups = [g["GroupName"] for p in pages for g in p["GroupDetailList"]]
    assert groups.count(group) == 1


def test_simulate_principal_policy_uses_user_group_and_boundary_policies(iam):
    user, group = unique("lee"), unique("ops")
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
    iam.put_user_policy(UserName=user, PolicyName="deny", PolicyDocument=json.dumps(DENY_DELETE))
    results = iam.simulate_principal_policy(
        PolicySourceArn=user_arn,
        ActionNames=["s3:GetObject", "s3:DeleteObject", "sqs:SendMessage"])["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    assert decisions == {"s3:GetObject": "allowed", "s3:DeleteObject": "explicitDeny",
                         "sqs:SendMessage": "implicitDeny"}
    allowed = results[0]["MatchedStatements"]
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in allowed] == [("s3", "group")]
    assert allowed[0]["StartPosition"]["Line"] == 1

    boundary = iam.create_policy(PolicyName=unique("b"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=boundary)
    result = iam.simulate_principal_policy(PolicySourceArn=user_arn,
                                           ActionNames=["s3:GetObject"])["EvaluationResults"][0]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_simulate_custom_policy_with_conditions_resources_and_resource_policy(iam):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::in/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    def simulate(**kwargs):
        return iam.simulate_custom_policy(PolicyInputList=[json.dumps(policy)],
                                          ActionNames=["s3:GetObject"], **kwargs)[
            "EvaluationResults"][0]
    inside = [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"],
               "ContextKeyType": "ip"}]
    outside = [{**inside[0], "ContextKeyValues": ["192.168.0.1"]}]
    assert simulate(ResourceArns=["arn:aws:s3:::in/k"],
                    ContextEntries=inside)["EvalDecision"] == "allowed"
    assert simulate(ResourceArns=["arn:aws:s3:::in/k"],
                    ContextEntries=outside)["EvalDecision"] == "implicitDeny"
    both = simulate(ResourceArns=["arn:aws:s3:::in/k", "arn:aws:s3:::out/k"],
                    ContextEntries=inside)
    assert both["EvalDecision"] == "implicitDeny"  # the most restrictive over the resources
    assert [(r["EvalResourceName"], r["EvalResourceDecision"])
            for r in both["ResourceSpecificResults"]] == [
        ("arn:aws:s3:::in/k", "allowed"), ("arn:aws:s3:::out/k", "implicitDeny")]
    assert both["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"

    user_arn = iam.create_user(UserName=unique("caller"))["User"]["Arn"]
    bucket_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::in/*"}]}
    denied = simulate(ResourceArns=["arn:aws:s3:::in/k"], ContextEntries=inside,
                      ResourcePolicy=json.dumps(bucket_policy), CallerArn=user_arn)
    assert denied["EvalDecision"] == "explicitDeny"
    assert denied["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    with pytest.raises(iam.exceptions.InvalidInputException):
        iam.simulate_custom_policy(PolicyInputList=["{}"], ActionNames=["s3:GetObject"])
