"""The agent's client of portside's AWS APIs: SigV4-signed JSON calls (ECS, ECR, CloudWatch
Logs, Secrets Manager, Parameter Store) and S3 GetObject, over http.client.

The agent makes a handful of calls, all to one endpoint; a botocore client for them held about
20 MB of models, endpoint data and machinery in every idle agent. The signature is
`portside.auth.sigv4`'s, the one the server verifies. Calls block: run them in a thread.

Errors: an answer with an AWS error raises `ServiceError` (its code and message, as the JSON
protocol's `__type`/`message` or S3's XML `Code`/`Message` carry them); no answer after the
retries raises `EndpointError`. Retries follow botocore's standard mode: connection errors, 5xx
answers and throttling, with jittered exponential backoff.
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from portside import __version__
from portside.auth.sigv4 import EMPTY_SHA256, sign
from portside.protocol.http import HttpRequest

USER_AGENT = f"portside-agent/{__version__}"
MAX_BACKOFF = 20.0  # seconds, botocore's standard mode's cap
MAX_IDLE = 10  # kept-alive connections per endpoint (botocore's max_pool_connections)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_RETRIED_STATUSES = frozenset({500, 502, 503, 504})
_RETRIED_CODES = frozenset({  # throttling and transient errors, as botocore's standard mode
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException",
    "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "LimitExceededException", "RequestThrottled", "SlowDown", "EC2ThrottledException",
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})


@dataclass(frozen=True)
class Service:
    """How a service is called: its SigV4 signing name and, for the JSON protocol, the
    X-Amz-Target prefix of its operations (every service here speaks JSON 1.1 but S3)."""

    signing_name: str
    target_prefix: str | None = None


ECS = Service("ecs", "AmazonEC2ContainerServiceV20141113")
ECR = Service("ecr", "AmazonEC2ContainerRegistry_V20150921")
LOGS = Service("logs", "Logs_20140328")
SECRETS_MANAGER = Service("secretsmanager", "secretsmanager")
SSM = Service("ssm", "AmazonSSM")
S3 = Service("s3")


@dataclass(frozen=True)
class Keys:
    """An access key to sign with, temporary (with its session token) or not. Its repr leaves
    the secret and the token out, as a repr may end up in a log or a traceback."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_sts(cls, credentials: Mapping[str, Any]) -> Keys:
        """The keys of STS's `Credentials` shape (AssumeRole's answer)."""
        return cls(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                   credentials.get("SessionToken"))


@dataclass(frozen=True)
class Config:
    """How patiently a client calls; the defaults are botocore's (standard mode's 3 attempts,
    60-second timeouts), which the agent's clients had before."""

    attempts: int = 3  # the first call and its retries
    connect_timeout: float = 60.0  # seconds, botocore's defaults
    read_timeout: float = 60.0


class CallError(Exception):
    """A call that did not succeed."""


class ServiceError(CallError):
    """The service answered with an AWS error."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether botocore's standard mode would retry it: a 5xx, or a throttling or
        transient error code."""
        return self.status in _RETRIED_STATUSES or self.code in _RETRIED_CODES


class EndpointError(CallError):
    """No answer: the endpoint refused, dropped or did not answer in time, every attempt."""


def json_error(status: int, headers: Mapping[str, str], body: bytes) -> ServiceError:
    """The error of a JSON-protocol answer: `__type` (or x-amzn-ErrorType), whose namespace
    (`…#`) and suffix (`:…`) are not part of the code, and `message` or `Message`."""
    document = _json_object(body) or {}
    code = headers.get("x-amzn-errortype") or document.get("__type") or document.get("code")
    code = code.partition(":")[0].rpartition("#")[2] if isinstance(code, str) else ""
    if not code:
        return ServiceError(str(status), http.client.responses.get(status, ""), status)
    message = document.get("message") or document.get("Message") or ""
    return ServiceError(code, str(message), status)


def _json_object(body: bytes) -> dict[str, Any] | None:
    """`body` as a JSON object (an empty body as {}); None when it is none."""
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def xml_error(status: int, body: bytes) -> ServiceError:
    """The error of an S3 answer: `<Error><Code>…</Code><Message>…</Message></Error>`."""
    from xml.etree import ElementTree  # only an error needs it

    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        root = None
    code = root.findtext("Code") if root is not None else None
    if not code:
        return ServiceError(str(status), http.client.responses.get(status, ""), status)
    return ServiceError(code, root.findtext("Message") or "", status)


@dataclass(frozen=True)
class Response:
    """An answer, read whole: the agent's answers are small, and a connection goes back to the
    pool only once its answer is read."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _Connections:
    """Kept-alive connections to one endpoint, taken by whichever thread calls next."""

    def __init__(self, scheme: str, host: str) -> None:
        self.scheme = scheme
        self.host = host
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def take(self, config: Config) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was used before (the server may have closed it)."""
        with self._lock:
            if self._idle:
                connection = self._idle.pop()
                connection.sock.settimeout(config.read_timeout)
                return connection, True
        kind = http.client.HTTPSConnection if self.scheme == "https" else \
            http.client.HTTPConnection
        connection = kind(self.host, timeout=config.connect_timeout)
        connection.connect()
        connection.sock.settimeout(config.read_timeout)
        return connection, False

    def give(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()


_ENDPOINTS: dict[tuple[str, str], _Connections] = {}
_ENDPOINTS_LOCK = threading.Lock()


def _connections(scheme: str, host: str) -> _Connections:
    with _ENDPOINTS_LOCK:
        found = _ENDPOINTS.get((scheme, host))
        if found is None:
            found = _ENDPOINTS[(scheme, host)] = _Connections(scheme, host)
        return found


def host_header(url: str) -> str:
    """The Host a client sends for `url`, as botocore and websockets (the channel's upgrade)
    both write it: the name in lower case, an IPv6 address in brackets, the port unless it is
    the scheme's default, no user info. Signing `url`'s own spelling instead would not verify
    where the two differ (`http://Portside:80`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def signed_headers(keys: Keys, region: str, service: Service, method: str, url: str,
                   headers: Mapping[str, str] | None = None, body: bytes = b"") -> dict[str, str]:
    """The headers of a request to `url`, with its SigV4 signature (lower-case names)."""
    parts = urlsplit(url)
    request = HttpRequest(method, parts.path or "/", parts.query, {
        "host": host_header(url), **{k.lower(): v for k, v in (headers or {}).items()}}, body)
    sign(request, keys.access_key_id, keys.secret_access_key, region, service.signing_name,
         datetime.now(UTC), keys.session_token)
    return request.headers


class Client:
    """Calls to one service at portside's endpoint, in one Region, signed with one key."""

    def __init__(self, service: Service, endpoint: str, region: str, keys: Keys,
                 config: Config | None = None) -> None:
        self.service = service
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.keys = keys
        self.config = config or Config()
        parts = urlsplit(self.endpoint)
        self._connections = _connections(parts.scheme, host_header(self.endpoint))

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """A JSON 1.1 operation (`SubmitTaskStateChange` …); its answer. Raises CallError."""
        if self.service.target_prefix is None:
            raise ValueError(f"{self.service.signing_name} is not a JSON-protocol service")
        answer = self._send("POST", "/", {
            "x-amz-target": f"{self.service.target_prefix}.{operation}",
            "content-type": "application/x-amz-json-1.1"}, json.dumps(params).encode())
        if answer.status >= 300:
            raise json_error(answer.status, answer.headers, answer.body)
        document = _json_object(answer.body)
        if document is None:
            # Not the body: it may be a secret's value.
            raise CallError(f"{operation}: the answer ({answer.status}) is not a JSON object")
        return document

    def get_object(self, bucket: str, key: str) -> bytes:
        """S3 GetObject (path-style, as SDKs address a custom endpoint): the object's bytes.
        Raises CallError."""
        answer = self._send("GET", f"/{quote(bucket)}/{quote(key, safe='/~')}",
                            {"x-amz-content-sha256": EMPTY_SHA256}, b"")
        if answer.status >= 300:
            raise xml_error(answer.status, answer.body)
        return answer.body

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """The answer, retried while it is a connection error, a 5xx or throttling; the last
        answer when every attempt was retried. Raises EndpointError when none came."""
        attempt = 1
        while True:
            last = attempt >= self.config.attempts
            try:
                answer = self._exchange(method, path, headers, body)
            except (OSError, http.client.HTTPException) as exc:
                if last:
                    raise EndpointError(f"{self.endpoint} did not answer: "
                                        f"{str(exc) or type(exc).__name__}") from None
            else:
                if last or not self._retried(answer):
                    return answer
            time.sleep(min(random.random() * 2 ** (attempt - 1), MAX_BACKOFF))
            attempt += 1

    def _retried(self, answer: Response) -> bool:
        """Whether botocore's standard mode would retry this answer: a 5xx, or a throttling or
        transient error code."""
        if answer.status in _RETRIED_STATUSES:
            return True
        if answer.status < 400:
            return False
        error = (xml_error(answer.status, answer.body) if self.service.target_prefix is None
                 else json_error(answer.status, answer.headers, answer.body))
        return error.transient

    def _exchange(self, method: str, path: str, headers: dict[str, str],
                  body: bytes) -> Response:
        """One signed request and its answer, on a kept-alive connection when one is idle. A
        kept-alive connection the server has closed meanwhile is replaced at once, as that is
        no failure of the call."""
        url = f"{self.endpoint}{path}"
        path = urlsplit(url).path  # with the endpoint's own path, if it has one
        while True:
            connection, reused = self._connections.take(self.config)
            signed = signed_headers(self.keys, self.region, self.service, method, url,
                                    headers, body)
            try:
                connection.request(method, path, body or None, {**signed, "user-agent": USER_AGENT})
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if reused:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                self._connections.give(connection)
            return Response(response.status,
                            {k.lower(): v for k, v in response.getheaders()}, data)
