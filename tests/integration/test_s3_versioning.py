"""Versioning through boto3: version ids, the null version, delete markers, reads and deletes
by version, suspension, and ListObjectVersions."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from s3_helpers import unique


@pytest.fixture
def s3(portside):
    return portside.client("s3")


@pytest.fixture
def bucket(s3):
    name = unique("ver")
    s3.create_bucket(Bucket=name)
    return name


def enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def test_versions_delete_markers_and_reads_by_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")  # the null version
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"before"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="k", VersionId=marker)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    listing = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [v2, v1, "null"]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == [marker]
    assert listing["DeleteMarkers"][0]["IsLatest"]
    # removing the marker brings the newest version back
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert info.value.response["Error"]["Code"] == "NoSuchVersion"
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k", VersionId="bad id")
    assert info.value.response["Error"]["Code"] == "InvalidArgument"


def test_suspended_versioning_overwrites_the_null_version(s3, bucket):
    enable(s3, bucket)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    enable(s3, bucket, "Suspended")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"n1")["VersionId"] == "null"
    s3.put_object(Bucket=bucket, Key="k", Body=b"n2")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == ["null", kept]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"n2"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] and deleted["VersionId"] == "null"
    listing = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [kept]


def test_list_object_versions_pages_with_key_and_version_markers(s3, bucket):
    enable(s3, bucket)
    expected = []
    for key in ("a", "b"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(key, v) for v in reversed(ids)]
    seen, kwargs = [], {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=2, **kwargs)
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"],
                  "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected


def test_delete_objects_with_versions_and_markers(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    assert result["Deleted"][0]["DeleteMarker"] is True
    marker = result["Deleted"][0]["DeleteMarkerVersionId"]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "k", "VersionId": v1}, {"Key": "k", "VersionId": marker}]})
    assert {d["VersionId"] for d in result["Deleted"]} == {v1, marker}
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    s3.delete_bucket(Bucket=bucket)


def test_object_tags_by_version(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="v=2")
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["TagSet"] == [
        {"Key": "v", "Value": "1"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "v", "Value": "2"}]
