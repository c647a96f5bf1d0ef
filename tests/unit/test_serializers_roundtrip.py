"""Property: any result an output shape allows comes back out of botocore's parser unchanged.

Results are generated from the output shapes themselves (structures, unions, lists, maps, strings,
numbers, booleans, timestamps, blobs; headers, prefixed headers, status codes and payloads) for a
handful of real operations of each protocol, serialized, and parsed back by botocore.
"""

from __future__ import annotations

import math
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.model import OperationModel, Shape
from botocore_wire import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.protocol.models import operation_model
from portside.protocol.query_compat import query_model
from portside.protocol.serializers import serialize_response

MAX_DEPTH = 4
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Header values stay within what HTTP carries as is and botocore splits list headers on commas.
HEADER_TEXT = st.text(string.ascii_letters + string.digits + "-_.+/=", min_size=1, max_size=12)
HEADER_KEY = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)
# Body text: anything XML 1.0 and JSON carry (no control characters, surrogates or non-characters).
BODY_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn", "Co")), max_size=12)
STATUS_CODES = st.sampled_from([200, 201, 202])

OPERATIONS = [
    # (service, operation, protocol to serve it with; None: the model's own)
    ("ecs", "DescribeClusters", None),
    ("ecs", "DescribeTasks", None),
    ("ecs", "DescribeTaskDefinition", None),
    ("events", "ListRules", None),
    ("secretsmanager", "GetSecretValue", None),
    ("logs", "GetLogEvents", None),
    ("ecr", "DescribeImages", None),
    ("sqs", "ReceiveMessage", None),
    ("sts", "AssumeRole", None),
    ("sts", "GetCallerIdentity", None),
    ("iam", "GetRole", None),
    ("iam", "ListRoles", None),
    ("sqs", "ReceiveMessage", "query"),
    ("sqs", "GetQueueAttributes", "query"),
    ("sqs", "SendMessageBatch", "query"),
    ("sqs", "ListQueueTags", "query"),
    ("eks", "DescribeCluster", None),
    ("eks", "DescribeNodegroup", None),
    ("eks", "ListClusters", None),
    ("lambda", "Invoke", None),
    ("lambda", "GetFunction", None),
    ("lex-runtime", "PostContent", None),  # jsonvalue headers and a streaming payload
    ("s3", "ListObjectsV2", None),
    ("s3", "ListBuckets", None),
    ("s3", "GetBucketAcl", None),
    ("s3", "GetObject", None),
    ("s3", "CopyObject", None),
    ("route53", "ListHostedZones", None),
    ("cloudfront", "GetDistribution", None),
]


def _timestamps(whole_seconds: bool) -> st.SearchStrategy[datetime]:
    unit = 1000 if whole_seconds else 1
    return st.integers(0, 4_102_444_800_000 // unit).map(
        lambda n: EPOCH + timedelta(milliseconds=n * unit)
    )


class _ResultStrategies:
    """Strategies for the values a shape allows, as services hand them to the serializer."""

    def __init__(self, protocol: str) -> None:
        self._xml = protocol in ("query", "rest-xml")

    def structure(self, shape: Shape, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
        payload = shape.serialization.get("payload")
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            if location == "statusCode":
                required[name] = STATUS_CODES
            elif location == "headers":
                # botocore returns a prefixed-header map even when empty.
                required[name] = st.dictionaries(HEADER_KEY, HEADER_TEXT, max_size=3)
            else:
                strategy = self.value(member, depth + 1, header=location == "header")
                if strategy is None:
                    continue
                if name == payload:
                    # botocore returns a payload member even when the body is empty.
                    required[name] = self._payload(member, strategy)
                elif member.serialization.get("name", "").lower() == "content-type":
                    # A response with a body always has a Content-Type (the serializer's
                    # default otherwise), so a modelled Content-Type always comes back.
                    required[name] = strategy
                else:
                    optional[name] = strategy
        if shape.is_tagged_union:
            return st.one_of([st.fixed_dictionaries({k: v}) for k, v in optional.items()])
        return st.fixed_dictionaries(required, optional=optional)

    def _payload(self, member: Shape, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if member.type_name == "blob":  # botocore hands a payload blob back as text
            return BODY_TEXT.map(str.encode)
        return strategy

    def value(
        self, shape: Shape, depth: int, header: bool = False
    ) -> st.SearchStrategy[Any] | None:
        kind = shape.type_name
        if shape.serialization.get("eventstream") or shape.metadata.get("document"):
            return None
        if kind == "structure":
            if depth > MAX_DEPTH:
                return None
            return self.structure(shape, depth)
        if kind == "list":
            if depth > MAX_DEPTH or (header and shape.member.type_name == "timestamp"):
                return None
            item = self.value(shape.member, depth + 1, header)
            if item is None:
                return None
            # An empty flattened list (or list header) leaves nothing on the wire.
            flattened = self._xml and shape.serialization.get("flattened")
            return st.lists(item, min_size=1 if flattened or header else 0, max_size=3)
        if kind == "map":
            value = self.value(shape.value, depth + 1)
            if depth > MAX_DEPTH or value is None:
                return None
            flattened = self._xml and shape.serialization.get("flattened")
            return st.dictionaries(BODY_TEXT, value, min_size=1 if flattened else 0, max_size=3)
        return self._scalar(shape, header)

    def _scalar(self, shape: Shape, header: bool) -> st.SearchStrategy[Any]:
        kind = shape.type_name
        if kind == "string":
            if shape.serialization.get("jsonvalue"):
                return st.dictionaries(HEADER_KEY, HEADER_TEXT, max_size=3)
            if shape.enum:
                return st.sampled_from(shape.enum)
            return HEADER_TEXT if header else BODY_TEXT
        if kind in ("integer", "short", "byte"):
            return st.integers(-(2**31), 2**31 - 1)
        if kind == "long":
            return st.integers(-(2**63), 2**63 - 1)
        if kind in ("float", "double"):
            return st.floats()
        if kind == "boolean":
            return st.booleans()
        if kind == "blob":
            return st.binary(max_size=16)
        if kind == "timestamp":
            fmt = shape.serialization.get("timestampFormat")
            return _timestamps(whole_seconds=header or fmt == "rfc822")
        raise AssertionError(f"no strategy for {kind}")


def _normalized(value: Any) -> Any:
    """One form for both sides: epoch seconds, text for bytes, NaN and infinities as strings."""
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def _models(service: str, operation: str, protocol: str | None) -> tuple[OperationModel, Any]:
    served = operation_model(service, operation)
    if protocol == "query":
        return served, query_model(served.service_model).operation_model(operation)
    return served, served


@pytest.mark.parametrize(("service", "operation", "protocol"), OPERATIONS)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_results_round_trip_through_botocore(
    service: str, operation: str, protocol: str | None, data: st.DataObject
) -> None:
    served, parsed_as = _models(service, operation, protocol)
    wire_protocol = protocol or served.service_model.metadata["protocol"]
    result = data.draw(_ResultStrategies(wire_protocol).structure(served.output_shape))
    response = serialize_response(served, result, "hypothesis", protocol)
    parsed = parse(response, parsed_as, wire_protocol)
    parsed.pop("ResponseMetadata", None)
    assert _normalized(parsed) == _normalized(result)
