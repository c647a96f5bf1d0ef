"""S3's Signature Version 2 query-string authentication: the presigned URLs that boto3's
`generate_presigned_url` and `aws s3 presign` make unless told `signature_version='s3v4'`.

`?AWSAccessKeyId=…&Expires=<epoch seconds>&Signature=<base64 HMAC-SHA1>` over
`VERB\\nContent-MD5\\nContent-Type\\nExpires\\n<x-amz- headers><resource>`, the resource being
the path-style path with the sub-resources the URL names.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html#RESTAuthenticationQueryStringAuth
Only S3 accepts it, only in the query string; other services and headers keep SigV4.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

from portside.auth.sigv4 import Kind, SigV4Error
from portside.protocol.http import HttpRequest

# Query parameters that are part of the signed resource (as botocore's HmacV1 signer lists them).
SUB_RESOURCES = frozenset({
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
    "policy", "replication", "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website",
})


@dataclass(frozen=True)
class PresignedV2:
    access_key: str
    signature: str
    expires: str
    session_token: str | None


def parse_presigned(request: HttpRequest) -> PresignedV2 | None:
    """The SigV2 query signature of a request, or None when it has none."""
    query = request.query_string
    if "AWSAccessKeyId=" not in query or "Signature=" not in query:
        return None
    params = dict(parse_qsl(query, keep_blank_values=True))
    missing = [n for n in ("AWSAccessKeyId", "Signature", "Expires") if not params.get(n)]
    if missing:
        raise SigV4Error(Kind.INCOMPLETE, f"Query-string authentication requires the "
                         f"{', '.join(missing)} parameters", s3_code="AccessDenied",
                         s3_status=403)
    return PresignedV2(params["AWSAccessKeyId"], params["Signature"], params["Expires"],
                       params.get("x-amz-security-token"))


def string_to_sign(request: HttpRequest, expires: str) -> str:
    """What the client signed. `request.path` is the path-style path (virtual-host requests are
    signed with the bucket in the resource too)."""
    headers = request.headers
    amz = sorted((name, " ".join(value.split())) for name, value in headers.items()
                 if name.startswith("x-amz-"))
    resource = request.path
    subresources = sorted((k, v) for k, v in parse_qsl(request.query_string,
                                                       keep_blank_values=True)
                          if k in SUB_RESOURCES)
    if subresources:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subresources)
    return "\n".join([request.method, headers.get("content-md5", ""),
                      headers.get("content-type", ""), expires,
                      *(f"{name}:{value}" for name, value in amz), resource])


def verify(request: HttpRequest, signed: PresignedV2, secret_key: str, now: datetime) -> None:
    """Raise SigV4Error (with S3's codes) unless the signature holds and has not expired."""
    try:
        expires = int(signed.expires)
    except ValueError:
        raise SigV4Error(Kind.MALFORMED, "Invalid date (should be seconds since epoch): "
                         f"{signed.expires}", s3_code="AccessDenied", s3_status=403) from None
    to_sign = string_to_sign(request, signed.expires)
    expected = base64.b64encode(hmac.digest(secret_key.encode(), to_sign.encode(),
                                            hashlib.sha1)).decode()
    if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
        raise SigV4Error(Kind.BAD_SIGNATURE, "The request signature we calculated does not match "
                         "the signature you provided.", fields={
                             "AWSAccessKeyId": signed.access_key, "StringToSign": to_sign,
                             "SignatureProvided": signed.signature})
    if now.timestamp() > expires:
        raise SigV4Error(Kind.EXPIRED, "Request has expired", s3_code="AccessDenied",
                         s3_status=403, s3_message="Request has expired", fields={
                             "Expires": datetime.fromtimestamp(expires).isoformat(),
                             "ServerTime": now.isoformat()})
