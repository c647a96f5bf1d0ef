"""Malformed bodies, headers and URLs at every protocol: always an AWS-shaped 4xx, never a 500,
and the server stays up."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# (signing name, protocol, headers that make the request reach that protocol's parser)
TARGETS = [
    ("ecs", "json", {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.RunTask",
                     "Content-Type": "application/x-amz-json-1.1"}),
    ("sqs", "json", {"X-Amz-Target": "AmazonSQS.SendMessage",
                     "Content-Type": "application/x-amz-json-1.0"}),
    ("cloudtrail", "json", {"X-Amz-Target":
                            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
                            "Content-Type": "application/x-amz-json-1.1"}),
    ("events", "json", {"X-Amz-Target": "AWSEvents.PutRule",
                        "Content-Type": "application/x-amz-json-1.1"}),
    ("sts", "query", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("sqs", "query", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("s3", "rest-xml", {}),
    ("eks", "rest-json", {"Content-Type": "application/json"}),
]

junk_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
bodies = st.one_of(
    st.binary(max_size=300),
    junk_text.map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | junk_text,
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(junk_text, c, max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
    st.lists(st.tuples(st.sampled_from(["Action", "Version", "QueueUrl", "MaxResults",
                                        "Attribute.1.Name", "member.1", "x"]), junk_text),
             max_size=5).map(lambda kv: "&".join(f"{k}={v}" for k, v in kv).encode()),
    st.sampled_from([b"<", b"<a><b></a>", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
                     b"<x>&a;</x>", b"{", b'{"a":', b"\xff\xfe", b"null", b"[]"]),
)
paths = st.one_of(
    st.sampled_from(["/", "/b", "/b/k", "/clusters", "/clusters/x", "/clusters/%ZZ", "//",
                     "/b/%00", "/b?uploads", "/clusters/a/node-groups"]),
    st.lists(junk_text.map(lambda s: requests.utils.quote(s, safe="")), max_size=4).map(
        lambda parts: "/" + "/".join(parts)),
)
queries = st.lists(st.tuples(junk_text, junk_text), max_size=4).map(
    lambda kv: "&".join(f"{requests.utils.quote(k)}={requests.utils.quote(v)}" for k, v in kv))
header_junk = st.dictionaries(
    st.sampled_from(["x-amz-meta-a", "Content-MD5", "Range", "x-amz-acl", "If-Match",
                     "x-amz-date", "x-amz-content-sha256", "Content-Type", "x-amz-tagging"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.strip),
    max_size=3)


def aws_shaped(response: requests.Response) -> bool:
    if not response.content:
        return True  # HEAD, or an error whose body AWS also leaves empty
    try:
        payload = response.json()
        return "__type" in payload or "message" in payload or "Message" in payload
    except ValueError:
        root = ElementTree.fromstring(response.content)
        return any(el.tag.endswith("Code") for el in root.iter())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(TARGETS), method=st.sampled_from(["GET", "POST", "PUT", "DELETE",
                                                               "HEAD", "PATCH"]),
       path=paths, query=queries, body=bodies, extra=header_junk, sign=st.booleans())
def test_malformed_requests_get_aws_shaped_4xx(portside, target, method, path, query, body,
                                               extra, sign):
    service, _protocol, headers = target
    url = f"{portside.endpoint}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers={**headers})
    if sign:
        auth = S3SigV4Auth if service == "s3" else SigV4Auth
        auth(Credentials("test", "test"), service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    sent_headers = {**dict(prepared.headers), **extra} if sign else {**headers, **extra}
    response = requests.request(method, prepared.url, data=body, headers=sent_headers,
                                timeout=10)
    # 501 NotImplemented is the honest answer for a well-formed call to a service not built yet.
    not_implemented = (b"NotImplemented" in response.content
                       or response.headers.get("x-amzn-ErrorType", "").startswith("NotImpl"))
    assert response.status_code < 500 or (response.status_code == 501 and (
        method == "HEAD" or not_implemented)), (
        response.status_code, response.content[:300])
    assert response.status_code >= 400 or response.status_code == 200
    if method != "HEAD" and response.status_code >= 400:
        assert aws_shaped(response), response.content[:300]
    assert b"Traceback" not in response.content


def test_server_still_answers_after_the_fuzzing(portside):
    assert portside.client("sts").get_caller_identity()["Account"] == "000000000000"
