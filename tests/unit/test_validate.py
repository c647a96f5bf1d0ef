"""Model validation: the constraint errors AWS answers before an operation runs, worded as AWS
words them (`N validation error(s) detected: Value … at '…' failed to satisfy constraint: …`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.model import ServiceModel

from portside.protocol.errors import AwsError
from portside.protocol.models import operation_model
from portside.protocol.validate import validate_params

SHAPES = {
    "Input": {
        "type": "structure",
        "required": ["name"],
        "members": {
            "name": {"shape": "Name"},
            "Count": {"shape": "Count"},
            "Mode": {"shape": "Mode"},
            "Ids": {"shape": "Ids"},
            "Tags": {"shape": "Tags"},
            "Secret": {"shape": "Secret"},
            "Loose": {"shape": "Loose"},
            "Doc": {"shape": "Doc"},
            "Data": {"shape": "Data"},
            "When": {"shape": "When"},
            "Flag": {"shape": "Flag"},
            "Nested": {"shape": "Nested"},
            "Body": {"shape": "Stream"},
            "TagKey": {"shape": "TagKey"},
            "Repo": {"shape": "Repo"},
        },
    },
    "Name": {"type": "string", "min": 1, "max": 8, "pattern": "[a-z]+"},
    "Count": {"type": "integer", "min": 1, "max": 10},
    "Mode": {"type": "string", "enum": ["FAST", "SLOW"]},
    "Ids": {"type": "list", "member": {"shape": "Name"}, "max": 2},
    "Tags": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Name"}},
    "Secret": {"type": "string", "sensitive": True, "min": 4},
    "Loose": {"type": "string", "pattern": "\\p{IsAlphabetic}+"},  # Java-only: not checked
    "Doc": {"type": "structure", "members": {}, "document": True},
    "Data": {"type": "blob", "max": 3},
    "When": {"type": "timestamp"},
    "Flag": {"type": "boolean"},
    "Nested": {
        "type": "structure",
        "required": ["items"],
        "members": {"items": {"shape": "Items"}, "next": {"shape": "Nested"}},
    },
    "Items": {"type": "list", "member": {"shape": "Item"}},
    "Item": {"type": "structure", "required": ["id"], "members": {"id": {"shape": "Name"}}},
    "Stream": {"type": "blob", "streaming": True, "max": 1},
    "TagKey": {"type": "string", "pattern": "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"},  # STS, IAM
    "Repo": {"type": "string", "pattern": "^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$"},  # ECR
}


def model(protocol: str = "json", prefix: str = "demo") -> ServiceModel:
    return ServiceModel({
        "metadata": {"protocol": protocol, "endpointPrefix": prefix, "apiVersion": "2026-01-01"},
        "operations": {"Do": {"name": "Do", "input": {"shape": "Input"}, "http": {}}},
        "shapes": SHAPES,
    })


def message(params: dict, protocol: str = "json", prefix: str = "demo") -> str:
    operation = model(protocol, prefix).operation_model("Do")
    with pytest.raises(AwsError) as raised:
        validate_params(operation, params, protocol)
    return raised.value.message


def detected(*violations: str) -> str:
    n = len(violations)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(violations)


@pytest.mark.parametrize("params, expected", [
    ({}, detected("Value null at 'name' failed to satisfy constraint: Member must not be null")),
    ({"name": "abc", "Count": 11}, detected(
        "Value '11' at 'count' failed to satisfy constraint: "
        "Member must have value less than or equal to 10")),
    ({"name": "abc", "Count": 0}, detected(
        "Value '0' at 'count' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")),
    ({"name": "abcdefghij"}, detected(
        "Value 'abcdefghij' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 8")),
    ({"name": "AB"}, detected(
        "Value 'AB' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-z]+")),
    ({"name": "a", "Mode": "MEDIUM"}, detected(
        "Value 'MEDIUM' at 'mode' failed to satisfy constraint: "
        "Member must satisfy enum value set: [FAST, SLOW]")),
    ({"name": "a", "Ids": ["a", "b", "c"]}, detected(
        "Value '[a, b, c]' at 'ids' failed to satisfy constraint: "
        "Member must have length less than or equal to 2")),
    ({"name": "a", "Ids": ["a", "B"]}, detected(
        "Value 'B' at 'ids.2.member' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-z]+")),
    ({"name": "a", "Tags": {"K": "v"}}, detected(
        "Value '{K=v}' at 'tags' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
        "[a-z]+]")),
    ({"name": "a", "Secret": "pw"}, detected(
        "Value at 'secret' failed to satisfy constraint: "
        "Member must have length greater than or equal to 4")),
    ({"name": "a", "Data": b"four"}, detected(
        "Value '<4 bytes>' at 'data' failed to satisfy constraint: "
        "Member must have length less than or equal to 3")),
    ({"name": "a", "Nested": {"next": {"items": [{}]}}}, detected(
        "Value null at 'nested.items' failed to satisfy constraint: Member must not be null",
        "Value null at 'nested.next.items.1.member.id' failed to satisfy constraint: "
        "Member must not be null")),
    ({"name": "", "Count": "3"}, detected(
        "Value '' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-z]+",
        "Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        "Value '3' at 'count' failed to satisfy constraint: Member must be an integer")),
])
def test_violations_are_listed_as_aws_words_them(params, expected):
    assert message(params) == expected


@pytest.mark.parametrize("params", [
    {"name": "abc"},
    {"name": "abc", "Count": 10, "Mode": "FAST", "Ids": ["a", "b"], "Tags": {"k": "v"},
     "Secret": "long enough", "Data": b"abc", "When": datetime(2026, 1, 1, tzinfo=UTC),
     "Flag": False, "Nested": {"items": [{"id": "x"}], "next": {"items": []}}},
    {"name": "abc", "Loose": "ünïcode 123"},  # an uncompilable model pattern is skipped
    {"name": "abc", "Doc": {"anything": [1, {"goes": None}]}},  # documents are free-form
    {"name": "abc", "Body": object()},  # a stream handed over by the gateway
    {"name": "abc", "Count": None},  # None is "not given"
])
def test_valid_params_pass(params):
    validate_params(model().operation_model("Do"), params, "json")


@pytest.mark.parametrize("protocol, prefix, params, code", [
    ("json", "demo", {}, "ValidationException"),
    ("rest-json", "demo", {}, "ValidationException"),
    ("query", "demo", {}, "ValidationError"),
    ("query", "sqs", {}, "MissingParameter"),
    ("query", "sqs", {"name": "TOOLONGNAME"}, "InvalidParameterValue"),
    ("json", "sqs", {"name": "TOOLONGNAME"}, "InvalidParameterValue"),
    ("rest-xml", "s3", {"name": "TOOLONGNAME"}, "InvalidArgument"),
    ("rest-xml", "s3", {}, "InvalidArgument"),  # a missing member that is not the body
])
def test_the_error_code_is_the_services(protocol, prefix, params, code):
    operation = model(protocol, prefix).operation_model("Do")
    with pytest.raises(AwsError) as raised:
        validate_params(operation, params, protocol)
    assert (raised.value.code, raised.value.status) == (code, 400)


@pytest.mark.parametrize("service, operation, params, protocol, code, text", [
    ("ecs", "RunTask", {}, "json", "ValidationException",
     "1 validation error detected: Value null at 'taskDefinition' failed to satisfy constraint: "
     "Member must not be null"),
    ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::000000000000:role/r",
                           "RoleSessionName": "a b"}, "query", "ValidationError",
     "at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression"),
    ("s3", "PutBucketTagging", {"Bucket": "b"}, "rest-xml", "MissingRequestBodyError",
     "Value null at 'tagging' failed to satisfy constraint: Member must not be null"),
    ("sqs", "SendMessage", {"QueueUrl": "u"}, "json", "MissingParameter",
     "Value null at 'messageBody'"),
])
def test_real_models(service, operation, params, protocol, code, text):
    with pytest.raises(AwsError) as raised:
        validate_params(operation_model(service, operation), params, protocol)
    assert raised.value.code == code and text in raised.value.message


def test_java_unicode_classes_are_checked():
    assert "at 'tagKey'" in message({"name": "abc", "TagKey": "tab\x00"})


def test_a_pattern_that_backtracks_exponentially_is_not_checked():
    # ECR's repositoryName pattern nests repetitions: Python's re would take hours on this value.
    validate_params(model().operation_model("Do"), {"name": "abc", "Repo": "a" * 64 + "!"}, "json")


def test_an_operation_without_input_takes_no_params():
    validate_params(operation_model("sts", "GetCallerIdentity"), {}, "query")
