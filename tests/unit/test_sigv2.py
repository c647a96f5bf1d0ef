"""SigV2 query authentication (S3 presigned URLs) against botocore's own HmacV1 signer."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from portside.auth import sigv2
from portside.auth.sigv4 import Kind, SigV4Error
from portside.protocol.http import HttpRequest

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def presigned(method: str, path_and_query: str, headers: dict[str, str] | None = None,
              expires: int = 3600) -> HttpRequest:
    request = AWSRequest(method=method, url=f"http://127.0.0.1:4566{path_and_query}",
                         headers=headers or {})
    HmacV1QueryAuth(Credentials("AKID", "SECRET"), expires=expires).add_auth(request)
    url = urlsplit(request.prepare().url)
    return HttpRequest(method, url.path, url.query,
                       {k.lower(): v for k, v in (headers or {}).items()})


@pytest.mark.parametrize("method, target, headers", [
    ("GET", "/bucket/key", {}),
    ("GET", "/bucket/dir/a%20b.txt?versionId=abc&response-content-type=text/plain", {}),
    ("PUT", "/bucket/k?partNumber=2&uploadId=xyz", {"Content-Type": "text/csv"}),
    ("DELETE", "/bucket?delete", {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}),
])
def test_botocore_presigned_urls_verify(method, target, headers):
    request = presigned(method, target, headers)
    signed = sigv2.parse_presigned(request)
    assert signed is not None and signed.access_key == "AKID"
    sigv2.verify(request, signed, "SECRET", datetime.now(UTC))


def test_wrong_secret_tampering_and_expiry_are_refused():
    request = presigned("GET", "/bucket/key")
    signed = sigv2.parse_presigned(request)
    with pytest.raises(SigV4Error) as info:
        sigv2.verify(request, signed, "OTHER", datetime.now(UTC))
    assert info.value.kind is Kind.BAD_SIGNATURE
    moved = HttpRequest("GET", "/bucket/other", request.query_string, {})
    with pytest.raises(SigV4Error):
        sigv2.verify(moved, signed, "SECRET", datetime.now(UTC))
    with pytest.raises(SigV4Error) as info:
        sigv2.verify(request, signed, "SECRET", NOW)
    assert info.value.kind is Kind.EXPIRED and info.value.s3_code == "AccessDenied"


def test_not_sigv2_and_incomplete():
    assert sigv2.parse_presigned(HttpRequest("GET", "/b/k", "X-Amz-Credential=x")) is None
    with pytest.raises(SigV4Error):
        sigv2.parse_presigned(HttpRequest("GET", "/b/k", "AWSAccessKeyId=a&Signature=s"))


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
               max_size=30),
       st.sampled_from(["", "versionId=v1", "uploads", "tagging", "acl"]))
def test_any_key_signed_by_botocore_verifies(key, subresource):
    from urllib.parse import quote

    path = f"/bucket/{quote(key, safe='/~')}" + (f"?{subresource}" if subresource else "")
    request = presigned("GET", path)
    sigv2.verify(request, sigv2.parse_presigned(request), "SECRET", datetime.now(UTC))
