"""The agent's AWS client (portside.agent.aws): what it signs verifies on the server and equals
botocore's signature for the same request; the errors the server serializes come back as their
code and message; connection failures, 5xx answers and closed kept-alive connections are
retried."""

from __future__ import annotations

import asyncio
import http.client
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker
from hypothesis import given
from hypothesis import strategies as st
from websockets.headers import build_host
from websockets.uri import parse_uri

from portside.agent import aws, channel
from portside.agent.channel import Identity
from portside.auth import sigv4
from portside.gateway.routing import TARGET_PREFIXES
from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest
from portside.protocol.models import service_model
from portside.protocol.serializers import serialize_error

KEYS = aws.Keys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "FQoGZXIvYXdzEXAMPLESESSIONTOKEN")
ENDPOINT = "http://127.0.0.1:4566"
JSON_SERVICES = (aws.ECS, aws.ECR, aws.LOGS, aws.SECRETS_MANAGER, aws.SSM)

# (service, method, url, headers, body): the shapes of request the agent sends.
REQUESTS = [
    (aws.ECS, "POST", ENDPOINT + "/", {
        "x-amz-target": "AmazonEC2ContainerServiceV20141113.SubmitTaskStateChange",
        "content-type": "application/x-amz-json-1.1"}, b'{"task": "t", "reason": "h\xc3\xa9"}'),
    (aws.ECS, "GET", ENDPOINT + "/_portside/agent/ws?containerInstance=arn%3Aaws%3Aecs%3Aus-east"
     "-1%3A000000000000%3Acontainer-instance%2Fdefault%2Fabc", {}, b""),
    (aws.S3, "GET", ENDPOINT + "/bucket/dir/a%20b%C3%BC%2B~.env",
     {"x-amz-content-sha256": sigv4.EMPTY_SHA256}, b""),
    # Header names as a caller may spell them; the gateway reads them in lower case.
    (aws.LOGS, "POST", "http://Portside.Example:80/", {
        "X-Amz-Target": "Logs_20140328.PutLogEvents",
        "Content-Type": "application/x-amz-json-1.1"}, b"{}"),
]


def _wire(method: str, url: str, headers: dict[str, str], body: bytes) -> HttpRequest:
    """The request as the gateway reads it: header names in lower case."""
    parts = urlsplit(url)
    return HttpRequest(method, parts.path, parts.query,
                       {k.lower(): v for k, v in headers.items()}, body)


@pytest.mark.parametrize(("service", "method", "url", "headers", "body"), REQUESTS)
def test_a_signed_request_verifies_on_the_server(service, method, url, headers, body):
    signed = aws.signed_headers(KEYS, "us-west-2", service, method, url, headers, body)
    request = _wire(method, url, signed, body)
    parsed = sigv4.parse_signature(request)
    assert parsed is not None and parsed.session_token == KEYS.session_token
    sigv4.verify(request, parsed, KEYS.secret_access_key, datetime.now(UTC),
                 expected_service=service.signing_name, expected_region="us-west-2")
    request.headers["host"] = "127.0.0.1:4567"
    with pytest.raises(sigv4.SigV4Error) as refused:
        sigv4.verify(request, parsed, KEYS.secret_access_key, datetime.now(UTC),
                     expected_service=service.signing_name)
    assert refused.value.kind is sigv4.Kind.BAD_SIGNATURE


@pytest.mark.parametrize(("service", "method", "url", "headers", "body"), REQUESTS)
def test_the_signature_is_botocores_for_the_same_request(service, method, url, headers, body):
    signed = aws.signed_headers(KEYS, "us-west-2", service, method, url, headers, body)
    theirs = AWSRequest(method=method, url=url, data=body,
                        headers={k: v for k, v in signed.items() if k != "authorization"})
    auth_class = S3SigV4Auth if service is aws.S3 else SigV4Auth
    auth = auth_class(Credentials(KEYS.access_key_id, KEYS.secret_access_key,
                                  KEYS.session_token), service.signing_name, "us-west-2")
    theirs.context["timestamp"] = signed["x-amz-date"]
    signature = auth.signature(auth.string_to_sign(theirs, auth.canonical_request(theirs)),
                               theirs)
    assert signed["authorization"].endswith(f", Signature={signature}")


@pytest.mark.parametrize(("url", "host"), [
    ("http://127.0.0.1:4566/", "127.0.0.1:4566"),
    ("http://Portside.Example:80/_portside/agent/ws", "portside.example"),
    ("https://portside.example:443/", "portside.example"),
    ("https://portside.example:8443/", "portside.example:8443"),
    ("http://[::1]:4566/", "[::1]:4566"),
    ("http://agent:pw@portside.example:4566/", "portside.example:4566"),
])
def test_the_signed_host_is_the_one_the_channel_upgrade_sends(url, host):
    """websockets writes the channel's Host itself; a signature over another spelling of it
    is refused."""
    assert aws.signed_headers(KEYS, "us-east-1", aws.ECS, "GET", url)["host"] == host
    sent = parse_uri(url.replace("http", "ws", 1))
    assert build_host(sent.host, sent.port, sent.secure) == host


def test_signing_is_at_the_time_of_the_call():
    signed = aws.signed_headers(KEYS, "us-east-1", aws.ECS, "GET", ENDPOINT + "/")
    when = datetime.strptime(signed["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - when) < timedelta(seconds=5)


def test_the_json_services_are_routed_by_their_target_prefix():
    for service in JSON_SERVICES:
        assert TARGET_PREFIXES[service.target_prefix] == service.signing_name


# -- errors ---------------------------------------------------------------------------------------

codes = st.from_regex(r"[A-Z][A-Za-z]{0,40}", fullmatch=True)
messages = st.text(max_size=200)
# What XML 1.0 carries as it is (the serializer replaces control characters; a parser turns
# CR into LF).
xml_messages = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)


@given(st.sampled_from(JSON_SERVICES), codes, messages)
def test_a_json_error_the_server_serializes_comes_back_as_its_code_and_message(
        service, code, message):
    response = serialize_error(service_model(service.signing_name),
                               AwsError(message, code=code, status=400), "request-id")
    error = aws.json_error(response.status, response.headers, response.body)
    assert (error.code, error.message, error.status) == (code, message, 400)
    assert str(error) == f"{code}: {message}"


@given(codes, xml_messages)
def test_an_s3_error_the_server_serializes_comes_back_as_its_code_and_message(code, message):
    response = serialize_error(service_model("s3"), AwsError(message, code=code, status=404),
                               "request-id")
    error = aws.xml_error(response.status, response.body)
    assert (error.code, error.message, error.status) == (code, message, 404)


@given(st.integers(300, 599), st.dictionaries(st.sampled_from(["x-amzn-errortype", "other"]),
                                              st.text(max_size=30)), st.binary(max_size=200))
def test_any_error_answer_parses_to_an_error(status, headers, body):
    for error in (aws.json_error(status, headers, body), aws.xml_error(status, body)):
        assert isinstance(error, aws.ServiceError) and error.code and error.status == status


def test_an_error_type_loses_its_namespace_and_suffix():
    body = b'{"__type": "com.amazonaws.ecs#ClusterNotFoundException", "Message": "gone"}'
    error = aws.json_error(400, {}, body)
    assert (error.code, error.message) == ("ClusterNotFoundException", "gone")
    error = aws.json_error(400, {"x-amzn-errortype": "AccessDeniedException:http://x/"}, b"")
    assert error.code == "AccessDeniedException"


# -- the transport --------------------------------------------------------------------------------


@contextmanager
def answering(answers: list[tuple[int, bytes]]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A server giving `answers` in turn (the last one repeated); yields its endpoint and the
    headers of each request it got (its path as received under `:path`)."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append({":path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            status, body = answers[min(len(seen), len(answers)) - 1]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_call_posts_json_with_its_target_and_returns_the_answer():
    with answering([(200, b'{"clusters": []}')]) as (endpoint, seen):
        client = aws.Client(aws.ECS, endpoint, "us-east-1", KEYS)
        assert client.call("DescribeClusters", clusters=["a"]) == {"clusters": []}
    assert seen[0]["x-amz-target"] == "AmazonEC2ContainerServiceV20141113.DescribeClusters"
    assert seen[0]["content-type"] == "application/x-amz-json-1.1"
    assert seen[0]["x-amz-security-token"] == KEYS.session_token


@pytest.mark.parametrize("key", ["dir/a b+ü~%.env", "a//b/../c.env"])
def test_get_object_sends_a_path_style_request_that_verifies_as_s3(key):
    """The key is encoded once and never normalized: S3's own canonical path."""
    with answering([(200, b"A=1\n")]) as (endpoint, seen):
        assert aws.Client(aws.S3, endpoint, "us-east-1", KEYS).get_object("bucket", key) == \
            b"A=1\n"
    headers = seen[0]
    path = headers.pop(":path")
    assert unquote(path) == f"/bucket/{key}"
    request = HttpRequest("GET", path, "", headers)
    sigv4.verify(request, sigv4.parse_signature(request), KEYS.secret_access_key,
                 datetime.now(UTC), expected_service="s3", expected_region="us-east-1")


def test_a_5xx_answer_is_retried_and_a_4xx_is_not(monkeypatch):
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)
    with answering([(503, b""), (200, b"{}")]) as (endpoint, seen):
        assert aws.Client(aws.ECS, endpoint, "us-east-1", KEYS).call("ListClusters") == {}
        assert len(seen) == 2
    refused = (400, b'{"__type": "InvalidParameterException", "message": "no"}')
    with answering([refused]) as (endpoint, seen):
        with pytest.raises(aws.ServiceError) as raised:
            aws.Client(aws.ECS, endpoint, "us-east-1", KEYS).call("ListClusters")
        assert raised.value.code == "InvalidParameterException" and len(seen) == 1


def test_throttling_is_retried_until_the_attempts_are_spent(monkeypatch):
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)
    throttled = (400, b'{"__type": "ThrottlingException", "message": "slow down"}')
    with answering([throttled]) as (endpoint, seen):
        client = aws.Client(aws.ECS, endpoint, "us-east-1", KEYS, aws.Config(attempts=2))
        with pytest.raises(aws.ServiceError) as raised:
            client.call("ListClusters")
        assert raised.value.code == "ThrottlingException" and len(seen) == 2


def test_no_answer_is_an_endpoint_error(monkeypatch):
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)
    with answering([(200, b"{}")]) as (endpoint, _):
        pass  # the port is closed again
    client = aws.Client(aws.ECS, endpoint, "us-east-1", KEYS, aws.Config(connect_timeout=1))
    with pytest.raises(aws.EndpointError):
        client.call("ListClusters")


def test_an_endpoint_error_names_a_failure_that_has_no_text(monkeypatch):
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)
    client = aws.Client(aws.ECS, ENDPOINT, "us-east-1", KEYS)

    def exchange(*args: object) -> aws.Response:
        raise http.client.ResponseNotReady()

    monkeypatch.setattr(client, "_exchange", exchange)
    with pytest.raises(aws.EndpointError, match="did not answer: ResponseNotReady$"):
        client.call("ListClusters")


def test_a_kept_alive_connection_the_server_closed_is_replaced():
    with answering([(200, b"{}")]) as (endpoint, seen):
        client = aws.Client(aws.ECS, endpoint, "us-east-1", KEYS, aws.Config(attempts=1))
        client.call("ListClusters")
        for connection in client._connections._idle:
            connection.sock.shutdown(2)  # as a server's keep-alive timeout leaves it
        assert client.call("ListClusters") == {} and len(seen) == 2


def test_portside_agent_imports_no_botocore():
    """What `portside agent` imports; botocore would hold ~20 MB in every idle agent."""
    code = ("import sys\n"
            "from portside.cli import _import_without_extras\n"
            "_import_without_extras('requests')\n"
            "import portside.agent.docker_agent\n"
            "sys.exit(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('botocore', 'boto3', 'awscrt')) or None)\n")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert ran.returncode == 0, ran.stderr


def test_the_secret_and_the_session_token_stay_out_of_reprs():
    identity = Identity(ENDPOINT, "us-east-1", KEYS.access_key_id, KEYS.secret_access_key,
                        KEYS.session_token)
    for shown in (repr(KEYS), repr(identity), repr(identity.keys)):
        assert KEYS.access_key_id in shown
        assert KEYS.secret_access_key not in shown and KEYS.session_token not in shown


@pytest.mark.parametrize("body", [b"<html>hunter2</html>", b'"hunter2"', b"hunter2\xff"])
def test_a_success_that_is_no_json_object_is_a_call_error_without_the_body(body):
    with answering([(200, body)]) as (endpoint, _), pytest.raises(aws.CallError) as raised:
        aws.Client(aws.SECRETS_MANAGER, endpoint, "us-east-1", KEYS).call("GetSecretValue")
    shown = str(raised.value)
    assert "GetSecretValue" in shown and "hunter2" not in shown


def test_the_retried_error_codes_are_botocores_standard_modes():
    botocores = {*ThrottledRetryableChecker._THROTTLED_ERROR_CODES,
                 *TransientRetryableChecker._TRANSIENT_ERROR_CODES}
    assert botocores == aws._RETRIED_CODES
    assert set(TransientRetryableChecker._TRANSIENT_STATUS_CODES) == aws._RETRIED_STATUSES


def test_a_report_is_retried_through_5xx_answers_and_an_unknown_task_ends_it(monkeypatch):
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(channel, "REPORT_BACKOFF", 0)
    busy = (500, b'{"__type": "InternalFailure", "message": "database is locked"}')
    with answering([busy, busy, busy, busy, (200, b"{}")]) as (endpoint, seen):
        client = aws.Client(aws.ECS, endpoint, "us-east-1", KEYS, aws.Config(attempts=2))
        asyncio.run(channel.submit_report(client, "SubmitTaskStateChange", task="t"))
        assert len(seen) == 5
    unknown = (400, b'{"__type": "InvalidParameterException", "message": "no such task"}')
    with answering([unknown]) as (endpoint, seen):
        client = aws.Client(aws.ECS, endpoint, "us-east-1", KEYS)
        asyncio.run(channel.submit_report(client, "SubmitTaskStateChange", task="t"))
        assert len(seen) == 1
    denied = (400, b'{"__type": "AccessDeniedException", "message": "no"}')
    with answering([denied]) as (endpoint, seen):
        client = aws.Client(aws.ECS, endpoint, "us-east-1", KEYS)
        with pytest.raises(aws.ServiceError):
            asyncio.run(channel.submit_report(client, "SubmitTaskStateChange", task="t"))
