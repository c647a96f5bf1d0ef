"""AddPermission and RemovePermission as edits of the queue policy."""

from __future__ import annotations

import json

import pytest

from portside.auth.policy import PolicyKind, parse_policy
from portside.protocol.errors import AwsError
from portside.services.sqs.permissions import add_statement, remove_statement

ARN = "arn:aws:sqs:us-east-1:000000000000:q"


def test_add_writes_one_statement_per_label():
    policy = add_statement(None, ARN, "send", ["111122223333"], ["SendMessage"])
    policy = add_statement(policy, ARN, "read", ["111122223333", "444455556666"],
                           ["ReceiveMessage", "DeleteMessage"])
    document = json.loads(policy)
    assert document["Id"] == f"{ARN}/SQSDefaultPolicy"
    assert document["Statement"] == [
        {"Sid": "send", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "SQS:SendMessage", "Resource": ARN},
        {"Sid": "read", "Effect": "Allow",
         "Principal": {"AWS": ["arn:aws:iam::111122223333:root",
                               "arn:aws:iam::444455556666:root"]},
         "Action": ["SQS:ReceiveMessage", "SQS:DeleteMessage"], "Resource": ARN}]
    parse_policy(policy, PolicyKind.RESOURCE)  # a valid queue policy


def test_remove_drops_the_labelled_statement_and_the_policy_with_the_last():
    policy = add_statement(None, ARN, "a", ["111122223333"], ["*"])
    policy = add_statement(policy, ARN, "b", ["111122223333"], ["SendMessage"])
    policy = remove_statement(policy, ARN, "a")
    assert [s["Sid"] for s in json.loads(policy)["Statement"]] == ["b"]
    assert remove_statement(policy, ARN, "b") == ""


@pytest.mark.parametrize("label, accounts, actions, code", [
    ("dup", ["111122223333"], ["SendMessage"], "InvalidParameterValue"),
    ("bad label", ["111122223333"], ["SendMessage"], "InvalidParameterValue"),
    ("x", ["alice"], ["SendMessage"], "InvalidParameterValue"),
    ("x", ["111122223333"], ["DeleteQueue"], "InvalidParameterValue"),
    ("x", ["111122223333"], ["SendMessage"] * 8, "OverLimit"),
])
def test_add_refuses(label, accounts, actions, code):
    policy = add_statement(None, ARN, "dup", ["111122223333"], ["SendMessage"])
    with pytest.raises(AwsError) as info:
        add_statement(policy, ARN, label, accounts, actions)
    assert info.value.code == code


def test_remove_of_an_unknown_label():
    with pytest.raises(AwsError) as info:
        remove_statement(None, ARN, "nope")
    assert info.value.code == "InvalidParameterValue"
