"""Presigned URLs: GET and PUT, SigV4 and SigV2 (boto3's default for presigning S3), expiry
and tampering refused."""

from __future__ import annotations

import time

import pytest
import requests
from s3_helpers import unique


@pytest.fixture(params=["s3v4", "s3"], ids=["sigv4", "sigv2"])
def signer(request, portside):
    return portside.client("s3", signature_version=request.param)


def test_presigned_get_and_put(portside, signer):
    s3 = portside.client("s3")
    bucket = unique("pre")
    s3.create_bucket(Bucket=bucket)
    put_url = signer.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "up/load.txt", "ContentType": "text/plain"}, ExpiresIn=60)
    response = requests.put(put_url, data=b"uploaded", headers={"Content-Type": "text/plain"},
                            timeout=10)
    assert response.status_code == 200, response.content
    got = s3.get_object(Bucket=bucket, Key="up/load.txt")
    assert got["Body"].read() == b"uploaded" and got["ContentType"] == "text/plain"
    get_url = signer.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "up/load.txt", "ResponseContentType": "application/x-test"},
        ExpiresIn=60)
    response = requests.get(get_url, timeout=10)
    assert response.content == b"uploaded"
    assert response.headers["Content-Type"] == "application/x-test"
    tampered = requests.get(get_url.replace("up/load.txt", "up/other.txt"), timeout=10)
    assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content


def test_expired_presigned_urls_are_refused(portside, signer):
    s3 = portside.client("s3")
    bucket = unique("pre")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                        ExpiresIn=1)
    time.sleep(2.1)
    response = requests.get(url, timeout=10)
    assert response.status_code == 403 and b"AccessDenied" in response.content
    assert b"expired" in response.content


def test_sigv2_with_an_unknown_key(portside):
    url = portside.client("s3", key="AKIANOBODY", secret="x", signature_version="s3") \
        .generate_presigned_url("get_object", Params={"Bucket": "b-any", "Key": "k"})
    response = requests.get(url, timeout=10)
    assert response.status_code == 403
    assert b"InvalidAccessKeyId" in response.content
