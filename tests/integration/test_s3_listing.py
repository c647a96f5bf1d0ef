"""Listing through boto3: ListObjects (v1 markers), ListObjectsV2 (prefix, delimiter, common
prefixes, start-after, continuation tokens, max-keys, url encoding), and paginators."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from s3_helpers import unique

KEYS = ["a.txt", "dir/one", "dir/sub/two", "dir/sub/three", "dir2/x", "z y+z.txt", "\u00e9t\u00e9"]


@pytest.fixture(scope="module")
def listed(portside):
    s3 = portside.client("s3")
    name = unique("list")
    s3.create_bucket(Bucket=name)
    for key in KEYS:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    return s3, name


def test_v2_lists_keys_in_utf8_order_with_sizes_and_etags(listed):
    s3, bucket = listed
    page = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in page["Contents"]] == sorted(KEYS, key=lambda k: k.encode())
    assert page["KeyCount"] == len(KEYS) and not page["IsTruncated"]
    first = page["Contents"][0]
    assert first["Size"] == len(first["Key"].encode()) and first["ETag"].startswith('"')
    assert first["StorageClass"] == "STANDARD"


def test_v2_delimiter_rolls_keys_into_common_prefixes(listed):
    s3, bucket = listed
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir/", "dir2/"]
    assert [o["Key"] for o in page["Contents"]] == ["a.txt", "z y+z.txt", "\u00e9t\u00e9"]
    assert page["KeyCount"] == 5
    nested = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in nested["Contents"]] == ["dir/one"]
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["dir/sub/"]


def test_v2_pages_with_continuation_tokens_and_start_after(listed):
    s3, bucket = listed
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, Delimiter="/", **kwargs)
        assert page["KeyCount"] <= 2
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == sorted(["a.txt", "dir/", "dir2/", "z y+z.txt", "\u00e9t\u00e9"])
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="dir/sub/three")
    assert [o["Key"] for o in after["Contents"]][0] == "dir/sub/two"
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="garbage!")
    assert info.value.response["Error"]["Code"] == "InvalidArgument"


def test_paginator_walks_a_larger_bucket(portside):
    s3 = portside.client("s3")
    bucket = unique("many")
    s3.create_bucket(Bucket=bucket)
    keys = [f"k{i:04d}" for i in range(1203)]
    for start in range(0, len(keys), 1000):
        for key in keys[start:start + 1000]:
            s3.put_object(Bucket=bucket, Key=key, Body=b"")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    assert [len(p["Contents"]) for p in pages] == [1000, 203]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={
        "PageSize": 500}))
    assert [o["Key"] for p in v1 for o in p["Contents"]] == keys


def test_v1_marker_and_next_marker(listed):
    s3, bucket = listed
    page = s3.list_objects(Bucket=bucket, MaxKeys=2, Delimiter="/")
    assert page["IsTruncated"] and page["NextMarker"] == "dir/"
    rest = s3.list_objects(Bucket=bucket, Marker=page["NextMarker"], Delimiter="/")
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["dir2/"]
    assert "dir/" not in [p["Prefix"] for p in rest["CommonPrefixes"]]
    plain = s3.list_objects(Bucket=bucket, Marker="dir/sub/three")
    assert [o["Key"] for o in plain["Contents"]][0] == "dir/sub/two"
    assert plain["Contents"][0]["Owner"]["ID"]


def test_max_keys_zero_and_over_1000(listed):
    s3, bucket = listed
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=5000)["MaxKeys"] == 1000


def test_encoding_type_url_encodes_keys_and_botocore_decodes_what_it_asked_for(listed):
    s3, bucket = listed
    # botocore asks for url encoding by itself and decodes the answer
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="z")["Contents"]] == [
        "z y+z.txt"]
    # asked for by the caller, the encoded form comes back as S3 sends it
    page = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="z")
    assert [o["Key"] for o in page["Contents"]] == ["z%20y%2Bz.txt"]
    page = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="\u00e9")
    assert [o["Key"] for o in page["Contents"]] == ["%C3%A9t%C3%A9"]
