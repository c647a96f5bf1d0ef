"""CloudWatch Logs through boto3 and the AWS CLI against a real portside server: groups,
streams, events, paging tokens, retention, filter patterns, tags, and following a stream
while it is written (what `aws logs tail --follow` does)."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

DAY_MS = 86_400_000


def unique(prefix: str = "/portside/test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def error_code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


@pytest.fixture
def logs(portside):
    return portside.client("logs")


@pytest.fixture
def stream(logs) -> tuple[str, str]:
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app/web/1")
    return group, "app/web/1"


def put(logs, group: str, stream: str, messages: list[str], start: int | None = None) -> int:
    start = start if start is not None else now_ms() - len(messages)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": start + i, "message": m} for i, m in enumerate(messages)])
    return start


def aws(portside, *args: str) -> dict:
    done = subprocess.run(["aws", *args, "--output", "json"], env=portside.cli_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


# -- groups -------------------------------------------------------------------------------------


def test_create_describe_and_delete_a_log_group(logs):
    group = unique()
    logs.create_log_group(logGroupName=group, tags={"team": "a"})
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert len(found) == 1
    view = found[0]
    assert view["logGroupName"] == group
    assert view["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    assert view["logGroupArn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    assert view["storedBytes"] == 0 and "retentionInDays" not in view
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"team": "a"}
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def test_creating_an_existing_group_is_resource_already_exists(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName=group)
    assert error_code(info) == "ResourceAlreadyExistsException"


@pytest.mark.parametrize("name", ["has space", "colon:name", "x" * 513, "star*"])
def test_a_group_name_outside_the_rules_is_invalid_parameter(logs, name):
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName=name)
    assert error_code(info) == "InvalidParameterException"


def test_deleting_a_missing_group_is_resource_not_found(logs):
    with pytest.raises(ClientError) as info:
        logs.delete_log_group(logGroupName=unique())
    assert error_code(info) == "ResourceNotFoundException"


def test_describe_log_groups_pages_by_prefix_and_matches_a_pattern(logs):
    base = unique("/portside/paging")
    names = [f"{base}/g{i}" for i in range(5)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    seen, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.describe_log_groups(logGroupNamePrefix=base, limit=2, **kwargs)
        assert len(page["logGroups"]) <= 2
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names
    key = base.rsplit("/", 1)[-1].upper()  # the pattern matches case-insensitively
    found = logs.describe_log_groups(logGroupNamePattern=f"{key}/G3")["logGroups"]
    assert [g["logGroupName"] for g in found] == [names[3]]
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{names[2]}"
    found = logs.describe_log_groups(logGroupIdentifiers=[names[4], arn])["logGroups"]
    assert [g["logGroupName"] for g in found] == [names[2], names[4]]
    with pytest.raises(ClientError) as info:
        logs.describe_log_groups(logGroupNamePrefix=base, logGroupNamePattern="g")
    assert error_code(info) == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.describe_log_groups(nextToken="not-a-token")
    assert error_code(info) == "InvalidParameterException"


# -- retention ----------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [2, 0, 4000])
def test_a_retention_not_in_the_allowed_values_is_invalid_parameter(logs, stream, days):
    with pytest.raises(ClientError) as info:
        logs.put_retention_policy(logGroupName=stream[0], retentionInDays=days)
    assert error_code(info) == "InvalidParameterException"


def test_retention_removes_events_older_than_it_and_shows_in_describe(logs, stream):
    group, name = stream
    now = now_ms()
    put(logs, group, name, ["old-1", "old-2"], start=now - 13 * DAY_MS)
    put(logs, group, name, ["fresh"], start=now - 1000)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] \
        == len("old-1old-2fresh")
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    events = logs.get_log_events(logGroupName=group, logStreamName=name)["events"]
    assert [e["message"] for e in events] == ["fresh"]
    view = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert view["retentionInDays"] == 1 and view["storedBytes"] == len("fresh")
    # Events older than the retention are now refused on the way in, not stored.
    response = logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=[
        {"timestamp": now - 3 * DAY_MS, "message": "expired"},
        {"timestamp": now, "message": "kept"}])
    assert response["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(
        logGroupNamePrefix=group)["logGroups"][0]


# -- streams ------------------------------------------------------------------------------------


def test_streams_are_created_described_in_order_and_deleted(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    for name in ("b", "a", "c"):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    now = now_ms()
    put(logs, group, "c", ["first"], start=now - 3000)
    put(logs, group, "a", ["second"], start=now - 2000)
    put(logs, group, "b", ["third"], start=now - 1000)
    by_name = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                        descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["b", "a", "c"]
    a = by_name[0]
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == now - 2000
    assert a["lastIngestionTime"] >= now - 5000
    assert a["arn"].endswith(f"log-group:{group}:log-stream:a")
    assert [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=group, logStreamNamePrefix="c")["logStreams"]] == ["c"]
    with pytest.raises(ClientError) as info:
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                  logStreamNamePrefix="a")
    assert error_code(info) == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.create_log_stream(logGroupName=group, logStreamName="a")
    assert error_code(info) == "ResourceAlreadyExistsException"
    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    with pytest.raises(ClientError) as info:
        logs.delete_log_stream(logGroupName=group, logStreamName="a")
    assert error_code(info) == "ResourceNotFoundException"


def test_describe_log_streams_pages_in_both_directions(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    names = [f"s{i:02d}" for i in range(7)]
    for name in names:
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    for descending in (False, True):
        seen, token = [], None
        while True:
            kwargs = {"nextToken": token} if token else {}
            page = logs.describe_log_streams(logGroupName=group, limit=3,
                                             descending=descending, **kwargs)
            seen += [s["logStreamName"] for s in page["logStreams"]]
            token = page.get("nextToken")
            if not token:
                break
        assert seen == (names[::-1] if descending else names)


def test_a_stream_name_with_a_colon_is_invalid(logs, stream):
    with pytest.raises(ClientError) as info:
        logs.create_log_stream(logGroupName=stream[0], logStreamName="a:b")
    assert error_code(info) == "InvalidParameterException"


# -- PutLogEvents -------------------------------------------------------------------------------


def test_put_log_events_rejects_events_outside_the_window_and_stores_the_rest(logs, stream):
    group, name = stream
    now = now_ms()
    response = logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=[
        {"timestamp": now - 15 * DAY_MS, "message": "too old"},
        {"timestamp": now - 1000, "message": "a"},
        {"timestamp": now, "message": "b"},
        {"timestamp": now + 3 * 3_600_000, "message": "too new"}])
    assert response["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1,
                                                 "tooNewLogEventStartIndex": 3}
    assert response["nextSequenceToken"]
    events = logs.get_log_events(logGroupName=group, logStreamName=name)["events"]
    assert [e["message"] for e in events] == ["a", "b"]


def test_put_log_events_ignores_the_sequence_token(logs, stream):
    group, name = stream
    logs.put_log_events(logGroupName=group, logStreamName=name, sequenceToken="whatever",
                        logEvents=[{"timestamp": now_ms(), "message": "x"}])


@pytest.mark.parametrize("events, reason", [
    (lambda now: [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
     "chronological"),
    (lambda now: [{"timestamp": now - 2 * DAY_MS, "message": "a"},
                  {"timestamp": now, "message": "b"}], "24 hours"),
    (lambda now: [{"timestamp": now, "message": "x" * 1_048_551}], "too large"),
])
def test_put_log_events_fails_a_batch_that_breaks_the_batch_rules(logs, stream, events, reason):
    with pytest.raises(ClientError) as info:
        logs.put_log_events(logGroupName=stream[0], logStreamName=stream[1],
                            logEvents=events(now_ms()))
    assert error_code(info) == "InvalidParameterException"
    assert reason in info.value.response["Error"]["Message"]


def test_a_batch_of_exactly_the_size_limit_is_accepted(logs, stream):
    # 1,048,576 bytes: the messages plus 26 bytes per event.
    logs.put_log_events(logGroupName=stream[0], logStreamName=stream[1], logEvents=[
        {"timestamp": now_ms(), "message": "x" * (1_048_576 - 26)}])


def test_put_log_events_to_a_missing_stream_is_resource_not_found(logs, stream):
    with pytest.raises(ClientError) as info:
        logs.put_log_events(logGroupName=stream[0], logStreamName="nope",
                            logEvents=[{"timestamp": now_ms(), "message": "x"}])
    assert error_code(info) == "ResourceNotFoundException"
    assert "log stream" in info.value.response["Error"]["Message"]


def test_ten_thousand_events_in_one_call(logs, stream):
    group, name = stream
    messages = [f"line {i}" for i in range(10_000)]
    put(logs, group, name, messages, start=now_ms() - 20_000)
    events = logs.get_log_events(logGroupName=group, logStreamName=name,
                                 startFromHead=True)["events"]
    assert [e["message"] for e in events] == messages


# -- GetLogEvents -------------------------------------------------------------------------------


def test_get_log_events_pages_forward_and_backward_with_f_and_b_tokens(logs, stream):
    group, name = stream
    messages = [f"m{i}" for i in range(7)]
    put(logs, group, name, messages)
    args = {"logGroupName": group, "logStreamName": name, "limit": 3}
    head = logs.get_log_events(startFromHead=True, **args)
    assert [e["message"] for e in head["events"]] == ["m0", "m1", "m2"]
    assert head["nextForwardToken"].startswith("f/")
    assert head["nextBackwardToken"].startswith("b/")
    seen, token = [], head["nextForwardToken"]
    while True:
        page = logs.get_log_events(nextToken=token, **args)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:  # the end: the same token comes back
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    assert seen == messages[3:]
    tail = logs.get_log_events(**args)  # without startFromHead: the latest events
    assert [e["message"] for e in tail["events"]] == ["m4", "m5", "m6"]
    back = logs.get_log_events(nextToken=tail["nextBackwardToken"], **args)
    assert [e["message"] for e in back["events"]] == ["m1", "m2", "m3"]
    # A forward token from the end sees events written later.
    put(logs, group, name, ["m7"], start=now_ms())
    later = logs.get_log_events(nextToken=tail["nextForwardToken"], **args)
    assert [e["message"] for e in later["events"]] == ["m7"]


def test_get_log_events_limits_to_start_and_end_time(logs, stream):
    group, name = stream
    start = put(logs, group, name, ["a", "b", "c", "d"])
    events = logs.get_log_events(logGroupName=group, logStreamName=name, startTime=start + 1,
                                 endTime=start + 3)["events"]  # endTime is exclusive
    assert [e["message"] for e in events] == ["b", "c"]


def test_reads_answer_at_most_a_megabyte_of_events_and_page_on(logs, stream):
    group, name = stream
    start = now_ms() - 10
    for i in range(3):  # 400,000 bytes each: two fit in one response, three do not
        put(logs, group, name, [str(i) * 400_000], start=start + i)
    args = {"logGroupName": group, "logStreamName": name}
    head = logs.get_log_events(startFromHead=True, **args)
    assert [e["message"][0] for e in head["events"]] == ["0", "1"]
    rest = logs.get_log_events(nextToken=head["nextForwardToken"], **args)
    assert [e["message"][0] for e in rest["events"]] == ["2"]
    latest = logs.get_log_events(**args)  # from the end: the two latest
    assert [e["message"][0] for e in latest["events"]] == ["1", "2"]
    first = logs.filter_log_events(logGroupName=group)
    assert [e["message"][0] for e in first["events"]] == ["0", "1"]
    second = logs.filter_log_events(logGroupName=group, nextToken=first["nextToken"])
    assert [e["message"][0] for e in second["events"]] == ["2"]
    assert "nextToken" not in second


def test_an_empty_stream_gives_tokens_that_later_find_new_events(logs, stream):
    group, name = stream
    first = logs.get_log_events(logGroupName=group, logStreamName=name)
    assert first["events"] == []
    put(logs, group, name, ["late"])
    later = logs.get_log_events(logGroupName=group, logStreamName=name,
                                nextToken=first["nextForwardToken"])
    assert [e["message"] for e in later["events"]] == ["late"]


@pytest.mark.parametrize("token", ["f/123", "x/" + "0" * 40, "garbage"])
def test_a_malformed_get_log_events_token_is_invalid_parameter(logs, stream, token):
    with pytest.raises(ClientError) as info:
        logs.get_log_events(logGroupName=stream[0], logStreamName=stream[1], nextToken=token)
    assert error_code(info) == "InvalidParameterException"


def test_get_log_events_takes_a_log_group_identifier_arn(logs, stream):
    group, name = stream
    put(logs, group, name, ["by-arn"])
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    events = logs.get_log_events(logGroupIdentifier=arn, logStreamName=name)["events"]
    assert [e["message"] for e in events] == ["by-arn"]


# -- FilterLogEvents ----------------------------------------------------------------------------

LINES = [
    "INFO started",
    "ERROR disk full on /dev/sda",
    "WARN slow request",
    "ERROR timeout debug",
    '{"level": "error", "code": 503, "user": "alice"}',
    '{"level": "info", "code": 200, "user": "bob"}',
    '{"level": "error", "code": 404, "user": "bob", "retry": true}',
]


@pytest.fixture
def filled(logs) -> str:
    group = unique()
    logs.create_log_group(logGroupName=group)
    start = now_ms() - 100
    for i, line in enumerate(LINES):
        stream = "even" if i % 2 == 0 else "odd"
        with contextlib.suppress(ClientError):  # the stream of an earlier line
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        put(logs, group, stream, [line], start=start + i)
    return group


@pytest.mark.parametrize("pattern, expected", [
    ("", list(range(7))),
    ("ERROR", [1, 3]),
    ('"disk full"', [1]),
    ("?WARN ?INFO", [0, 2]),
    ("ERROR -debug", [1]),
    ("{ $.level = \"error\" }", [4, 6]),
    ("{ $.code != 200 }", [4, 6]),
    ("{ $.code > 400 && $.user = bob }", [6]),
    ("{ $.code < 300 || $.user = al* }", [4, 5]),
    ("{ $.retry IS TRUE }", [6]),
    ("{ $.retry NOT EXISTS && $.code >= 500 }", [4]),
])
def test_filter_log_events_applies_filter_patterns(logs, filled, pattern, expected):
    found = logs.filter_log_events(logGroupName=filled, filterPattern=pattern)["events"]
    assert [e["message"] for e in found] == [LINES[i] for i in expected]


def test_filter_log_events_by_stream_names_prefix_and_time(logs, filled):
    odd = logs.filter_log_events(logGroupName=filled, logStreamNames=["odd"])["events"]
    assert [e["message"] for e in odd] == [LINES[1], LINES[3], LINES[5]]
    assert {e["logStreamName"] for e in odd} == {"odd"}
    even = logs.filter_log_events(logGroupName=filled, logStreamNamePrefix="ev")["events"]
    assert len(even) == 4
    first = logs.filter_log_events(logGroupName=filled)["events"][0]["timestamp"]
    window = logs.filter_log_events(logGroupName=filled, startTime=first + 2,
                                    endTime=first + 4)["events"]
    assert [e["message"] for e in window] == [LINES[2], LINES[3]]
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName=filled, logStreamNames=["odd"],
                               logStreamNamePrefix="o")
    assert error_code(info) == "InvalidParameterException"


def test_filter_log_events_pages_with_next_token(logs, filled):
    seen, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=filled, limit=2, **kwargs)
        assert len(page["events"]) <= 2
        seen += [e["message"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == LINES
    ids = [e["eventId"] for e in logs.filter_log_events(logGroupName=filled)["events"]]
    assert len(set(ids)) == len(LINES)


@pytest.mark.parametrize("pattern", ["{ $.a = }", "[ip, user]", '"unterminated', "{ $.a > x }"])
def test_an_invalid_filter_pattern_is_invalid_parameter(logs, filled, pattern):
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName=filled, filterPattern=pattern)
    assert error_code(info) == "InvalidParameterException"


# -- tags ---------------------------------------------------------------------------------------


def test_tag_untag_and_list_tags_by_arn_and_by_name(logs, stream):
    group = stream[0]
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    logs.tag_log_group(logGroupName=group, tags={"c": "3"})
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"b": "2", "c": "3"}
    logs.untag_log_group(logGroupName=group, tags=["b"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}
    with pytest.raises(ClientError) as info:
        logs.tag_resource(resourceArn=arn, tags={"aws:x": "1"})
    assert error_code(info) == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.list_tags_for_resource(resourceArn="arn:aws:sqs:us-east-1:000000000000:q")
    assert error_code(info) == "InvalidParameterException"


# -- IAM ----------------------------------------------------------------------------------------


def test_a_user_writes_only_the_streams_its_policy_names(portside, logs, stream):
    """The awslogs driver's usual policy: CreateLogStream and PutLogEvents on
    `log-group:<name>:log-stream:*`; another group, or reading, stays denied."""
    group, name = stream
    iam = portside.client("iam")
    user = f"logs-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:log-stream:*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = portside.client("logs", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    theirs.create_log_stream(logGroupName=group, logStreamName="mine")
    theirs.put_log_events(logGroupName=group, logStreamName="mine",
                          logEvents=[{"timestamp": now_ms(), "message": "allowed"}])
    other = unique()
    logs.create_log_group(logGroupName=other)
    for call in (lambda: theirs.create_log_stream(logGroupName=other, logStreamName="x"),
                 lambda: theirs.get_log_events(logGroupName=group, logStreamName="mine"),
                 lambda: theirs.delete_log_group(logGroupName=group)):
        with pytest.raises(ClientError) as info:
            call()
        assert error_code(info) == "AccessDeniedException"


def test_an_account_resource_policy_grants_what_no_identity_policy_does(portside, logs,
                                                                       stream):
    group, name = stream
    iam = portside.client("iam")
    user = f"logs-{uuid.uuid4().hex[:8]}"
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = portside.client("logs", key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    def write() -> None:
        theirs.put_log_events(logGroupName=group, logStreamName=name,
                              logEvents=[{"timestamp": now_ms(), "message": "granted"}])

    with pytest.raises(ClientError) as info:
        write()
    assert error_code(info) == "AccessDeniedException"
    policy_name = f"p-{uuid.uuid4().hex[:8]}"
    document = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "logs:PutLogEvents",
        "Resource": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"}]})
    put_answer = logs.put_resource_policy(policyName=policy_name, policyDocument=document)
    assert put_answer["resourcePolicy"]["policyName"] == policy_name
    try:
        described = logs.describe_resource_policies()["resourcePolicies"]
        assert document in [p["policyDocument"] for p in described]
        write()
    finally:
        logs.delete_resource_policy(policyName=policy_name)
    with pytest.raises(ClientError) as info:
        write()
    assert error_code(info) == "AccessDeniedException"
    with pytest.raises(ClientError) as info:
        logs.delete_resource_policy(policyName=policy_name)
    assert error_code(info) == "ResourceNotFoundException"


def test_a_malformed_resource_policy_is_invalid_parameter(logs):
    with pytest.raises(ClientError) as info:
        logs.put_resource_policy(policyName="bad", policyDocument='{"Statement": 1}')
    assert error_code(info) == "InvalidParameterException"


def test_an_eventbridge_rule_writes_to_a_log_group_its_resource_policy_opens(portside, logs):
    group = unique("/aws/events/portside")
    logs.create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    policy_name = f"events-{uuid.uuid4().hex[:8]}"
    logs.put_resource_policy(policyName=policy_name, policyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{arn}:*"}]}))
    events = portside.client("events")
    rule, source = f"to-logs-{uuid.uuid4().hex[:8]}", f"app.{uuid.uuid4().hex[:8]}"
    try:
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule=rule, Targets=[{"Id": "logs", "Arn": arn}])
        events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
        found: list = []
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            found = logs.filter_log_events(logGroupName=group)["events"]
            time.sleep(0.1)
        assert len(found) == 1 and json.loads(found[0]["message"])["source"] == source
    finally:
        logs.delete_resource_policy(policyName=policy_name)


# -- the AWS CLI --------------------------------------------------------------------------------


def test_the_aws_cli_writes_and_reads_events(portside):
    group = unique()
    aws(portside, "logs", "create-log-group", "--log-group-name", group)
    aws(portside, "logs", "create-log-stream", "--log-group-name", group,
        "--log-stream-name", "cli")
    now = now_ms()
    aws(portside, "logs", "put-log-events", "--log-group-name", group, "--log-stream-name",
        "cli", "--log-events", f"timestamp={now},message=hello", f"timestamp={now + 1},message=bye")
    got = aws(portside, "logs", "get-log-events", "--log-group-name", group,
              "--log-stream-name", "cli", "--start-from-head")
    assert [e["message"] for e in got["events"]] == ["hello", "bye"]
    # The CLI pages FilterLogEvents by itself (--page-size) and joins the pages.
    found = aws(portside, "logs", "filter-log-events", "--log-group-name", group,
                "--filter-pattern", "?hello ?bye", "--page-size", "1")
    assert [e["message"] for e in found["events"]] == ["hello", "bye"]
    described = aws(portside, "logs", "describe-log-groups", "--log-group-name-prefix", group)
    assert described["logGroups"][0]["storedBytes"] == len("hellobye")


# What `aws logs tail --follow` (AWS CLI v2) does: FilterLogEvents from a startTime, through
# every nextToken, printing each event once, then again from the latest timestamp seen.
FOLLOWER = textwrap.dedent("""
    import sys, time, boto3
    endpoint, group, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logs = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")
    seen = set()
    while True:
        kwargs = {}
        while True:
            page = logs.filter_log_events(logGroupName=group, startTime=start, **kwargs)
            for event in page["events"]:
                if event["eventId"] not in seen:
                    seen.add(event["eventId"])
                    start = max(start, event["timestamp"])
                    print(event["logStreamName"], event["message"], flush=True)
            if not page.get("nextToken"):
                break
            kwargs = {"nextToken": page["nextToken"]}
        time.sleep(0.2)
""")


class Follower:
    """A following subprocess whose output lines are read by a thread, so that waiting for a
    line is bounded in time even when the process prints nothing."""

    def __init__(self, command: list[str], env: dict | None = None) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_lines(self, count: int, timeout: float) -> list[str]:
        found: list[str] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                found.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return found

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(5)


def test_a_follower_sees_each_line_of_a_running_stream_as_it_is_written(portside, logs, stream):
    group, name = stream
    put(logs, group, name, ["before"])
    follower = Follower([sys.executable, "-c", FOLLOWER, portside.endpoint, group,
                         str(now_ms() - 60_000)])
    try:
        assert follower.next_lines(1, timeout=10) == [f"{name} before"]
        for i in range(3):
            written = time.monotonic()
            put(logs, group, name, [f"line {i}"], start=now_ms())
            assert follower.next_lines(1, timeout=5) == [f"{name} line {i}"]
            assert time.monotonic() - written < 2  # promptly, not at the next minute
    finally:
        follower.stop()


def test_aws_logs_tail_follow_shows_lines_as_they_are_written(portside, logs, stream):
    probe = subprocess.run(["aws", "logs", "tail", "help"], capture_output=True, text=True,
                           env=portside.cli_env(), timeout=30)
    if probe.returncode != 0:
        pytest.skip("`aws logs tail` is an AWS CLI v2 command; this CLI is v1")
    group, name = stream
    put(logs, group, name, ["before"])
    follower = Follower(["aws", "logs", "tail", group, "--follow", "--since", "5m",
                         "--format", "short"], env=portside.cli_env())
    try:
        assert follower.next_lines(1, timeout=15)[0].endswith("before")
        put(logs, group, name, ["after"], start=now_ms())
        assert follower.next_lines(1, timeout=15)[0].endswith("after")
    finally:
        follower.stop()
