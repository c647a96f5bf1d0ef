"""S3 under IAM: the action table and condition keys at work, bucket policies (validated, and
granting another account), and bucket tags."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from s3_helpers import unique
from server import PortsideServer


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


def user_client(server, policy: dict, account_key: str = "test", account_secret: str = "test"):
    iam = server.client("iam", key=account_key, secret=account_secret)
    name = unique("u")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return server.client("s3", key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def test_a_user_allowed_only_get_object_on_a_prefix(portside):
    s3 = portside.client("s3")
    bucket, other = unique("in"), unique("out")
    for name in (bucket, other):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="incoming/a.csv", Body=b"data")
        s3.put_object(Bucket=name, Key="private/b.csv", Body=b"secret")
    reader = user_client(portside, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/incoming/*"}]})
    assert reader.get_object(Bucket=bucket, Key="incoming/a.csv")["Body"].read() == b"data"
    for call in (lambda: reader.list_objects_v2(Bucket=bucket),
                 lambda: reader.put_object(Bucket=bucket, Key="incoming/new", Body=b"x"),
                 lambda: reader.get_object(Bucket=bucket, Key="private/b.csv"),
                 lambda: reader.get_object(Bucket=other, Key="incoming/a.csv"),
                 lambda: reader.delete_objects(Bucket=bucket, Delete={"Objects": [
                     {"Key": "incoming/a.csv"}]}),
                 lambda: reader.list_buckets()):
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "AccessDenied"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_list_bucket_with_an_s3_prefix_condition(portside):
    s3 = portside.client("s3")
    bucket = unique("cond")
    s3.create_bucket(Bucket=bucket)
    lister = user_client(portside, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringLike": {"s3:prefix": "home/*"}}}]})
    lister.list_objects_v2(Bucket=bucket, Prefix="home/me/")
    with pytest.raises(ClientError) as info:
        lister.list_objects_v2(Bucket=bucket, Prefix="etc/")
    assert code(info) == "AccessDenied"


def test_bucket_policy_round_trip_and_validation(portside):
    s3 = portside.client("s3")
    bucket = unique("pol")
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as info:
        s3.get_bucket_policy(Bucket=bucket)
    assert code(info) == "NoSuchBucketPolicy"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
    for bad in ("{not json", json.dumps({"Statement": [{"Effect": "Allow",
                                                        "Action": "s3:GetObject",
                                                        "Resource": "*"}]})):
        with pytest.raises(ClientError) as info:
            s3.put_bucket_policy(Bucket=bucket, Policy=bad)
        assert code(info) == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=bucket)


def test_a_bucket_policy_deny_holds_the_account_root_too(portside):
    s3 = portside.client("s3")  # the account's root
    guarded, open_ = unique("guard"), unique("open")
    for name in (guarded, open_):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="keep", Body=b"1")
    s3.put_bucket_policy(Bucket=guarded, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{guarded}/*"}]}))
    with pytest.raises(ClientError) as info:
        s3.delete_object(Bucket=guarded, Key="keep")
    assert code(info) == "AccessDenied"
    assert s3.get_object(Bucket=guarded, Key="keep")["Body"].read() == b"1"
    s3.delete_object(Bucket=open_, Key="keep")  # no policy: nothing can deny the root


def test_bucket_tagging(portside):
    s3 = portside.client("s3")
    bucket = unique("tag")
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as info:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code(info) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "data"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory):
    server = PortsideServer(tmp_path_factory.mktemp("s3-policy") / "data", env={
        "PORTSIDE_ACCOUNTS": "000000000000:test:test,111111111111:other:other"}).start()
    yield server
    server.stop()


def test_a_bucket_policy_grants_another_account(two_accounts):
    owner = two_accounts.client("s3")
    bucket = unique("shared")
    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="report.csv", Body=b"numbers")
    outsider = user_client(two_accounts, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}, "other", "other")
    owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert outsider.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"numbers"
    owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    with pytest.raises(ClientError) as info:
        outsider.get_object(Bucket=bucket, Key="report.csv")
    assert code(info) == "AccessDenied"


def test_another_accounts_root_is_refused_without_a_grant(two_accounts):
    owner = two_accounts.client("s3")
    bucket = unique("private")
    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="k", Body=b"mine")
    other_root = two_accounts.client("s3", key="other", secret="other")
    for call in (lambda: other_root.get_object(Bucket=bucket, Key="k"),
                 lambda: other_root.put_object(Bucket=bucket, Key="k", Body=b"theirs")):
        with pytest.raises(ClientError) as info:
            call()
        assert code(info) == "AccessDenied"
    assert owner.get_object(Bucket=bucket, Key="k")["Body"].read() == b"mine"


def test_existing_object_tag_condition(portside):
    s3 = portside.client("s3")
    bucket = unique("tagcond")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="ours", Body=b"1", Tagging="team=data")
    s3.put_object(Bucket=bucket, Key="theirs", Body=b"2", Tagging="team=web")
    reader = user_client(portside, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/team": "data"}}}]})
    assert reader.get_object(Bucket=bucket, Key="ours")["Body"].read() == b"1"
    with pytest.raises(ClientError) as info:
        reader.get_object(Bucket=bucket, Key="theirs")
    assert code(info) == "AccessDenied"
