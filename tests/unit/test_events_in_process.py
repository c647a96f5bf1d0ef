"""EventBridge in-process with a clock the test moves: schedules fire once per scheduled time,
also across a restart, and a retry waiting out its backoff survives a restart until its
RetryPolicy runs out into the dead-letter queue (the target answering a throttling error)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.runtime import Runtime
from portside.services.events.delivery import DeliveryFailure
from portside.services.events.model import deliveries_table

ACCOUNT = "000000000000"
REGION = "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, Principal.root(ACCOUNT), None, "req", "127.0.0.1")
START = datetime(2024, 1, 1, 10, 14, 30, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def open_runtime(data: Path, clock: Clock) -> Runtime:
    runtime = Runtime(Settings(data_dir=data))
    runtime.services["events"].clock = clock
    return runtime


def queue(runtime: Runtime, name: str) -> tuple[str, str]:
    sqs = runtime.services["sqs"]
    url = sqs.create_queue(CTX, {"QueueName": name})["QueueUrl"]
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    sqs.set_queue_attributes(CTX, {"QueueUrl": url, "Attributes": {"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn}]})}})
    return url, arn


def run_until(runtime: Runtime, done: Callable[[], bool], timeout: float = 5.0) -> None:
    """Run portside's background work (bus, deliveries, schedules) until `done()`."""
    async def main() -> None:
        runtime.start_background()
        try:
            deadline = time.monotonic() + timeout
            while not done():
                assert time.monotonic() < deadline, "not done in time"
                await asyncio.sleep(0.02)
        finally:
            await runtime.stop_background()
    asyncio.run(main())


def received(runtime: Runtime, url: str, count: int = 1) -> list[dict]:
    """Run the background work until `count` messages are in the queue; receive them."""
    sqs = runtime.services["sqs"]

    def enough() -> bool:
        return int(sqs.get_queue_attributes(CTX, {
            "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]})[
            "Attributes"]["ApproximateNumberOfMessages"]) >= count
    run_until(runtime, enough)
    return asyncio.run(sqs.receive_message(CTX, {
        "QueueUrl": url, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"]}))[
        "Messages"]


def pending(runtime: Runtime) -> list:
    with runtime.store.begin() as conn:
        return conn.execute(select(deliveries_table)).all()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttled(monkeypatch):
    """The queue `busy` answers a throttling error: retriable."""
    async def throttle(self, row, target, event):
        if target["Arn"].endswith(":busy"):
            raise DeliveryFailure("THROTTLING", "Rate exceeded", True)
    monkeypatch.setattr("portside.services.events.delivery.Deliverer.deliver", throttle)


def test_a_rate_schedule_fires_once_per_period_also_across_a_restart(tmp_path, clock):
    runtime = open_runtime(tmp_path / "data", clock)
    events = runtime.services["events"]
    url, arn = queue(runtime, "ticks")
    rule_arn = events.put_rule(CTX, {"Name": "every-minute",
                                     "ScheduleExpression": "rate(1 minute)"})["RuleArn"]
    events.put_targets(CTX, {"Rule": "every-minute", "Targets": [{"Id": "q", "Arn": arn}]})
    clock.now = START + 59
    assert events.scheduler.fire_due() == 0
    clock.now = START + 61
    assert events.scheduler.fire_due() == 1
    assert events.scheduler.fire_due() == 0  # at most once per scheduled time
    got = received(runtime, url)
    body = json.loads(got[0]["Body"])
    assert body["detail-type"] == "Scheduled Event" and body["source"] == "aws.events"
    assert body["resources"] == [rule_arn] and body["detail"] == {}
    assert body["time"] == "2024-01-01T10:15:30Z" and body["account"] == ACCOUNT
    runtime.close()

    restarted = open_runtime(tmp_path / "data", clock)
    scheduler = restarted.services["events"].scheduler
    assert scheduler.fire_due() == 0
    clock.now = START + 60 * 10 + 5  # down for minutes: the latest missed time fires, once
    assert scheduler.fire_due() == 1
    assert scheduler.fire_due() == 0
    restarted.close()


def test_a_cron_fires_at_its_minute_and_a_disabled_rule_does_not(tmp_path, clock):
    runtime = open_runtime(tmp_path / "data", clock)
    events = runtime.services["events"]
    _, arn = queue(runtime, "cron")
    events.put_rule(CTX, {"Name": "daily", "ScheduleExpression": "cron(15 10 * * ? *)"})
    events.put_rule(CTX, {"Name": "off", "ScheduleExpression": "cron(15 10 * * ? *)",
                          "State": "DISABLED"})
    clock.now = START + 29  # 10:14:59
    assert events.scheduler.fire_due() == 0
    clock.now = START + 30  # 10:15:00
    assert events.scheduler.fire_due() == 1
    clock.now = START + 86_400  # the next day, 10:14:30
    assert events.scheduler.fire_due() == 0
    runtime.close()


def test_a_retry_survives_a_restart_and_runs_out_into_the_dead_letter_queue(
        tmp_path, clock, throttled):
    """A retriable failure waits out its backoff in the deliveries table, across a restart,
    until MaximumRetryAttempts."""
    runtime = open_runtime(tmp_path / "data", clock)
    events = runtime.services["events"]
    dlq_url, dlq_arn = queue(runtime, "dlq")
    events.put_rule(CTX, {"Name": "busy", "EventPattern": '{"source": ["app"]}'})
    events.put_targets(CTX, {"Rule": "busy", "Targets": [{
        "Id": "g", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:busy",
        "RetryPolicy": {"MaximumRetryAttempts": 2}, "DeadLetterConfig": {"Arn": dlq_arn}}]})
    events.put_events(CTX, {"Entries": [{"Source": "app", "DetailType": "t", "Detail": "{}"}]})
    run_until(runtime, lambda: [r.attempts for r in pending(runtime)] == [1])
    (waiting,) = pending(runtime)
    assert waiting.due > clock.now
    runtime.close()

    restarted = open_runtime(tmp_path / "data", clock)
    assert [r.attempts for r in pending(restarted)] == [1]
    clock.now = waiting.due + 1
    run_until(restarted, lambda: [r.attempts for r in pending(restarted)] == [2])
    clock.now += 600
    got = received(restarted, dlq_url)
    attributes = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2" and attributes["ERROR_CODE"] == "THROTTLING"
    assert pending(restarted) == []
    restarted.close()


def test_an_event_older_than_its_maximum_age_is_not_retried(tmp_path, clock, throttled):
    runtime = open_runtime(tmp_path / "data", clock)
    events = runtime.services["events"]
    dlq_url, dlq_arn = queue(runtime, "dlq")
    events.put_rule(CTX, {"Name": "busy", "EventPattern": '{"source": ["app"]}'})
    events.put_targets(CTX, {"Rule": "busy", "Targets": [{
        "Id": "g", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:busy",
        "RetryPolicy": {"MaximumEventAgeInSeconds": 60}, "DeadLetterConfig": {"Arn": dlq_arn}}]})
    events.put_events(CTX, {"Entries": [{"Source": "app", "DetailType": "t", "Detail": "{}"}]})
    run_until(runtime, lambda: [r.attempts for r in pending(runtime)] == [1])
    clock.now += 120
    got = received(runtime, dlq_url)
    attributes = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    runtime.close()


def test_an_ecs_delivery_repeated_after_a_crash_reuses_its_client_token():
    """RunTask's clientToken names the delivery and the attempt: the same attempt made again
    (a crash before the delivery's row was deleted) replays, a retry after a failure does not."""
    from portside.services.events.delivery import client_token, run_task_request

    first = client_token("12|arn:aws:events:us-east-1:0:rule/r|t", 0)
    assert first == client_token("12|arn:aws:events:us-east-1:0:rule/r|t", 0)
    assert first != client_token("12|arn:aws:events:us-east-1:0:rule/r|t", 1)
    assert first != client_token("13|arn:aws:events:us-east-1:0:rule/r|t", 0)
    assert len(first) <= 64
    target = {"Arn": "arn:aws:ecs:us-east-1:0:cluster/c", "EcsParameters": {
        "TaskDefinitionArn": "td:1", "LaunchType": "FARGATE", "NetworkConfiguration": {
            "awsvpcConfiguration": {"Subnets": ["s-1"], "AssignPublicIp": "ENABLED"}},
        "Tags": [{"Key": "k", "Value": "v"}], "PlacementStrategy": [{"type": "random"}]}}
    assert run_task_request(target, "my.rule") == {
        "cluster": target["Arn"], "taskDefinition": "td:1", "count": 1,
        "startedBy": "events-rule/my.rule", "launchType": "FARGATE",
        "placementStrategy": [{"type": "random"}],
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s-1"],
                                                         "assignPublicIp": "ENABLED"}},
        "tags": [{"key": "k", "value": "v"}]}
