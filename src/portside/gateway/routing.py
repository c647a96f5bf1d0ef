"""Which service a request is for, and in which protocol it speaks.

The order follows what a request carries: a JSON-protocol request names its operation in
`X-Amz-Target`; any signed request names its service in the SigV4 credential scope; an
unsigned request is either an unsigned STS call (`Action=…`) or anonymous S3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl

from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest

# X-Amz-Target prefix -> service (botocore name). Kept static so start-up loads no model;
# tests/unit/test_routing.py checks it against botocore's models.
TARGET_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
    "Logs_20140328": "logs",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": "cloudtrail",
}

# SigV4 signing name -> service, and each service's protocol in botocore's model.
SIGNING_NAMES = {
    "sts": "sts", "iam": "iam", "s3": "s3", "sqs": "sqs", "ecs": "ecs", "ecr": "ecr",
    "eks": "eks", "events": "events", "secretsmanager": "secretsmanager", "ssm": "ssm",
    "logs": "logs", "cloudtrail": "cloudtrail",
}
PROTOCOLS = {
    "sts": "query", "iam": "query", "s3": "rest-xml", "eks": "rest-json", "sqs": "json",
    "ecs": "json", "ecr": "json", "events": "json", "secretsmanager": "json", "ssm": "json",
    "logs": "json", "cloudtrail": "json",
}

# A service whose model supplies a protocol's error envelope when no service could be named.
ENVELOPE_SERVICE = {"json": "ecs", "query": "sts", "rest-xml": "s3", "rest-json": "eks"}

_SCOPE = re.compile(r"Credential=[^/,\s]*/\d{8}/[^/,\s]*/([^/,\s]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"(?:^|&)X-Amz-Credential=[^&]*?(?:%2F|/)\d{8}(?:%2F|/)[^&]*?(?:%2F|/)"
                          r"([A-Za-z0-9-]+)(?:%2F|/)aws4_request")
_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+?)(?:\.s3)?\.localhost(?::\d+)?$")


@dataclass(frozen=True)
class Route:
    service: str
    protocol: str
    request: HttpRequest  # for S3 virtual-host addressing: rewritten to path style

    def operation_hint(self) -> str:
        """The operation the request names, when parsing failed before naming it."""
        if self.protocol == "json":
            return self.request.headers.get("x-amz-target", "").rpartition(".")[2]
        return _action(self.request) if self.protocol == "query" else ""


class UnroutableRequest(AwsError):
    """A request for a service portside does not serve at all."""

    code = "NotImplemented"
    status = 501

    def __init__(self, message: str, protocol: str) -> None:
        super().__init__(message)
        self.protocol = protocol


def route(request: HttpRequest) -> Route:
    headers = request.headers
    target = headers.get("x-amz-target")
    if target:
        prefix = target.rpartition(".")[0]
        service = TARGET_PREFIXES.get(prefix)
        if service is None:
            raise UnroutableRequest(f"portside does not serve the target {target!r}.", "json")
        return Route(service, "json", request)
    signing_name = _signing_name(request)
    if signing_name is not None:
        service = SIGNING_NAMES.get(signing_name)
        if service is None:
            raise UnroutableRequest(
                f"portside does not serve the service {signing_name!r}.", _guess_protocol(request))
        if service == "s3":
            return Route("s3", "rest-xml", to_path_style(request))
        protocol = "query" if service == "sqs" else PROTOCOLS[service]
        return Route(service, protocol, request)
    if _action(request):
        return Route("sts", "query", request)
    return Route("s3", "rest-xml", to_path_style(request))


def to_path_style(request: HttpRequest) -> HttpRequest:
    """`<bucket>.localhost[:port]/key` -> `/<bucket>/key`, so one parser serves both styles."""
    match = _VIRTUAL_HOST.match(request.headers.get("host", ""))
    if match is None:
        return request
    return replace(request, path=f"/{match['bucket']}{request.path}")


def _signing_name(request: HttpRequest) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        match = _SCOPE.search(auth)
        return match.group(1) if match else None
    if "X-Amz-Credential" in request.query_string:
        match = _QUERY_SCOPE.search(request.query_string)
        return match.group(1) if match else None
    return None


def _action(request: HttpRequest) -> str:
    """The query protocol's `Action`, from the query string or a form body."""
    for source in (request.query_string, _form_body(request)):
        for key, value in parse_qsl(source, keep_blank_values=True):
            if key == "Action":
                return value
    return ""


def _form_body(request: HttpRequest) -> str:
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        return request.body.decode("utf-8", "replace")
    return ""


def _guess_protocol(request: HttpRequest) -> str:
    content_type = request.headers.get("content-type", "")
    if "x-amz-json" in content_type:
        return "json"
    if "x-www-form-urlencoded" in content_type:
        return "query"
    return "rest-json" if "json" in content_type else "rest-xml"
