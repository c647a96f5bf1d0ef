"""S3 through the AWS CLI: `aws s3 cp/sync/ls/rm/mb/rb` and `aws s3api`."""

from __future__ import annotations

import os

from s3_helpers import aws, aws_json, unique


def test_high_level_commands(portside, tmp_path):
    bucket = unique("cli")
    aws(portside, "s3", "mb", f"s3://{bucket}")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("alpha")
    (source / "sub" / "b.bin").write_bytes(os.urandom(20_000))
    aws(portside, "s3", "cp", str(source / "a.txt"), f"s3://{bucket}/single/a.txt")
    aws(portside, "s3", "sync", str(source), f"s3://{bucket}/tree")
    listing = aws(portside, "s3", "ls", f"s3://{bucket}/", "--recursive").stdout
    assert "single/a.txt" in listing and "tree/sub/b.bin" in listing and "tree/a.txt" in listing
    top = aws(portside, "s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE single/" in top and "PRE tree/" in top
    again = aws(portside, "s3", "sync", str(source), f"s3://{bucket}/tree").stdout
    assert again.strip() == ""  # nothing changed, nothing copied
    target = tmp_path / "dst"
    aws(portside, "s3", "sync", f"s3://{bucket}/tree", str(target))
    assert (target / "sub" / "b.bin").read_bytes() == (source / "sub" / "b.bin").read_bytes()
    aws(portside, "s3", "cp", f"s3://{bucket}/single/a.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "alpha"
    aws(portside, "s3", "rm", f"s3://{bucket}/tree", "--recursive")
    aws(portside, "s3", "rm", f"s3://{bucket}/single/a.txt")
    assert aws(portside, "s3", "ls", f"s3://{bucket}/", "--recursive").stdout.strip() == ""
    aws(portside, "s3", "rb", f"s3://{bucket}")
    assert bucket not in aws(portside, "s3", "ls").stdout


def test_cp_of_a_multipart_file_and_s3api(portside, tmp_path):
    bucket = unique("cli")
    aws_json(portside, "s3api", "create-bucket", "--bucket", bucket)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    aws(portside, "s3", "cp", str(big), f"s3://{bucket}/big.bin")
    head = aws_json(portside, "s3api", "head-object", "--bucket", bucket, "--key", "big.bin")
    assert head["ContentLength"] == big.stat().st_size and head["ETag"].endswith('-3"')
    aws_json(portside, "s3api", "put-object", "--bucket", bucket, "--key", "meta.txt",
             "--body", str(big), "--content-type", "text/plain", "--metadata", "a=1")
    meta = aws_json(portside, "s3api", "head-object", "--bucket", bucket, "--key", "meta.txt")
    assert meta["ContentType"] == "text/plain" and meta["Metadata"] == {"a": "1"}
    out = tmp_path / "range.bin"
    aws_json(portside, "s3api", "get-object", "--bucket", bucket, "--key", "big.bin",
             "--range", "bytes=10-19", str(out))
    assert out.read_bytes() == big.read_bytes()[10:20]
    listed = aws_json(portside, "s3api", "list-objects-v2", "--bucket", bucket)
    assert sorted(o["Key"] for o in listed["Contents"]) == ["big.bin", "meta.txt"]
    missing = aws(portside, "s3api", "get-object", "--bucket", bucket, "--key", "nope",
                  str(out), check=False)
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    presigned = aws(portside, "s3", "presign", f"s3://{bucket}/meta.txt").stdout.strip()
    import requests

    assert requests.get(presigned, timeout=10).content == big.read_bytes()
