"""Responses and errors on the wire, one serializer per AWS protocol, driven by botocore's models.

Serializing runs on every request, so nothing walks the model at request time: each operation's
output shape (and each error code's shape) is compiled once per protocol into a tree of small
closures that only look up the members a shape has. What a closure emits is what botocore's
response parser reads back (see `botocore/parsers.py`), which is what every AWS SDK reads.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from functools import cache, lru_cache
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape
from botocore.utils import parse_timestamp

from portside.protocol.errors import AwsError
from portside.protocol.http import HttpResponse
from portside.protocol.query_compat import default_namespace, query_model

__all__ = ["serialize_error", "serialize_response"]

Result = Mapping[str, Any]
Encoder = Callable[[Any], Any]  # a value -> its JSON-ready form
Writer = Callable[[Any, list[str]], None]  # appends a value's XML to the output parts
ResponseWriter = Callable[[Result, str], HttpResponse]

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
GENERIC_INTERNAL_MESSAGE = "We encountered an internal error. Please try again."

# S3 names the root element of most bodies after neither the operation nor the output shape,
# and botocore's model does not carry those names; SDKs with SAX parsers (Java v1) depend on them.
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
S3_ROOT_ELEMENTS = {
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycle": "LifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketNotification": "NotificationConfiguration",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetObjectAcl": "AccessControlPolicy",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetObjectTagging": "Tagging",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketIntelligentTieringConfigurations": (
        "ListBucketIntelligentTieringConfigurationsOutput"
    ),
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
}
# Members these locations put outside the body (query-string and URI members of an output shape
# mean nothing in a response, so they stay in the body, as botocore reads them).
_LOCATED = frozenset({"header", "headers", "statusCode"})
_EMPTY: Result = {}


# ---------------------------------------------------------------------------------------------
# Public API


def serialize_response(
    operation: OperationModel, result: Result, request_id: str, protocol: str | None = None
) -> HttpResponse:
    """The HTTP response for an operation's result (a dict shaped like its output shape).

    Members absent from `result` (or None) are omitted; keys the output shape lacks are ignored.
    """
    protocol = protocol or operation.service_model.metadata["protocol"]
    return _response_writer(operation, protocol)(
        result if result is not None else _EMPTY, request_id
    )


def serialize_error(
    service: ServiceModel,
    error: AwsError,
    request_id: str,
    protocol: str | None = None,
    *,
    method: str = "",
) -> HttpResponse:
    """The HTTP response for an AWS error, so that SDKs raise the modelled exception class.

    `method` is the request's HTTP method: responses to HEAD carry no body (SDKs then read the
    code from the status, as S3 clients do for HeadObject).
    """
    protocol = protocol or service.metadata["protocol"]
    plan = _error_plan(service, protocol, error.code)
    status = _declared_status(error) or plan.status or AwsError.status
    sender = plan.sender_fault if plan.sender_fault is not None else status < 500
    response = plan.write(error, _safe_message(error, plan), request_id, sender)
    response.status = status
    if error.headers:
        response.headers.update(error.headers)
    if method == "HEAD" or status == 304:
        response.body = b""  # RFC 9110: neither a HEAD response nor a 304 has content
    return response


# ---------------------------------------------------------------------------------------------
# Scalars


def _blob_text(value: bytes | bytearray | memoryview | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode("ascii")


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _float_text(value: Any) -> str:
    number = float(value)
    if math.isfinite(number):
        return repr(value) if isinstance(value, float) else str(value)
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


def _json_float(value: Any) -> Any:
    """JSON has no NaN or infinities; AWS sends them as the strings botocore turns back."""
    number = float(value)
    if not math.isfinite(number):
        return _float_text(number)
    return number if isinstance(value, str) else value


def _utc(value: Any) -> datetime:
    """A timestamp from a datetime (naive means UTC), epoch seconds or an ISO 8601 string."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return parse_timestamp(value).astimezone(UTC)


def _epoch(value: Any) -> int | float:
    seconds = value if isinstance(value, int | float) else _utc(value).timestamp()
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def _iso8601(value: Any) -> str:
    t = _utc(value)
    millis = t.microsecond // 1000
    fraction = f".{millis:03d}" if millis else ""
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f"{fraction}Z"
    )


def _http_date(value: Any) -> str:
    return formatdate(_epoch(value), usegmt=True)


_TIMESTAMP_TEXT: dict[str, Callable[[Any], str]] = {
    "iso8601": _iso8601,
    "rfc822": _http_date,
    "unixTimestamp": lambda value: str(_epoch(value)),
}


def _timestamp_format(shape: Shape, default: str) -> str:
    return shape.serialization.get("timestampFormat") or default


# Characters XML 1.0 cannot carry at all, not even as references (an S3 key may hold them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(value: Any) -> str:
    """XML character data; a carriage return is escaped because XML parsers normalize it away.
    Characters XML cannot represent become U+FFFD, so that the document still parses."""
    text = value if isinstance(value, str) else str(value)
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _xml_text(shape: Shape) -> Callable[[Any], str]:
    """How a scalar's value reads as XML text (query and rest-xml bodies)."""
    kind = shape.type_name
    if kind == "timestamp":
        return _TIMESTAMP_TEXT[_timestamp_format(shape, "iso8601")]
    return _SCALAR_TEXT.get(kind, _escape)


_SCALAR_TEXT: dict[str, Callable[[Any], str]] = {
    "boolean": _bool_text,
    "blob": _blob_text,
    "float": _float_text,
    "double": _float_text,
    "integer": str,
    "long": str,
    "short": str,
    "byte": str,
}


def _header_text(shape: Shape) -> Callable[[Any], str]:
    """How a member located in a header is written (timestamps as HTTP dates by default)."""
    kind = shape.type_name
    if kind == "list":
        item = _header_text(shape.member)
        if shape.member.type_name != "string":  # an HTTP date's comma stays unquoted
            return lambda values: ", ".join(item(value) for value in values)
        return lambda values: ", ".join(_quoted_if_needed(item(value)) for value in values)
    if kind == "timestamp":
        return _TIMESTAMP_TEXT[_timestamp_format(shape, "rfc822")]
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return lambda value: _blob_text(json.dumps(value, separators=(",", ":")))
    return _SCALAR_TEXT.get(kind, str)


def _quoted_if_needed(text: str) -> str:
    """A list item in a header, quoted when it holds a comma or a quote (RFC 7230)."""
    if "," in text or '"' in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _namespace_attribute(namespace: Any) -> str:
    """`xmlns` for a model's xmlNamespace: a URI string, or {"uri", "prefix"}."""
    if not namespace:
        return ""
    if isinstance(namespace, str):
        return f' xmlns="{namespace}"'
    prefix = namespace.get("prefix")
    return f' xmlns{":" + prefix if prefix else ""}="{namespace["uri"]}"'


def _shape_key(shape: Shape) -> tuple[str, str]:
    """A shape as referenced: its name plus the member traits merged into its serialization."""
    return shape.name, repr(sorted(shape.serialization.items()))


# ---------------------------------------------------------------------------------------------
# JSON bodies (json, rest-json)

_json_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(value: Any) -> bytes:
    return _json_encoder.encode(value).encode()


def _as_list(values: Any) -> list[Any]:
    return values if type(values) is list else list(values)


class _JsonCompiler:
    """Compiles shapes into JSON encoders, memoized per shape so recursive shapes terminate."""

    def __init__(self, skip_located: bool) -> None:
        self._skip_located = skip_located
        self._encoders: dict[tuple[str, str], Encoder | None] = {}

    def encoder(self, shape: Shape) -> Encoder | None:
        """The encoder of a shape, or None where the value already is its JSON form."""
        key = _shape_key(shape)
        if key not in self._encoders:
            self._encoders[key] = self._compile(shape, key)
        return self._encoders[key]

    def _compile(self, shape: Shape, key: tuple[str, str]) -> Encoder | None:
        kind = shape.type_name
        if kind == "structure":
            return None if shape.is_document_type else self._structure(shape, key)
        if kind == "list":
            item = self.encoder(shape.member)
            if item is None:
                return _as_list
            return lambda values: [None if v is None else item(v) for v in values]
        if kind == "map":
            value_encoder = self.encoder(shape.value)
            if value_encoder is None:
                return None
            return lambda mapping: {
                k: None if v is None else value_encoder(v) for k, v in mapping.items()
            }
        if kind == "timestamp":
            timestamp_format = _timestamp_format(shape, "unixTimestamp")
            return (
                _epoch if timestamp_format == "unixTimestamp" else _TIMESTAMP_TEXT[timestamp_format]
            )
        if kind == "blob":
            return _blob_text
        if kind in ("float", "double"):
            return _json_float
        return None

    def _structure(self, shape: Shape, key: tuple[str, str]) -> Encoder:
        members: dict[str, tuple[str, Encoder | None]] = {}

        def encode(value: Result) -> dict[str, Any]:
            # Walks the keys the value has (JSON members are unordered): results carry fewer
            # members than their shapes declare.
            out = {}
            for name, member_value in value.items():
                member = members.get(name)
                if member is not None and member_value is not None:
                    wire_name, member_encoder = member
                    out[wire_name] = (
                        member_value if member_encoder is None else member_encoder(member_value)
                    )
            return out

        self._encoders[key] = encode  # before the members: a member may refer back to this shape
        for name, member in shape.members.items():
            if self._skip_located and member.serialization.get("location") in _LOCATED:
                continue
            members[name] = (member.serialization.get("name", name), self.encoder(member))
        return encode


@cache
def _json_compiler(service: ServiceModel, protocol: str) -> _JsonCompiler:
    # json (RPC) has no member locations: botocore reads every member from the body.
    return _JsonCompiler(skip_located=protocol != "json")


# ---------------------------------------------------------------------------------------------
# XML bodies (query, rest-xml)


class _XmlCompiler:
    """Compiles shapes into XML writers, memoized per shape and element name."""

    def __init__(self) -> None:
        self._elements: dict[tuple[Any, ...], Writer] = {}
        self._children: dict[tuple[Any, ...], Writer] = {}

    def element(self, shape: Shape, name: str, namespace: Any = None) -> Writer:
        """Writes a value as the element `name` (repeated elements for flattened collections).

        `namespace` applies when the shape itself declares none (the root of a body).
        """
        key = (*_shape_key(shape), name, repr(namespace))
        if key not in self._elements:
            self._elements[key] = self._compile(shape, name, namespace)
        return self._elements[key]

    def children(self, shape: Shape, exclude: frozenset[str] = frozenset()) -> Writer:
        """Writes a structure's members (not its own element), e.g. inside a result wrapper."""
        key = (*_shape_key(shape), exclude)
        if key in self._children:
            return self._children[key]
        members: list[tuple[str, Writer]] = []

        def write(value: Result, out: list[str]) -> None:
            for member_name, member_writer in members:
                member_value = value.get(member_name)
                if member_value is not None:
                    member_writer(member_value, out)

        self._children[key] = write  # before the members: a member may refer back to this shape
        for member_name, member in shape.members.items():
            serialization = member.serialization
            if (
                member_name in exclude
                or serialization.get("location") in _LOCATED
                or serialization.get("xmlAttribute")
            ):
                continue
            members.append((member_name, self._member_element(member, member_name)))
        return write

    def _member_element(self, member: Shape, member_name: str) -> Writer:
        # A flattened list repeats its member's element name in place of its own (botocore's
        # `_member_key_name`).
        name = member.serialization.get("name", member_name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            name = member.member.serialization.get("name", name)
        return self.element(member, name)

    def _compile(self, shape: Shape, name: str, namespace: Any) -> Writer:
        xmlns = _namespace_attribute(shape.serialization.get("xmlNamespace") or namespace)
        open_tag, close_tag = f"<{name}{xmlns}>", f"</{name}>"
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, name, xmlns)
        if kind == "list":
            return self._list(shape, name, open_tag, close_tag)
        if kind == "map":
            return self._map(shape, open_tag, close_tag)
        text = _xml_text(shape)

        def write_scalar(value: Any, out: list[str]) -> None:
            out.append(f"{open_tag}{text(value)}{close_tag}")

        return write_scalar

    def _structure(self, shape: Shape, name: str, xmlns: str) -> Writer:
        body = self.children(shape)
        attributes = [
            (member_name, member.serialization.get("name", member_name), _xml_text(member))
            for member_name, member in shape.members.items()
            if member.serialization.get("xmlAttribute")
        ]
        open_start, open_tag, close_tag = f"<{name}{xmlns}", f"<{name}{xmlns}>", f"</{name}>"

        def write_structure(value: Result, out: list[str]) -> None:
            if attributes:
                out.append(open_start + _attributes(attributes, value) + ">")
            else:
                out.append(open_tag)
            body(value, out)
            out.append(close_tag)

        return write_structure

    def _list(self, shape: Shape, name: str, open_tag: str, close_tag: str) -> Writer:
        member = shape.member
        if shape.serialization.get("flattened"):
            repeated = self.element(member, name)

            def write_flattened(values: Any, out: list[str]) -> None:
                for value in values:
                    if value is not None:
                        repeated(value, out)

            return write_flattened
        item = self.element(member, member.serialization.get("name", "member"))

        def write_list(values: Any, out: list[str]) -> None:
            out.append(open_tag)
            for value in values:
                if value is not None:
                    item(value, out)
            out.append(close_tag)

        return write_list

    def _map(self, shape: Shape, open_tag: str, close_tag: str) -> Writer:
        key_writer = self.element(shape.key, shape.key.serialization.get("name", "key"))
        value_writer = self.element(shape.value, shape.value.serialization.get("name", "value"))
        if shape.serialization.get("flattened"):
            entry_open, entry_close = open_tag, close_tag
        else:
            entry_open, entry_close = "<entry>", "</entry>"

        def write_entries(mapping: Mapping[str, Any], out: list[str]) -> None:
            for key, value in mapping.items():
                if value is not None:
                    out.append(entry_open)
                    key_writer(key, out)
                    value_writer(value, out)
                    out.append(entry_close)

        if shape.serialization.get("flattened"):
            return write_entries

        def write_map(mapping: Mapping[str, Any], out: list[str]) -> None:
            out.append(open_tag)
            write_entries(mapping, out)
            out.append(close_tag)

        return write_map


def _attributes(attributes: list[tuple[str, str, Callable[[Any], str]]], value: Result) -> str:
    """XML attributes: the text is escaped as character data already; a quote would end it."""
    parts = []
    for name, xml_name, text in attributes:
        if value.get(name) is not None:
            quoted = text(value[name]).replace('"', "&quot;")
            parts.append(f' {xml_name}="{quoted}"')
    return "".join(parts)


@cache
def _xml_compiler(service: ServiceModel) -> _XmlCompiler:
    return _XmlCompiler()


# ---------------------------------------------------------------------------------------------
# Responses


@cache
def _response_writer(operation: OperationModel, protocol: str) -> ResponseWriter:
    if protocol == "json":
        return _json_response(operation)
    if protocol == "query":
        return _query_response(operation)
    if protocol in ("rest-json", "rest-xml"):
        return _rest_response(operation, protocol)
    raise ValueError(f"portside does not serve the {protocol!r} protocol")


def _json_content_type(service: ServiceModel) -> str:
    return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"


def _json_response(operation: OperationModel) -> ResponseWriter:
    service = operation.service_model
    shape = operation.output_shape
    encode = _json_compiler(service, "json").encoder(shape) if shape is not None else None
    content_type = _json_content_type(service)

    def write(result: Result, request_id: str) -> HttpResponse:
        body = _dumps(encode(result)) if encode is not None else b"{}"
        return HttpResponse(
            200, {"Content-Type": content_type, "x-amzn-RequestId": request_id}, body
        )

    return write


def _query_response(operation: OperationModel) -> ResponseWriter:
    model = query_model(operation.service_model)
    if model is not operation.service_model:
        operation = model.operation_model(operation.name)
    shape = operation.output_shape
    body: Writer | None = None
    if shape is not None:
        compiler = _xml_compiler(model)
        wrapper = shape.serialization.get("resultWrapper")
        body = compiler.element(shape, wrapper) if wrapper else compiler.children(shape)
    root = f"{operation.name}Response"
    head = f"<{root}{_namespace_attribute(default_namespace(model.metadata))}>"
    tail = f"</RequestId></ResponseMetadata></{root}>"

    def write(result: Result, request_id: str) -> HttpResponse:
        out = [head]
        if body is not None:
            body(result, out)
        out.append(f"<ResponseMetadata><RequestId>{_escape(request_id)}{tail}")
        return HttpResponse(
            200,
            {"Content-Type": "text/xml", "x-amzn-RequestId": request_id},
            "".join(out).encode(),
        )

    return write


def _is_s3(service: ServiceModel) -> bool:
    return service.metadata.get("serviceId") == "S3"


def _request_id_headers(service: ServiceModel, protocol: str) -> Callable[[str], dict[str, str]]:
    if protocol == "rest-xml" and _is_s3(service):
        # S3 names the request id differently and adds the "extended request id" (host id).
        return lambda request_id: {
            "x-amz-request-id": request_id,
            "x-amz-id-2": _host_id(request_id),
        }
    return lambda request_id: {"x-amzn-RequestId": request_id}


def _host_id(request_id: str) -> str:
    return base64.b64encode(request_id.encode()).decode("ascii")


Body = tuple[bytes | Any, str | None]  # (body, default Content-Type)
BodyWriter = Callable[[Result], Body]


@dataclass(frozen=True)
class _RestLayout:
    """Where an output shape's members go in a REST response."""

    headers: list[tuple[str, str, Callable[[Any], str]]]  # member, header name, text
    prefixed: list[tuple[str, str]]  # member (a map), header prefix such as x-amz-meta-
    status_member: str | None
    content_type_header: str | None  # the member header that sets Content-Type, if any

    @classmethod
    def of(cls, shape: Shape | None) -> _RestLayout:
        headers, prefixed, status_member = [], [], None
        for name, member in (shape.members if shape is not None else {}).items():
            location = member.serialization.get("location")
            if location == "header":
                headers.append((name, member.serialization.get("name", name), _header_text(member)))
            elif location == "headers":
                prefixed.append((name, member.serialization.get("name", "")))
            elif location == "statusCode":
                status_member = name
        content_type = next((h for _, h, _ in headers if h.lower() == "content-type"), None)
        return cls(headers, prefixed, status_member, content_type)

    def write_headers(self, result: Result, headers: dict[str, str]) -> None:
        for name, header, text in self.headers:
            value = result.get(name)
            if value is not None:
                headers[header] = text(value)
        for name, prefix in self.prefixed:
            for key, value in (result.get(name) or _EMPTY).items():
                headers[prefix + key] = str(value)


def _rest_response(operation: OperationModel, protocol: str) -> ResponseWriter:
    service = operation.service_model
    shape = operation.output_shape
    layout = _RestLayout.of(shape)
    body_of = _rest_body(operation, protocol)
    request_id_headers = _request_id_headers(service, protocol)
    default_status = operation.http.get("responseCode", 200)

    def write(result: Result, request_id: str) -> HttpResponse:
        headers: dict[str, str] = {}
        layout.write_headers(result, headers)
        status = default_status
        if layout.status_member is not None and result.get(layout.status_member) is not None:
            status = int(result[layout.status_member])
        elif status == 200 and "Content-Range" in headers:
            status = 206  # a part of the representation (RFC 9110 §15.3.7): S3's ranged GET
        body, content_type = body_of(result)
        if status in (204, 304):
            body, content_type = b"", None
        if content_type and (
            layout.content_type_header is None or layout.content_type_header not in headers
        ):
            headers["Content-Type"] = content_type
        headers.update(request_id_headers(request_id))
        return HttpResponse(status, headers, body)

    return write


def _no_body(result: Result) -> Body:
    return b"", None


def _rest_body(operation: OperationModel, protocol: str) -> BodyWriter:
    shape = operation.output_shape
    if shape is None:
        return _no_body
    payload = shape.serialization.get("payload")
    if payload is not None:
        return _payload_body(operation, protocol, payload)
    if protocol == "rest-json":
        encode = _json_compiler(operation.service_model, protocol).encoder(shape)
        assert encode is not None  # an output shape is a structure
        return lambda result: (_dumps(encode(result)), "application/json")
    if not any(m.serialization.get("location") not in _LOCATED for m in shape.members.values()):
        return _no_body
    if _is_s3(operation.service_model) and operation.name == "GetBucketLocation":
        return _s3_bucket_location_body
    service = operation.service_model
    write = _xml_compiler(service).element(
        shape, _rest_xml_root(operation, shape), _rest_xml_namespace(service)
    )
    return lambda result: _xml_document(write, result)


def _payload_body(operation: OperationModel, protocol: str, payload: str) -> BodyWriter:
    """The body is one member: raw bytes or text, or a structure (JSON or XML) of its own."""
    member = operation.output_shape.members[payload]
    if member.type_name in ("blob", "string"):
        content_type = "application/octet-stream" if member.type_name == "blob" else "text/plain"

        def raw(result: Result) -> Body:
            value = result.get(payload)
            if value is None:
                return b"", None
            # A streaming blob may be an async iterator of bytes: passed through, never buffered.
            return (value.encode() if isinstance(value, str) else value), content_type

        return raw
    service = operation.service_model
    if protocol == "rest-json":
        encode = _json_compiler(service, protocol).encoder(member) or (lambda value: value)

        def json_payload(result: Result) -> Body:
            value = result.get(payload)
            return (b"", None) if value is None else (_dumps(encode(value)), "application/json")

        return json_payload
    write = _xml_compiler(service).element(
        member, member.serialization.get("name", member.name), _rest_xml_namespace(service)
    )

    def xml_payload(result: Result) -> Body:
        value = result.get(payload)
        return (b"", None) if value is None else _xml_document(write, value)

    return xml_payload


def _xml_document(write: Writer, value: Any) -> Body:
    out = [XML_DECLARATION]
    write(value, out)
    return "".join(out).encode(), "application/xml"


def _rest_xml_root(operation: OperationModel, shape: Shape) -> str:
    if "name" in shape.serialization:
        return shape.serialization["name"]
    if _is_s3(operation.service_model):
        return S3_ROOT_ELEMENTS.get(operation.name, f"{operation.name}Result")
    return f"{operation.name}Response"


def _rest_xml_namespace(service: ServiceModel) -> str | None:
    return service.metadata.get("xmlNamespace") or (S3_NAMESPACE if _is_s3(service) else None)


def _s3_bucket_location_body(result: Result) -> Body:
    # GetBucketLocation's value is the text of the root element itself, empty for us-east-1;
    # botocore reads it with a handler of its own (parse_get_bucket_location).
    region = _escape(result.get("LocationConstraint") or "")
    body = (
        f'{XML_DECLARATION}<LocationConstraint xmlns="{S3_NAMESPACE}">{region}</LocationConstraint>'
    )
    return body.encode(), "application/xml"


# ---------------------------------------------------------------------------------------------
# Errors

ErrorWriter = Callable[
    [AwsError, str, str, bool], HttpResponse
]  # error, message, request id, sender


@dataclass(frozen=True)
class _ErrorPlan:
    """How one error code of one service goes on the wire in one protocol (compiled once)."""

    status: int | None  # the error shape's httpStatusCode
    sender_fault: bool | None
    message_member: str | None  # the error shape's member that holds the message, if any
    write: ErrorWriter


def _declared_status(error: AwsError) -> int | None:
    """The status the raiser chose: passed in, or declared by an AwsError subclass."""
    if "status" in vars(error):
        return error.status
    for cls in type(error).__mro__:
        if cls is AwsError:
            return None
        if "status" in vars(cls):
            return cls.status
    return None


def _safe_message(error: AwsError, plan: _ErrorPlan) -> str:
    """The message for the wire, never a traceback (a bug's details stay in our logs)."""
    message = error.message or (
        str(error.fields.get(plan.message_member) or "") if plan.message_member else ""
    )
    if "Traceback (most recent call last)" in message or "\n  File " in message:
        return GENERIC_INTERNAL_MESSAGE
    return message


def _find_error_shape(model: ServiceModel, code: str) -> Shape | None:
    """The error shape for a code: by its `error.code`, else by its name."""
    shape = model.shape_for_error_code(code)
    if shape is None and code in _exception_names(model):
        shape = model.shape_for(code)
    return shape


@cache
def _exception_names(model: ServiceModel) -> frozenset[str]:
    return frozenset(shape.name for shape in model.error_shapes)


def _message_member(shape: Shape | None) -> str | None:
    for name, member in (shape.members if shape is not None else {}).items():
        if member.serialization.get("name", name).lower() == "message":
            return name
    return None


@lru_cache(maxsize=4096)
def _error_plan(service: ServiceModel, protocol: str, code: str) -> _ErrorPlan:
    model = query_model(service) if protocol == "query" else service
    shape = _find_error_shape(model, code)
    modelled = shape  # the shape whose `error` trait (code, status) describes this error
    query_code = None
    if protocol == "json" and "awsQueryCompatible" in service.metadata:
        # The body names the shape; the legacy query code rides in a header (botocore's
        # `_do_query_compatible_error_parse`), and SQS's codes live only in its query model.
        modelled = _find_error_shape(query_model(service), code)
        query_code = modelled.error_code if modelled is not None else code
        if modelled is not None:
            shape = model.shape_for(modelled.name)
    wire_code = code
    if shape is not None:
        wire_code = shape.name if query_code is not None else shape.error_code
    error_trait = modelled.metadata.get("error", {}) if modelled is not None else {}
    message_member = _message_member(shape)
    if protocol == "json":
        write = _json_error(service, shape, wire_code, query_code, message_member)
    elif protocol == "rest-json":
        write = _rest_json_error(service, shape, wire_code, message_member)
    elif protocol == "query":
        write = _query_error(model, shape, wire_code, message_member)
    elif protocol == "rest-xml":
        write = _rest_xml_error(service, shape, wire_code, message_member)
    else:
        raise ValueError(f"portside does not serve the {protocol!r} protocol")
    return _ErrorPlan(
        error_trait.get("httpStatusCode"), error_trait.get("senderFault"), message_member, write
    )


def _json_error_fields(
    service: ServiceModel, protocol: str, shape: Shape | None, message_member: str | None
) -> Callable[[AwsError, str], dict[str, Any]]:
    """The JSON body of an error: its modelled members, extra fields as given, the message."""
    encode = _json_compiler(service, protocol).encoder(shape) if shape is not None else None
    members = shape.members if shape is not None else {}
    message_key = (
        members[message_member].serialization.get("name", message_member)
        if message_member
        else "message"
    )

    def fields(error: AwsError, message: str) -> dict[str, Any]:
        body = {
            key: value if isinstance(value, str | int | float | bool) else str(value)
            for key, value in error.fields.items()
            if key not in members and value is not None
        }
        if encode is not None:
            body.update(encode(error.fields))
        body[message_key] = message
        return body

    return fields


def _json_error(
    service: ServiceModel,
    shape: Shape | None,
    wire_code: str,
    query_code: str | None,
    message_member: str | None,
) -> ErrorWriter:
    fields = _json_error_fields(service, "json", shape, message_member)
    content_type = _json_content_type(service)

    def write(error: AwsError, message: str, request_id: str, sender: bool) -> HttpResponse:
        headers = {"Content-Type": content_type, "x-amzn-RequestId": request_id}
        if query_code is not None:
            headers["x-amzn-query-error"] = f"{query_code};{'Sender' if sender else 'Receiver'}"
        return HttpResponse(0, headers, _dumps({"__type": wire_code, **fields(error, message)}))

    return write


def _rest_json_error(
    service: ServiceModel, shape: Shape | None, wire_code: str, message_member: str | None
) -> ErrorWriter:
    fields = _json_error_fields(service, "rest-json", shape, message_member)
    layout = _RestLayout.of(shape)

    def write(error: AwsError, message: str, request_id: str, sender: bool) -> HttpResponse:
        headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": wire_code,
        }
        layout.write_headers(error.fields, headers)
        return HttpResponse(0, headers, _dumps(fields(error, message)))

    return write


def _xml_error_fields(
    model: ServiceModel, shape: Shape | None, message_member: str | None
) -> Writer:
    """Error members after <Code> and <Message>: modelled ones, then extra fields as text.

    Extra fields are how S3 reports unmodelled details (<BucketName>, <Key>, <Resource>).
    """
    exclude = frozenset({message_member} if message_member else ())
    modelled = _xml_compiler(model).children(shape, exclude) if shape is not None else None
    members = shape.members if shape is not None else {}

    def write(fields: Result, out: list[str]) -> None:
        if modelled is not None:
            modelled(fields, out)
        for key, value in fields.items():
            if key not in members and value is not None:
                out.append(f"<{key}>{_escape(value)}</{key}>")

    return write


def _query_error(
    model: ServiceModel, shape: Shape | None, wire_code: str, message_member: str | None
) -> ErrorWriter:
    fields = _xml_error_fields(model, shape, message_member)
    head = f"<ErrorResponse{_namespace_attribute(default_namespace(model.metadata))}><Error>"
    code = f"<Code>{_escape(wire_code)}</Code>"

    def write(error: AwsError, message: str, request_id: str, sender: bool) -> HttpResponse:
        out = [head, "<Type>Sender</Type>" if sender else "<Type>Receiver</Type>", code]
        out.append(f"<Message>{_escape(message)}</Message>")
        fields(error.fields, out)
        out.append(f"</Error><RequestId>{_escape(request_id)}</RequestId></ErrorResponse>")
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
        return HttpResponse(0, headers, "".join(out).encode())

    return write


def _rest_xml_error(
    service: ServiceModel, shape: Shape | None, wire_code: str, message_member: str | None
) -> ErrorWriter:
    fields = _xml_error_fields(service, shape, message_member)
    layout = _RestLayout.of(shape)
    request_id_headers = _request_id_headers(service, "rest-xml")
    code = f"<Code>{_escape(wire_code)}</Code>"
    s3 = _is_s3(service)
    namespace = _namespace_attribute(service.metadata.get("xmlNamespace"))

    def write(error: AwsError, message: str, request_id: str, sender: bool) -> HttpResponse:
        rid = _escape(request_id)
        if s3:
            # S3's <Error> is the root and carries the ids; botocore tells S3's form by that tag.
            out = [XML_DECLARATION, "<Error>", code, f"<Message>{_escape(message)}</Message>"]
            fields(error.fields, out)
            out.append(f"<RequestId>{rid}</RequestId><HostId>{_host_id(request_id)}</HostId>")
            out.append("</Error>")
        else:
            out = [XML_DECLARATION, f"<ErrorResponse{namespace}><Error>"]
            out.append("<Type>Sender</Type>" if sender else "<Type>Receiver</Type>")
            out += [code, f"<Message>{_escape(message)}</Message>"]
            fields(error.fields, out)
            out.append(f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")
        headers = {"Content-Type": "application/xml", **request_id_headers(request_id)}
        layout.write_headers(error.fields, headers)
        return HttpResponse(0, headers, "".join(out).encode())

    return write
