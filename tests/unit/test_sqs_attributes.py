"""Queue attributes: names, ranges and the RedrivePolicy / RedriveAllowPolicy documents, as the
SetQueueAttributes API reference lists them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.protocol.errors import AwsError
from portside.services.sqs.attributes import (
    SETTABLE,
    InvalidValue,
    Redrive,
    RedriveAllow,
    apply,
    defaults,
    differing,
    normalize,
    parse_redrive,
    parse_redrive_allow,
)

ARN = "arn:aws:sqs:us-east-1:000000000000:dlq"


@pytest.mark.parametrize("name, low, high", [
    ("DelaySeconds", 0, 900), ("MaximumMessageSize", 1024, 1_048_576),
    ("MessageRetentionPeriod", 60, 1_209_600), ("ReceiveMessageWaitTimeSeconds", 0, 20),
    ("VisibilityTimeout", 0, 43_200), ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
])
def test_integer_ranges(name, low, high):
    for value in (low, high):
        assert normalize({name: str(value)}, fifo=False, creating=False) == {name: str(value)}
    for value in (str(low - 1), str(high + 1), "1.5", "x", ""):
        with pytest.raises(AwsError) as info:
            normalize({name: value}, fifo=False, creating=False)
        assert info.value.code == "InvalidAttributeValue"
        assert f"parameter {name}" in info.value.message


@pytest.mark.parametrize("name, fifo, creating, code", [
    ("Unknown", False, True, "InvalidAttributeName"),
    ("QueueArn", False, False, "InvalidAttributeName"),
    ("ContentBasedDeduplication", False, False, "InvalidAttributeName"),
    ("DeduplicationScope", False, True, "InvalidAttributeName"),
    ("FifoQueue", True, False, "InvalidAttributeName"),
])
def test_names_a_queue_cannot_set(name, fifo, creating, code):
    with pytest.raises(AwsError) as info:
        normalize({name: "true"}, fifo=fifo, creating=creating)
    assert info.value.code == code


@pytest.mark.parametrize("given, stored", [
    ({"SqsManagedSseEnabled": "TRUE"}, {"SqsManagedSseEnabled": "true"}),
    ({"VisibilityTimeout": "007"}, {"VisibilityTimeout": "7"}),
    ({"RedrivePolicy": json.dumps({"maxReceiveCount": "5", "deadLetterTargetArn": ARN})},
     {"RedrivePolicy": f'{{"deadLetterTargetArn":"{ARN}","maxReceiveCount":5}}'}),
    ({"Policy": ""}, {"Policy": ""}),
])
def test_values_are_stored_in_one_form(given, stored):
    assert normalize(given, fifo=False, creating=False) == stored


def test_defaults_of_each_queue_type():
    assert defaults(False) == {"DelaySeconds": "0", "MaximumMessageSize": "1048576",
                               "MessageRetentionPeriod": "345600",
                               "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30",
                               "SqsManagedSseEnabled": "true"}
    assert defaults(True) == {**defaults(False), "FifoQueue": "true",
                              "ContentBasedDeduplication": "false",
                              "DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"}


def test_empty_values_remove_optional_attributes_and_kms_turns_sse_sqs_off():
    stored = apply(defaults(False), {"Policy": "{}", "KmsMasterKeyId": "alias/aws/sqs"})
    assert stored["SqsManagedSseEnabled"] == "false"
    assert stored["KmsDataKeyReusePeriodSeconds"] == "300"
    assert "Policy" not in apply(stored, {"Policy": ""})


def test_create_queue_compares_only_the_attributes_it_gives():
    stored = defaults(False)
    assert differing(stored, {"VisibilityTimeout": "30"}) is None
    assert differing(stored, {"VisibilityTimeout": "31"}) == "VisibilityTimeout"
    assert differing(stored, {"Policy": ""}) is None


counts = st.integers(min_value=1, max_value=1000)
arns = st.builds(lambda r, a, n: f"arn:aws:sqs:{r}:{a}:{n}",
                 st.sampled_from(["us-east-1", "eu-west-1"]),
                 st.from_regex(r"[0-9]{12}", fullmatch=True),
                 st.from_regex(r"[A-Za-z0-9_-]{1,75}(\.fifo)?", fullmatch=True))


@given(arn=arns, count=counts, as_text=st.booleans())
def test_redrive_policies_read_back(arn, count, as_text):
    document = json.dumps({"deadLetterTargetArn": arn,
                           "maxReceiveCount": str(count) if as_text else count})
    redrive = parse_redrive(document)
    assert redrive == Redrive(arn, count)
    assert parse_redrive(redrive.to_json()) == redrive


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                           lambda c: st.lists(c, max_size=3) |
                           st.dictionaries(st.text(max_size=20), c, max_size=3), max_leaves=8)


@given(st.text() | json_values.map(json.dumps) | st.fixed_dictionaries(
    {"deadLetterTargetArn": st.text() | arns, "maxReceiveCount": json_values | counts}).map(
        json.dumps))
def test_any_redrive_text_is_a_policy_or_invalid_value(text):
    try:
        redrive = parse_redrive(text)
    except InvalidValue:
        return
    assert 1 <= redrive.max_receive_count <= 1000


@pytest.mark.parametrize("document", [
    {"deadLetterTargetArn": ARN, "maxReceiveCount": 0},
    {"deadLetterTargetArn": ARN, "maxReceiveCount": 1001},
    {"deadLetterTargetArn": ARN, "maxReceiveCount": True},
    {"deadLetterTargetArn": ARN},
    {"deadLetterTargetArn": "arn:aws:sns:us-east-1:000000000000:t", "maxReceiveCount": 1},
    {"deadLetterTargetArn": ARN, "maxReceiveCount": 1, "extra": 1},
    [ARN, 1],
])
def test_invalid_redrive_policies(document):
    with pytest.raises(InvalidValue):
        parse_redrive(json.dumps(document))


@pytest.mark.parametrize("document, source, allowed", [
    ({"redrivePermission": "allowAll"}, ARN, True),
    ({"redrivePermission": "denyAll"}, ARN, False),
    ({"redrivePermission": "byQueue", "sourceQueueArns": [ARN]}, ARN, True),
    ({"redrivePermission": "byQueue", "sourceQueueArns": [ARN]}, ARN + "2", False),
])
def test_redrive_allow_policies(document, source, allowed):
    policy = parse_redrive_allow(json.dumps(document))
    assert policy.allows(source) is allowed
    assert parse_redrive_allow(policy.to_json()) == policy


@pytest.mark.parametrize("document", [
    {"redrivePermission": "some"},
    {"redrivePermission": "byQueue"},
    {"redrivePermission": "byQueue", "sourceQueueArns": []},
    {"redrivePermission": "byQueue", "sourceQueueArns": [ARN] * 11},
    {"redrivePermission": "allowAll", "sourceQueueArns": [ARN]},
    {"redrivePermission": "byQueue", "sourceQueueArns": ["not-an-arn"]},
])
def test_invalid_redrive_allow_policies(document):
    with pytest.raises(InvalidValue):
        parse_redrive_allow(json.dumps(document))


def test_a_queue_without_redrive_allow_policy_allows_all():
    assert RedriveAllow("allowAll").allows(ARN)


@given(name=st.sampled_from(sorted(SETTABLE)), value=st.text(max_size=30) | st.integers(
    min_value=-10, max_value=2_000_000).map(str))
def test_any_value_is_stored_canonically_or_refused_as_aws_does(name, value):
    attribute = SETTABLE[name]
    try:
        stored = normalize({name: value}, fifo=True, creating=True)[name]
    except AwsError as exc:
        assert exc.code == "InvalidAttributeValue"
        return
    assert stored == "" and attribute.removable or normalize(
        {name: stored}, fifo=True, creating=True)[name] == stored
