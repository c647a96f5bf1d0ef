"""S3 event notifications: queue configurations deliver S3's event message to SQS (filtered by
event type, prefix and suffix, with a test event first) when the queue policy lets
s3.amazonaws.com send for the bucket; EventBridge configurations put "Object Created" /
"Object Deleted" on the internal bus; destinations are validated."""

from __future__ import annotations

import json
import time
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError
from s3_helpers import unique


def receive_all(sqs, url: str, want: int, timeout: float = 15) -> list[dict]:
    messages, deadline = [], time.monotonic() + timeout
    while len(messages) < want and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def s3_queue(sqs, bucket: str, policy: bool = True) -> tuple[str, str]:
    """A queue (URL, ARN) whose policy lets S3 send this bucket's events, as in the S3 User
    Guide's walkthrough ("Configuring a bucket for notifications")."""
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    if policy:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(
            s3_send_policy(arn, bucket))})
    return url, arn


def s3_send_policy(queue_arn: str, bucket: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "SQS:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:*:*:{bucket}"},
                      "StringEquals": {"aws:SourceAccount": "000000000000"}}}]}


def test_an_upload_sends_the_s3_event_message_to_the_queue(portside):
    s3, sqs = portside.client("s3"), portside.client("sqs")
    bucket = unique("ntf")
    s3.create_bucket(Bucket=bucket)
    url, arn = s3_queue(sqs, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{
            "Id": "csv-in", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                               {"Name": "suffix", "Value": ".csv"}]}}}]})
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert config["QueueConfigurations"][0]["QueueArn"] == arn
    test_event = receive_all(sqs, url, 1)
    assert test_event[0]["Event"] == "s3:TestEvent" and test_event[0]["Bucket"] == bucket
    etag = s3.put_object(Bucket=bucket, Key="in/data 1.csv", Body=b"a,b\n")["ETag"]
    s3.put_object(Bucket=bucket, Key="in/skip.txt", Body=b"x")  # suffix does not match
    s3.put_object(Bucket=bucket, Key="out/x.csv", Body=b"x")  # prefix does not match
    s3.copy_object(Bucket=bucket, Key="in/copy.csv", CopySource=f"{bucket}/in/data 1.csv")
    s3.delete_object(Bucket=bucket, Key="in/data 1.csv")  # not an ObjectCreated event
    messages = receive_all(sqs, url, 2)
    records = [m["Records"][0] for m in messages]
    assert [r["eventName"] for r in records] == ["ObjectCreated:Put", "ObjectCreated:Copy"]
    record = records[0]
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["s3"]["configurationId"] == "csv-in"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert unquote_plus(record["s3"]["object"]["key"]) == "in/data 1.csv"
    assert record["s3"]["object"]["size"] == 4
    assert record["s3"]["object"]["eTag"] == etag.strip('"')
    assert record["s3"]["object"]["sequencer"]
    assert receive_all(sqs, url, 1, timeout=2) == []


def test_removed_events_and_multipart_completion(portside):
    s3, sqs = portside.client("s3"), portside.client("sqs")
    bucket = unique("ntf")
    s3.create_bucket(Bucket=bucket)
    url, arn = s3_queue(sqs, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": [
            "s3:ObjectRemoved:*", "s3:ObjectCreated:CompleteMultipartUpload"]}]})
    receive_all(sqs, url, 1)  # the test event
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1,
                          Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "m"}]})
    names = [m["Records"][0]["eventName"] for m in receive_all(sqs, url, 2)]
    assert names == ["ObjectCreated:CompleteMultipartUpload", "ObjectRemoved:Delete"]


def test_destinations_must_exist(portside):
    s3 = portside.client("s3")
    bucket = unique("ntf")
    s3.create_bucket(Bucket=bucket)
    missing = "arn:aws:sqs:us-east-1:000000000000:no-such-queue"
    with pytest.raises(ClientError) as info:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    error = info.value.response["Error"]
    assert error["Code"] == "InvalidArgument"
    assert error["Message"] == "Unable to validate the following destination configurations"
    with pytest.raises(ClientError) as info:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": missing, "Events": ["s3:Nonsense"]}]})
    assert info.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get(
        "QueueConfigurations") is None


def test_a_queue_must_let_s3_send(portside):
    s3, sqs = portside.client("s3"), portside.client("sqs")
    bucket, other = unique("ntf"), unique("ntf")
    s3.create_bucket(Bucket=bucket)
    _, closed = s3_queue(sqs, bucket, policy=False)
    _, for_other = s3_queue(sqs, other)  # allows another bucket only
    for arn in (closed, for_other):
        with pytest.raises(ClientError) as info:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        error = info.value.response["Error"]
        assert error["Code"] == "InvalidArgument"
        assert error["ArgumentName1"] == arn
        assert error["ArgumentValue1"] == ("Permissions on the destination queue do not allow "
                                           "S3 to publish notifications from this bucket")


def test_a_queue_that_stops_letting_s3_send_gets_nothing(portside):
    s3, sqs = portside.client("s3"), portside.client("sqs")
    bucket = unique("ntf")
    s3.create_bucket(Bucket=bucket)
    url, arn = s3_queue(sqs, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    assert receive_all(sqs, url, 1)[0]["Event"] == "s3:TestEvent"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    s3.put_object(Bucket=bucket, Key="dropped", Body=b"x")
    # S3's deliverer sends events in order: once a later event of another bucket has arrived,
    # the dropped one was tried and refused.
    marker = unique("ntf")
    s3.create_bucket(Bucket=marker)
    marker_url, marker_arn = s3_queue(sqs, marker)
    s3.put_bucket_notification_configuration(Bucket=marker, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": marker_arn, "Events": ["s3:ObjectCreated:*"]}]})
    assert receive_all(sqs, marker_url, 1)[0]["Event"] == "s3:TestEvent"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(
        s3_send_policy(arn, bucket))})
    s3.put_object(Bucket=bucket, Key="delivered", Body=b"x")
    keys = [m["Records"][0]["s3"]["object"]["key"] for m in receive_all(sqs, url, 2, timeout=5)]
    assert keys == ["delivered"]


def test_eventbridge_configuration_publishes_object_created_on_the_bus(tmp_path):
    """The S3 handlers in-process, with the bus not delivering (as before EventBridge reads it):
    the events wait in the bus's log in the exact shape EventBridge will route."""
    import asyncio

    from sqlalchemy import select

    from portside.auth.identity import Principal
    from portside.config import Settings
    from portside.context import RequestContext
    from portside.events.bus import bus_events
    from portside.runtime import Runtime

    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    s3 = runtime.services["s3"]
    ctx = RequestContext("000000000000", "us-east-1", Principal.root("000000000000"), "test",
                         "req-1", "127.0.0.1")

    async def body():
        yield b"12345"

    s3.create_bucket(ctx, {"Bucket": "incoming-eb"})
    s3.put_bucket_notification_configuration(ctx, {
        "Bucket": "incoming-eb", "NotificationConfiguration": {"EventBridgeConfiguration": {}}})
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(
        ctx, {"Bucket": "incoming-eb"})
    put = asyncio.run(s3.put_object(ctx, {"Bucket": "incoming-eb", "Key": "job/1.csv",
                                          "Body": body()}))
    s3.delete_object(ctx, {"Bucket": "incoming-eb", "Key": "job/1.csv"})
    with runtime.store.begin() as conn:
        events = [json.loads(r.event) for r in conn.execute(
            select(bus_events).where(bus_events.c.source == "aws.s3").order_by(bus_events.c.seq))]
    runtime.close()
    assert [e["detail-type"] for e in events] == ["Object Created", "Object Deleted"]
    created = events[0]
    assert created["source"] == "aws.s3" and created["account"] == "000000000000"
    assert created["region"] == "us-east-1" and created["version"] == "0"
    assert created["resources"] == ["arn:aws:s3:::incoming-eb"] and created["id"]
    detail = created["detail"]
    assert detail["version"] == "0" and detail["bucket"] == {"name": "incoming-eb"}
    assert detail["object"]["key"] == "job/1.csv" and detail["object"]["size"] == 5
    assert detail["object"]["etag"] == put["ETag"].strip('"') and detail["object"]["sequencer"]
    assert detail["reason"] == "PutObject" and detail["requester"] == "000000000000"
    assert detail["source-ip-address"] == "127.0.0.1" and detail["request-id"] == "req-1"
    assert events[1]["detail"]["deletion-type"] == "Permanently Deleted"
    assert events[1]["detail"]["reason"] == "DeleteObject"
