"""SigV4 against a running server: each kind of forgery is refused with AWS's error code."""

from __future__ import annotations

import datetime
import time
from unittest import mock
from xml.etree import ElementTree

import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
CT_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"


def signed(method: str, url: str, body: bytes, headers: dict[str, str], service: str,
           region: str = "us-east-1", secret: str = "test", auth=SigV4Auth) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    auth(Credentials("test", secret), service, region).add_auth(request)
    return request


def send(request: AWSRequest, **overrides) -> requests.Response:
    prepared = request.prepare()
    return requests.request(prepared.method, overrides.get("url", prepared.url),
                            data=overrides.get("body", prepared.body),
                            headers={**dict(prepared.headers), **overrides.get("headers", {})},
                            timeout=10)


def xml_code(response: requests.Response) -> str:
    root = ElementTree.fromstring(response.content)
    return next(el.text for el in root.iter() if el.tag.endswith("Code"))


def json_code(response: requests.Response) -> str:
    return response.json()["__type"].rsplit("#", 1)[-1]


def sts_request(endpoint: str, **kw) -> AWSRequest:
    return signed("POST", endpoint + "/", STS_BODY, {"Content-Type": FORM}, "sts", **kw)


def ct_request(endpoint: str, **kw) -> AWSRequest:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": CT_TARGET}
    return signed("POST", endpoint + "/", b"{}", headers, "cloudtrail", **kw)


def test_a_correct_signature_is_accepted(portside):
    assert send(sts_request(portside.endpoint)).status_code == 200
    assert send(ct_request(portside.endpoint)).status_code == 200


def test_wrong_secret(portside):
    with pytest.raises(ClientError) as info:
        portside.client("sts", secret="nope").get_caller_identity()
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as info:
        portside.client("cloudtrail", secret="nope").lookup_events()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_unknown_access_key(portside):
    with pytest.raises(ClientError) as info:
        portside.client("sts", key="AKIAUNKNOWN").get_caller_identity()
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as info:
        portside.client("cloudtrail", key="AKIAUNKNOWN").lookup_events()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_missing_signature(portside):
    response = requests.post(portside.endpoint + "/", data=b"{}", timeout=10, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": CT_TARGET})
    assert response.status_code in (400, 403)
    assert json_code(response) == "MissingAuthenticationTokenException"


def test_tampered_header(portside):
    response = send(ct_request(portside.endpoint),
                    headers={"Content-Type": "application/x-amz-json-1.0"})
    assert response.status_code in (400, 403)
    assert json_code(response) == "InvalidSignatureException"


def test_tampered_body(portside):
    response = send(sts_request(portside.endpoint), body=STS_BODY + b"&Extra=1")
    assert response.status_code == 403
    assert xml_code(response) == "SignatureDoesNotMatch"


def test_tampered_query(portside):
    url = portside.endpoint + "/bucket?list-type=2&prefix=a"
    request = signed("GET", url, b"", {}, "s3", auth=S3SigV4Auth)
    response = send(request, url=url.replace("prefix=a", "prefix=b"))
    assert response.status_code == 403
    assert xml_code(response) == "SignatureDoesNotMatch"


def test_stale_date_is_refused(portside):
    stale = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(
        minutes=16)
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
        sts, ct = sts_request(portside.endpoint), ct_request(portside.endpoint)
        s3 = signed("GET", portside.endpoint + "/bucket", b"", {}, "s3", auth=S3SigV4Auth)
    response = send(sts)
    assert response.status_code == 403 and xml_code(response) == "SignatureDoesNotMatch"
    assert b"Signature expired" in response.content
    response = send(ct)
    assert json_code(response) == "InvalidSignatureException"
    assert b"Signature expired" in response.content
    response = send(s3)
    assert response.status_code == 403 and xml_code(response) == "RequestTimeTooSkewed"


def test_expired_presigned_url(portside):
    s3 = portside.client("s3", signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"},
                                    ExpiresIn=1)
    time.sleep(2.1)
    response = requests.get(url, timeout=10)
    assert response.status_code == 403
    assert xml_code(response) == "AccessDenied"
    assert b"expired" in response.content


def test_valid_presigned_url_passes_authentication(portside):
    url = portside.client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    response = requests.get(url, timeout=10)
    assert response.status_code == 404  # authenticated: S3 itself answers that there is no bucket
    assert xml_code(response) == "NoSuchBucket"


def test_wrong_service_scope(portside):
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": CT_TARGET}
    response = send(signed("POST", portside.endpoint + "/", b"{}", headers, "ecs"))
    assert json_code(response) == "InvalidSignatureException"
    assert b"cloudtrail" in response.content


def test_invalid_region_scope(portside):
    response = send(sts_request(portside.endpoint, region="mars-1"))
    assert response.status_code == 403
    assert xml_code(response) == "SignatureDoesNotMatch"
