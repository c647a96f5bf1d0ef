"""Message attributes: their rules and the digest SDKs check (MD5OfMessageAttributes)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqs_reference import attributes_md5 as reference_md5

from portside.protocol.errors import AwsError
from portside.services.sqs.message_attributes import (
    attributes_md5,
    attributes_size,
    forbidden_character,
    from_json,
    is_valid_name,
    is_valid_number,
    select_attributes,
    to_json,
    validate_attributes,
)

HELLO = {"DataType": "Binary", "BinaryValue": b"Hello binary world!"}
FLOAT = {"DataType": "Number.float", "StringValue": "4563442423554324324264524243.32543234"}
TEXT = {"DataType": "String", "StringValue": "attribValue 1"}


# Vectors published with the npm package aws-md5-of-message-attributes, which SQS's SDK checks
# agree with.
@pytest.mark.parametrize("attributes, md5", [
    ({"attribName1": TEXT}, "19e27d4e946b072f3f58da80d94fd778"),
    ({"customNumberTypeAttrib": FLOAT}, "9fe1b90bbd9965bdf77bac517c7d2495"),
    ({"binaryAttribute": HELLO}, "31a92b15d92f8db860eda32aceb656c3"),
    ({"attribName1": TEXT, "customNumberTypeAttrib": FLOAT, "binaryAttribute": HELLO},
     "c932db14a896c663f83c260297d594ff"),
])
def test_published_digests(attributes, md5):
    assert attributes_md5(attributes) == md5


attribute_names = st.from_regex(r"[A-Za-z0-9_-]([A-Za-z0-9_.-]{0,30}[A-Za-z0-9_-])?",
                                fullmatch=True).filter(is_valid_name)
suffixes = st.from_regex(r"(\.[A-Za-z0-9_]{1,10})?", fullmatch=True)
xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                   max_size=50)
string_values = st.builds(lambda s, v: {"DataType": "String" + s, "StringValue": v},
                          suffixes, xml_text)
number_values = st.builds(lambda s, v: {"DataType": "Number" + s, "StringValue": str(v)},
                          suffixes, st.integers(-(10**30), 10**30) | st.decimals(
                              min_value=-(10**20), max_value=10**20, places=6))
binary_values = st.builds(lambda s, v: {"DataType": "Binary" + s, "BinaryValue": v},
                          suffixes, st.binary(min_size=1, max_size=50))
attribute_sets = st.dictionaries(attribute_names, string_values | number_values | binary_values,
                                 max_size=10)


@given(attribute_sets)
def test_digest_matches_the_reference_encoding(attributes):
    validate_attributes(attributes)
    assert attributes_md5(attributes) == reference_md5(attributes)


@given(attribute_sets)
def test_stored_form_reads_back(attributes):
    assert from_json(to_json(attributes)) == attributes


@given(attribute_sets)
def test_size_counts_names_types_and_values(attributes):
    expected = sum(len(n.encode()) + len(v["DataType"].encode()) +
                   len(v.get("BinaryValue") or v["StringValue"].encode())
                   for n, v in attributes.items())
    assert attributes_size(attributes) == expected


@pytest.mark.parametrize("name, valid", [
    ("a", True), ("a.b-c_d", True), ("x" * 256, True), ("x" * 257, False), ("", False),
    (".a", False), ("a.", False), ("a..b", False), ("AWS.x", False), ("aws.x", False),
    ("Amazon.x", False), ("amazonx", True), ("a b", False), ("é", False),
])
def test_attribute_names(name, valid):
    assert is_valid_name(name) is valid


@pytest.mark.parametrize("text, valid", [
    ("0", True), ("-12.5", True), ("1e126", True), ("1e127", False), ("1e-128", True),
    ("1e-129", False), ("1" * 38, True), ("1" * 39, False), ("NaN", False), ("Infinity", False),
    ("12x", False), ("", False),
])
def test_numbers(text, valid):
    """Up to 38 significant digits, magnitudes from 10^-128 to 10^126."""
    assert is_valid_number(text) is valid


@pytest.mark.parametrize("attributes", [
    {f"a{i}": TEXT for i in range(11)},
    {"a": {"DataType": "Text", "StringValue": "v"}},
    {"a": {"DataType": "String.", "StringValue": "v"}},
    {"a": {"DataType": "String", "StringValue": ""}},
    {"a": {"DataType": "String", "StringValue": "\x00"}},
    {"a": {"DataType": "Binary", "StringValue": "v"}},
    {"a": {"DataType": "Number", "StringValue": "one"}},
    {"AWS.a": TEXT},
])
def test_invalid_attributes(attributes):
    with pytest.raises(AwsError) as info:
        validate_attributes(attributes)
    assert info.value.code == "InvalidParameterValue"


STORED = {"a.x": TEXT, "a.y": TEXT, "ab": TEXT, "b": TEXT}


@pytest.mark.parametrize("wanted, names", [
    ([], set()), (["All"], set(STORED)), ([".*"], set(STORED)), (["a.*"], {"a.x", "a.y"}),
    (["b", "nope"], {"b"}), (["a.*", "b"], {"a.x", "a.y", "b"}),
])
def test_which_attributes_a_receive_returns(wanted, names):
    assert set(select_attributes(STORED, wanted)) == names


_XML_CHARACTER = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@given(st.text(st.characters(max_codepoint=0x7F)) | st.text())
def test_forbidden_character_is_the_first_one_outside_xml(text):
    expected = next((c for c in text if not _XML_CHARACTER.fullmatch(c)), None)
    assert forbidden_character(text) == expected
