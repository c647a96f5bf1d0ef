"""Fuzzing the parsers and the validator: whatever arrives, the answer is the operation and its
parameters or an AwsError with a 4xx status — never another exception.

Requests are drawn near the models (real operation names, member names, requestUri templates,
bodies shaped like the input with wrong types mixed in) as well as from plain noise, so that the
deep paths of every protocol are reached.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.awsrequest import AWSRequest, prepare_request_dict
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest
from portside.protocol.models import service_model
from portside.protocol.parsers import parse_request
from portside.protocol.query_compat import query_model
from portside.protocol.validate import validate_params

SERVICES = [("sqs", "json"), ("sqs", "query"), ("ecs", "json"), ("s3", "rest-xml"),
            ("eks", "rest-json"), ("sts", "query"), ("events", "json")]

text = st.text(max_size=20)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
any_json = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(text, inner, max_size=4), max_leaves=20)
SCALAR_TEXT = {
    "integer": st.integers(-(2**40), 2**40).map(str),
    "long": st.integers(-(2**70), 2**70).map(str),
    "float": st.floats().map(str),
    "double": st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "1.5"]),
    "boolean": st.sampled_from(["true", "false", "TRUE", ""]),
    "timestamp": st.sampled_from(["2026-01-01T00:00:00Z", "1767225600", "Thu, 01 Jan 2026 "
                                  "00:00:00 GMT", "9999999999999", "-1e30", "Mon, 99 Foo"]),
    "blob": st.sampled_from(["", "AAEC", "not base64!", "QQ"]),
}


def scalar_text(shape: Shape) -> st.SearchStrategy[str]:
    return SCALAR_TEXT.get(shape.type_name, text) | text


@st.composite
def value_for(draw: st.DrawFn, shape: Shape, depth: int = 0) -> Any:
    """A JSON value shaped like `shape`, now and then of the wrong type."""
    if depth > 4 or draw(st.integers(0, 9)) == 0:
        return draw(any_json)
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        names = draw(st.lists(st.sampled_from(sorted(members)), max_size=5)) if members else []
        return {members[n].serialization.get("name", n): draw(value_for(members[n], depth + 1))
                for n in names}
    if kind == "list":
        return draw(st.lists(value_for(shape.member, depth + 1), max_size=3))
    if kind == "map":
        return draw(st.dictionaries(text, value_for(shape.value, depth + 1), max_size=3))
    if kind in ("integer", "long"):
        return draw(st.integers(-(2**70), 2**70))
    if kind in ("float", "double"):
        return draw(st.floats() | st.sampled_from(["NaN", "Infinity"]))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "timestamp":
        return draw(st.floats(-1e20, 1e20) | scalar_text(shape))
    return draw(scalar_text(shape))


def xml_of(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(xml_of(k or "x", v) for k, v in value.items() if v is not None)
    elif isinstance(value, list):
        inner = "".join(xml_of(("member", "item", "entry")[len(value) % 3], v) for v in value)
    else:
        inner = quote(json.dumps(value).strip('"') if not isinstance(value, str) else value,
                      safe=" :/")
    tag = "".join(c for c in name if c.isalnum()) or "x"
    return f"<{tag}>{inner}</{tag}>"


def form_of(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            form_of(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value, 1):
            form_of(f"{prefix}.member.{i}", v, out)
    else:
        out.append((prefix, str(value)))


@st.composite
def typed_value(draw: st.DrawFn, shape: Shape, depth: int = 0) -> Any:
    """A value of the Python type a botocore caller passes for `shape` (constraints ignored)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        if depth > 3 or shape.metadata.get("document"):
            return {}
        wanted = set(shape.required_members)
        if members:
            wanted |= set(draw(st.lists(st.sampled_from(sorted(members)), max_size=6)))
        return {n: draw(typed_value(members[n], depth + 1)) for n in wanted if n in members}
    if kind == "list":
        return draw(st.lists(typed_value(shape.member, depth + 1), max_size=0 if depth > 3 else 3))
    if kind == "map":
        return draw(st.dictionaries(st.text(min_size=1, max_size=8),
                                    typed_value(shape.value, depth + 1), max_size=2))
    if kind in ("integer", "long"):
        return draw(st.integers(-(2**31), 2**31 - 1))
    if kind in ("float", "double"):
        return draw(st.floats(allow_nan=False, allow_infinity=False))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "timestamp":
        return draw(st.datetimes(timezones=st.just(UTC)))
    if kind == "blob":
        return draw(st.binary(max_size=16))
    enum = shape.metadata.get("enum")
    return draw(st.sampled_from(enum) if enum else st.text(min_size=1, max_size=12))


@st.composite
def sdk_request(draw: st.DrawFn, op: OperationModel, protocol: str) -> HttpRequest:
    """What botocore sends for typed params, with a value or the body then garbled."""
    params = draw(typed_value(op.input_shape)) if op.input_shape is not None else {}
    try:
        serialized = create_serializer(protocol, include_validation=False).serialize_to_request(
            params, op)
        prepare_request_dict(serialized, "http://localhost:4566")
        prepared = AWSRequest(method=serialized["method"], url=serialized["url"],
                              data=serialized["body"], headers=serialized["headers"]).prepare()
    except Exception:  # noqa: BLE001 - the client serializer refusing a draw is not under test
        reject()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    headers = {k.lower(): str(v) for k, v in prepared.headers.items()}
    query = url.query
    garble = draw(st.integers(0, 4))
    if garble == 1 and "=" in query:
        pairs = query.split("&")
        i = draw(st.integers(0, len(pairs) - 1))
        pairs[i] = pairs[i].split("=")[0] + "=" + quote(draw(any_text))
        query = "&".join(pairs)
    elif garble == 2 and headers:
        headers[draw(st.sampled_from(sorted(headers)))] = draw(any_text)
    elif garble == 3 and body:
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(max_size=8)) + body[at + 1 :]
    elif garble == 4 and b"=" in body and protocol == "query":
        pairs = body.split(b"&")
        i = draw(st.integers(0, len(pairs) - 1))
        pairs[i] = pairs[i].split(b"=")[0] + b"=" + quote(draw(any_text)).encode()
        body = b"&".join(pairs)
    return HttpRequest(prepared.method, url.path, query, headers, body)


any_text = st.text(max_size=20) | st.sampled_from(
    ["", "1e999", "NaN", "-1", "99999999999999999999", "true", "2026-13-01T00:00:00Z", "%ff"])


@st.composite
def body_for(draw: st.DrawFn, op: OperationModel, protocol: str) -> bytes:
    shape = op.input_shape
    noise = draw(st.binary(max_size=64) | any_json.map(lambda v: json.dumps(v).encode()))
    if shape is None or draw(st.integers(0, 4)) == 0:
        return noise
    value = draw(value_for(shape))
    if protocol in ("json", "rest-json"):
        return json.dumps(value).encode()
    if protocol == "rest-xml":
        payload = shape.serialization.get("payload")
        if payload and isinstance(value, dict):
            value = value.get(payload, value)
        return xml_of(payload or "Root", value).encode()
    pairs = [("Action", op.name), ("Version", op.metadata.get("apiVersion", ""))]
    form_of("", value, pairs)
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()


@st.composite
def path_for(draw: st.DrawFn, op: OperationModel) -> tuple[str, str]:
    uri = op.http.get("requestUri", "/")
    path, _, literal_query = uri.partition("?")
    for label in [part.split("}")[0] for part in path.split("{")[1:]]:
        segment = draw(st.text(min_size=0, max_size=12)
                       | st.sampled_from(["%ff", "%2F", "a/b", "%", "."]))
        path = path.replace("{" + label + "}", quote(segment, safe="/%") if segment else "", 1)
    if draw(st.integers(0, 5)) == 0:
        path = draw(st.text(max_size=30))
    pairs = draw(st.lists(st.tuples(text, text), max_size=4))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    if draw(st.booleans()):
        query = "&".join(filter(None, [literal_query, query]))
    if draw(st.integers(0, 5)) == 0:
        query = draw(st.text(max_size=30))
    return path, query


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, HttpRequest]:
    service, protocol = draw(st.sampled_from(SERVICES))
    model = service_model(service)
    wire_model = query_model(model) if protocol == "query" else model
    op = wire_model.operation_model(draw(st.sampled_from(sorted(model.operation_names))))
    if draw(st.booleans()):
        return service, protocol, draw(sdk_request(op, protocol))
    path, query = draw(path_for(op))
    headers: dict[str, str] = {}
    if protocol == "json":
        target = f"{model.metadata.get('targetPrefix')}.{op.name}"
        if draw(st.integers(0, 4)) == 0:
            target = draw(st.sampled_from(["", op.name, target + "x"]) | text)
        headers["x-amz-target"] = target
    shape = op.input_shape
    if shape is not None:
        for name, member in shape.members.items():
            where = member.serialization.get("location")
            if where in ("header", "headers") and draw(st.booleans()):
                wire = member.serialization.get("name", name).lower()
                headers[wire + ("x" if where == "headers" else "")] = draw(scalar_text(member))
    body = draw(body_for(op, protocol))
    if draw(st.integers(0, 6)) == 0:
        headers["content-encoding"] = "gzip"
        body = draw(st.sampled_from([gzip.compress(body), body]))
    method = draw(st.sampled_from([op.http.get("method", "POST"), "GET", "PATCH", "HEAD"]))
    return service, protocol, HttpRequest(method, path, query, headers, body)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_parse_and_validate_answer_with_params_or_a_4xx_aws_error(drawn):
    service, protocol, request = drawn
    try:
        operation, params = parse_request(service_model(service), request, protocol)
        validate_params(operation, params, protocol)
        event(f"{protocol}: parsed")
    except AwsError as e:
        event(f"{protocol}: {e.code}")
        assert 400 <= e.status < 500, e


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SERVICES), st.text(max_size=8), st.text(max_size=40),
       st.text(max_size=40), st.dictionaries(st.text(max_size=20).map(str.lower),
                                             st.text(max_size=40), max_size=4),
       st.binary(max_size=200))
def test_noise_gets_an_aws_error_too(service, method, path, query, headers, body):
    name, protocol = service
    request = HttpRequest(method, path, query, headers, body)
    try:
        operation, params = parse_request(service_model(name), request, protocol)
        validate_params(operation, params, protocol)
    except AwsError as e:
        assert 400 <= e.status < 500, e


# A model with every scalar kind in every location, so that what the six services lack (XML
# attributes and maps, list and JSON headers, floats…) is fuzzed too.
KINDS = ["String", "Integer", "Long", "Float", "Double", "Boolean", "Blob", "Timestamp"]
SINK_SHAPES: dict[str, Any] = {
    **{k: {"type": k.lower()} for k in KINDS},
    "Strings": {"type": "list", "member": {"shape": "String"}},
    "Stamps": {"type": "list", "member": {"shape": "Timestamp"}},
    "Named": {"type": "list", "member": {"shape": "Integer", "locationName": "item"}},
    "Map": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Body"}},
    "ListMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Strings"}},
    "Body": {"type": "structure", "members": {
        **{f"B{k}": {"shape": k} for k in KINDS},
        "Attr": {"shape": "Integer", "xmlAttribute": True, "locationName": "attr"},
        "Flat": {"shape": "Named", "flattened": True},
        "FlatMap": {"shape": "Map", "flattened": True, "locationName": "Entry"},
        "Map": {"shape": "Map"},
        "List": {"shape": "Named"},
        "Next": {"shape": "Body"},
    }},
    "Input": {"type": "structure", "members": {
        "Label": {"shape": "String", "location": "uri", "locationName": "label"},
        "Rest": {"shape": "String", "location": "uri", "locationName": "rest"},
        **{f"Q{k}": {"shape": k, "location": "querystring", "locationName": f"q{k}"}
           for k in KINDS},
        **{f"H{k}": {"shape": k, "location": "header", "locationName": f"x-{k}"} for k in KINDS},
        "HStamps": {"shape": "Stamps", "location": "header", "locationName": "x-stamps"},
        "HStrings": {"shape": "Strings", "location": "header", "locationName": "x-strings"},
        "HJson": {"shape": "String", "jsonvalue": True, "location": "header",
                  "locationName": "x-json"},
        "Meta": {"shape": "ListMap", "location": "headers", "locationName": "x-meta-"},
        "QMap": {"shape": "ListMap", "location": "querystring"},
        **{f"B{k}": {"shape": k} for k in KINDS},
        "Body": {"shape": "Body"},
    }},
}


def sink(protocol: str) -> ServiceModel:
    return ServiceModel({
        "metadata": {"protocol": protocol, "apiVersion": "2026-01-01", "endpointPrefix": "sink",
                     "targetPrefix": "Sink", "jsonVersion": "1.1"},
        "operations": {"Do": {"name": "Do", "input": {"shape": "Input"},
                              "http": {"method": "POST", "requestUri": "/{label}/{rest+}?x"}}},
        "shapes": SINK_SHAPES,
    })


SINKS = {p: sink(p) for p in ("json", "query", "rest-json", "rest-xml")}
SINK_HEADERS = [f"x-{k}" for k in KINDS] + ["x-stamps", "x-strings", "x-json", "x-meta-a"]
SINK_QUERY = [f"q{k}" for k in KINDS] + ["x", "other"]
header_values = any_text | st.sampled_from([
    'a, "b,c", "d\\"e"', "Thu, 01 Jan 2026 00:00:00 GMT,Fri, 02 Jan 2026 00:00:00 GMT",
    "eyJhIjogMX0=", "e30", "1.5", "AAEC"])


@st.composite
def sink_requests(draw: st.DrawFn) -> tuple[str, HttpRequest]:
    protocol = draw(st.sampled_from(sorted(SINKS)))
    value = draw(value_for(SINKS[protocol].operation_model("Do").input_shape))
    if protocol == "query":
        pairs = [("Action", "Do")]
        form_of("", value, pairs)
        keys = ["BInteger", "Body.item.1", "Body.Map.entry.1.key", "Body.Entry.1.value.BFloat"]
        pairs += draw(st.lists(st.tuples(st.sampled_from(keys), any_text), max_size=4))
        body = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()
    elif protocol == "rest-xml":
        body = xml_of("Input", value).encode() + draw(st.sampled_from([b"", b"<", b"x"]))
    else:
        body = json.dumps(value).encode()
    label = quote(draw(any_text), safe="") or "7"
    rest = quote(draw(any_text), safe="/") or "k"
    many = draw(st.sampled_from([0, 0, 2, 5]))  # often none: a bad one hides the body
    query = "&".join(["x"] + [f"{quote(k)}={quote(v)}" for k, v in draw(
        st.lists(st.tuples(st.sampled_from(SINK_QUERY), any_text), max_size=many))])
    headers = draw(st.dictionaries(st.sampled_from(SINK_HEADERS), header_values, max_size=many))
    headers["x-amz-target"] = "Sink.Do"
    return protocol, HttpRequest("POST", f"/{label}/{rest}", query, headers, body)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sink_requests())
def test_every_shape_kind_in_every_location_answers_params_or_a_4xx(drawn):
    protocol, request = drawn
    try:
        operation, params = parse_request(SINKS[protocol], request)
        validate_params(operation, params, protocol)
        event(f"{protocol}: parsed")
    except AwsError as e:
        event(f"{protocol}: {e.code}")
        assert 400 <= e.status < 500, e
