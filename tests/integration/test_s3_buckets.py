"""S3 buckets through boto3 and raw HTTP: create with location rules, head, list, location,
delete, naming rules, global names across accounts, and virtual-host addressing."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from s3_helpers import signed_request, unique
from server import PortsideServer


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


def status(info: pytest.ExceptionInfo) -> int:
    return info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_head_list_and_delete_a_bucket(portside):
    s3 = portside.client("s3")
    name = unique()
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as info:
        s3.head_bucket(Bucket=name)
    assert status(info) == 404


def test_us_east_1_creates_again_for_its_owner_other_regions_say_already_owned(portside):
    s3 = portside.client("s3")
    name = unique()
    s3.create_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)  # us-east-1: 200 for the owner
    eu = portside.client("s3", region="eu-west-1")
    other = unique()
    eu.create_bucket(Bucket=other, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ClientError) as info:
        eu.create_bucket(Bucket=other,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code(info) == "BucketAlreadyOwnedByYou" and status(info) == 409


def test_location_constraint_rules(portside):
    eu = portside.client("s3", region="eu-west-1")
    name = unique()
    eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert eu.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"
    with pytest.raises(ClientError) as info:
        eu.create_bucket(Bucket=unique())  # no constraint outside us-east-1
    assert code(info) == "IllegalLocationConstraintException"
    with pytest.raises(ClientError) as info:
        eu.create_bucket(Bucket=unique(),
                         CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    assert code(info) == "IllegalLocationConstraintException"
    us = portside.client("s3")
    with pytest.raises(ClientError) as info:
        us.create_bucket(Bucket=unique(),
                         CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    # us-east-1 is not in the model's enum of constraints: refused by validation or by S3
    assert code(info) in ("InvalidLocationConstraint", "InvalidArgument") and status(info) == 400
    # the global endpoint (us-east-1) creates a bucket in the region its constraint names
    far = unique()
    us.create_bucket(Bucket=far, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    assert us.get_bucket_location(Bucket=far)["LocationConstraint"] == "ap-south-1"


@pytest.mark.parametrize("name", ["ab", "Upper-Case", "bad..dots", "10.0.0.1", "end-"])
def test_invalid_bucket_names_are_refused(portside, name):
    with pytest.raises(ClientError) as info:
        portside.client("s3", parameter_validation=False).create_bucket(Bucket=name)
    assert code(info) == "InvalidBucketName" and status(info) == 400


def test_delete_a_bucket_that_holds_objects_is_bucket_not_empty(portside):
    s3 = portside.client("s3")
    name = unique()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as info:
        s3.delete_bucket(Bucket=name)
    assert code(info) == "BucketNotEmpty" and status(info) == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def test_missing_bucket_is_no_such_bucket_with_its_name(portside):
    s3 = portside.client("s3")
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket=unique())
    assert code(info) == "NoSuchBucket" and status(info) == 404
    assert info.value.response["Error"]["BucketName"]


def test_virtual_host_addressing_reaches_the_same_bucket(portside):
    s3 = portside.client("s3")
    name = unique()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="dir/file.txt", Body=b"vhost")
    response = signed_request("GET", f"http://{name}.localhost:{portside.port}/dir/file.txt",
                              connect_to=portside.endpoint)
    assert response.status_code == 200 and response.content == b"vhost"
    response = signed_request("PUT", f"http://{name}.localhost:{portside.port}/put-by-vhost",
                              body=b"new", connect_to=portside.endpoint)
    assert response.status_code == 200
    assert s3.get_object(Bucket=name, Key="put-by-vhost")["Body"].read() == b"new"


def test_list_buckets_pages_and_filters_by_prefix(portside):
    s3 = portside.client("s3")
    stem = unique("pg")
    for i in range(3):
        s3.create_bucket(Bucket=f"{stem}-{i}")
    first = s3.list_buckets(Prefix=stem, MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == [f"{stem}-0", f"{stem}-1"]
    rest = s3.list_buckets(Prefix=stem, MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == [f"{stem}-2"]
    assert "ContinuationToken" not in rest


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory):
    server = PortsideServer(tmp_path_factory.mktemp("s3-accounts") / "data", env={
        "PORTSIDE_ACCOUNTS": "000000000000:test:test,111111111111:other:other"}).start()
    yield server
    server.stop()


def test_bucket_names_are_global_across_accounts(two_accounts):
    name = unique()
    two_accounts.client("s3").create_bucket(Bucket=name)
    other = two_accounts.client("s3", key="other", secret="other")
    with pytest.raises(ClientError) as info:
        other.create_bucket(Bucket=name)
    assert code(info) == "BucketAlreadyExists" and status(info) == 409
    assert name not in [b["Name"] for b in other.list_buckets()["Buckets"]]
