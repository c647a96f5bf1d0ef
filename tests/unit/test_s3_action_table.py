"""S3's IAM table: the action and resource each call is checked against, from "Actions,
resources, and condition keys for Amazon S3", and the condition keys S3 supplies."""

from __future__ import annotations

import pytest

from portside.auth.actions import Check
from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.runtime import Runtime

CTX = RequestContext("111122223333", "eu-west-1", Principal.root("111122223333"), "k", "r", "ip")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    runtime = Runtime(Settings(data_dir=tmp_path_factory.mktemp("s3-access")))
    yield runtime.services["s3"]
    runtime.close()


def checks(s3, operation, **params) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in s3.authorization_checks(CTX, operation, params)]


@pytest.mark.parametrize("operation, params, expected", [
    ("ListBuckets", {}, [("s3:ListAllMyBuckets", "*")]),
    ("CreateBucket", {"Bucket": "b"}, [("s3:CreateBucket", "arn:aws:s3:::b")]),
    ("HeadBucket", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("ListObjectsV2", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("ListObjects", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("ListObjectVersions", {"Bucket": "b"}, [("s3:ListBucketVersions", "arn:aws:s3:::b")]),
    ("ListMultipartUploads", {"Bucket": "b"},
     [("s3:ListBucketMultipartUploads", "arn:aws:s3:::b")]),
    ("GetObject", {"Bucket": "b", "Key": "d/k"}, [("s3:GetObject", "arn:aws:s3:::b/d/k")]),
    ("HeadObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::b/k")]),
    ("GetObject", {"Bucket": "b", "Key": "k", "VersionId": "v"},
     [("s3:GetObjectVersion", "arn:aws:s3:::b/k")]),
    ("DeleteObject", {"Bucket": "b", "Key": "k", "VersionId": "v"},
     [("s3:DeleteObjectVersion", "arn:aws:s3:::b/k")]),
    ("PutObject", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("PutObject", {"Bucket": "b", "Key": "k", "Tagging": "a=1"},
     [("s3:PutObject", "arn:aws:s3:::b/k"), ("s3:PutObjectTagging", "arn:aws:s3:::b/k")]),
    ("CopyObject", {"Bucket": "t", "Key": "k2", "CopySource": "s/k1"},
     [("s3:GetObject", "arn:aws:s3:::s/k1"), ("s3:PutObject", "arn:aws:s3:::t/k2")]),
    ("CopyObject", {"Bucket": "t", "Key": "k2", "CopySource": "s/k1?versionId=v"},
     [("s3:GetObjectVersion", "arn:aws:s3:::s/k1"), ("s3:PutObject", "arn:aws:s3:::t/k2")]),
    ("UploadPartCopy", {"Bucket": "t", "Key": "k", "CopySource": "s/a%20b"},
     [("s3:GetObject", "arn:aws:s3:::s/a b"), ("s3:PutObject", "arn:aws:s3:::t/k")]),
    ("DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"},
                                                             {"Key": "y", "VersionId": "v"}]}},
     [("s3:DeleteObject", "arn:aws:s3:::b/x"), ("s3:DeleteObjectVersion", "arn:aws:s3:::b/y")]),
    ("CreateMultipartUpload", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("UploadPart", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("CompleteMultipartUpload", {"Bucket": "b", "Key": "k"},
     [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("AbortMultipartUpload", {"Bucket": "b", "Key": "k"},
     [("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")]),
    ("ListParts", {"Bucket": "b", "Key": "k"},
     [("s3:ListMultipartUploadParts", "arn:aws:s3:::b/k")]),
    ("PutBucketPolicy", {"Bucket": "b"}, [("s3:PutBucketPolicy", "arn:aws:s3:::b")]),
    ("DeleteBucketTagging", {"Bucket": "b"}, [("s3:PutBucketTagging", "arn:aws:s3:::b")]),
    ("PutBucketNotificationConfiguration", {"Bucket": "b"},
     [("s3:PutBucketNotification", "arn:aws:s3:::b")]),
    ("GetObjectTagging", {"Bucket": "b", "Key": "k", "VersionId": "v"},
     [("s3:GetObjectVersionTagging", "arn:aws:s3:::b/k")]),
])
def test_actions_and_resources(s3, operation, params, expected):
    assert checks(s3, operation, **params) == expected


def test_condition_keys_of_a_listing_and_a_tagged_put(s3):
    [check] = s3.authorization_checks(CTX, "ListObjectsV2", {
        "Bucket": "b", "Prefix": "home/", "Delimiter": "/", "MaxKeys": 10})
    assert check.context == {"s3:prefix": "home/", "s3:delimiter": "/", "s3:max-keys": 10}
    put: Check = s3.authorization_checks(CTX, "PutObject", {
        "Bucket": "b", "Key": "k", "Tagging": "team=a&env=dev", "ACL": "private"})[0]
    assert put.context["s3:RequestObjectTag/team"] == "a"
    assert sorted(put.context["s3:RequestObjectTagKeys"]) == ["env", "team"]
    assert put.context["s3:x-amz-acl"] == "private"
