"""CloudWatch Logs in process: the agent's `ingest` and the retention sweep with a time the
test chooses, so a day of retention is tested without waiting a day."""

from __future__ import annotations

import time

import pytest

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.runtime import Runtime

ACCOUNT = "000000000000"
REGION = "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, Principal.root(ACCOUNT), None, "req", "127.0.0.1")
DAY_MS = 86_400_000


@pytest.fixture
def logs(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    yield runtime.services["logs"]
    runtime.close()


def messages(logs, group: str, stream: str) -> list[str]:
    found = logs.get_log_events(CTX, {"logGroupName": group, "logStreamName": stream,
                                      "startFromHead": True})
    return [e["message"] for e in found["events"]]


def test_ingest_creates_the_group_and_stream_when_asked(logs):
    now = int(time.time() * 1000)
    logs.ingest(ACCOUNT, REGION, "/ecs/app", "web/app/abc", [(now + 1, "b"), (now, "a")],
                create_group=True)
    assert messages(logs, "/ecs/app", "web/app/abc") == ["a", "b"]  # in timestamp order
    logs.ingest(ACCOUNT, REGION, "/ecs/app", "web/app/abc", [(now + 2, "c")],
                create_group=False)
    assert messages(logs, "/ecs/app", "web/app/abc") == ["a", "b", "c"]


def test_ingest_into_a_missing_group_without_create_group_is_resource_not_found(logs):
    with pytest.raises(AwsError) as info:
        logs.ingest(ACCOUNT, REGION, "/missing", "s", [(0, "x")], create_group=False)
    assert info.value.code == "ResourceNotFoundException"


def test_the_retention_sweep_removes_events_once_they_age_past_it(logs):
    now = int(time.time() * 1000)
    logs.create_log_group(CTX, {"logGroupName": "g"})
    logs.create_log_stream(CTX, {"logGroupName": "g", "logStreamName": "s"})
    logs.put_log_events(CTX, {"logGroupName": "g", "logStreamName": "s", "logEvents": [
        {"timestamp": now - 2 * DAY_MS, "message": "older"},
        {"timestamp": now - 2 * DAY_MS + 3_600_000, "message": "newer"}]})
    logs.put_retention_policy(CTX, {"logGroupName": "g", "retentionInDays": 3})
    assert logs.expire(now) == 0
    assert logs.expire(now + DAY_MS + 1) == 1  # "older" is now 3 days and 1 ms old
    assert messages(logs, "g", "s") == ["newer"]
    stream = logs.describe_log_streams(CTX, {"logGroupName": "g"})["logStreams"][0]
    assert stream["firstEventTimestamp"] == now - 2 * DAY_MS + 3_600_000
    group = logs.describe_log_groups(CTX, {})["logGroups"][0]
    assert group["storedBytes"] == len("newer")


GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app"


@pytest.mark.parametrize("operation, params, resource", [
    ("CreateLogGroup", {"logGroupName": "/app"}, f"{GROUP_ARN}:*"),
    ("DescribeLogStreams", {"logGroupIdentifier": GROUP_ARN}, f"{GROUP_ARN}:*"),
    ("FilterLogEvents", {"logGroupName": "/app"}, f"{GROUP_ARN}:*"),
    ("PutRetentionPolicy", {"logGroupName": "/app", "retentionInDays": 1}, f"{GROUP_ARN}:*"),
    ("CreateLogStream", {"logGroupName": "/app", "logStreamName": "s"},
     f"{GROUP_ARN}:log-stream:s"),
    ("PutLogEvents", {"logGroupName": "/app", "logStreamName": "s", "logEvents": []},
     f"{GROUP_ARN}:log-stream:s"),
    ("GetLogEvents", {"logGroupName": "/app", "logStreamName": "s"},
     f"{GROUP_ARN}:log-stream:s"),
    ("TagResource", {"resourceArn": GROUP_ARN, "tags": {}}, GROUP_ARN),
    ("DescribeLogGroups", {}, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"),
])
def test_each_call_is_checked_as_its_logs_action_on_its_group_or_stream(logs, operation,
                                                                        params, resource):
    checks = logs.authorization_checks(CTX, operation, params)
    assert [(c.action, c.resource) for c in checks] == [(f"logs:{operation}", resource)]


def test_concurrent_first_ingests_into_one_new_group_all_land(logs):
    from concurrent.futures import ThreadPoolExecutor

    now = int(time.time() * 1000)

    def first_lines(i: int) -> None:
        logs.ingest(ACCOUNT, REGION, "/ecs/race", "shared", [(now + i, f"line {i}")],
                    create_group=True)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(first_lines, range(16)))
    assert sorted(messages(logs, "/ecs/race", "shared")) == sorted(f"line {i}"
                                                                   for i in range(16))
