"""Target input: Input, InputPath and InputTransformer, with the examples of
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
(an EC2 state-change event; `instance` and `state` taken from its detail)."""

from __future__ import annotations

import json

import pytest

from portside.services.events.transform import (
    MISSING,
    Delivery,
    is_path,
    placeholder_check_text,
    render,
    resolve,
    target_input,
)

EVENT = {
    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
    "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
PATHS = {"instance": "$.detail.instance-id", "state": "$.detail.state"}
DELIVERY = Delivery("arn:aws:events:us-east-1:123456789012:rule/r", "r", "2015-11-11T21:29:55Z")


def transformed(template: str, paths: dict[str, str] | None = None) -> str:
    target = {"InputTransformer": {"InputPathsMap": PATHS if paths is None else paths,
                                   "InputTemplate": template}}
    return target_input(target, EVENT, DELIVERY)


@pytest.mark.parametrize("template, expected", [
    # "Simple string": the variables inside the JSON string, unquoted
    ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
    # "Strings with escaped quotes"
    ('"instance \\"<instance>\\" is in <state>"',
     '"instance \\"i-0123456789\\" is in RUNNING"'),
    # "Simple properties": JSON values, quoted because they are strings
    ('{"instance" : <instance>, "state": <state>}',
     '{"instance" : "i-0123456789", "state": "RUNNING"}'),
    # "Strings and variables": mixed with constants in arrays
    ('{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes" }',
     '{"instance" : "i-0123456789", "state": [ 9, "RUNNING", true ], "Transformed" : "Yes" }'),
    # variables inside a JSON string of a JSON template
    ('{"myInstance": <instance>, "myStatus": "<instance> is in <state>"}',
     '{"myInstance": "i-0123456789", "myStatus": "i-0123456789 is in RUNNING"}'),
    # InputTransformer API reference: a plain text template
    ("<instance> is in state <state>", "i-0123456789 is in state RUNNING"),
    ('<instance> is in state "<state>"', 'i-0123456789 is in state "RUNNING"'),
])
def test_documented_templates(template, expected):
    assert transformed(template) == expected


def test_reserved_variables():
    out = json.loads(transformed(
        '{"arn": <aws.events.rule-arn>, "name": "<aws.events.rule-name>", '
        '"at": <aws.events.event.ingestion-time>, "event": <aws.events.event>, '
        '"whole": <aws.events.event.json>}', {}))
    assert out["arn"] == DELIVERY.rule_arn and out["name"] == "r"
    assert out["at"] == "2015-11-11T21:29:55Z"
    assert out["whole"] == EVENT
    # aws.events.event is the event without its detail
    assert out["event"] == {k: v for k, v in EVENT.items() if k != "detail"}


def test_values_of_any_json_type_and_missing_paths():
    paths = {"detail": "$.detail", "resources": "$.resources", "nothing": "$.detail.none",
             "first": "$.resources[0]"}
    out = json.loads(transformed('{"d": <detail>, "r": <resources>, "n": <nothing>, '
                                 '"f": <first>, "s": "[<nothing>]"}', paths))
    assert out == {"d": EVENT["detail"], "r": EVENT["resources"], "n": None,
                   "f": EVENT["resources"][0], "s": "[]"}


def test_the_s3_key_as_an_ecs_container_override():
    """reference/aws-semantics.md §4: the object key into a container's environment."""
    event = {"detail": {"object": {"key": 'in/a "b".csv'}}}
    target = {"InputTransformer": {
        "InputPathsMap": {"key": "$.detail.object.key"},
        "InputTemplate": '{"containerOverrides":[{"name":"worker","environment":'
                         '[{"name":"S3_KEY","value":<key>}]}]}'}}
    overrides = json.loads(target_input(target, event, DELIVERY))
    assert overrides["containerOverrides"][0]["environment"][0]["value"] == 'in/a "b".csv'


def test_input_inputpath_and_the_whole_event():
    assert target_input({"Input": '{"fixed": 1}'}, EVENT, DELIVERY) == '{"fixed": 1}'
    assert json.loads(target_input({"InputPath": "$.detail"}, EVENT, DELIVERY)) == \
        EVENT["detail"]
    assert json.loads(target_input({}, EVENT, DELIVERY)) == EVENT


def test_unknown_placeholders_stay_as_written():
    assert render("<b>bold</b> <x>", {"x": "1"}) == "<b>bold</b> 1"


@pytest.mark.parametrize("path, valid", [
    ("$", True), ("$.detail", True), ("$.detail.instance-id", True), ("$.a_b.c/d", True),
    ("$.resources[0]", True), ("$.detail.*", True), ("$.items[*].name", True),
    ("detail", False), ("$..a", False), ("$.a b", False), ("$['a']", False), ("", False),
])
def test_json_paths(path, valid):
    assert is_path(path) is valid


def test_wildcards_fan_out():
    event = {"items": [{"name": "a"}, {"name": "b"}, {"other": 1}]}
    assert resolve(event, "$.items[*].name") == ["a", "b"]
    assert resolve(event, "$.items[5]") is MISSING


def test_a_placeholder_as_an_object_key_makes_the_template_invalid_json():
    with pytest.raises(ValueError):
        json.loads(placeholder_check_text('{<instance>: 1}', {"instance"}))
    json.loads(placeholder_check_text('{"k": <instance>, "s": "<instance>"}', {"instance"}))
