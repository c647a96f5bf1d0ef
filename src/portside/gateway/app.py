"""The ASGI application: every AWS API of portside on one endpoint.

A request passes one chain, each step one concern: route → authenticate → parse → validate →
serve → serialize → audit. Any step may raise an `AwsError`; it is serialized in the protocol
the request spoke. Anything else is a bug: logged, and answered as `InternalFailure` (500)
without a traceback.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel

from portside import __version__
from portside.auth import sigv2, sigv4
from portside.auth.chunked import open_payload
from portside.auth.identity import AccessKey, Principal, PrincipalType
from portside.context import RequestContext
from portside.gateway.authorize import authorize
from portside.gateway.inprocess import audit
from portside.gateway.routing import ENVELOPE_SERVICE, Route, UnroutableRequest, route
from portside.ids import new_uuid
from portside.protocol.errors import (
    AccessDenied,
    AwsError,
    InternalFailure,
    NotImplementedOperation,
)
from portside.protocol.http import HttpRequest, HttpResponse
from portside.protocol.models import service_model
from portside.protocol.parsers import parse_request
from portside.protocol.serializers import serialize_error, serialize_response
from portside.protocol.validate import validate_params
from portside.runtime import Runtime

log = logging.getLogger("portside.gateway")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

INTERNAL_PREFIX = "/_portside/"
AGENT_CHANNEL = "/_portside/agent/ws"
# The OCI distribution API of ECR. No S3 path-style request can start so: bucket names have
# at least three characters.
REGISTRY_PREFIX = "/v2/"

# One endpoint serves every region, so the credential scope names the region; it must be one.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


class Gateway:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.runtime)
            return
        if scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        body = _Body(receive)
        request = HttpRequest(
            method=scope["method"],
            path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=_headers(scope["headers"]),
            stream=body,
        )
        source_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        if request.path.startswith(INTERNAL_PREFIX):
            response = self.internal(await _drained(request))
        elif request.path == "/v2" or request.path.startswith(REGISTRY_PREFIX):
            response = await self.runtime.services["ecr"].registry.serve(request, source_ip)
        else:
            response = await self.handle(request, source_ip)
        if not body.complete and _has_body(request.headers):
            # Answered before the body was read (a refused upload): the rest of it may still
            # be on its way, or never come (a client waiting on Expect: 100-continue), so the
            # connection cannot carry another request (RFC 9112 §9.3).
            response.headers["Connection"] = "close"
        await _send(send, response)

    # -- the AWS API chain --------------------------------------------------------------------

    async def handle(self, request: HttpRequest, source_ip: str) -> HttpResponse:
        request_id = new_uuid()
        try:
            target = route(request)
        except UnroutableRequest as exc:
            model = service_model(ENVELOPE_SERVICE[exc.protocol])
            return serialize_error(model, exc, request_id, exc.protocol, method=request.method)
        service = self.runtime.services[target.service]
        model = service.model
        if not service.streams_requests or not _has_body(request.headers):
            # Only object data streams; a request without a body is parsed once, at once.
            target = Route(target.service, target.protocol, await _drained(target.request))
        ctx: RequestContext | None = None
        operation: OperationModel | None = None
        params: dict[str, Any] | None = None
        result: dict[str, Any] | None = None
        failure: AwsError | None = None
        try:
            ctx, request = self.authenticate(target, request_id, source_ip, request.path)
            operation, params = parse_request(model, request, target.protocol)
            if request.stream is not None and not operation.has_streaming_input:
                request = await _drained(request)
                operation, params = parse_request(model, request, target.protocol)
            ctx.operation = operation.name
            validate_params(operation, params, target.protocol)
            authorize(self.runtime, ctx, service, operation.name, params)
            handler = service.handler(operation.name)
            if handler is None:
                raise NotImplementedOperation(
                    f"portside does not implement {model.service_id} {operation.name} yet.")
            result = handler(ctx, params)
            if inspect.isawaitable(result):
                result = await result
            response = serialize_response(operation, result or {}, request_id, target.protocol)
        except AwsError as exc:
            # Kept for the audit without its traceback: the traceback holds this frame, which
            # holds `failure`, and that cycle kept the failed handler's frames (and any query
            # result they left open, a stale SQLite read snapshot on a pooled connection)
            # alive until the garbage collector ran.
            failure = exc.with_traceback(None)
            response = serialize_error(model, exc, request_id, target.protocol,
                                       method=request.method)
        except Exception:
            log.exception("internal error serving %s %s", target.service,
                          operation.name if operation else target.operation_hint())
            failure = InternalFailure("We encountered an internal error. Please try again.")
            response = serialize_error(model, failure, request_id, target.protocol,
                                       method=request.method)
        if ctx is not None and not ctx.operation:
            ctx.operation = target.operation_hint()
        if ctx is not None and ctx.operation:
            audit(self.runtime, ctx, model, operation, params, result, failure)
        return response

    def authenticate(self, target: Route, request_id: str, source_ip: str,
                     signed_path: str) -> tuple[RequestContext, HttpRequest]:
        """Verify the SigV4 signature; the access key gives the principal and the account,
        the credential scope the region. A streamed body comes back wrapped in the reader that
        checks its hash or chunk signatures as it is read. `signed_path` is the path as the
        client sent (and signed) it, before virtual-host routing moved the bucket into it."""
        request = target.request
        try:
            if target.service == "s3" and (v2 := sigv2.parse_presigned(request)) is not None:
                return self._authenticate_v2(target, request, v2, request_id, source_ip)
            signed = sigv4.parse_signature(request)
            if signed is None:
                if target.service != "s3":
                    raise sigv4.SigV4Error("missing", "Request is missing Authentication Token")
                return (self._context(target, request_id, source_ip, None, None),
                        _with_payload(request, None, None))
            if not _REGION.fullmatch(signed.credential.region):
                raise sigv4.SigV4Error("bad_scope", "Credential should be scoped to a valid "
                                       f"region, not '{signed.credential.region}'.")
            key = self.runtime.keyring.lookup(signed.credential.access_key)
            if key is None:
                raise sigv4.unknown_key(signed.credential.access_key)
            as_signed = request if request.path == signed_path else replace(request,
                                                                            path=signed_path)
            sigv4.verify(as_signed, signed, key.secret_access_key, datetime.now(UTC),
                         expected_service=self.runtime.services[target.service].model.signing_name)
            _check_session(key, signed.session_token)
            self.runtime.services["iam"].record_access_key_use(
                key.access_key_id, signed.credential.service, signed.credential.region)
            request = _with_payload(request, signed, key.secret_access_key)
        except sigv4.SigV4Error as exc:
            raise sigv4.aws_error(exc, target.protocol) from None
        return (self._context(target, request_id, source_ip, key, signed.credential.region),
                request)

    def _authenticate_v2(self, target: Route, request: HttpRequest, signed: sigv2.PresignedV2,
                         request_id: str, source_ip: str) -> tuple[RequestContext, HttpRequest]:
        """An S3 presigned URL signed with SigV2 (boto3's default for presigning S3): no region
        in it, so the request acts in the default region; the body is passed as sent."""
        key = self.runtime.keyring.lookup(signed.access_key)
        if key is None:
            raise sigv4.unknown_key(signed.access_key)
        sigv2.verify(request, signed, key.secret_access_key, datetime.now(UTC))
        _check_session(key, signed.session_token)
        return (self._context(target, request_id, source_ip, key, None),
                _with_payload(request, None, None))

    def _context(self, target: Route, request_id: str, source_ip: str,
                 key: AccessKey | None, region: str | None) -> RequestContext:
        principal = key.principal if key else Principal(
            PrincipalType.ANONYMOUS, "", "anonymous", "anonymous")
        return RequestContext(
            account_id=principal.account_id,
            region=region or self.runtime.settings.default_region,
            principal=principal,
            access_key_id=key.access_key_id if key else None,
            request_id=request_id,
            source_ip=source_ip,
            user_agent=target.request.headers.get("user-agent", ""),
            service=target.service,
            host=target.request.headers.get("host", ""),
        )

    # -- portside's own endpoints -------------------------------------------------------------

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ECS agents' channel (docs/agent-protocol.md), the one WebSocket endpoint: its
        upgrade request is SigV4-signed for `ecs` and authenticated like any API call."""
        request = HttpRequest(
            method="GET",
            path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=_headers(scope["headers"]),
        )
        source_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        try:
            if scope["path"] != AGENT_CHANNEL:
                raise AccessDenied(f"no such portside endpoint: {scope['path']}")
            ctx, _ = self.authenticate(Route("ecs", "json", request), new_uuid(), source_ip,
                                       request.path)
        except AwsError as exc:
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})
            return
        await self.runtime.services["ecs"].agent_channel(ctx, request.query_string, receive,
                                                         send)

    def internal(self, request: HttpRequest) -> HttpResponse:
        path = request.path.split("?")[0]
        if path == "/_portside/health" and request.method in ("GET", "HEAD"):
            return _json(200, {
                "version": __version__,
                "services": {n: s.health() for n, s in sorted(self.runtime.services.items())},
            })
        if path == "/_portside/reset" and request.method == "POST":
            return self.reset(request)
        return _json(404, {"error": f"no such portside endpoint: {request.method} {path}"})

    def reset(self, request: HttpRequest) -> HttpResponse:
        """Wipe all state. Only an account root may, with a SigV4-signed request."""
        try:
            signed = sigv4.parse_signature(request)
            if signed is None:
                raise AccessDenied("Reset needs a request signed with root credentials.")
            key = self.runtime.keyring.lookup(signed.credential.access_key)
            if key is None or not key.principal.is_root:
                raise AccessDenied("Only an account's root credentials may reset portside.")
            sigv4.verify(request, signed, key.secret_access_key, datetime.now(UTC),
                         expected_service=None)
        except sigv4.SigV4Error as exc:
            return _json(403, {"error": str(exc)})
        except AwsError as exc:
            return _json(exc.status, {"error": exc.message})
        self.runtime.reset()
        return _json(200, {"reset": True})


def _check_session(key: AccessKey, session_token: str | None) -> None:
    if key.session_token is not None and session_token != key.session_token:
        raise sigv4.SigV4Error("bad_token",
                               "The security token included in the request is invalid.")
    if key.expiration is not None and datetime.now(UTC) >= key.expiration:
        raise sigv4.SigV4Error("expired_token",
                               "The security token included in the request is expired")


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


class _Body:
    """A request body as the ASGI server delivers it; `complete` once all of it was read."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self.complete:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("the client went away before sending its whole body")
            self.complete = not message.get("more_body")
            if chunk := message.get("body", b""):
                yield chunk


def _has_body(headers: dict[str, str]) -> bool:
    return headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers


async def _drained(request: HttpRequest) -> HttpRequest:
    """The request with its whole body read into memory: for everything but object data."""
    if request.stream is None:
        return request
    try:
        body = b"".join([chunk async for chunk in request.stream])
    except sigv4.SigV4Error as exc:
        raise sigv4.aws_error(exc, "rest-xml") from None
    return HttpRequest(request.method, request.path, request.query_string, request.headers,
                       body)


def _with_payload(request: HttpRequest, signed: sigv4.SignedRequest | None,
                  secret: str | None) -> HttpRequest:
    """The request with its body stream wrapped in the verifying reader. The reader itself is
    passed on (not an iterator over it): once read, its `trailers` hold the trailing checksums
    of an aws-chunked body."""
    if request.stream is None:
        return request
    return replace(request, stream=open_payload(request, signed, secret))


async def _send(send: Send, response: HttpResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    body = response.body
    if isinstance(body, bytes | bytearray):
        if "content-length" not in {k.lower() for k in response.headers}:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(body)})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    async for chunk in body:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _json(status: int, payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"},
                        json.dumps(payload).encode())


async def _lifespan(receive: Receive, send: Send, runtime: Runtime) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            runtime.start_background()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await runtime.stop_background()
            runtime.trail.flush()
            await send({"type": "lifespan.shutdown.complete"})
            return
