"""S3 objects through boto3: bodies, metadata and content headers, ETags, ranges, conditional
reads and writes, checksums (header, trailer, Content-MD5), copies and DeleteObjects."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import io
import os
import zlib
from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from s3_helpers import signed_request, unique


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


def status(info: pytest.ExceptionInfo) -> int:
    return info.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(portside):
    return portside.client("s3")


@pytest.fixture
def bucket(s3):
    name = unique()
    s3.create_bucket(Bucket=name)
    return name


def test_put_then_get_returns_the_bytes_headers_and_md5_etag(s3, bucket):
    data = os.urandom(300_000)  # larger than the inline limit: stored as a blob
    put = s3.put_object(Bucket=bucket, Key="dir/a b+c.bin", Body=data, ContentType="image/png",
                        ContentEncoding="identity", ContentDisposition='attachment; filename="x"',
                        CacheControl="max-age=60", ContentLanguage="fr",
                        Expires=datetime(2030, 1, 1, tzinfo=UTC), Metadata={"Owner": "me"})
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == put["ETag"] and got["ContentLength"] == len(data)
    assert got["ContentType"] == "image/png" and got["ContentEncoding"] == "identity"
    assert got["ContentDisposition"] == 'attachment; filename="x"'
    assert got["CacheControl"] == "max-age=60" and got["ContentLanguage"] == "fr"
    assert got["Metadata"] == {"owner": "me"}
    assert got["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Tue, 01 Jan 2030 00:00:00 GMT"
    head = s3.head_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert head["ContentLength"] == len(data) and head["AcceptRanges"] == "bytes"


def test_small_and_empty_objects(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b"" and got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"x")
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"replaced")
    assert s3.get_object(Bucket=bucket, Key="tiny")["Body"].read() == b"replaced"


def test_missing_keys(s3, bucket):
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="nope")
    assert code(info) == "NoSuchKey" and status(info) == 404
    assert info.value.response["Error"]["Key"] == "nope"
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="nope")
    assert status(info) == 404 and code(info) == "404"  # a HEAD error has no body


def test_delete_object_and_delete_objects(s3, bucket):
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.delete_object(Bucket=bucket, Key="a")["ResponseMetadata"]["HTTPStatusCode"] == 204
    s3.delete_object(Bucket=bucket, Key="never-there")  # deleting nothing succeeds too
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c"},
                                                                  {"Key": "zz"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["b", "c", "zz"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}], "Quiet": True})
    assert "Deleted" not in quiet


def test_range_requests(s3, bucket):
    data = bytes(range(256)) * 2000  # 512,000 bytes
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-1999")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes 1000-1999/{len(data)}"
    assert got["Body"].read() == data[1000:2000] and got["ContentLength"] == 1000
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-10")["Body"].read() == data[-10:]
    assert s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(data) - 5}-")[
        "Body"].read() == data[-5:]
    whole = s3.get_object(Bucket=bucket, Key="r", Range="bytes=5-2")  # invalid: ignored
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(data)}-")
    assert code(info) == "InvalidRange" and status(info) == 416
    assert info.value.response["Error"]["ActualObjectSize"] == str(len(data))
    s3.put_object(Bucket=bucket, Key="small", Body=b"0123456789")
    assert s3.get_object(Bucket=bucket, Key="small", Range="bytes=2-4")["Body"].read() == b"234"


def test_conditional_reads(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"data")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"other"')
    assert code(info) == "PreconditionFailed" and status(info) == 412
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status(info) == 304
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="c", IfModifiedSince=modified)
    assert status(info) == 304
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=modified - timedelta(days=1))
    assert status(info) == 412
    # If-Match that holds wins over a failing If-Unmodified-Since (RFC 7232 §6, as S3 documents)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag,
                         IfUnmodifiedSince=modified - timedelta(days=1))["ETag"] == etag
    # If-None-Match that fails answers 304 whatever If-Modified-Since says
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag,
                      IfModifiedSince=modified - timedelta(days=1))
    assert status(info) == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified - timedelta(days=1))


def test_conditional_writes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert code(info) == "PreconditionFailed" and status(info) == 412
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"
    etag = s3.head_object(Bucket=bucket, Key="once")["ETag"]
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="once", Body=b"x", IfMatch='"not-it"')
    assert code(info) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="once", Body=b"updated", IfMatch=etag)
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=etag)
    assert code(info) == "NoSuchKey"


def test_concurrent_if_none_match_writers_exactly_one_wins(portside, bucket):
    def attempt(i: int) -> bool:
        client = portside.client("s3")
        try:
            client.put_object(Bucket=bucket, Key="race", Body=os.urandom(400_000) + bytes([i]),
                              IfNoneMatch="*")
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in ("PreconditionFailed",
                                                     "ConditionalRequestConflict")
            return False

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count(True) == 1


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksums_are_verified_stored_and_returned(s3, bucket, algorithm):
    data = os.urandom(1000)
    put = s3.put_object(Bucket=bucket, Key=algorithm, Body=data, ChecksumAlgorithm=algorithm)
    value = put[f"Checksum{algorithm}"]
    got = s3.get_object(Bucket=bucket, Key=algorithm, ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == value and got["ChecksumType"] == "FULL_OBJECT"
    assert got["Body"].read() == data  # botocore verified the checksum while reading
    head = s3.head_object(Bucket=bucket, Key=algorithm, ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value


def test_a_wrong_checksum_or_content_md5_is_bad_digest(s3, bucket):
    wrong_crc = base64.b64encode(b"\0\0\0\0").decode()
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ChecksumCRC32=wrong_crc)
    assert code(info) == "BadDigest" and status(info) == 400
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data",
                      ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert code(info) == "BadDigest"
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ChecksumSHA256="not-base64")
    assert code(info) == "InvalidRequest"
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k")
    assert code(info) == "NoSuchKey"  # nothing refused was kept
    s3.put_object(Bucket=bucket, Key="k", Body=b"data",
                  ContentMD5=base64.b64encode(hashlib.md5(b"data").digest()).decode())


def test_objects_without_a_checksum_get_crc64nvme(portside, bucket):
    s3 = portside.client("s3", request_checksum_calculation="when_required")
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC64NVME"] and got["Body"].read() == b"data"


def _https_upload(data: bytes, port: int, bucket: str, key: str, trailer_crc: str | None = None):
    """A PutObject exactly as botocore sends it over https (aws-chunked with a CRC32 trailer),
    replayed over http to the test server."""
    session = botocore.session.get_session()
    client = session.create_client("s3", region_name="us-east-1",
                                   endpoint_url=f"https://localhost:{port}",
                                   aws_access_key_id="test", aws_secret_access_key="test",
                                   config=Config(signature_version="s3v4"))
    captured = {}

    class Sent(Exception):
        pass

    def capture(request, **_):
        captured["request"] = request
        raise Sent()

    client.meta.events.register("before-send", capture)
    with pytest.raises(Sent):
        client.put_object(Bucket=bucket, Key=key, Body=io.BytesIO(data))
    request = captured["request"]
    body = request.body.read()
    if trailer_crc is not None:
        body = body.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32:" +
                            trailer_crc.encode() + b"\r\nx-ignored:")
        body = body.split(b"\r\nx-ignored:")[0] + b"\r\n\r\n"
    url = request.url.replace(f"https://localhost:{port}", f"http://127.0.0.1:{port}")
    headers = {k: v for k, v in request.headers.items()
               if k.lower() not in ("transfer-encoding", "content-length")}
    return requests.put(url, data=body, headers=headers, timeout=30)


def test_aws_chunked_upload_with_a_checksum_trailer(portside, s3, bucket):
    data = os.urandom(200_000)
    response = _https_upload(data, portside.port, bucket, "chunked")
    assert response.status_code == 200, response.content
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert response.headers["x-amz-checksum-crc32"] == crc
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got["ChecksumCRC32"] == crc
    assert "ContentEncoding" not in got  # aws-chunked is the transfer's, not the object's
    bad = _https_upload(data, portside.port, bucket, "chunked-bad", trailer_crc="AAAAAA==")
    assert bad.status_code == 400 and b"BadDigest" in bad.content


def test_copy_object_copies_or_replaces_metadata(s3, bucket):
    data = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="src", Body=data, ContentType="text/plain",
                  Metadata={"a": "1"}, Tagging="t=1")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data and got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "text/plain" and got["TagCount"] == 1
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="a/b")
    replaced = s3.head_object(Bucket=bucket, Key="dst2")
    assert replaced["Metadata"] == {"b": "2"} and replaced["ContentType"] == "a/b"
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert code(info) == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/missing")
    assert code(info) == "NoSuchKey"
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/src",
                       CopySourceIfMatch='"nope"')
    assert code(info) == "PreconditionFailed"


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&b=two%20words")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "c",
                                                                       "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "c", "Value": "3"}]
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x", Tagging="a=1&a=2")
    assert code(info) == "InvalidTag"


def test_limits(s3, bucket):
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code(info) == "KeyTooLongError"
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"m": "v" * 2100})
    assert code(info) == "MetadataTooLarge"


def test_a_single_put_over_5_gib_is_entity_too_large(portside, bucket):
    """Refused on the declared Content-Length, before any byte is read."""
    response = signed_request("PUT", f"{portside.endpoint}/{bucket}/huge", headers={
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Length": str(5 * 1024**3 + 1)})
    assert response.status_code == 400 and b"EntityTooLarge" in response.content


def test_unimplemented_write_options_are_refused_not_dropped(s3, bucket):
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                      SSECustomerKey="k" * 32)
    assert code(info) == "NotImplemented" and status(info) == 501
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=datetime(2030, 1, 1, tzinfo=UTC))
    assert code(info) == "InvalidRequest"
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="k")
    assert code(info) == "NoSuchKey"


def _signed_chunked_put(endpoint: str, path: str, data: bytes, *, chunk: int = 65536,
                        tamper: bool = False) -> requests.Response:
    """A PUT in signed aws-chunked encoding (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), each chunk
    signed in the chain that starts at the request's own signature."""
    import hmac

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class Streaming(S3SigV4Auth):
        def payload(self, request):
            return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"

    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    encoded_length = sum(len(f"{len(p):x};chunk-signature=") + 64 + 4 + len(p) for p in pieces)
    request = AWSRequest(method="PUT", url=endpoint + path, headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(encoded_length)})
    Streaming(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers)
    timestamp = headers["X-Amz-Date"]
    scope = f"{timestamp[:8]}/us-east-1/s3/aws4_request"
    key = b"AWS4test"
    for part in (timestamp[:8], "us-east-1", "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    previous = headers["Authorization"].rsplit("Signature=", 1)[1]
    body = b""
    for piece in pieces:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous,
                             hashlib.sha256(b"").hexdigest(), hashlib.sha256(piece).hexdigest()])
        previous = hmac.digest(key, to_sign.encode(), "sha256").hex()
        sent = piece[:-1] + b"!" if tamper and piece else piece
        body += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    return requests.put(endpoint + path, data=body, headers=headers, timeout=30)


def test_signed_aws_chunked_upload(portside, s3, bucket):
    data = os.urandom(150_000)
    response = _signed_chunked_put(portside.endpoint, f"/{bucket}/signed", data)
    assert response.status_code == 200, response.content
    assert s3.get_object(Bucket=bucket, Key="signed")["Body"].read() == data
    bad = _signed_chunked_put(portside.endpoint, f"/{bucket}/tampered", data, tamper=True)
    assert bad.status_code == 403 and b"SignatureDoesNotMatch" in bad.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="tampered")
