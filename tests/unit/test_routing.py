"""Routing: which service and protocol a request is for."""

from __future__ import annotations

import pytest
from botocore.session import get_session

from portside.gateway.routing import PROTOCOLS, SIGNING_NAMES, TARGET_PREFIXES, route
from portside.protocol.http import HttpRequest


def test_static_tables_agree_with_botocore_models():
    session = get_session()
    for prefix, service in TARGET_PREFIXES.items():
        assert session.get_service_model(service).metadata["targetPrefix"] == prefix
    for signing_name, service in SIGNING_NAMES.items():
        model = session.get_service_model(service)
        assert model.signing_name == signing_name
        assert model.metadata["protocol"] == PROTOCOLS[service]


def auth(service: str) -> dict[str, str]:
    return {"authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/"
                             f"{service}/aws4_request, SignedHeaders=host, Signature=00"}


@pytest.mark.parametrize("headers, body, query, expected", [
    ({"x-amz-target": "AmazonEC2ContainerServiceV20141113.RunTask", **auth("ecs")}, b"", "",
     ("ecs", "json", "RunTask")),
    ({"x-amz-target": "AmazonSQS.SendMessage", **auth("sqs")}, b"", "",
     ("sqs", "json", "SendMessage")),
    ({"content-type": "application/x-www-form-urlencoded", **auth("sqs")},
     b"Action=SendMessage&Version=2012-11-05", "", ("sqs", "query", "SendMessage")),
    ({"content-type": "application/x-www-form-urlencoded", **auth("sts")},
     b"Action=GetCallerIdentity&Version=2011-06-15", "", ("sts", "query", "GetCallerIdentity")),
    ({}, b"", "Action=AssumeRoleWithWebIdentity&Version=2011-06-15",
     ("sts", "query", "AssumeRoleWithWebIdentity")),
    (auth("eks"), b"", "", ("eks", "rest-json", "")),
    (auth("s3"), b"", "", ("s3", "rest-xml", "")),
    ({}, b"", "", ("s3", "rest-xml", "")),
])
def test_route_by_target_scope_action_or_s3(headers, body, query, expected):
    r = route(HttpRequest("POST", "/", query, headers, body))
    assert (r.service, r.protocol, r.operation_hint()) == expected


def test_presigned_url_scope_routes():
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20260101%2Fus-east-1%2F"
             "sts%2Faws4_request&Action=GetCallerIdentity")
    assert route(HttpRequest("GET", "/", query, {})).service == "sts"


@pytest.mark.parametrize("host, path, expected", [
    ("incoming.localhost:4566", "/a/b.txt", "/incoming/a/b.txt"),
    ("incoming.s3.localhost", "/", "/incoming/"),
    ("my.dotted.bucket.localhost:4566", "/k", "/my.dotted.bucket/k"),
    ("127.0.0.1:4566", "/incoming/k", "/incoming/k"),
    ("localhost:4566", "/incoming/k", "/incoming/k"),
])
def test_s3_virtual_host_addressing_becomes_path_style(host, path, expected):
    r = route(HttpRequest("GET", path, "", {"host": host, **auth("s3")}))
    assert r.request.path == expected


def test_unknown_target_is_unroutable():
    from portside.gateway.routing import UnroutableRequest

    with pytest.raises(UnroutableRequest) as info:
        route(HttpRequest("POST", "/", "", {"x-amz-target": "DynamoDB_20120810.GetItem"}))
    assert info.value.status == 501
