"""EventBridge delivery as the batch pipeline leans on it: a target's role that was deleted and
made again under its name (as `portside demo --clean-up` followed by `portside demo` does) still
delivers, with a new session of the new role."""

from __future__ import annotations

import json
import time
import uuid


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def _make_role(iam, name: str, queue_arn: str) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}]}))
    return arn


def _receive(sqs, url: str, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if got:
            return got
    return []


def test_a_role_made_again_under_its_name_still_delivers(portside):
    events, sqs, iam = (portside.client(s) for s in ("events", "sqs", "iam"))
    url = sqs.create_queue(QueueName=_unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    role_name, rule = _unique("role"), _unique("rule")
    role_arn = _make_role(iam, role_name, queue_arn)
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [rule]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn, "RoleArn": role_arn}])

    def put(n: int) -> None:
        answer = events.put_events(Entries=[{"Source": rule, "DetailType": "t",
                                             "Detail": json.dumps({"n": n})}])
        assert answer["FailedEntryCount"] == 0

    put(1)
    (first,) = _receive(sqs, url)
    assert json.loads(first["Body"])["detail"] == {"n": 1}
    iam.delete_role_policy(RoleName=role_name, PolicyName="send")
    iam.delete_role(RoleName=role_name)
    assert _make_role(iam, role_name, queue_arn) == role_arn
    put(2)
    (second,) = _receive(sqs, url)
    assert json.loads(second["Body"])["detail"] == {"n": 2}
