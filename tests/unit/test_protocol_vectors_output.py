"""botocore's output protocol test vectors, run through our serializers and back.

For every output case of json, json 1.0, query, rest-json and rest-xml, the case's `result` goes
through `serialize_response` and botocore's response parser must give it back; for every error
case, an `AwsError` goes through `serialize_error` and botocore must read back its code, message
and modelled members. This is botocore's own tests/unit/test_protocols.py turned around: there the
vectors' HTTP responses are parsed, here our responses are.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from botocore_wire import parse
from protocol_vectors import Case, load_cases

from portside.protocol.errors import AwsError
from portside.protocol.serializers import serialize_error, serialize_response

BOTOCORE_CANNOT_READ_AN_EMPTY_MESSAGE = (
    "the case expects Error.Message '' but botocore reads an empty <Message/> as None and a "
    "missing one as absent (botocore skips this case too)"
)
BOTOCORE_FLATTENED_LIST_NAMES = (
    "the case gives a flattened list's member an XML name that differs from the structure "
    "member's; botocore reads the list member's name, Smithy the structure member's, and the "
    "two cannot both hold (botocore skips this case too)"
)
BOTOCORE_EMPTY_PAYLOAD = (
    "botocore gives an empty blob payload as '' and raises on an empty union payload, where "
    "the case expects the member absent (botocore skips this case too)"
)
BOTOCORE_SPLITS_HEADER_LISTS_ON_COMMAS = (
    "botocore splits list headers on every comma, so HTTP dates and quoted strings in a list "
    "header cannot come back whole (botocore skips this case too)"
)

# Cases that cannot pass through botocore's parser whatever the server sends, with the reason.
SKIPPED: dict[str, str] = {
    "query:QueryComplexError": BOTOCORE_CANNOT_READ_AN_EMPTY_MESSAGE,
    "rest-xml:ComplexError": BOTOCORE_CANNOT_READ_AN_EMPTY_MESSAGE,
    "query:QueryXmlLists": BOTOCORE_FLATTENED_LIST_NAMES,
    "rest-xml:XmlLists": BOTOCORE_FLATTENED_LIST_NAMES,
    "rest-json:RestJsonHttpPayloadTraitsWithNoBlobBody": BOTOCORE_EMPTY_PAYLOAD,
    "rest-xml:HttpPayloadTraitsWithNoBlobBody": BOTOCORE_EMPTY_PAYLOAD,
    "rest-json:RestJsonHttpPayloadWithUnsetUnion": BOTOCORE_EMPTY_PAYLOAD,
    "rest-xml:RestXmlHttpPayloadWithUnsetUnion": BOTOCORE_EMPTY_PAYLOAD,
    "rest-json:RestJsonInputAndOutputWithQuotedStringHeaders": (
        BOTOCORE_SPLITS_HEADER_LISTS_ON_COMMAS
    ),
    "rest-json:RestJsonInputAndOutputWithTimestampHeaders": BOTOCORE_SPLITS_HEADER_LISTS_ON_COMMAS,
    "rest-xml:InputAndOutputWithTimestampHeaders": BOTOCORE_SPLITS_HEADER_LISTS_ON_COMMAS,
    "rest-json:HttpPrefixHeadersResponse": (
        "an empty header prefix collects every response header, and AWS (and portside) always "
        "sends x-amzn-RequestId and Content-Type besides the case's two"
    ),
}

try:
    CASES = list(load_cases("output"))
except Exception as exc:  # no network, no pip: the vectors cannot be fetched here
    pytest.skip(f"botocore's protocol vectors are unavailable: {exc}", allow_module_level=True)


def _normalized(value: Any) -> Any:
    """What the vectors write for what botocore returns: blobs as text, NaN/Infinity as strings."""
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _check_result(case: Case) -> None:
    operation, shape = case.operation, case.operation.output_shape
    if case.protocol == "query" and shape is not None and shape.members:
        # Vectors leave out the result wrapper that query models carry (as botocore's runner does).
        shape.serialization["resultWrapper"] = f"{operation.name}Result"
    response = serialize_response(operation, case.case["result"], "vector-request")
    parsed = parse(response, operation, case.protocol)
    parsed.pop("ResponseMetadata", None)
    assert _normalized(parsed) == case.case["result"]


def _check_error(case: Case) -> None:
    raw = case.case
    error = AwsError(
        raw.get("errorMessage", ""),
        code=raw["errorCode"],
        status=raw["response"]["status_code"],
        fields=dict(raw["error"]),
    )
    response = serialize_error(case.service, error, "vector-request")
    parsed = parse(response, case.operation, case.protocol)
    assert response.status == raw["response"]["status_code"]
    assert parsed["Error"]["Code"] == raw["errorCode"]
    assert parsed["Error"]["Message"] == raw.get("errorMessage", "")
    members = {k: v for k, v in parsed.items() if k not in ("Error", "ResponseMetadata")}
    assert _normalized(members) == raw["error"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_output_vector_round_trips_through_botocore(case: Case) -> None:
    if case.name in SKIPPED:
        pytest.skip(SKIPPED[case.name])
    if "error" in case.case:
        _check_error(case)
    else:
        _check_result(case)


def test_at_most_five_percent_of_vectors_are_skipped() -> None:
    names = {case.name for case in CASES}
    assert set(SKIPPED) <= names, "a skipped case no longer exists"
    assert len(SKIPPED) <= 0.05 * len(CASES)
