"""S3's errors by code, with the status S3 sends for those the model does not declare.
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList"""

from __future__ import annotations

from typing import Any

from portside.protocol.errors import AwsError

STATUS = {
    "BucketAlreadyExists": 409, "BucketAlreadyOwnedByYou": 409, "BucketNotEmpty": 409,
    "ConditionalRequestConflict": 409, "NoSuchBucket": 404, "NoSuchKey": 404,
    "NoSuchVersion": 404, "NoSuchUpload": 404, "NoSuchBucketPolicy": 404, "NoSuchTagSet": 404,
    "MethodNotAllowed": 405, "PreconditionFailed": 412, "InvalidRange": 416,
    "InvalidPartNumber": 416, "NotImplemented": 501,
}


def error(code: str, message: str, **fields: Any) -> AwsError:
    return AwsError(message, code=code, status=STATUS.get(code), fields=fields)
