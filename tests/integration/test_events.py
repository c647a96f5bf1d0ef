"""EventBridge through boto3 and the AWS CLI: buses and their policies, rules, targets,
PutEvents, and delivery to SQS, ECS RunTask and other buses, with input transformation,
target roles, retries and dead-letter queues; S3's events; delivery across kill -9."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from server import ACCOUNT, REGION, PortsideServer

AWS_CLI = str(Path(sys.executable).with_name("aws"))
OTHER_ACCOUNT = "111111111111"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def events(portside):
    return portside.client("events")


@pytest.fixture(scope="module")
def sqs(portside):
    return portside.client("sqs")


@pytest.fixture(scope="module")
def iam(portside):
    return portside.client("iam")


def error_of(info: pytest.ExceptionInfo) -> tuple[str, str]:
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def make_queue(sqs, *, allow_events: bool = True, name: str | None = None) -> tuple[str, str]:
    """A queue and its ARN; by default its policy lets EventBridge send to it (as AWS
    requires of SQS targets without a role, eb-use-resource-based.html)."""
    url = sqs.create_queue(QueueName=name or unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    if allow_events:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn}]})})
    return url, arn


def receive(sqs, url: str, count: int = 1, timeout: float = 15.0) -> list[dict]:
    """`count` messages (with their attributes), waiting for them as long as `timeout`."""
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  MessageAttributeNames=["All"]).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        found += got
    return found


def rule_to_queue(events, queue_arn: str, pattern: dict | None = None, bus: str = "default",
                  **target) -> tuple[str, str]:
    name = unique("r")
    arn = events.put_rule(Name=name, EventBusName=bus,
                          EventPattern=json.dumps(pattern or {"source": [name]}))["RuleArn"]
    put = events.put_targets(Rule=name, EventBusName=bus,
                             Targets=[{"Id": "t1", "Arn": queue_arn, **target}])
    assert put["FailedEntryCount"] == 0
    return name, arn


def put_event(events, source: str, detail: dict | None = None, **entry) -> str:
    answer = events.put_events(Entries=[{"Source": source, "DetailType": "Test Event",
                                         "Detail": json.dumps(detail or {"n": 1}), **entry}])
    assert answer["FailedEntryCount"] == 0, answer
    return answer["Entries"][0]["EventId"]


def make_role(iam, trusted: str, actions: list[str] | None = None) -> str:
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": trusted},
            "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    if actions:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    return arn


# -- buses -------------------------------------------------------------------------------------


def test_the_default_bus_and_custom_buses(events):
    default = events.describe_event_bus()
    assert default["Name"] == "default"
    assert default["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    name = unique("bus")
    created = events.create_event_bus(Name=name, Description="orders",
                                      Tags=[{"Key": "team", "Value": "a"}])
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
    assert created["EventBusArn"] == arn
    described = events.describe_event_bus(Name=arn)
    assert described["Name"] == name and described["Description"] == "orders"
    listed = events.list_event_buses(NamePrefix=name)["EventBuses"]
    assert [b["Name"] for b in listed] == [name]
    assert "default" in [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as info:
        events.create_event_bus(Name=name)
    assert error_of(info) == ("ResourceAlreadyExistsException",
                              f"Event bus {name} already exists.")
    events.delete_event_bus(Name=name)
    with pytest.raises(ClientError) as info:
        events.describe_event_bus(Name=name)
    assert error_of(info) == ("ResourceNotFoundException", f"Event bus {name} does not exist.")
    with pytest.raises(ClientError) as info:
        events.delete_event_bus(Name="default")
    assert error_of(info) == ("ValidationException", "Cannot delete event bus default.")


def test_listing_buses_pages(events):
    prefix = unique("page")
    for i in range(3):
        events.create_event_bus(Name=f"{prefix}-{i}")
    first = events.list_event_buses(NamePrefix=prefix, Limit=2)
    assert [b["Name"] for b in first["EventBuses"]] == [f"{prefix}-0", f"{prefix}-1"]
    rest = events.list_event_buses(NamePrefix=prefix, Limit=2, NextToken=first["NextToken"])
    assert [b["Name"] for b in rest["EventBuses"]] == [f"{prefix}-2"]
    assert "NextToken" not in rest
    with pytest.raises(ClientError) as info:
        events.list_event_buses(NamePrefix=prefix, NextToken="not-a-token")
    assert error_of(info) == ("ValidationException", "The nextToken provided is invalid.")


def test_permissions_write_the_bus_policy(events):
    name = unique("bus")
    events.create_event_bus(Name=name)
    events.put_permission(EventBusName=name, Action="events:PutEvents",
                          Principal=OTHER_ACCOUNT, StatementId="other")
    events.put_permission(EventBusName=name, Action="events:PutEvents", Principal="*",
                          StatementId="org", Condition={
                              "Type": "StringEquals", "Key": "aws:PrincipalOrgID",
                              "Value": "o-1234567890"})
    policy = json.loads(events.describe_event_bus(Name=name)["Policy"])
    assert policy["Statement"] == [
        {"Sid": "other", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
         "Action": "events:PutEvents",
         "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"},
        {"Sid": "org", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
         "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1234567890"}}}]
    events.remove_permission(EventBusName=name, StatementId="other")
    assert [s["Sid"] for s in json.loads(events.describe_event_bus(Name=name)["Policy"])[
        "Statement"]] == ["org"]
    with pytest.raises(ClientError) as info:
        events.remove_permission(EventBusName=name, StatementId="other")
    assert error_of(info) == ("ResourceNotFoundException",
                              "Statement with the provided id does not exist.")
    events.remove_permission(EventBusName=name, RemoveAllPermissions=True)
    assert "Policy" not in events.describe_event_bus(Name=name)
    with pytest.raises(ClientError) as info:
        events.put_permission(EventBusName=name, Action="events:PutRule", Principal="*",
                              StatementId="x")
    assert error_of(info)[0] == "ValidationException"


# -- rules ---------------------------------------------------------------------------------------


def test_rule_lifecycle(events):
    name = unique("rule")
    pattern = json.dumps({"source": ["my.app"]})
    arn = events.put_rule(Name=name, EventPattern=pattern, Description="d",
                          Tags=[{"Key": "k", "Value": "v"}])["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    described = events.describe_rule(Name=name)
    assert described["EventPattern"] == pattern and described["State"] == "ENABLED"
    assert described["Description"] == "d" and described["EventBusName"] == "default"
    assert described["CreatedBy"] == ACCOUNT and described["Arn"] == arn
    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    events.enable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "ENABLED"
    # PutRule replaces: what it omits is gone; tags stay.
    events.put_rule(Name=name, ScheduleExpression="rate(5 minutes)")
    replaced = events.describe_rule(Name=name)
    assert "EventPattern" not in replaced and "Description" not in replaced
    assert replaced["ScheduleExpression"] == "rate(5 minutes)"
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "k2", "Value": "v2"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["k"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "k2", "Value": "v2"}]
    with pytest.raises(ClientError) as info:
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": "aws:owner", "Value": "me"}])
    assert error_of(info)[0] == "ValidationException"
    with pytest.raises(ClientError) as info:
        events.tag_resource(ResourceARN=arn, Tags=[{"Key": f"t{i}", "Value": "v"}
                                                   for i in range(50)])
    assert error_of(info)[0] == "LimitExceededException"
    events.delete_rule(Name=name)
    with pytest.raises(ClientError) as info:
        events.describe_rule(Name=name)
    assert error_of(info) == ("ResourceNotFoundException",
                              f"Rule {name} does not exist on EventBus default.")
    events.delete_rule(Name=name)  # deleting a rule that is not there succeeds


def test_rules_on_a_custom_bus_and_listing(events):
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    prefix = unique("lr")
    for i in range(3):
        arn = events.put_rule(Name=f"{prefix}-{i}", EventBusName=bus,
                              EventPattern='{"source": ["x"]}')["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{prefix}-2"
    first = events.list_rules(EventBusName=bus, NamePrefix=prefix, Limit=2)
    assert [r["Name"] for r in first["Rules"]] == [f"{prefix}-0", f"{prefix}-1"]
    assert first["Rules"][0]["EventBusName"] == bus
    rest = events.list_rules(EventBusName=bus, NamePrefix=prefix, NextToken=first["NextToken"])
    assert [r["Name"] for r in rest["Rules"]] == [f"{prefix}-2"]
    assert events.list_rules(NamePrefix=prefix)["Rules"] == []  # not on the default bus
    with pytest.raises(ClientError) as info:
        events.put_rule(Name="x", EventBusName=unique("nobus"), EventPattern='{"a": ["b"]}')
    assert error_of(info)[0] == "ResourceNotFoundException"


@pytest.mark.parametrize("arguments, expected", [
    ({}, ("ValidationException",
          "Parameter(s) EventPattern or ScheduleExpression must be specified.")),
    ({"EventPattern": '{"source": "aws.ec2"}'},
     ("InvalidEventPatternException",
      'Event pattern is not valid. Reason: "source" must be an object or an array')),
    ({"EventPattern": '{"source": []}'},
     ("InvalidEventPatternException", "Event pattern is not valid. Reason: Empty arrays are "
                                      "not allowed")),
    ({"ScheduleExpression": "rate(1 minutes)"},
     ("ValidationException", "Parameter ScheduleExpression is not valid.")),
    ({"ScheduleExpression": "cron(0 12 * * * *)"},
     ("ValidationException", "Parameter ScheduleExpression is not valid.")),
])
def test_put_rule_refuses_what_aws_refuses(events, arguments, expected):
    with pytest.raises(ClientError) as info:
        events.put_rule(Name=unique("bad"), **arguments)
    assert error_of(info) == expected


def test_schedules_only_on_the_default_bus(events):
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    with pytest.raises(ClientError) as info:
        events.put_rule(Name="s", EventBusName=bus, ScheduleExpression="rate(1 minute)")
    assert error_of(info) == ("ValidationException",
                              "ScheduleExpression is supported only on the default event bus.")


def test_test_event_pattern(events):
    event = {"id": "1", "account": ACCOUNT, "source": "aws.s3", "time": "2024-01-01T00:00:00Z",
             "region": REGION, "resources": [], "detail-type": "Object Created",
             "detail": {"object": {"key": "in/a.csv"}}}
    pattern = {"source": ["aws.s3"], "detail": {"object": {"key": [{"suffix": ".csv"}]}}}
    assert events.test_event_pattern(EventPattern=json.dumps(pattern),
                                     Event=json.dumps(event))["Result"] is True
    event["detail"]["object"]["key"] = "in/a.txt"
    assert events.test_event_pattern(EventPattern=json.dumps(pattern),
                                     Event=json.dumps(event))["Result"] is False
    with pytest.raises(ClientError) as info:
        events.test_event_pattern(EventPattern=json.dumps(pattern), Event='{"source": "x"}')
    assert error_of(info) == ("ValidationException", "Parameter Event is not valid.")
    with pytest.raises(ClientError) as info:
        events.test_event_pattern(EventPattern='{"a": [{"nope": 1}]}', Event=json.dumps(event))
    assert error_of(info) == ("InvalidEventPatternException",
                              "Event pattern is not valid. Reason: Unrecognized match type nope")


# -- targets -------------------------------------------------------------------------------------


def test_targets_are_put_listed_and_removed(events, sqs):
    _, queue_arn = make_queue(sqs)
    name = unique("rule")
    events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    targets = [{"Id": "a", "Arn": queue_arn, "InputPath": "$.detail"},
               {"Id": "b", "Arn": queue_arn, "Input": '{"x": 1}',
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}}]
    assert events.put_targets(Rule=name, Targets=targets)["FailedEntryCount"] == 0
    assert events.list_targets_by_rule(Rule=name)["Targets"] == targets
    assert events.list_rule_names_by_target(TargetArn=queue_arn)["RuleNames"] == [name]
    with pytest.raises(ClientError) as info:
        events.delete_rule(Name=name)
    assert error_of(info) == ("ValidationException", "Rule can't be deleted since it has "
                                                     "targets.")
    events.put_targets(Rule=name, Targets=[{"Id": "a", "Arn": queue_arn}])  # replaced in place
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == ["a", "b"]
    assert "InputPath" not in events.list_targets_by_rule(Rule=name)["Targets"][0]
    events.remove_targets(Rule=name, Ids=["a", "b"])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    events.delete_rule(Name=name)


def test_put_targets_refuses_what_aws_refuses(events, sqs):
    _, queue_arn = make_queue(sqs)
    name = unique("rule")
    events.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    many = [{"Id": str(i), "Arn": queue_arn} for i in range(6)]
    with pytest.raises(ClientError) as info:
        events.put_targets(Rule=name, Targets=many)
    assert error_of(info) == ("LimitExceededException",
                              "The requested resource exceeds the maximum number allowed.")
    with pytest.raises(ClientError) as info:
        events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": queue_arn, "Input": "env:dev"}])
    code, message = error_of(info)
    assert code == "ValidationException"
    assert message.startswith("JSON syntax error in input for target 1")
    with pytest.raises(ClientError) as info:
        events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": queue_arn, "Input": "{}",
                                                "InputPath": "$.detail"}])
    assert error_of(info)[0] == "ValidationException"
    with pytest.raises(ClientError) as info:
        events.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": queue_arn,
                                                "InputTransformer": {
                                                    "InputPathsMap": {"k": "$.detail.k"},
                                                    "InputTemplate": '{<k>: 1}'}}])
    assert error_of(info)[0] == "ValidationException"
    with pytest.raises(ClientError) as info:
        events.put_targets(Rule=unique("missing"), Targets=[{"Id": "1", "Arn": queue_arn}])
    assert error_of(info)[0] == "ResourceNotFoundException"
    # A kind of target portside does not deliver to is refused for that entry only.
    lambda_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
    put = events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": lambda_arn},
                                                 {"Id": "q", "Arn": queue_arn}])
    assert put["FailedEntryCount"] == 1
    assert put["FailedEntries"][0]["TargetId"] == "fn"
    assert put["FailedEntries"][0]["ErrorCode"] == "NotImplemented"
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == ["q"]


def test_passing_a_role_needs_iam_pass_role(portside, events, iam, sqs):
    """PutRule and PutTargets with a RoleArn pass that role to EventBridge."""
    user = unique("user")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="events", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:*",
                                                "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = portside.client("events", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    role = make_role(iam, "events.amazonaws.com")
    _, queue_arn = make_queue(sqs)
    name = unique("rule")
    as_user.put_rule(Name=name, EventPattern='{"source": ["x"]}')
    with pytest.raises(ClientError) as info:
        as_user.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": queue_arn, "RoleArn": role}])
    code, message = error_of(info)
    assert code == "AccessDeniedException"
    assert "iam:PassRole" in message and role in message
    with pytest.raises(ClientError) as info:
        as_user.put_rule(Name=name, EventPattern='{"source": ["x"]}', RoleArn=role)
    assert error_of(info)[0] == "AccessDeniedException"
    iam.put_user_policy(UserName=user, PolicyName="pass", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
            "Condition": {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}}}]}))
    put = as_user.put_targets(Rule=name, Targets=[{"Id": "1", "Arn": queue_arn,
                                                   "RoleArn": role}])
    assert put["FailedEntryCount"] == 0


# -- PutEvents and delivery ----------------------------------------------------------------------


def test_put_events_per_entry_errors_and_limits(events):
    answer = events.put_events(Entries=[
        {"Source": "my.app", "DetailType": "t", "Detail": "{}"},
        {"DetailType": "t", "Detail": "{}"},
        {"Source": "my.app", "DetailType": "t", "Detail": "[1]"},
        {"Source": "aws.s3", "DetailType": "t", "Detail": "{}"},
        {"Source": "my.app", "Detail": "{}"},
    ])
    assert answer["FailedEntryCount"] == 4
    first, *refused = answer["Entries"]
    assert set(first) == {"EventId"}
    assert refused == [
        {"ErrorCode": "InvalidArgument",
         "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."},
        {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
        {"ErrorCode": "NotAuthorizedForSourceException",
         "ErrorMessage": "Not authorized for the source."},
        {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter DetailType is not valid. "
                                                         "Reason: DetailType is a required "
                                                         "argument."}]
    with pytest.raises(ClientError) as info:
        events.put_events(Entries=[{"Source": "s", "DetailType": "t",
                                    "Detail": json.dumps({"x": "y" * 200_000})}] * 2)
    assert error_of(info) == ("ValidationException",
                              "Total size of the entries in the request is over the limit.")
    with pytest.raises(ClientError) as info:
        events.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 11)
    assert error_of(info)[0] == "ValidationException"


def test_put_events_reaches_an_sqs_target(events, sqs):
    url, queue_arn = make_queue(sqs)
    name, _ = rule_to_queue(events, queue_arn, {"source": [{"prefix": "orders."}],
                                                "detail": {"total": [{"numeric": [">", 100]}]}})
    put_event(events, "orders.web", {"total": 50})  # does not match
    event_id = put_event(events, "orders.web", {"total": 150}, Resources=["arn:x"])
    (message,) = receive(sqs, url)
    body = json.loads(message["Body"])
    assert body["id"] == event_id and body["source"] == "orders.web"
    assert body["detail-type"] == "Test Event" and body["detail"] == {"total": 150}
    assert body["account"] == ACCOUNT and body["region"] == REGION
    assert body["resources"] == ["arn:x"] and body["version"] == "0"
    assert receive(sqs, url, timeout=1.5) == []


def test_events_on_a_custom_bus_reach_only_its_rules(events, sqs):
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    url, queue_arn = make_queue(sqs)
    default_url, default_queue = make_queue(sqs)
    source = unique("src")
    rule_to_queue(events, queue_arn, {"source": [source]}, bus=bus)
    rule_to_queue(events, default_queue, {"source": [source]})
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    put_event(events, source, EventBusName=bus_arn)
    assert len(receive(sqs, url)) == 1
    assert receive(sqs, default_url, timeout=1.5) == []


def test_a_disabled_rule_delivers_nothing(events, sqs):
    url, queue_arn = make_queue(sqs)
    name, _ = rule_to_queue(events, queue_arn)
    events.disable_rule(Name=name)
    put_event(events, name)
    assert receive(sqs, url, timeout=1.5) == []
    events.enable_rule(Name=name)
    put_event(events, name)
    assert len(receive(sqs, url)) == 1


def test_input_path_and_transformer_with_reserved_variables(events, sqs):
    url, queue_arn = make_queue(sqs)
    name = unique("rule")
    rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))[
        "RuleArn"]
    events.put_targets(Rule=name, Targets=[
        {"Id": "path", "Arn": queue_arn, "InputPath": "$.detail.order"},
        {"Id": "json", "Arn": queue_arn, "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.order.id", "items": "$.detail.order.items"},
            "InputTemplate": '{"order": <id>, "items": <items>, "rule": <aws.events.rule-arn>,'
                             ' "name": "rule <aws.events.rule-name>", '
                             '"at": <aws.events.event.ingestion-time>, '
                             '"whole": <aws.events.event.json>}'}},
        {"Id": "text", "Arn": queue_arn, "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.order.id"},
            "InputTemplate": "order <id> from <aws.events.rule-name>"}},
    ])
    order = {"id": "o-1", "items": [1, 2]}
    event_id = put_event(events, name, {"order": order})
    bodies = [m["Body"] for m in receive(sqs, url, 3)]
    assert json.dumps(order, separators=(",", ":")) in bodies
    assert f"order o-1 from {name}" in bodies
    (transformed,) = [json.loads(b) for b in bodies if b.startswith('{"order"')]
    assert transformed["order"] == "o-1" and transformed["items"] == [1, 2]
    assert transformed["rule"] == rule_arn and transformed["name"] == f"rule {name}"
    assert transformed["at"].endswith("Z") and transformed["whole"]["id"] == event_id
    assert transformed["whole"]["detail"] == {"order": order}


def test_a_queue_whose_policy_does_not_allow_eventbridge_gets_nothing(events, sqs):
    """Without a role, the queue's own policy must let events.amazonaws.com send; the
    failure is a permission error, which goes straight to the dead-letter queue."""
    url, queue_arn = make_queue(sqs, allow_events=False)
    dlq_url, dlq_arn = make_queue(sqs)
    name, rule_arn = rule_to_queue(events, queue_arn, DeadLetterConfig={"Arn": dlq_arn})
    event_id = put_event(events, name)
    (dead,) = receive(sqs, dlq_url)
    assert json.loads(dead["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"] == rule_arn and attributes["TARGET_ARN"] == queue_arn
    assert "sqs:SendMessage" in attributes["ERROR_MESSAGE"]
    assert receive(sqs, url, timeout=1) == []


def test_a_queue_policy_may_require_the_rule_as_source_arn(events, sqs):
    """The documented queue policy: events.amazonaws.com, ArnEquals aws:SourceArn the rule."""
    url, queue_arn = make_queue(sqs, allow_events=False)
    name = unique("rule")
    rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))[
        "RuleArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]})})
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    put_event(events, name)
    assert len(receive(sqs, url)) == 1


def test_a_role_that_does_not_trust_eventbridge_fails_into_the_dead_letter_queue(
        events, sqs, iam):
    url, queue_arn = make_queue(sqs, allow_events=False)
    dlq_url, dlq_arn = make_queue(sqs)
    role = make_role(iam, "ecs-tasks.amazonaws.com", ["sqs:SendMessage"])
    name, rule_arn = rule_to_queue(events, queue_arn, RoleArn=role,
                                   DeadLetterConfig={"Arn": dlq_arn})
    event_id = put_event(events, name)
    (dead,) = receive(sqs, dlq_url)
    assert json.loads(dead["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "FAILED_TO_ASSUME_ROLE"
    assert attributes["RULE_ARN"] == rule_arn and attributes["TARGET_ARN"] == queue_arn
    assert "sts:AssumeRole" in attributes["ERROR_MESSAGE"]
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert receive(sqs, url, timeout=1) == []


def test_a_trusted_role_sends_with_its_own_permissions(events, sqs, iam):
    """With a role, the role's identity policy decides; the queue needs no policy."""
    url, queue_arn = make_queue(sqs, allow_events=False)
    role = make_role(iam, "events.amazonaws.com", ["sqs:SendMessage"])
    name, _ = rule_to_queue(events, queue_arn, RoleArn=role)
    put_event(events, name)
    assert len(receive(sqs, url)) == 1


def test_an_event_bus_target_forwards_the_same_event(events, sqs):
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    url, queue_arn = make_queue(sqs)
    source = unique("src")
    rule_to_queue(events, queue_arn, {"source": [source]}, bus=bus)
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    name = unique("fwd")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=name, Targets=[{"Id": "bus", "Arn": bus_arn}])
    event_id = put_event(events, source)
    (message,) = receive(sqs, url)
    assert json.loads(message["Body"])["id"] == event_id


def test_forwarding_ends_after_two_hops(events, sqs):
    """A rule that forwards its bus's events to that same bus would loop forever; an event
    crosses at most two bus-to-bus hops, so the bus's other target sees it three times."""
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    url, queue_arn = make_queue(sqs)
    source = unique("src")
    rule_to_queue(events, queue_arn, {"source": [source]}, bus=bus)
    name = unique("loop")
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "self", "Arn": bus_arn}])
    event_id = put_event(events, source, EventBusName=bus)
    got = receive(sqs, url, 4, timeout=3)
    assert [json.loads(m["Body"])["id"] for m in got] == [event_id] * 3


def test_a_log_group_target_needs_the_log_groups_resource_policy(portside, events, sqs):
    """CloudWatch Logs targets are allowed by the Logs resource policy (eb-use-resource-based:
    "CloudWatch Logs permissions"): without one the delivery is a permission failure."""
    logs = portside.client("logs")
    group = f"/aws/events/{unique('g')}"
    logs.create_log_group(logGroupName=group)
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    dlq_url, dlq_arn = make_queue(sqs)
    name, _ = rule_to_queue(events, group_arn, DeadLetterConfig={"Arn": dlq_arn})
    put_event(events, name)
    (dead,) = receive(sqs, dlq_url)
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    try:
        logs.put_resource_policy(policyName=unique("events"), policyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Principal": {"Service": "events.amazonaws.com"},
                "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/*:*"}]}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NotImplemented":
            raise
        pytest.skip("the Logs service has no resource policies yet")
    event_id = put_event(events, name, {"logged": True})
    deadline = time.monotonic() + 10
    found: list[dict] = []
    while not found and time.monotonic() < deadline:
        found = logs.filter_log_events(logGroupName=group)["events"]
        time.sleep(0.1)
    (logged,) = found
    assert logged["logStreamName"] == event_id
    assert json.loads(logged["message"])["detail"] == {"logged": True}


def test_the_aws_cli(portside, sqs):
    url, queue_arn = make_queue(sqs)
    name = unique("cli")

    def aws(*args: str) -> dict:
        done = subprocess.run([AWS_CLI, "events", *args, "--output", "json"],
                              env=portside.cli_env(), capture_output=True, text=True,
                              timeout=60, check=True)
        return json.loads(done.stdout) if done.stdout.strip() else {}

    arn = aws("put-rule", "--name", name, "--event-pattern",
              json.dumps({"source": [name]}))["RuleArn"]
    assert arn.endswith(f":rule/{name}")
    aws("put-targets", "--rule", name, "--targets", json.dumps([{"Id": "1", "Arn": queue_arn}]))
    assert aws("list-targets-by-rule", "--rule", name)["Targets"][0]["Arn"] == queue_arn
    assert [r["Name"] for r in aws("list-rules", "--name-prefix", name)["Rules"]] == [name]
    assert aws("put-events", "--entries", json.dumps([{
        "Source": name, "DetailType": "cli", "Detail": '{"via": "cli"}'}]))[
        "FailedEntryCount"] == 0
    (message,) = receive(sqs, url)
    assert json.loads(message["Body"])["detail"] == {"via": "cli"}
    event = {"id": "1", "account": ACCOUNT, "source": name, "time": "2024-01-01T00:00:00Z",
             "region": REGION, "resources": [], "detail-type": "cli", "detail": {}}
    assert aws("test-event-pattern", "--event-pattern", json.dumps({"source": [name]}),
               "--event", json.dumps(event))["Result"] is True


# -- S3 and ECS ---------------------------------------------------------------------------------


def test_an_s3_upload_reaches_a_rule_with_a_key_suffix_filter(portside, events, sqs):
    s3 = portside.client("s3")
    bucket = unique("incoming")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    url, queue_arn = make_queue(sqs)
    rule_to_queue(events, queue_arn, {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"suffix": ".csv"}]}}},
        InputTransformer={"InputPathsMap": {"key": "$.detail.object.key"},
                          "InputTemplate": '{"key": <key>}'})
    s3.put_object(Bucket=bucket, Key="in/skip.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/data.csv", Body=b"a,b")
    (message,) = receive(sqs, url)
    assert json.loads(message["Body"]) == {"key": "in/data.csv"}
    assert receive(sqs, url, timeout=1) == []


def test_an_ecs_target_runs_a_task_as_its_role(portside, events, sqs, iam):
    """reference/aws-semantics.md §4: RunTask on the target's cluster, as the target's role,
    with the object key passed as a container override."""
    if requests_health(portside).get("ecs") != "running":
        pytest.skip("the ECS service is not registered")
    from ecs_support import fleet_for, host, register

    ecs = portside.client("ecs")
    cluster = unique("c")
    cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
    fleet = fleet_for(portside)
    try:
        host(fleet, cluster)
        definition = register(ecs, containerDefinitions=[
            {"name": "worker", "image": "busybox", "memory": 128}])
        role = make_role(iam, "events.amazonaws.com", ["ecs:RunTask", "iam:PassRole"])
        dlq_url, dlq_arn = make_queue(sqs)
        name = unique("run")
        events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))
        events.put_targets(Rule=name, Targets=[{
            "Id": "task", "Arn": cluster_arn, "RoleArn": role,
            "DeadLetterConfig": {"Arn": dlq_arn},
            "EcsParameters": {"TaskDefinitionArn": definition, "TaskCount": 1,
                              "LaunchType": "EC2", "Tags": [{"Key": "from", "Value": "rule"}]},
            "InputTransformer": {
                "InputPathsMap": {"key": "$.detail.key"},
                "InputTemplate": '{"containerOverrides": [{"name": "worker", "environment": '
                                 '[{"name": "S3_KEY", "value": <key>}]}]}'}}])
        put_event(events, name, {"key": "in/a.csv"})
        started_by = f"events-rule/{name}"

        def started() -> list[str]:
            return ecs.list_tasks(cluster=cluster, startedBy=started_by)["taskArns"]

        deadline = time.monotonic() + 15
        while not started() and time.monotonic() < deadline:
            time.sleep(0.05)
        (task_arn,) = started()
        task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn], include=["TAGS"])[
            "tasks"][0]
        assert task["startedBy"] == started_by
        (override,) = task["overrides"]["containerOverrides"]
        assert override["environment"] == [{"name": "S3_KEY", "value": "in/a.csv"}]
        assert {"key": "from", "value": "rule"} in task["tags"]
        assert receive(sqs, dlq_url, timeout=0.5) == []
    finally:
        fleet.close()


def test_an_ecs_target_whose_role_may_not_run_tasks_fails_with_no_permissions(
        portside, events, sqs, iam):
    if requests_health(portside).get("ecs") != "running":
        pytest.skip("the ECS service is not registered")
    ecs = portside.client("ecs")
    cluster_arn = ecs.create_cluster(clusterName=unique("c"))["cluster"]["clusterArn"]
    role = make_role(iam, "events.amazonaws.com", ["sqs:SendMessage"])
    dlq_url, dlq_arn = make_queue(sqs)
    name = unique("run")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))
    events.put_targets(Rule=name, Targets=[{
        "Id": "task", "Arn": cluster_arn, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq_arn},
        "EcsParameters": {"TaskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:"
                                               "task-definition/none:1"}}])
    put_event(events, name)
    (dead,) = receive(sqs, dlq_url)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert "ecs:RunTask" in attributes["ERROR_MESSAGE"]


def test_ecs_task_state_changes_reach_a_rule(portside, events, sqs):
    """ECS publishes "ECS Task State Change" on the internal bus; it reaches the default bus.
    One event for the task's RUNNING: the host reports it at once, before the control plane
    applied its acknowledgment (which once followed as a second RUNNING event)."""
    if requests_health(portside).get("ecs") != "running":
        pytest.skip("the ECS service is not registered")
    from ecs_support import fleet_for, host, register

    ecs = portside.client("ecs")
    cluster = unique("c")
    cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
    url, queue_arn = make_queue(sqs)
    rule_to_queue(events, queue_arn, {
        "source": ["aws.ecs"], "detail-type": ["ECS Task State Change"],
        "detail": {"clusterArn": [cluster_arn], "lastStatus": ["RUNNING"]}})
    fleet = fleet_for(portside)
    try:
        host(fleet, cluster, start_delay=0)
        task_arn = ecs.run_task(cluster=cluster, taskDefinition=register(ecs))["tasks"][0][
            "taskArn"]
        (message,) = receive(sqs, url)
        body = json.loads(message["Body"])
        assert body["resources"] == [task_arn] and body["detail"]["lastStatus"] == "RUNNING"
        assert body["detail"]["connectivity"] == "CONNECTED"
        assert receive(sqs, url, timeout=1.0) == []
        ecs.stop_task(cluster=cluster, task=task_arn)
    finally:
        fleet.close()


def test_retries_run_out_into_the_dead_letter_queue(portside, events, sqs, iam):
    """RunTask answering only placement failures (no instance has the memory) is a retriable
    failure: retried within the RetryPolicy, then sent to the dead-letter queue."""
    if requests_health(portside).get("ecs") != "running":
        pytest.skip("the ECS service is not registered")
    from ecs_support import fleet_for, host, register

    ecs = portside.client("ecs")
    cluster = unique("c")
    cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
    fleet = fleet_for(portside)
    try:
        host(fleet, cluster, memory=256)
        definition = register(ecs, containerDefinitions=[
            {"name": "big", "image": "busybox", "memory": 1024}])
        role = make_role(iam, "events.amazonaws.com", ["ecs:RunTask", "iam:PassRole"])
        dlq_url, dlq_arn = make_queue(sqs)
        name = unique("run")
        rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))[
            "RuleArn"]
        events.put_targets(Rule=name, Targets=[{
            "Id": "task", "Arn": cluster_arn, "RoleArn": role,
            "EcsParameters": {"TaskDefinitionArn": definition},
            "RetryPolicy": {"MaximumRetryAttempts": 1}, "DeadLetterConfig": {"Arn": dlq_arn}}])
        started = time.monotonic()
        put_event(events, name)
        (dead,) = receive(sqs, dlq_url)
        assert time.monotonic() - started >= 0.5  # one retry, after a backoff
        attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
        assert attributes["ERROR_CODE"] == "ERROR_FROM_TARGET"
        assert "RESOURCE:MEMORY" in attributes["ERROR_MESSAGE"]
        assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
        assert attributes["RETRY_ATTEMPTS"] == "1" and attributes["RULE_ARN"] == rule_arn
    finally:
        fleet.close()


def requests_health(portside) -> dict:
    import requests

    return requests.get(f"{portside.endpoint}/_portside/health", timeout=5).json()["services"]


# -- accounts and restarts (servers of their own) ----------------------------------------------


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory):
    server = PortsideServer(tmp_path_factory.mktemp("events-accounts") / "data", env={
        "PORTSIDE_ACCOUNTS": f"{ACCOUNT}:test:test,{OTHER_ACCOUNT}:other:other"}).start()
    yield server
    server.stop()


def test_cross_account_put_events_needs_the_bus_policy(two_accounts):
    owner = two_accounts.client("events")
    sender = two_accounts.client("events", key="other", secret="other")
    sqs = two_accounts.client("sqs")
    bus = unique("shared")
    bus_arn = owner.create_event_bus(Name=bus)["EventBusArn"]
    url, queue_arn = make_queue(sqs)
    source = unique("src")
    rule_to_queue(owner, queue_arn, {"source": [source], "account": [OTHER_ACCOUNT]}, bus=bus)
    entry = {"Source": source, "DetailType": "x", "Detail": "{}", "EventBusName": bus_arn}
    with pytest.raises(ClientError) as info:
        sender.put_events(Entries=[entry])
    assert error_of(info)[0] == "AccessDeniedException"
    owner.put_permission(EventBusName=bus, Action="events:PutEvents", Principal=OTHER_ACCOUNT,
                         StatementId="sender")
    assert sender.put_events(Entries=[entry])["FailedEntryCount"] == 0
    (message,) = receive(sqs, url)
    assert json.loads(message["Body"])["account"] == OTHER_ACCOUNT


def test_a_bus_target_in_another_account_follows_that_bus_policy(two_accounts):
    """A rule in one account forwards to another account's bus, as its account (no role)."""
    owner = two_accounts.client("events")
    sender = two_accounts.client("events", key="other", secret="other")
    sqs = two_accounts.client("sqs")
    url, queue_arn = make_queue(sqs)
    source = unique("src")
    rule_to_queue(owner, queue_arn, {"source": [source]})
    default_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    owner.put_permission(Action="events:PutEvents", Principal=OTHER_ACCOUNT,
                         StatementId=unique("s"))
    name = unique("fwd")
    sender.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    sender.put_targets(Rule=name, Targets=[{"Id": "bus", "Arn": default_arn}])
    event_id = put_event(sender, source)
    (message,) = receive(sqs, url)
    assert json.loads(message["Body"])["id"] == event_id


def test_accepted_events_are_delivered_after_kill_9(tmp_path):
    """100 events in ten concurrent PutEvents calls, the server killed (-9) as soon as the last
    is acknowledged, then restarted: every event reaches the target. Duplicates may come only
    from at-least-once redelivery; the test reports how many were still on their way at the
    kill, and how many came twice."""
    from concurrent.futures import ThreadPoolExecutor

    server = PortsideServer(tmp_path / "data").start()
    try:
        events, sqs = server.client("events"), server.client("sqs")
        url, queue_arn = make_queue(sqs)
        name, _ = rule_to_queue(events, queue_arn)

        def put_batch(batch: int) -> list[str]:
            client = server.client("events")
            answer = client.put_events(Entries=[
                {"Source": name, "DetailType": "burst", "Detail": json.dumps({"n": n})}
                for n in range(batch * 10, batch * 10 + 10)])
            assert answer["FailedEntryCount"] == 0
            return [e["EventId"] for e in answer["Entries"]]

        with ThreadPoolExecutor(10) as pool:
            ids = [i for batch in pool.map(put_batch, range(10)) for i in batch]
        server.kill()
        in_flight = undelivered(tmp_path / "data" / "portside.db")
        server.start()
        delivered: list[str] = []
        deadline = time.monotonic() + 30
        while set(delivered) != set(ids) and time.monotonic() < deadline:
            delivered += [json.loads(m["Body"])["id"] for m in receive(sqs, url, 100, 1)]
        assert set(delivered) == set(ids)
        print(f"\n{in_flight} of 100 events were not yet delivered at the kill; "
              f"{len(delivered) - len(set(delivered))} came twice")
    finally:
        server.stop()


def undelivered(database: Path) -> int:
    """Events the EventBridge subscriber had not matched yet, plus deliveries still owed."""
    import sqlite3

    with sqlite3.connect(database) as conn:
        cursor = conn.execute("SELECT seq FROM bus_cursors WHERE subscriber = 'events'"
                              ).fetchone()[0]
        waiting = conn.execute("SELECT COUNT(*) FROM bus_events WHERE seq > ? AND source = "
                               "'portside.events'", (cursor,)).fetchone()[0]
        owed = conn.execute("SELECT COUNT(*) FROM events_deliveries").fetchone()[0]
    return waiting + owed
