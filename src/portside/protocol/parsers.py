"""Server-side request parsers: an HTTP request in, the operation and its parameters out.

One parser per AWS protocol, all driven by botocore's service models, so that a request any SDK
sends comes back as the parameters its caller passed (model member names, Python types):

- json (1.0 and 1.1): the operation is named by `X-Amz-Target: <targetPrefix>.<Operation>`, the
  parameters are the JSON body.
- query: a form (body or query string) with `Action`, `Version` and flattened keys such as
  `Attribute.1.Name`. SQS is parsed this way too for SDKs from before its move to JSON.
- rest-json and rest-xml: the operation is found from the method and the path (the model's
  `requestUri` templates, with greedy labels and query-string literals like `?tagging`);
  parameters come from the path, query string, headers and a JSON or XML body.

Whatever the input, only an `AwsError` leaves `parse_request`: bad input gets the error AWS
answers, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache, partial
from typing import Any
from urllib.parse import parse_qsl, unquote
from weakref import WeakKeyDictionary
from xml.parsers import expat

from botocore.model import OperationModel, ServiceModel, Shape

from portside.protocol.errors import AwsError, NotImplementedOperation
from portside.protocol.http import HttpRequest
from portside.protocol.query_compat import query_model
from portside.protocol.validate import Violation, member_path, validation_error

Params = dict[str, Any]


def parse_request(
    service: ServiceModel, request: HttpRequest, protocol: str | None = None
) -> tuple[OperationModel, Params]:
    """The operation `request` calls and its parameters, or the AWS error for a bad request.

    `protocol` defaults to the model's; SQS passes "query" for requests from older SDKs.
    """
    protocol = protocol or service.metadata.get("protocol", "")
    parser = _PARSERS.get(protocol)
    if parser is None:
        raise NotImplementedOperation(f"portside does not speak the {protocol!r} protocol")
    try:
        return parser(service, request, protocol)
    except RecursionError:
        # Only input nested deeper than any model allows gets here (json.loads, recursive shapes).
        raise _body_error(protocol, "The request is nested too deeply.") from None


# --- errors -----------------------------------------------------------------------------------


class _Invalid(Exception):
    """A value that does not fit its shape; the caller knows which AWS error that makes."""

    def __init__(self, value: Any, expected: str) -> None:
        super().__init__(f"{expected}, got {_preview(value)}")
        self.value = value
        self.expected = expected


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _body_error(protocol: str, message: str) -> AwsError:
    """A body that cannot be read as the protocol's format."""
    if protocol == "rest-xml":
        # S3's answer for any unreadable or mis-shaped XML body.
        return AwsError(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema",
            code="MalformedXML",
        )
    if protocol == "query":
        return AwsError(message, code="InvalidQueryParameter")  # AWS "Common Errors"
    return AwsError(message, code="SerializationException")  # coral's answer for bad JSON


def _unknown_operation(message: str, status: int = 400) -> AwsError:
    # JSON services answer an unknown X-Amz-Target with 400 UnknownOperationException (as
    # Kinesis, Firehose and CloudWatch Logs do); Smithy servers answer a REST request that no
    # route matches with the same code and 404.
    return AwsError(message, code="UnknownOperationException", status=status)


def _bad_text(op: OperationModel, protocol: str, path: str, error: _Invalid) -> AwsError:
    """A path, query-string, header or form value that does not parse: a validation error."""
    violation = Violation(path, error.value, f"Member must be {error.expected}")
    return validation_error(op, protocol, [violation])


# --- scalar values ----------------------------------------------------------------------------

_INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,20}")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_EPOCH_TEXT = re.compile(r"[+-]?[0-9]{1,12}(?:\.[0-9]{0,9})?")
_EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "boolean": "true or false",
}


def _integer(value: int, shape: Shape) -> int:
    low, high = _INT_RANGES.get(shape.type_name, _INT_RANGES["long"])
    if not low <= value <= high:
        raise _Invalid(value, f"an integer between {low} and {high}")
    return value


def _timestamp(value: Any) -> datetime:
    """Any of the AWS timestamp formats, whichever the shape declares, as an aware UTC datetime.

    epoch seconds (json), ISO 8601 (query, xml, uri) and RFC 822 (headers) differ enough to be
    told apart by their text, so a client that picks another format than the model's still works.
    """
    try:
        if isinstance(value, str):
            text = value.strip()
            if _EPOCH_TEXT.fullmatch(text):
                value = float(text)
            elif text[:1].isalpha():
                parsed = parsedate_to_datetime(text)
                return _utc(parsed)
            else:
                return _utc(datetime.fromisoformat(text))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=UTC)
    except (ValueError, TypeError, OverflowError, OSError, IndexError):
        pass
    raise _Invalid(value, "a timestamp")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _blob(value: Any) -> bytes:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise _Invalid(value, "base64-encoded binary data")


def _from_text(text: str, shape: Shape) -> Any:
    """A scalar written as text: query and form values, labels, headers, XML elements."""
    kind = shape.type_name
    if kind == "string":
        return text
    stripped = text.strip()
    if kind in ("integer", "long"):
        if _INT_TEXT.fullmatch(stripped):
            return _integer(int(stripped), shape)
    elif kind in ("float", "double"):
        if stripped in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[stripped]
        if _FLOAT_TEXT.fullmatch(stripped):
            return float(stripped)
    elif kind == "boolean":
        if stripped in ("true", "false"):
            return stripped == "true"
    elif kind == "blob":
        return _blob(stripped)
    elif kind == "timestamp":
        return _timestamp(stripped)
    raise _Invalid(text, _EXPECTED.get(kind, f"a {kind}"))


# --- json -------------------------------------------------------------------------------------

Reader = Callable[[Any], Any]
JsonMembers = dict[str, tuple[str, Reader]]  # JSON key -> (member name, its reader)


class _JsonReaders:
    """Compiles the shapes of one service into functions that read their JSON values, once per
    shape: dispatching on each value's shape (its type, members, traits) cost as much as the
    reading did, on every request."""

    def __init__(self) -> None:
        self._readers: dict[str, Reader] = {}  # shape names are unique within a service
        self._members: dict[str, JsonMembers] = {}

    def reader(self, shape: Shape) -> Reader:
        found = self._readers.get(shape.name)
        if found is None:
            found = self._readers[shape.name] = self._compile(shape)
        return found

    def members(self, shape: Shape) -> JsonMembers:
        """A structure's members by JSON key: the member's locationName if it has one."""
        found = self._members.get(shape.name)
        if found is None:
            found = self._members[shape.name] = {}
            # Filled after registering, so that a member may refer back to this structure.
            found.update({m.serialization.get("name", name): (name, self.reader(m))
                          for name, m in shape.members.items()})
        return found

    def _compile(self, shape: Shape) -> Reader:
        kind = shape.type_name
        if kind == "structure":
            return _same if shape.metadata.get("document") else self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape)
        if kind == "string":
            return _json_string
        return partial(_json_scalar, shape=shape)

    def _structure(self, shape: Shape) -> Reader:
        expected = f"a JSON object for {shape.name}"
        members: JsonMembers = {}

        def read(value: Any) -> Params:
            if not isinstance(value, dict):
                raise _Invalid(value, expected)
            return _json_structure(value, members)

        self._readers[shape.name] = read  # before the members: they may refer back to it
        members = self.members(shape)  # the same dict, complete once its filling ends
        return read

    def _list(self, shape: Shape) -> Reader:
        expected = f"a JSON array for {shape.name}"
        item = self.reader(shape.member)

        def read(value: Any) -> list[Any]:
            if not isinstance(value, list):
                raise _Invalid(value, expected)
            return [item(v) for v in value if v is not None]

        return read

    def _map(self, shape: Shape) -> Reader:
        expected = f"a JSON object for {shape.name}"
        item = self.reader(shape.value)

        def read(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise _Invalid(value, expected)
            return {k: item(v) for k, v in value.items() if v is not None}

        return read


@cache
def _json_readers(service: ServiceModel) -> _JsonReaders:
    return _JsonReaders()


def _same(value: Any) -> Any:
    return value


def _json_structure(value: dict, members: JsonMembers) -> Params:
    out: Params = {}
    for key, item in value.items():
        member = members.get(key)
        if member is not None and item is not None:
            out[member[0]] = member[1](item)
    return out


def _json_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid(value, _EXPECTED["string"])


def _json_scalar(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "string":
        return _json_string(value)
    if kind in ("integer", "long"):
        if isinstance(value, int) and not isinstance(value, bool):
            return _integer(value, shape)
        if isinstance(value, float) and value.is_integer():
            return _integer(int(value), shape)
    elif kind in ("float", "double"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
    elif kind == "blob":
        return _blob(value)
    elif kind == "timestamp":
        return _timestamp(value)
    else:
        return value
    raise _Invalid(value, _EXPECTED[kind])


def _json_document(body: bytes, protocol: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError, bad UTF-8, numbers too long
        raise _body_error(protocol, "The request body is not valid JSON.") from None


def _parse_json(service: ServiceModel, request: HttpRequest, protocol: str) -> tuple:
    target = request.headers.get("x-amz-target", "")
    if not target:
        raise _unknown_operation("The request has no X-Amz-Target header.")
    prefix, _, name = target.rpartition(".")
    if prefix != service.metadata.get("targetPrefix") or name not in _operations(service):
        raise _unknown_operation(f"Unknown operation {target}.")
    op = service.operation_model(name)
    shape = op.input_shape
    body = _request_body(op, request, protocol)
    if shape is None or not body.strip():
        return op, {}
    document = _json_document(body, protocol)
    try:
        if not isinstance(document, dict):
            raise _Invalid(document, "a JSON object")
        return op, _json_structure(document, _json_readers(service).members(shape))
    except _Invalid as e:
        raise _body_error(protocol, str(e)) from None


# --- query ------------------------------------------------------------------------------------

_VALUE = object()  # key of a query-tree node's own value, next to its children's names
_ABSENT = object()  # what a node that carries no value reads as


@dataclass
class _QueryContext:
    op: OperationModel
    protocol: str


def _form_pairs(text: str) -> list[tuple[str, str]]:
    return parse_qsl(text, keep_blank_values=True, errors="strict")


def _parse_query(service: ServiceModel, request: HttpRequest, protocol: str) -> tuple:
    # The Action may be inside a compressed form, so a gzip-encoded form is always inflated.
    body = _inflated(request, protocol)
    try:
        pairs = _form_pairs(request.query_string)
        if body:
            pairs += _form_pairs(body.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError included
        raise _body_error(protocol, "The request parameters are not valid UTF-8.") from None
    tree: dict[Any, Any] = {}
    action = ""
    for key, value in pairs:
        if key == "Action":
            action = value
        elif key != "Version":  # one API version per service: any client's Version is served
            node = tree
            for part in key.split("."):
                node = node.setdefault(part, {})
            node[_VALUE] = value
    if not action:
        raise AwsError("The request must contain the parameter Action.", code="MissingAction")
    if action not in _operations(service):
        message = f"The action {action} is not valid for this web service."
        raise AwsError(message, code="InvalidAction")
    # A json service served over query (SQS) is read with its rebuilt query model: the query
    # names its SDKs send are no longer in the json one.
    op = query_model(service).operation_model(action)
    shape = op.input_shape
    if shape is None:
        return op, {}
    params = _query_structure(tree, shape, _QueryContext(op, protocol), "")
    if service.metadata.get("endpointPrefix") == "sqs":
        _queue_url_from_path(params, shape, request)
    return op, params


def _queue_url_from_path(params: Params, shape: Shape, request: HttpRequest) -> None:
    """Older SDKs post SQS query requests to the queue's URL and leave QueueUrl out of the form."""
    if "QueueUrl" in shape.members and "QueueUrl" not in params and request.path.strip("/"):
        host = request.headers.get("host")
        params["QueueUrl"] = f"http://{host}{request.path}" if host else request.path


def _query_structure(node: dict, shape: Shape, ctx: _QueryContext, path: str) -> Params:
    out: Params = {}
    for name, member in shape.members.items():
        key = member.serialization.get("name", name)
        child = node.get(key)
        if member.type_name == "list" and member.serialization.get("flattened"):
            # botocore names a flattened list after its items when they have a name; the
            # Smithy spec after the member: either is read.
            item_key = member.member.serialization.get("name")
            if item_key and item_key in node:
                key, child = item_key, node[item_key]
        if child is not None:
            value = _from_query(child, member, ctx, _join(path, member_path(name)))
            if value is not _ABSENT:
                out[name] = value
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _indexed(node: dict) -> list[dict]:
    """Children numbered 1, 2, …, in number order."""
    keys = [k for k in node if isinstance(k, str) and k.isascii() and k.isdigit()]
    return [node[k] for k in sorted(keys, key=int)]


def _from_query(node: dict, shape: Shape, ctx: _QueryContext, path: str) -> Any:
    """The value of a query-tree node, or _ABSENT when the node carries none."""
    kind = shape.type_name
    if kind == "structure":
        return _query_structure(node, shape, ctx, path)
    if kind == "list":
        if not shape.serialization.get("flattened"):
            node = node.get(shape.member.serialization.get("name", "member"), {})
        items = [
            _from_query(n, shape.member, ctx, f"{path}.{i}.member")
            for i, n in enumerate(_indexed(node), 1)
        ]
        return [v for v in items if v is not _ABSENT]
    if kind == "map":
        if not shape.serialization.get("flattened"):
            node = node.get("entry", {})
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out = {}
        for entry in _indexed(node):
            key, value = entry.get(key_name, {}), entry.get(value_name)
            if _VALUE in key and value is not None:
                item = _from_query(value, shape.value, ctx, f"{path}.{key[_VALUE]}")
                if item is not _ABSENT:
                    out[key[_VALUE]] = item
        return out
    if _VALUE not in node:
        return _ABSENT
    try:
        return _from_text(node[_VALUE], shape)
    except _Invalid as e:
        raise _bad_text(ctx.op, ctx.protocol, path, e) from None


# --- xml --------------------------------------------------------------------------------------


class _Element:
    __slots__ = ("tag", "attrs", "children", "text")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag.rpartition(":")[2]  # local name: prefixes are the client's choice
        self.attrs = attrs
        self.children: list[_Element] = []
        self.text: list[str] = []


class _Forbidden(Exception):
    pass


def _forbid(*_: Any) -> None:
    raise _Forbidden


def _xml_root(body: bytes) -> _Element:
    """Parse XML with expat, refusing DTDs (and so entity expansion and external entities)."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    stack: list[_Element] = []
    roots: list[_Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = _Element(tag, attrs)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, _Forbidden, ValueError):
        raise _body_error("rest-xml", "") from None
    if not roots:
        raise _body_error("rest-xml", "")
    return roots[0]


@dataclass(frozen=True)
class _XmlMember:
    name: str
    shape: Shape
    tag: str  # element or attribute name
    kind: str  # "attribute", "flat-list", "flat-map" or "element"
    alt_tag: str = ""  # a flattened list's items may carry their own name instead


_cache_xml_members: WeakKeyDictionary[Shape, list[_XmlMember]] = WeakKeyDictionary()


def _xml_members(shape: Shape) -> list[_XmlMember]:
    found = _cache_xml_members.get(shape)
    if found is None:
        found = [_xml_member(name, m) for name, m in shape.members.items()]
        _cache_xml_members[shape] = found
    return found


def _xml_member(name: str, shape: Shape) -> _XmlMember:
    tag = shape.serialization.get("name", name)
    flattened = shape.serialization.get("flattened")
    if shape.serialization.get("xmlAttribute"):
        return _XmlMember(name, shape, tag, "attribute")
    if flattened and shape.type_name == "list":
        return _XmlMember(name, shape, tag, "flat-list", shape.member.serialization.get("name", ""))
    if flattened and shape.type_name == "map":
        return _XmlMember(name, shape, tag, "flat-map")
    return _XmlMember(name, shape, tag, "element")


def _xml_structure(element: _Element, members: list[_XmlMember]) -> Params:
    by_tag: dict[str, list[_Element]] = {}
    for child in element.children:
        by_tag.setdefault(child.tag, []).append(child)
    out: Params = {}
    for m in members:
        if m.kind == "attribute":
            if m.tag in element.attrs:
                out[m.name] = _from_text(element.attrs[m.tag], m.shape)
            continue
        found = by_tag.get(m.tag) or (by_tag.get(m.alt_tag) if m.alt_tag else None)
        if not found:
            continue
        if m.kind == "flat-list":
            out[m.name] = [_from_xml(e, m.shape.member) for e in found]
        elif m.kind == "flat-map":
            out[m.name] = _xml_entries(found, m.shape)
        else:
            out[m.name] = _from_xml(found[0], m.shape)
    return out


def _xml_entries(entries: list[_Element], shape: Shape) -> dict:
    key_tag = shape.key.serialization.get("name", "key")
    value_tag = shape.value.serialization.get("name", "value")
    out = {}
    for entry in entries:
        key = next((c for c in entry.children if c.tag == key_tag), None)
        value = next((c for c in entry.children if c.tag == value_tag), None)
        if key is not None and value is not None:
            out[_from_xml(key, shape.key)] = _from_xml(value, shape.value)
    return out


def _from_xml(element: _Element, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _xml_structure(element, _xml_members(shape))
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return [_from_xml(e, shape.member) for e in element.children if e.tag == tag]
    if kind == "map":
        return _xml_entries([e for e in element.children if e.tag == "entry"], shape)
    return _from_text("".join(element.text), shape)


# --- rest-json and rest-xml -------------------------------------------------------------------


@dataclass
class _Route:
    op: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name
    literals: dict[str, str]  # query-string literals of the requestUri ("" = presence only)
    specificity: tuple[int, ...]  # literal path characters, fewer labels, not deprecated, order
    required: list[tuple[str, str]]  # required ("querystring" | "header", wire name) members
    # Members bound to the request line or headers: (name, shape, location, wire name), with
    # header names lower-cased as the gateway hands them over.
    bindings: list[tuple[str, Shape, str, str]]


_cache_routes: WeakKeyDictionary[ServiceModel, dict[str, list[_Route]]] = WeakKeyDictionary()
_cache_operations: WeakKeyDictionary[ServiceModel, frozenset[str]] = WeakKeyDictionary()


def _routes(service: ServiceModel) -> dict[str, list[_Route]]:
    """The REST routes of a service by HTTP method, compiled once per model."""
    found = _cache_routes.get(service)
    if found is None:
        found = {}
        for index, name in enumerate(service.operation_names):
            op = service.operation_model(name)
            if "requestUri" in op.http:
                route = _route(op, index)
                found.setdefault(route.method, []).append(route)
        _cache_routes[service] = found
    return found


def _operations(service: ServiceModel) -> frozenset[str]:
    found = _cache_operations.get(service)
    if found is None:
        found = _cache_operations[service] = frozenset(service.operation_names)
    return found


def _route(op: OperationModel, index: int) -> _Route:
    path, _, query = op.http["requestUri"].partition("?")
    pattern, labels, literal_chars = "", {}, 0
    for part in re.split(r"(\{[^}]*\})", path):
        if part.startswith("{") and part.endswith("}"):
            label = part[1:-1]
            group = f"g{len(labels)}"
            labels[group] = label.rstrip("+")
            pattern += f"(?P<{group}>.+)" if label.endswith("+") else f"(?P<{group}>[^/]+)"
        else:
            pattern += re.escape(part)
            literal_chars += len(part)
    if not path.endswith("/"):
        pattern += "/?"  # clients differ on a trailing slash after a bucket name
    bindings = []
    shape = op.input_shape
    for name, member in shape.members.items() if shape is not None else ():
        location = member.serialization.get("location")
        if location in ("uri", "querystring", "header", "headers"):
            wire = member.serialization.get("name", name)
            wire = wire.lower() if location.startswith("header") else wire
            bindings.append((name, member, location, wire))
    required_names = set(shape.required_members) if shape is not None else set()
    required = [
        (location, wire)
        for name, _, location, wire in bindings
        if name in required_names and location in ("querystring", "header")
    ]
    return _Route(
        op=op,
        method=op.http.get("method", "POST").upper(),
        pattern=re.compile(pattern),
        labels=labels,
        literals=dict(parse_qsl(query, keep_blank_values=True)),
        specificity=(literal_chars, -len(labels), not op.deprecated, -index),
        required=required,
        bindings=bindings,
    )


def _select(
    routes: list[_Route], path: str, query: dict[str, list[str]], headers: dict[str, str]
) -> tuple[_Route, dict[str, str]] | None:
    """The most specific route matching the request, and its raw (still encoded) labels.

    Sub-resource literals (`?uploads`) decide first; then an explicit `x-id` naming the operation;
    then how many of an operation's required query/header members are present (S3 tells PutObject,
    UploadPart and CopyObject apart by `uploadId`, `partNumber` and `x-amz-copy-source`); then
    the longest literal path.
    """
    best: tuple[tuple, _Route, dict[str, str]] | None = None
    x_id = query.get("x-id", [""])[0]
    for route in routes:
        literals = route.literals
        if literals and not (
            literals.keys() <= query.keys()
            and all(not v or v in query[k] for k, v in literals.items())
        ):
            continue
        match = route.pattern.fullmatch(path)
        if match is None:
            continue
        present = sum(
            1
            for location, wire in route.required
            if (wire in query if location == "querystring" else wire in headers)
        )
        score = (
            len(route.literals),
            route.op.name == x_id,
            present,
            present - len(route.required),
            *route.specificity,
        )
        if best is None or score > best[0]:
            labels = {route.labels[g]: v for g, v in match.groupdict().items()}
            best = (score, route, labels)
    return None if best is None else (best[1], best[2])


def _parse_rest(service: ServiceModel, request: HttpRequest, protocol: str) -> tuple:
    path = request.path or "/"
    try:
        pairs = _form_pairs(request.query_string)
    except ValueError:
        pairs = None
    query: dict[str, list[str]] = {}
    for key, value in pairs or ():
        query.setdefault(key, []).append(value)
    routes = _routes(service)
    method = request.method.upper()
    selected = _select(routes.get(method, []), path, query, request.headers)
    if selected is None:
        if protocol == "rest-xml" and any(
            _select(routes[m], path, query, request.headers)
            for m in routes
            if m != method
        ):
            raise AwsError(
                "The specified method is not allowed against this resource.",
                code="MethodNotAllowed",
                status=405,
            )
        raise _unknown_operation(f"No operation matches {request.method} {path}.", status=404)
    route, labels = selected
    op = route.op
    if pairs is None:
        violation = Violation("queryString", request.query_string, "Member must be valid UTF-8")
        raise validation_error(op, protocol, [violation])
    shape = op.input_shape
    if shape is None:
        return op, {}
    params: Params = {}
    headers = request.headers
    for name, member, location, wire in route.bindings:
        try:
            if location == "header":
                raw = headers.get(wire)
                value = None if raw is None else _from_header(raw, member)
            elif location == "querystring":
                value = _from_query_string(query, wire, member, route)
            elif location == "uri":
                value = _from_label(labels.get(wire), member)
            else:
                value = _prefixed_headers(headers, wire, member)
        except _Invalid as e:
            raise _bad_text(op, protocol, member_path(name), e) from None
        if value is not None:
            params[name] = value
    _read_body(op, shape, request, protocol, params)
    return op, params


def _from_label(raw: str | None, shape: Shape) -> Any:
    if raw is None:
        return None
    try:
        text = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise _Invalid(raw, "valid UTF-8 once percent-decoded") from None
    return _from_text(text, shape)


def _from_query_string(
    query: dict[str, list[str]], wire: str, shape: Shape, route: _Route
) -> Any:
    if shape.type_name == "map":
        return _query_map(query, route, shape)
    values = query.get(wire)
    if values is None:
        return None
    if shape.type_name == "list":
        return [_from_text(v, shape.member) for v in values]
    return _from_text(values[0], shape)


def _prefixed_headers(headers: dict[str, str], prefix: str, shape: Shape) -> dict | None:
    """A map of the headers that start with `prefix` (S3's x-amz-meta-), keyed by the rest."""
    found = {
        name[len(prefix) :]: _from_text(value, shape.value)
        for name, value in headers.items()
        if name.startswith(prefix)
    }
    return found or None


def _query_map(query: dict[str, list[str]], route: _Route, shape: Shape) -> dict | None:
    """A map bound to the whole query string: every parameter but the requestUri's literals.

    Servers put all query parameters in it, those other members bind too (Smithy's server
    protocol tests; botocore's rest-json AllQueryStringTypes vectors expect the same).
    """
    as_list = shape.value.type_name == "list"
    found = {
        # SigV4 query authentication (presigned URLs) is the gateway's, not the operation's.
        key: ([_from_text(v, shape.value.member) for v in values] if as_list else values[0])
        for key, values in query.items()
        if key not in route.literals and not key.startswith("X-Amz-")
    }
    return found or None


_HTTP_DATES = re.compile(r"[A-Za-z]{3},\s*\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+[\d:]+\s+[A-Za-z]+")


def _from_header(value: str, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "list":
        item = shape.member
        if not value.strip():
            return None  # clients leave an empty list off; an empty header means the same
        if item.type_name == "timestamp" and _HTTP_DATES.search(value):
            texts = _HTTP_DATES.findall(value)  # HTTP dates carry their own commas
        else:
            texts = _split_header_list(value)
        return [_from_text(t, item) for t in texts]
    if kind == "string" and shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise _Invalid(value, "base64-encoded JSON") from None
    return _from_text(value, shape)


def _split_header_list(value: str) -> list[str]:
    """Comma-separated items, where an item may be a quoted string with escaped quotes."""
    items: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t":
            i += 1
        if i < n and value[i] == '"':
            i += 1
            chars = []
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(value[i])
                i += 1
            items.append("".join(chars))
            i = value.find(",", i)
            i = n if i < 0 else i + 1
        else:
            end = value.find(",", i)
            end = n if end < 0 else end
            items.append(value[i:end].strip())
            i = end + 1
    return items


def _read_body(
    op: OperationModel, shape: Shape, request: HttpRequest, protocol: str, params: Params
) -> None:
    payload = shape.serialization.get("payload")
    member = shape.members[payload] if payload else None
    if member is not None and member.type_name == "blob":
        if member.serialization.get("streaming") and request.stream is not None:
            params[payload] = request.stream
        elif request.body:
            params[payload] = _request_body(op, request, protocol)
        return
    body = _request_body(op, request, protocol)
    if member is not None and member.type_name == "string":
        if body:
            try:
                params[payload] = body.decode("utf-8")
            except UnicodeDecodeError:
                raise _body_error(protocol, "The request body is not valid UTF-8.") from None
        return
    if not body.strip():
        return
    try:
        if protocol == "rest-json":
            document = _json_document(body, protocol)
            if member is not None:
                if document != {}:  # what botocore sends when the payload is absent
                    params[payload] = _json_readers(op.service_model).reader(member)(document)
            elif not isinstance(document, dict):
                raise _Invalid(document, "a JSON object")
            else:
                params.update(_json_structure(document,
                                              _rest_json_body_members(op.service_model, shape)))
        else:
            root = _xml_root(body)
            if member is not None:
                params[payload] = _from_xml(root, member)
            else:
                params.update(_xml_structure(root, _rest_xml_body_members(shape)))
    except _Invalid as e:
        raise _body_error(protocol, str(e)) from None


_cache_json_body: WeakKeyDictionary[Shape, JsonMembers] = WeakKeyDictionary()
_cache_xml_body: WeakKeyDictionary[Shape, list[_XmlMember]] = WeakKeyDictionary()


def _rest_json_body_members(service: ServiceModel, shape: Shape) -> JsonMembers:
    """The input members that travel in a JSON body: those not bound to the path or headers."""
    found = _cache_json_body.get(shape)
    if found is None:
        located = {name for name, m in shape.members.items() if "location" in m.serialization}
        found = {key: member for key, member in _json_readers(service).members(shape).items()
                 if member[0] not in located}
        _cache_json_body[shape] = found
    return found


def _rest_xml_body_members(shape: Shape) -> list[_XmlMember]:
    found = _cache_xml_body.get(shape)
    if found is None:
        found = [m for m in _xml_members(shape) if "location" not in m.shape.serialization]
        _cache_xml_body[shape] = found
    return found


# Requests an SDK compresses (the model's `requestcompression`) arrive gzip-encoded; anything that
# inflates beyond this is refused rather than held in memory.
_MAX_INFLATED = 64 * 1024 * 1024


def _request_body(op: OperationModel, request: HttpRequest, protocol: str) -> bytes:
    """The body, inflated when the model says SDKs compress this operation's requests."""
    if op.request_compression:
        return _inflated(request, protocol)
    return request.body


def _inflated(request: HttpRequest, protocol: str) -> bytes:
    body = request.body
    if body and "gzip" in request.headers.get("content-encoding", "").lower():
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, _MAX_INFLATED)
        except zlib.error:
            raise _body_error(protocol, "The request body is not valid gzip.") from None
        if inflater.unconsumed_tail:
            raise _body_error(protocol, "The request body inflates beyond the allowed size.")
    return body


_PARSERS: dict[str, Callable[[ServiceModel, HttpRequest, str], tuple]] = {
    "json": _parse_json,
    "query": _parse_query,
    "rest-json": _parse_rest,
    "rest-xml": _parse_rest,
}
