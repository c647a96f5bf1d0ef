"""Multipart uploads through boto3: parts, the multipart ETag and checksums, the completion
rules (order, sizes, known parts), copies into parts, listing, aborting, and reading a
multipart object by part and by ranges across part boundaries."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from botocore.exceptions import ClientError
from s3_helpers import unique

MiB = 1024 * 1024


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


@pytest.fixture
def s3(portside):
    return portside.client("s3")


@pytest.fixture
def bucket(s3):
    name = unique("mpu")
    s3.create_bucket(Bucket=name)
    return name


def upload(s3, bucket, key, parts, **create):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    algorithm = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if create.get(
        "ChecksumAlgorithm") else {}
    done = []
    for number, data in enumerate(parts, start=1):
        result = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                Body=data, **algorithm)
        done.append({"PartNumber": number, "ETag": result["ETag"],
                     **{k: v for k, v in result.items() if k.startswith("ChecksumCRC")}})
    return upload_id, done


def test_complete_gives_the_multipart_etag_and_the_concatenated_object(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 7), b"tail"]
    upload_id, done = upload(s3, bucket, "obj", parts, ContentType="text/csv",
                             Metadata={"m": "1"})
    result = s3.complete_multipart_upload(Bucket=bucket, Key="obj", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert result["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    data = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == data and got["ContentType"] == "text/csv"
    assert got["Metadata"] == {"m": "1"} and got["ContentLength"] == len(data)
    # a range across the boundary of parts 1 and 2, and one across 2 and 3
    edge = 5 * MiB
    across = s3.get_object(Bucket=bucket, Key="obj", Range=f"bytes={edge - 10}-{edge + 9}")
    assert across["Body"].read() == data[edge - 10:edge + 10]
    tail = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=-12")["Body"].read()
    assert tail == data[-12:]
    part2 = s3.get_object(Bucket=bucket, Key="obj", PartNumber=2)
    assert part2["Body"].read() == parts[1] and part2["PartsCount"] == 3
    assert part2["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_composite_crc32_checksum_of_parts(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    upload_id, done = upload(s3, bucket, "crc", parts, ChecksumAlgorithm="CRC32")
    result = s3.complete_multipart_upload(Bucket=bucket, Key="crc", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    raw = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    expected = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"
    assert result["ChecksumCRC32"] == expected and result["ChecksumType"] == "COMPOSITE"
    got = s3.head_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == expected


def test_full_object_crc64nvme_is_the_checksum_of_the_whole(s3, bucket):
    from awscrt import checksums as crt

    parts = [os.urandom(5 * MiB), os.urandom(12345)]
    upload_id, done = upload(s3, bucket, "full", parts, ChecksumAlgorithm="CRC64NVME",
                             ChecksumType="FULL_OBJECT")
    result = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    whole = base64.b64encode(crt.crc64nvme(b"".join(parts)).to_bytes(8, "big")).decode()
    assert result["ChecksumCRC64NVME"] == whole
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(parts)  # botocore checks the full-object CRC


def test_completion_rules(s3, bucket):
    upload_id, done = upload(s3, bucket, "k", [b"small", b"parts", b"end"])
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                     MultipartUpload={"Parts": [done[1], done[0]]})
    assert code(info) == "InvalidPartOrder"
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                     MultipartUpload={"Parts": done})
    assert code(info) == "EntityTooSmall"
    assert info.value.response["Error"]["MinSizeAllowed"] == str(5 * MiB)
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 1, "ETag": '"0000"'}]})
    assert code(info) == "InvalidPart"
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 9, "ETag": done[0]["ETag"]}]})
    assert code(info) == "InvalidPart"
    # the last part alone may be small
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                 MultipartUpload={"Parts": [done[2]]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"end"
    with pytest.raises(ClientError) as info:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert code(info) == "NoSuchUpload"
    with pytest.raises(ClientError) as info:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=s3.create_multipart_upload(
            Bucket=bucket, Key="k")["UploadId"], PartNumber=10001, Body=b"x")
    assert code(info) == "InvalidArgument"


def test_abort_list_parts_and_list_uploads(s3, bucket):
    first, _ = upload(s3, bucket, "dir/a", [b"1", b"2", b"3"])
    second = s3.create_multipart_upload(Bucket=bucket, Key="dir/b")["UploadId"]
    s3.create_multipart_upload(Bucket=bucket, Key="other")
    listed = s3.list_parts(Bucket=bucket, Key="dir/a", UploadId=first, MaxParts=2)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2] and listed["IsTruncated"]
    rest = s3.list_parts(Bucket=bucket, Key="dir/a", UploadId=first,
                         PartNumberMarker=listed["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3] and rest["Parts"][0]["Size"] == 1
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="dir/")
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == \
        sorted([("dir/a", first), ("dir/b", second)])
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["other"]
    paged = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    assert paged["IsTruncated"] and len(paged["Uploads"]) == 1
    s3.abort_multipart_upload(Bucket=bucket, Key="dir/a", UploadId=first)
    with pytest.raises(ClientError) as info:
        s3.list_parts(Bucket=bucket, Key="dir/a", UploadId=first)
    assert code(info) == "NoSuchUpload"
    with pytest.raises(ClientError) as info:
        s3.abort_multipart_upload(Bucket=bucket, Key="dir/a", UploadId=first)
    assert code(info) == "NoSuchUpload"


def test_upload_part_copy_with_ranges(s3, bucket):
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "src"},
                                CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    second = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=2,
                                 CopySource=f"{bucket}/src", CopySourceRange="bytes=100-199")
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id,
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
                                     {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == \
        source[:5 * MiB] + source[100:200]
    with pytest.raises(ClientError) as info:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=s3.create_multipart_upload(
            Bucket=bucket, Key="x")["UploadId"], PartNumber=1, CopySource=f"{bucket}/src",
            CopySourceRange=f"bytes=0-{6 * MiB}")
    assert code(info) in ("InvalidArgument", "NoSuchUpload")


def test_a_replaced_part_and_an_overwritten_multipart_object(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"old")
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1,
                          Body=b"new")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"plain"


def test_boto3_upload_file_and_download_file(s3, bucket, tmp_path):
    from boto3.s3.transfer import TransferConfig

    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(17 * MiB + 3))
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(source), bucket, "file.bin", Config=config)
    assert s3.head_object(Bucket=bucket, Key="file.bin")["ETag"].endswith('-4"')
    target = tmp_path / "dst.bin"
    s3.download_file(bucket, "file.bin", str(target), Config=config)
    assert target.read_bytes() == source.read_bytes()
