"""Bucket naming rules for general purpose buckets.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
"""

from __future__ import annotations

import re

from portside.protocol.errors import AwsError
from portside.services.s3.errors import error

_SHAPE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid bucket name, or None when it is."""
    if not _SHAPE.fullmatch(name):
        return ("Bucket names must be 3 to 63 characters long, of lowercase letters, numbers, "
                "dots and hyphens, and begin and end with a letter or number")
    if ".." in name:
        return "Bucket names must not contain two adjacent periods"
    if _IP_ADDRESS.fullmatch(name):
        return "Bucket names must not be formatted as an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "Bucket names must not use a prefix or suffix that S3 reserves"
    return None


def check_bucket_name(name: str) -> None:
    if bucket_name_problem(name) is not None:
        raise invalid_bucket_name(name)


def invalid_bucket_name(name: str) -> AwsError:
    return error("InvalidBucketName", "The specified bucket is not valid.", BucketName=name)
