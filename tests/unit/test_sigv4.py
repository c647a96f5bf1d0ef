"""SigV4 verification of requests signed by botocore's own signers, as they arrive on the wire.

Each request is made by a real botocore client (so its own serializer and signer — `SigV4Auth`,
`S3SigV4Auth`, `SigV4QueryAuth`, `S3SigV4QueryAuth` — produce it), caught just before it would be
sent, and turned into the `HttpRequest` the gateway would build from those bytes.

The error codes per protocol are AWS's, as AWS answers them:
- query (STS, IAM): SignatureDoesNotMatch 403 for bad signatures, clock skew and scope
  ("Signature expired: … (… - 15 min.)", aws/aws-cli#6676), InvalidClientTokenId 403,
  MissingAuthenticationToken 403 "Request is missing Authentication Token"
  (cert-manager/aws-privateca-issuer#40), IncompleteSignature 400;
- JSON (ECS, ECR, DynamoDB…): InvalidSignatureException 400 (aws/aws-sdk-js#254),
  UnrecognizedClientException 400 (aws/aws-sdk-php#1114, ECR), MissingAuthenticationTokenException
  400, IncompleteSignatureException 400 (iann0036/cloud9-sync#10);
- S3: SignatureDoesNotMatch 403, InvalidAccessKeyId 403, RequestTimeTooSkewed 403 with
  MaxAllowedSkewMilliseconds 900000, AccessDenied "Request has expired", InvalidRequest "The
  authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
  AuthorizationHeaderMalformed "…; the region 'x' is wrong; expecting 'y'" with Region.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from portside.auth import sigv4
from portside.auth.sigv4 import Kind, SignedRequest, SigV4Error, aws_error
from portside.protocol.http import HttpRequest

KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLESESSIONTOKEN"
ENDPOINT = "http://localhost:4566"


class Sent(Exception):
    """Raised instead of sending: carries the request exactly as it would go on the wire."""


@cache
def client(service: str, token: str | None = None):
    # botocore presigns S3 URLs with SigV2 in regions that still take it unless told otherwise;
    # portside takes SigV4 only.
    session = botocore.session.get_session()
    result = session.create_client(
        service, region_name="us-east-1", endpoint_url=ENDPOINT, aws_access_key_id=KEY,
        aws_secret_access_key=SECRET, aws_session_token=token,
        config=Config(signature_version="s3v4") if service == "s3" else None)

    def capture(request: AWSPreparedRequest, **_) -> None:
        raise Sent(request)

    result.meta.events.register("before-send", capture)
    return result


def wire(method: str, url: str, headers, body) -> HttpRequest:
    """The request as the gateway sees it: path and query as sent, header names lower-cased and
    the Host header the HTTP client adds."""
    parts = urlsplit(url)
    lowered = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}
    lowered.setdefault("host", parts.netloc)
    if isinstance(body, str):
        body = body.encode()
    elif hasattr(body, "read"):
        body = body.read()
    return HttpRequest(method, parts.path or "/", parts.query, lowered, body or b"")


def sent(service: str, operation: str, *, token: str | None = None, **params) -> HttpRequest:
    with pytest.raises(Sent) as caught:
        getattr(client(service, token), operation)(**params)
    prepared: AWSPreparedRequest = caught.value.args[0]
    return wire(prepared.method, prepared.url, prepared.headers, prepared.body)


def presigned(service: str, operation: str, params: dict, *, method: str = "GET",
              body: bytes = b"", expires: int = 3600, headers: dict | None = None) -> HttpRequest:
    url = client(service).generate_presigned_url(operation, Params=params, ExpiresIn=expires)
    return wire(method, url, headers or {}, body)


def signed_by(auth_class, method: str, url: str, body: bytes = b"", headers: dict | None = None,
              service: str = "ecs") -> HttpRequest:
    """A request signed by a botocore signer directly, for shapes no client produces."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    auth_class(Credentials(KEY, SECRET), service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return wire(prepared.method, prepared.url, prepared.headers, prepared.body)


def accept(request: HttpRequest, *, service: str | None = None, region: str | None = None,
           after: timedelta = timedelta(0)) -> SignedRequest:
    signed = sigv4.parse_signature(request)
    assert signed is not None
    sigv4.verify(request, signed, SECRET, signed.amz_date + after, expected_service=service,
                 expected_region=region)
    return signed


def refuse(request: HttpRequest, *, secret: str = SECRET, service: str | None = None,
           region: str | None = None, after: timedelta = timedelta(0)) -> SigV4Error:
    with pytest.raises(SigV4Error) as raised:
        signed = sigv4.parse_signature(request)
        assert signed is not None
        sigv4.verify(request, signed, secret, signed.amz_date + after, expected_service=service,
                     expected_region=region)
    return raised.value


def codes(err: SigV4Error) -> dict[str, tuple[str, int]]:
    """The (code, status) AWS answers for this failure in each protocol."""
    return {p: (e.code, e.status) for p in ("query", "json", "rest-json", "rest-xml")
            for e in [aws_error(err, p)]}


# -- signatures that verify ----------------------------------------------------------------------


@pytest.mark.parametrize(("operation", "params"), [
    ("get_caller_identity", {}),
    ("assume_role", {"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s p"}),
])
def test_query_protocol_post_verifies(operation, params):
    request = sent("sts", operation, **params)
    assert request.method == "POST" and b"Action=" in request.body
    signed = accept(request, service="sts", region="us-east-1")
    assert signed.credential == sigv4.Credential(KEY, signed.timestamp[:8], "us-east-1", "sts")
    assert not signed.presigned


def test_json_protocol_post_verifies():
    request = sent("ecs", "run_task", taskDefinition="web:1", overrides={
        "containerOverrides": [{"name": "app", "command": ["echo", "héllo wörld"]}]})
    assert "x-amz-target" in accept(request, service="ecs").signed_headers


def test_rest_json_get_with_path_params_and_query_lists_verifies():
    # A slash inside a path parameter arrives as %2F and is encoded again in the canonical path.
    request = sent("eks", "describe_nodegroup", clusterName="c 1", nodegroupName="n/2")
    assert request.path == "/clusters/c%201/node-groups/n%2F2"
    accept(request, service="eks")
    request = sent("eks", "list_clusters", include=["all", "a b", "ü"], maxResults=10)
    assert request.query_string.count("include=") == 3
    accept(request, service="eks")


@pytest.mark.parametrize("key", [
    "plain.txt", "with space", "ünï/cödé", "a+b", "~tilde", "100%", "a//b/./c/../d", "x=y&z",
    "*'()!$@:,;", "trailing/",
])
def test_s3_keys_verify_without_normalization(key):
    put = sent("s3", "put_object", Bucket="bucket", Key=key, Body=b"data")
    accept(put, service="s3")
    accept(sent("s3", "get_object", Bucket="bucket", Key=key), service="s3")
    accept(sent("s3", "list_objects_v2", Bucket="bucket", Prefix=key), service="s3")


def test_s3_accepts_an_encoding_that_differs_only_in_spelling():
    # ~ and %7E are the same character; S3 signs the key, not the spelling on the wire.
    request = sent("s3", "get_object", Bucket="bucket", Key="~x")
    request.path = request.path.replace("~", "%7E")
    accept(request, service="s3")


def test_presigned_get_and_put_verify():
    get = presigned("s3", "get_object", {"Bucket": "bucket", "Key": "dir/a b ü+.txt"})
    signed = accept(get, service="s3", region="us-east-1")
    assert signed.presigned and signed.expires == 3600
    assert signed.payload_hash == sigv4.UNSIGNED_PAYLOAD
    put = presigned("s3", "put_object", {"Bucket": "bucket", "Key": "k"}, method="PUT",
                    body=b"any body at all")
    accept(put, service="s3", after=timedelta(minutes=59))


def test_presigned_sts_token_lives_fifteen_minutes_whatever_its_expires():
    """The EKS token: a presigned GetCallerIdentity signing x-k8s-aws-id, made with
    ExpiresIn=60 yet reused by kubectl for 14 minutes; STS ignores X-Amz-Expires."""
    sts = client("sts")

    def add_cluster(request, **_):
        request.headers["x-k8s-aws-id"] = "my-cluster"

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster)
    try:
        url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60,
                                         HttpMethod="GET")  # as `aws eks get-token` does
    finally:
        sts.meta.events.unregister("before-sign.sts.GetCallerIdentity", add_cluster)
    request = wire("GET", url, {"x-k8s-aws-id": "my-cluster"}, b"")
    signed = accept(request, service="sts", after=timedelta(minutes=14))
    assert signed.signed_headers == ("host", "x-k8s-aws-id")
    assert refuse(request, service="sts", after=timedelta(minutes=16)).kind is Kind.SKEWED
    request.headers["x-k8s-aws-id"] = "another-cluster"
    assert refuse(request, service="sts").kind is Kind.BAD_SIGNATURE


def test_session_token_is_reported_for_the_caller_to_check():
    signed = accept(sent("sts", "get_caller_identity", token=TOKEN))
    assert signed.session_token == TOKEN


def test_date_header_may_stand_in_for_x_amz_date():
    request = signed_by(SigV4Auth, "POST", ENDPOINT + "/", b"{}",
                        {"Date": "Thu, 01 Jan 2026 00:00:00 GMT"})
    assert "x-amz-date" not in request.headers
    accept(request)


def test_non_s3_paths_are_normalized_before_signing():
    request = signed_by(SigV4Auth, "GET", ENDPOINT + "/a/./b/../c//d%20e/")
    assert request.path == "/a/./b/../c//d%20e/"
    accept(request)


def test_header_values_are_compared_trimmed_with_spaces_collapsed():
    request = signed_by(SigV4Auth, "POST", ENDPOINT + "/", b"{}", {"X-Amz-Target": "a  b"})
    request.headers["x-amz-target"] = "  a   b "
    accept(request)


# -- signatures that fail ------------------------------------------------------------------------


def test_wrong_secret_is_signature_does_not_match_in_every_protocol():
    err = refuse(sent("sts", "get_caller_identity"), secret="wrong")
    assert err.kind is Kind.BAD_SIGNATURE
    assert codes(err) == {"query": ("SignatureDoesNotMatch", 403),
                          "json": ("InvalidSignatureException", 400),
                          "rest-json": ("InvalidSignatureException", 403),
                          "rest-xml": ("SignatureDoesNotMatch", 403)}
    assert aws_error(err, "query").message == (
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.")
    s3 = aws_error(refuse(sent("s3", "get_object", Bucket="b", Key="k"), secret="x"), "rest-xml")
    assert s3.message.endswith("Check your key and signing method.")
    assert s3.fields["AWSAccessKeyId"] == KEY
    assert s3.fields["CanonicalRequest"].startswith("GET\n/b/k\n")


def test_tampered_signed_header_is_refused():
    request = sent("ecs", "list_clusters")
    request.headers["x-amz-target"] = "AmazonEC2ContainerServiceV20141113.DeleteCluster"
    assert refuse(request, service="ecs").kind is Kind.BAD_SIGNATURE


def test_tampered_path_and_method_are_refused():
    request = sent("s3", "get_object", Bucket="bucket", Key="mine")
    request.path = "/bucket/yours"
    assert refuse(request).kind is Kind.BAD_SIGNATURE
    request = sent("s3", "get_object", Bucket="bucket", Key="mine")
    request.method = "DELETE"
    assert refuse(request).kind is Kind.BAD_SIGNATURE


def test_tampered_body_is_refused():
    # Without x-amz-content-sha256 the body's hash is in the signature itself.
    request = sent("sts", "get_caller_identity")
    request.body += b"&Extra=1"
    assert refuse(request).kind is Kind.BAD_SIGNATURE
    # With it, the signature covers the header and the body must match the header.
    request = signed_by(SigV4Auth, "POST", ENDPOINT + "/", b'{"a":1}', {
        "X-Amz-Content-SHA256": "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"})
    accept(request)
    request.body = b'{"a":2}'
    err = refuse(request)
    assert err.kind is Kind.BAD_CONTENT_HASH
    assert codes(err)["json"] == ("InvalidSignatureException", 400)
    # S3 names the mismatch.
    request = sent("s3", "put_object", Bucket="b", Key="k", Body=b"original")
    request.body = b"tampered"
    err = refuse(request, service="s3")
    s3 = aws_error(err, "rest-xml")
    assert (s3.code, s3.status) == ("XAmzContentSHA256Mismatch", 400)
    assert s3.fields["ClientComputedContentSHA256"] == request.headers["x-amz-content-sha256"]


def test_non_s3_unsigned_payload_is_refused():
    request = signed_by(SigV4Auth, "POST", ENDPOINT + "/", b"{}",
                        {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert refuse(request).kind is Kind.BAD_CONTENT_HASH


def test_tampered_query_is_refused():
    request = sent("eks", "list_clusters", include=["a"])
    request.query_string = request.query_string.replace("include=a", "include=b")
    assert refuse(request, service="eks").kind is Kind.BAD_SIGNATURE
    request = presigned("s3", "get_object", {"Bucket": "bucket", "Key": "k"})
    request.query_string += "&versionId=2"
    assert refuse(request, service="s3").kind is Kind.BAD_SIGNATURE


def test_stale_date_is_refused_per_protocol():
    err = refuse(sent("sts", "get_caller_identity"), after=timedelta(minutes=16))
    assert err.kind is Kind.SKEWED
    assert codes(err)["query"] == ("SignatureDoesNotMatch", 403)
    assert codes(err)["json"] == ("InvalidSignatureException", 400)
    assert err.message.startswith("Signature expired: ")
    assert err.message.endswith(" - 15 min.)")
    s3 = aws_error(refuse(sent("s3", "get_object", Bucket="b", Key="k"),
                          after=timedelta(minutes=16)), "rest-xml")
    assert (s3.code, s3.status) == ("RequestTimeTooSkewed", 403)
    assert s3.fields["MaxAllowedSkewMilliseconds"] == "900000"
    future = refuse(sent("ecs", "list_clusters"), after=-timedelta(minutes=16))
    assert future.kind is Kind.SKEWED
    assert future.message.startswith("Signature not yet current: ")


def test_fifteen_minutes_of_skew_is_tolerated():
    accept(sent("ecs", "list_clusters"), after=timedelta(minutes=15))
    accept(sent("ecs", "list_clusters"), after=-timedelta(minutes=15))


def test_expired_presigned_url_is_access_denied():
    request = presigned("s3", "get_object", {"Bucket": "b", "Key": "k"}, expires=60)
    accept(request, after=timedelta(seconds=60))
    err = refuse(request, after=timedelta(seconds=61))
    assert err.kind is Kind.EXPIRED
    s3 = aws_error(err, "rest-xml")
    assert (s3.code, s3.status, s3.message) == ("AccessDenied", 403, "Request has expired")
    assert s3.fields["X-Amz-Expires"] == "60"


def test_presigned_url_may_not_outlive_a_week():
    request = presigned("s3", "get_object", {"Bucket": "b", "Key": "k"}, expires=604801)
    err = refuse(request)
    assert err.kind is Kind.MALFORMED
    assert codes(err)["rest-xml"] == ("AuthorizationQueryParametersError", 400)


def test_wrong_region_scope_is_refused_when_the_caller_expects_one():
    accept(sent("sts", "get_caller_identity"), region="us-east-1")
    err = refuse(sent("sts", "get_caller_identity"), region="eu-west-1")
    assert err.kind is Kind.BAD_SCOPE
    assert codes(err)["query"] == ("SignatureDoesNotMatch", 403)
    assert err.message == "Credential should be scoped to a valid region, not 'us-east-1'."
    s3 = aws_error(refuse(sent("s3", "get_object", Bucket="b", Key="k"), region="eu-west-1"),
                   "rest-xml")
    assert (s3.code, s3.status) == ("AuthorizationHeaderMalformed", 400)
    assert s3.message == ("The authorization header is malformed; the region 'us-east-1' is "
                          "wrong; expecting 'eu-west-1'")
    assert s3.fields == {"Region": "eu-west-1"}


def test_wrong_service_scope_is_refused():
    err = refuse(sent("logs", "describe_log_groups"), service="ecs")
    assert err.kind is Kind.BAD_SCOPE
    assert codes(err)["json"] == ("InvalidSignatureException", 400)
    assert err.message == "Credential should be scoped to correct service: 'ecs'."


def test_credential_date_must_be_the_signing_date():
    request = sent("ecs", "list_clusters")
    request.headers["authorization"] = request.headers["authorization"].replace(
        request.headers["x-amz-date"][:8], "20000101")
    err = refuse(request)
    assert err.kind is Kind.BAD_SCOPE
    assert err.message.startswith("Date in Credential scope does not match YYYYMMDD")


@pytest.mark.parametrize(("change", "kind"), [
    (lambda a: a.split(", Signature=")[0], Kind.INCOMPLETE),
    (lambda a: a.replace("SignedHeaders=", "SignedHeaders"), Kind.INCOMPLETE),
    (lambda a: a.replace("/aws4_request", ""), Kind.MALFORMED),
    (lambda a: a.replace("/aws4_request", "/aws5_request"), Kind.BAD_SCOPE),
    (lambda a: "AWS4-HMAC-SHA256", Kind.INCOMPLETE),
])
def test_malformed_authorization_header_is_refused(change, kind):
    for service, operation in (("ecs", "list_clusters"), ("sts", "get_caller_identity")):
        request = sent(service, operation)
        request.headers["authorization"] = change(request.headers["authorization"])
        assert refuse(request).kind is kind
    if kind is Kind.INCOMPLETE:
        err = refuse(request)
        assert codes(err) == {"query": ("IncompleteSignature", 400),
                              "json": ("IncompleteSignatureException", 400),
                              "rest-json": ("IncompleteSignatureException", 403),
                              "rest-xml": ("AuthorizationHeaderMalformed", 400)}


def test_missing_date_is_refused():
    request = sent("s3", "get_object", Bucket="b", Key="k")
    del request.headers["x-amz-date"]
    err = refuse(request)
    assert err.kind is Kind.INCOMPLETE
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in err.message
    assert codes(err)["rest-xml"] == ("AccessDenied", 403)


def test_signature_version_2_is_not_supported():
    request = HttpRequest("GET", "/b/k", "", {"host": "h", "authorization": f"AWS {KEY}:c2ln"})
    with pytest.raises(SigV4Error) as raised:
        sigv4.parse_signature(request)
    s3 = aws_error(raised.value, "rest-xml")
    assert (s3.code, s3.status) == ("InvalidRequest", 400)
    assert s3.message == ("The authorization mechanism you have provided is not supported. "
                          "Please use AWS4-HMAC-SHA256.")
    assert codes(raised.value)["json"] == ("IncompleteSignatureException", 400)
    query = HttpRequest("GET", "/b/k", f"AWSAccessKeyId={KEY}&Expires=1&Signature=c2ln", {})
    with pytest.raises(SigV4Error) as raised:
        sigv4.parse_signature(query)
    assert raised.value.kind is Kind.UNSUPPORTED


def test_two_auth_mechanisms_at_once_are_refused():
    request = presigned("s3", "get_object", {"Bucket": "b", "Key": "k"})
    request.headers["authorization"] = sent("s3", "get_object", Bucket="b",
                                            Key="k").headers["authorization"]
    with pytest.raises(SigV4Error) as raised:
        sigv4.parse_signature(request)
    assert codes(raised.value)["rest-xml"] == ("InvalidArgument", 400)


def test_unsigned_request_is_anonymous_and_missing_auth_has_aws_codes():
    assert sigv4.parse_signature(HttpRequest("GET", "/bucket/key", "", {"host": "h"})) is None
    err = SigV4Error("missing", "Request is missing Authentication Token")
    assert codes(err) == {"query": ("MissingAuthenticationToken", 403),
                          "json": ("MissingAuthenticationTokenException", 400),
                          "rest-json": ("MissingAuthenticationTokenException", 403),
                          "rest-xml": ("AccessDenied", 403)}
    assert aws_error(err, "rest-json").message == "Missing Authentication Token"


def test_unknown_access_key_has_aws_codes():
    err = sigv4.unknown_key("AKIAUNKNOWN")
    assert codes(err) == {"query": ("InvalidClientTokenId", 403),
                          "json": ("UnrecognizedClientException", 400),
                          "rest-json": ("UnrecognizedClientException", 403),
                          "rest-xml": ("InvalidAccessKeyId", 403)}
    assert err.message == "The security token included in the request is invalid."
    assert aws_error(err, "rest-xml").fields == {"AWSAccessKeyId": "AKIAUNKNOWN"}


def test_s3_refuses_amz_headers_left_out_of_the_signature():
    request = sent("s3", "put_object", Bucket="b", Key="k", Body=b"x")
    request.headers["x-amz-acl"] = "public-read-write"
    err = refuse(request, service="s3")
    assert err.kind is Kind.UNSIGNED_HEADER
    s3 = aws_error(err, "rest-xml")
    assert (s3.code, s3.status) == ("AccessDenied", 403)
    assert s3.fields == {"HeadersNotSigned": "x-amz-acl"}


def test_s3_requires_a_valid_content_sha256_header():
    request = sent("s3", "get_object", Bucket="b", Key="k")
    del request.headers["x-amz-content-sha256"]
    with pytest.raises(SigV4Error) as raised:
        sigv4.parse_signature(request)
    assert codes(raised.value)["rest-xml"] == ("InvalidRequest", 400)
    request.headers["x-amz-content-sha256"] = "not-a-hash"
    with pytest.raises(SigV4Error) as raised:
        sigv4.parse_signature(request)
    assert codes(raised.value)["rest-xml"] == ("InvalidArgument", 400)


def test_errors_never_carry_the_secret_or_the_session_token():
    request = sent("s3", "get_object", token=TOKEN, Bucket="b", Key="k")
    errors = [refuse(request, secret="wrong"), refuse(request, after=timedelta(hours=1)),
              refuse(request, region="eu-west-1")]
    request.headers["x-amz-meta-x"] = "1"
    errors.append(refuse(request))
    for err in errors:
        for protocol in ("query", "json", "rest-json", "rest-xml"):
            shown = repr(aws_error(err, protocol).__dict__)
            assert SECRET not in shown and TOKEN not in shown


def test_signing_keys_are_cached():
    sigv4.signing_key.cache_clear()
    accept(sent("ecs", "list_clusters"))
    accept(sent("ecs", "list_clusters"))
    info = sigv4.signing_key.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_s3_signer_does_not_normalize_what_sigv4_would():
    # The same path signs differently under the two signers; each verifies as its own service.
    s3 = signed_by(S3SigV4Auth, "GET", ENDPOINT + "/b/a/../k", service="s3")
    accept(s3, service="s3")
    assert refuse(s3, service="s3", secret=SECRET + "x").fields["CanonicalRequest"].startswith(
        "GET\n/b/a/../k\n")
    generic = signed_by(SigV4Auth, "GET", ENDPOINT + "/b/a/../k", service="ecs")
    accept(generic, service="ecs")


def test_verify_takes_the_clock_from_the_caller():
    request = sent("ecs", "list_clusters")
    signed = sigv4.parse_signature(request)
    assert signed is not None
    sigv4.verify(request, signed, SECRET, signed.amz_date, expected_service="ecs")
    with pytest.raises(SigV4Error):
        sigv4.verify(request, signed, SECRET, datetime(2000, 1, 1, tzinfo=signed.amz_date.tzinfo),
                     expected_service="ecs")


def test_raw_non_ascii_bytes_in_a_path_sign_as_their_percent_encoding():
    # A client that leaves UTF-8 unencoded in the path; the gateway decodes the bytes as latin-1.
    request = sent("s3", "get_object", Bucket="bucket", Key="ü")
    assert request.path == "/bucket/%C3%BC"
    request.path = "/bucket/" + "ü".encode().decode("latin-1")
    accept(request, service="s3")
