"""SQS through boto3 (the json protocol): queues, attributes, messages, long polling, visibility,
dead-letter queues, FIFO, batches and the errors AWS answers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from server import ACCOUNT, REGION
from sqs_reference import attributes_md5


@pytest.fixture
def sqs(portside):
    return portside.client("sqs")


@pytest.fixture
def make_queue(sqs):
    def make(prefix: str = "q", fifo: bool = False, **attributes: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
        if fifo:
            attributes["FifoQueue"] = "true"
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    return make


def arn_of(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def error_code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


# -- queues ------------------------------------------------------------------------------------


def test_create_queue_answers_a_url_on_the_host_the_client_used(sqs, portside):
    name = f"url-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url == f"{portside.endpoint}/{ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url


def test_create_queue_is_idempotent_with_the_same_attributes_only(sqs):
    name = f"idem-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})[
        "QueueUrl"] == url
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as info:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert "VisibilityTimeout" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("name, attributes", [
    ("has space", {}),
    ("x" * 81, {}),
    ("", {}),
    ("plain", {"FifoQueue": "true"}),
    ("named.fifo", {}),
])
def test_create_queue_refuses_bad_names(sqs, name, attributes):
    with pytest.raises(ClientError) as info:
        sqs.create_queue(QueueName=name, Attributes=attributes)
    assert error_code(info) == "InvalidParameterValue"


def test_queue_urls_with_any_host_reach_the_queue(sqs, make_queue):
    url = make_queue()
    path = url.split("/", 3)[3]
    for other in (f"https://sqs.{REGION}.amazonaws.com/{path}",
                  f"https://{REGION}.queue.amazonaws.com/{path}", f"http://elsewhere:1/{path}"):
        sqs.send_message(QueueUrl=other, MessageBody="hi")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "3"


def test_unknown_queue_and_bad_url_raise_aws_errors(sqs):
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
        sqs.send_message(QueueUrl=f"http://x/{ACCOUNT}/no-such-queue", MessageBody="x")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="no-such-queue")
    with pytest.raises(sqs.exceptions.InvalidAddress):
        sqs.send_message(QueueUrl="not-a-url", MessageBody="x")


def test_get_queue_url_finds_another_accounts_queue_by_owner(sqs, make_queue):
    url = make_queue("owned")
    name = url.rsplit("/", 1)[1]
    assert sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)["QueueUrl"] == url
    with pytest.raises(ClientError):  # no such queue there, and no queue policy allowing us
        sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="111122223333")


def test_list_queues_by_prefix_and_pages(sqs):
    prefix = f"lst-{uuid.uuid4().hex[:8]}"
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5))
    assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == urls
    seen, token = [], None
    while True:
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2,
                               **({"NextToken": token} if token else {}))
        seen += page["QueueUrls"]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=f"{prefix}-none")
    with pytest.raises(ClientError) as info:
        sqs.list_queues(MaxResults=1001)
    assert error_code(info) == "InvalidParameterValue"


def test_queues_are_per_region(portside):
    name = f"regional-{uuid.uuid4().hex[:8]}"
    portside.client("sqs", region="eu-west-1").create_queue(QueueName=name)
    with pytest.raises(ClientError):
        portside.client("sqs").get_queue_url(QueueName=name)


def test_delete_queue(sqs, make_queue):
    url = make_queue()
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])


# -- attributes --------------------------------------------------------------------------------


def test_get_queue_attributes_all_of_a_standard_queue(sqs, make_queue):
    before = int(time.time())
    url = make_queue()
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    name = url.rsplit("/", 1)[1]
    assert attributes["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert {k: attributes[k] for k in (
        "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled", "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")} == {
        "VisibilityTimeout": "30", "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600", "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "0", "SqsManagedSseEnabled": "true",
        "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0"}
    assert before <= int(attributes["CreatedTimestamp"]) <= time.time()
    assert attributes["LastModifiedTimestamp"] == attributes["CreatedTimestamp"]
    assert "FifoQueue" not in attributes and "Policy" not in attributes


def test_get_queue_attributes_all_of_a_fifo_queue(sqs, make_queue):
    url = make_queue(fifo=True)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert {k: attributes[k] for k in ("FifoQueue", "ContentBasedDeduplication",
                                       "DeduplicationScope", "FifoThroughputLimit")} == {
        "FifoQueue": "true", "ContentBasedDeduplication": "false",
        "DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"}


def test_get_queue_attributes_named_and_none(sqs, make_queue):
    url = make_queue()
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout",
                                                                "QueueArn"])["Attributes"]
    assert set(got) == {"VisibilityTimeout", "QueueArn"}
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])


@pytest.mark.parametrize("name, value, stored", [
    ("VisibilityTimeout", "0", "0"), ("VisibilityTimeout", "43200", "43200"),
    ("DelaySeconds", "900", "900"), ("MaximumMessageSize", "1024", "1024"),
    ("MessageRetentionPeriod", "60", "60"), ("MessageRetentionPeriod", "1209600", "1209600"),
    ("ReceiveMessageWaitTimeSeconds", "20", "20"), ("SqsManagedSseEnabled", "false", "false"),
    ("KmsMasterKeyId", "alias/aws/sqs", "alias/aws/sqs"),
    ("KmsDataKeyReusePeriodSeconds", "86400", "86400"),
])
def test_set_queue_attributes_in_range(sqs, make_queue, name, value, stored):
    url = make_queue()
    sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])
    assert got["Attributes"][name] == stored


def test_set_queue_attributes_moves_last_modified(sqs, make_queue):
    url = make_queue()
    time.sleep(1.01)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "10"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(got["LastModifiedTimestamp"]) > int(got["CreatedTimestamp"])


@pytest.mark.parametrize("name, value", [
    ("VisibilityTimeout", "-1"), ("VisibilityTimeout", "43201"), ("VisibilityTimeout", "ten"),
    ("DelaySeconds", "901"), ("MaximumMessageSize", "1023"), ("MaximumMessageSize", "1048577"),
    ("MessageRetentionPeriod", "59"), ("MessageRetentionPeriod", "1209601"),
    ("ReceiveMessageWaitTimeSeconds", "21"), ("KmsDataKeyReusePeriodSeconds", "59"),
    ("SqsManagedSseEnabled", "maybe"), ("Policy", "{not json"),
    ("Policy", json.dumps({"Statement": [{"Effect": "Allow", "Action": "sqs:*"}]})),
    ("RedrivePolicy", "{}"), ("RedriveAllowPolicy", json.dumps({"redrivePermission": "some"})),
])
def test_set_queue_attributes_out_of_range_is_invalid_attribute_value(sqs, make_queue, name,
                                                                       value):
    url = make_queue()
    with pytest.raises(sqs.exceptions.InvalidAttributeValue):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})


@pytest.mark.parametrize("name", ["FifoQueue", "ContentBasedDeduplication", "Unknown",
                                  "QueueArn"])
def test_set_queue_attributes_refuses_names_a_standard_queue_cannot_set(sqs, make_queue, name):
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=make_queue(), Attributes={name: "true"})


def test_fifo_attributes_can_be_set_on_fifo_queues(sqs, make_queue):
    url = make_queue(fifo=True)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "ContentBasedDeduplication": "true", "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId"})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (got["ContentBasedDeduplication"], got["DeduplicationScope"],
            got["FifoThroughputLimit"]) == ("true", "messageGroup", "perMessageGroupId")


def test_queue_policy_is_stored_validated_and_removed(sqs, make_queue):
    url = make_queue()
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": arn_of(sqs, url)}]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"]["Policy"] == policy
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])


def test_tags(sqs, make_queue):
    name = f"tagged-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev", "team": "b"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "b", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    with pytest.raises(ClientError) as info:
        sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})
    assert error_code(info) == "InvalidParameterValue"


# -- sending and receiving ---------------------------------------------------------------------


def test_send_and_receive_with_attributes_and_md5s(sqs, make_queue):
    url = make_queue()
    attributes = {
        "text": {"DataType": "String", "StringValue": "héllo wörld"},
        "count": {"DataType": "Number", "StringValue": "42.5"},
        "blob": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
        "custom": {"DataType": "String.custom", "StringValue": "x"},
    }
    body = "Ünïcode body ✓ \U0001f600"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes,
                            MessageSystemAttributes={"AWSTraceHeader": {
                                "DataType": "String", "StringValue": "Root=1-5e1b4151-abc"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    assert sent["MD5OfMessageSystemAttributes"] == attributes_md5(
        {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5e1b4151-abc"}})
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                              MessageSystemAttributeNames=["All"])["Messages"][0]
    assert got["MessageId"] == sent["MessageId"]
    assert got["Body"] == body
    assert got["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert got["MessageAttributes"] == attributes
    assert got["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert got["Attributes"]["SenderId"] == ACCOUNT
    assert got["Attributes"]["ApproximateReceiveCount"] == "1"
    assert got["Attributes"]["AWSTraceHeader"] == "Root=1-5e1b4151-abc"
    assert abs(int(got["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 5
    assert int(got["Attributes"]["ApproximateFirstReceiveTimestamp"]) >= int(
        got["Attributes"]["SentTimestamp"])


def test_md5_of_the_attributes_returned_when_only_some_are_asked_for(sqs, make_queue):
    url = make_queue()
    attributes = {"a.x": {"DataType": "String", "StringValue": "1"},
                  "a.y": {"DataType": "Number", "StringValue": "2"},
                  "b": {"DataType": "String", "StringValue": "3"}}
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["a.*"],
                              VisibilityTimeout=0)["Messages"][0]
    assert set(got["MessageAttributes"]) == {"a.x", "a.y"}
    assert got["MD5OfMessageAttributes"] == attributes_md5(got["MessageAttributes"])
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["b"],
                              VisibilityTimeout=0)["Messages"][0]
    assert got["MessageAttributes"] == {"b": attributes["b"]}
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=[".*"])["Messages"][0]
    assert got["MessageAttributes"] == attributes
    got_none = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, WaitTimeSeconds=0)
    assert "MessageAttributes" not in got_none.get("Messages", [{}])[0]


def test_receive_system_attributes_by_name_in_either_member(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="m")
    got = sqs.receive_message(QueueUrl=url, AttributeNames=["SentTimestamp"],
                              MessageSystemAttributeNames=["ApproximateReceiveCount"],
                              VisibilityTimeout=0)["Messages"][0]
    assert set(got["Attributes"]) == {"SentTimestamp", "ApproximateReceiveCount"}
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["Attributes"]["ApproximateFirstReceiveTimestamp"] == \
        again["Attributes"]["ApproximateFirstReceiveTimestamp"]


@pytest.mark.parametrize("attributes, code", [
    ({"AWS.x": {"DataType": "String", "StringValue": "v"}}, "InvalidParameterValue"),
    ({".a": {"DataType": "String", "StringValue": "v"}}, "InvalidParameterValue"),
    ({"a..b": {"DataType": "String", "StringValue": "v"}}, "InvalidParameterValue"),
    ({"a": {"DataType": "Text", "StringValue": "v"}}, "InvalidParameterValue"),
    ({"a": {"DataType": "String", "StringValue": ""}}, "InvalidParameterValue"),
    ({"a": {"DataType": "Number", "StringValue": "12x"}}, "InvalidParameterValue"),
    ({"a": {"DataType": "Binary", "StringValue": "v"}}, "InvalidParameterValue"),
    ({f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},
     "InvalidParameterValue"),
])
def test_invalid_message_attributes(sqs, make_queue, attributes, code):
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=make_queue(), MessageBody="m", MessageAttributes=attributes)
    assert error_code(info) == code


def test_message_size_and_contents_limits(sqs, make_queue):
    url = make_queue(MaximumMessageSize="1024")
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1024)
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert error_code(info) == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1000, MessageAttributes={
            "pad": {"DataType": "String", "StringValue": "y" * 30}})
    assert error_code(info) == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.InvalidMessageContents):
        sqs.send_message(QueueUrl=url, MessageBody="bell \x07")
    big = make_queue()
    sqs.send_message(QueueUrl=big, MessageBody="z" * 1_048_576)
    assert len(sqs.receive_message(QueueUrl=big)["Messages"][0]["Body"]) == 1_048_576


def test_receive_takes_up_to_max_number_and_validates_it(sqs, make_queue):
    url = make_queue()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)}
                                                  for i in range(10)])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=7)["Messages"]
    assert len(got) == 7
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 3
    for bad in ({"MaxNumberOfMessages": 0}, {"MaxNumberOfMessages": 11},
                {"WaitTimeSeconds": 21}, {"VisibilityTimeout": 43201}):
        with pytest.raises(ClientError) as info:
            sqs.receive_message(QueueUrl=url, **bad)
        assert error_code(info) == "InvalidParameterValue"


def test_message_delay_per_queue_and_per_message(sqs, make_queue):
    url = make_queue(DelaySeconds="1")
    sqs.send_message(QueueUrl=url, MessageBody="queue-delayed")
    sqs.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesDelayed"]) \
        == ("1", "1")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["now"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.05)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == [
        "queue-delayed"]
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert error_code(info) == "InvalidParameterValue"


def test_long_poll_returns_as_soon_as_a_message_arrives(sqs, make_queue, portside):
    url = make_queue()
    result: dict = {}

    def poll() -> None:
        client = portside.client("sqs", read_timeout=30)
        started = time.monotonic()
        result["messages"] = client.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        result["returned"] = time.monotonic()
        result["waited"] = result["returned"] - started

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    acknowledged = time.monotonic()
    waiter.join(15)
    latency = result["returned"] - acknowledged
    print(f"long poll returned {latency * 1000:.1f} ms after the send was acknowledged")
    assert result["messages"]["Messages"][0]["Body"] == "wake up"
    assert latency < 0.2
    assert 0.4 < result["waited"] < 2


def test_long_poll_waits_the_full_time_when_nothing_arrives(sqs, make_queue):
    url = make_queue(ReceiveMessageWaitTimeSeconds="1")
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # the queue's default wait
    assert 0.95 < time.monotonic() - started < 2
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - started < 0.5


def test_long_poll_sees_a_delayed_message_when_it_becomes_visible(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    started = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)
    assert got["Messages"][0]["Body"] == "later"
    assert 0.9 < time.monotonic() - started < 1.6


def test_visibility_timeout_expiry_brings_the_message_back(sqs, make_queue):
    url = make_queue(VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.05)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])[
        "Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"


def test_receive_visibility_timeout_overrides_the_queues(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="m")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.05)
    assert sqs.receive_message(QueueUrl=url)["Messages"]


def test_delete_message_and_stale_receipt_handles(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="m")
    stale = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    fresh = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=stale["ReceiptHandle"])  # succeeds ...
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"  # ... but deletes nothing
    sqs.delete_message(QueueUrl=url, ReceiptHandle=fresh["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=fresh["ReceiptHandle"])  # again: fine
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as info:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_receipt_handle_belongs_to_its_queue(sqs, make_queue):
    one, other = make_queue(), make_queue()
    sqs.send_message(QueueUrl=one, MessageBody="m")
    handle = sqs.receive_message(QueueUrl=one)["Messages"][0]["ReceiptHandle"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=other, ReceiptHandle=handle)


def test_change_message_visibility(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0][
        "ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    with pytest.raises(ClientError) as info:  # the first receive's handle is stale now
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5)
    assert error_code(info) == "InvalidParameterValue"
    assert "expired" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"],
                                      VisibilityTimeout=43_201)
    assert error_code(info) == "InvalidParameterValue"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"],
                                  VisibilityTimeout=1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.05)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["MessageId"] == again["MessageId"]


def test_change_visibility_of_a_message_not_in_flight(sqs, make_queue):
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0][
        "ReceiptHandle"]
    time.sleep(1.05)
    with pytest.raises(sqs.exceptions.MessageNotInflight):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5)


def test_purge_queue_once_a_minute(sqs, make_queue):
    url = make_queue()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "m"}
                                                  for i in range(5)])
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as info:
        sqs.purge_queue(QueueUrl=url)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# -- batches -----------------------------------------------------------------------------------


def test_send_message_batch_reports_failures_per_entry(sqs, make_queue):
    url = make_queue(MaximumMessageSize="1024")
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "fine",
         "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "too-big", "MessageBody": "x" * 2000},
        {"Id": "bad-attr", "MessageBody": "m", "MessageAttributes": {
            "a": {"DataType": "Number", "StringValue": "nan?"}}},
        {"Id": "bad-char", "MessageBody": "\x00"},
        {"Id": "surrogate", "MessageBody": "\ud800"},  # JSON carries a lone one; UTF-8 cannot
    ])
    assert [e["Id"] for e in result["Successful"]] == ["ok"]
    ok = result["Successful"][0]
    assert ok["MD5OfMessageBody"] == hashlib.md5(b"fine").hexdigest()
    assert ok["MD5OfMessageAttributes"] == attributes_md5(
        {"a": {"DataType": "String", "StringValue": "v"}})
    failed = {e["Id"]: e for e in result["Failed"]}
    assert failed["too-big"]["Code"] == "InvalidParameterValue"
    assert failed["bad-attr"]["Code"] == "InvalidParameterValue"
    assert failed["bad-char"]["Code"] == "InvalidMessageContents"
    assert failed["surrogate"]["Code"] == "InvalidMessageContents"
    assert all(e["SenderFault"] for e in failed.values())
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)[
        "Messages"]] == ["fine"]


@pytest.mark.parametrize("entries, exception", [
    ([], "EmptyBatchRequest"),
    ([{"Id": str(i), "MessageBody": "m"} for i in range(11)], "TooManyEntriesInBatchRequest"),
    ([{"Id": "a", "MessageBody": "m"}, {"Id": "a", "MessageBody": "n"}],
     "BatchEntryIdsNotDistinct"),
    ([{"Id": "not valid!", "MessageBody": "m"}], "InvalidBatchEntryId"),
    ([{"Id": str(i), "MessageBody": "x" * 200_000} for i in range(6)], "BatchRequestTooLong"),
])
def test_send_message_batch_whole_request_errors(sqs, make_queue, entries, exception):
    with pytest.raises(getattr(sqs.exceptions, exception)):
        sqs.send_message_batch(QueueUrl=make_queue(), Entries=entries)


def test_delete_and_change_visibility_batches(sqs, make_queue):
    url = make_queue()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)}
                                                  for i in range(4)])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 4
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "bogus", "VisibilityTimeout": 0}])
    assert [e["Id"] for e in changed["Successful"]] == ["a"]
    assert changed["Failed"][0]["Id"] == "b"
    assert changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[1:])] + [
        {"Id": "bad", "ReceiptHandle": "bogus"}])
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["d0", "d1", "d2"]
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    remaining = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["MessageId"] for m in remaining] == [got[0]["MessageId"]]
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.delete_message_batch(QueueUrl=url, Entries=[])


# -- dead-letter queues ------------------------------------------------------------------------


def test_messages_move_to_the_dead_letter_queue_after_max_receive_count(sqs, make_queue):
    dlq = make_queue("dlq")
    source = make_queue("src", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": "2"}))
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=source)
    moved = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert moved[0]["Body"] == "poison"
    assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, source)
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=source, AttributeNames=[
        "RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert policy == {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 2}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]


def test_a_long_poll_on_the_dead_letter_queue_wakes_when_a_message_moves(sqs, make_queue,
                                                                        portside):
    dlq = make_queue("dlq")
    source = make_queue("src", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1}))
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)
    result: dict = {}
    waiter = threading.Thread(target=lambda: result.update(portside.client("sqs").receive_message(
        QueueUrl=dlq, WaitTimeSeconds=5)))
    waiter.start()
    time.sleep(0.3)
    started = time.monotonic()
    sqs.receive_message(QueueUrl=source)
    waiter.join(10)
    assert result["Messages"][0]["Body"] == "poison"
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("why", ["missing", "other-type", "denied"])
def test_redrive_policy_needs_a_dead_letter_queue_that_accepts(sqs, make_queue, why):
    if why == "missing":
        target = f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-dlq"
    elif why == "other-type":
        target = arn_of(sqs, make_queue("dlq", fifo=True))
    else:
        target = arn_of(sqs, make_queue("dlq", RedriveAllowPolicy=json.dumps(
            {"redrivePermission": "denyAll"})))
    with pytest.raises(ClientError) as info:
        make_queue("src", RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": target, "maxReceiveCount": 3}))
    assert error_code(info) == "InvalidParameterValue"


def test_redrive_allow_policy_by_queue(sqs, make_queue):
    source_name = f"src-{uuid.uuid4().hex[:8]}"
    source_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{source_name}"
    dlq = make_queue("dlq", RedriveAllowPolicy=json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [source_arn]}))
    redrive = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 3})
    sqs.create_queue(QueueName=source_name, Attributes={"RedrivePolicy": redrive})
    with pytest.raises(ClientError):
        make_queue("other", RedrivePolicy=redrive)
    allow = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"])
    assert json.loads(allow["Attributes"]["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue", "sourceQueueArns": [source_arn]}


# -- FIFO --------------------------------------------------------------------------------------


def test_fifo_deduplicates_by_id_and_answers_with_the_original(sqs, make_queue):
    url = make_queue(fifo=True)
    first = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g",
                             MessageDeduplicationId="d1")
    again = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g",
                             MessageDeduplicationId="d1")
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    other = sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g",
                             MessageDeduplicationId="d2")
    assert int(other["SequenceNumber"]) > int(first["SequenceNumber"])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              AttributeNames=["All"])["Messages"]
    assert [m["MessageId"] for m in got] == [first["MessageId"], other["MessageId"]]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "d1"
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["SequenceNumber"] == first["SequenceNumber"]
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Deleted, the id stays remembered for the rest of the five minutes.
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g",
                     MessageDeduplicationId="d1")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_fifo_content_based_deduplication_within_a_batch_and_across(sqs, make_queue):
    url = make_queue(fifo=True, ContentBasedDeduplication="true")
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "same", "MessageGroupId": "g"},
        {"Id": "2", "MessageBody": "same", "MessageGroupId": "g"},
        {"Id": "3", "MessageBody": "different", "MessageGroupId": "g"}])
    ids = {e["Id"]: e["MessageId"] for e in result["Successful"]}
    assert ids["1"] == ids["2"] != ids["3"]
    sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              AttributeNames=["MessageDeduplicationId"])["Messages"]
    assert [m["Body"] for m in got] == ["same", "different"]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()


def test_fifo_deduplication_scope_message_group(sqs, make_queue):
    url = make_queue(fifo=True, DeduplicationScope="messageGroup")
    a = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="a",
                         MessageDeduplicationId="same")
    b = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="b",
                         MessageDeduplicationId="same")
    assert a["MessageId"] != b["MessageId"]


def test_fifo_requires_group_and_deduplication_ids(sqs, make_queue):
    url = make_queue(fifo=True)
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert error_code(info) == "MissingParameter"
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert error_code(info) == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                         MessageDeduplicationId="d", DelaySeconds=5)
    assert error_code(info) == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=make_queue(), MessageBody="x", MessageDeduplicationId="d")
    assert error_code(info) == "InvalidParameterValue"


def test_fifo_orders_within_a_group_and_holds_a_group_while_in_flight(sqs, make_queue):
    url = make_queue(fifo=True, ContentBasedDeduplication="true")
    for body, group in [("a1", "a"), ("b1", "b"), ("a2", "a"), ("b2", "b"), ("a3", "a")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["a1"]
    # Group a is in flight: only group b is served, in order.
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b1", "b2"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a2", "a3"]


def test_fifo_group_opens_again_when_visibility_ends(sqs, make_queue):
    url = make_queue(fifo=True, ContentBasedDeduplication="true", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="1", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="2", MessageGroupId="g")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.05)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)[
        "Messages"]] == ["1", "2"]


def test_fifo_expired_receipt_handle_cannot_delete(sqs, make_queue):
    url = make_queue(fifo=True, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="1", MessageGroupId="g")
    handle = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0][
        "ReceiptHandle"]
    with pytest.raises(ClientError) as info:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    assert error_code(info) == "InvalidParameterValue"
    assert "expired" in info.value.response["Error"]["Message"]


def test_fifo_receive_request_attempt_id_returns_the_same_messages(sqs, make_queue):
    url = make_queue(fifo=True, ContentBasedDeduplication="true")
    for body in ("1", "2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                ReceiveRequestAttemptId="attempt-1")["Messages"]
    retry = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                ReceiveRequestAttemptId="attempt-1")["Messages"]
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in retry] == \
        [(m["MessageId"], m["ReceiptHandle"]) for m in first]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="other")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    # One of them changed: the retry is a new receive (and group g is still in flight).
    assert "Messages" not in sqs.receive_message(QueueUrl=url,
                                                 ReceiveRequestAttemptId="attempt-1")


def test_fifo_dead_letter_queue(sqs, make_queue):
    dlq = make_queue("dlq", fifo=True)
    redrive = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1})
    source = make_queue("src", fifo=True, ContentBasedDeduplication="true",
                        RedrivePolicy=redrive)
    sqs.send_message(QueueUrl=source, MessageBody="1", MessageGroupId="g")
    sqs.send_message(QueueUrl=source, MessageBody="2", MessageGroupId="g")
    assert sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)["Messages"][0]["Body"] == "1"
    assert sqs.receive_message(QueueUrl=source)["Messages"][0]["Body"] == "2"
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == "1"


# -- CloudTrail ---------------------------------------------------------------------------------


def test_cloudtrail_history_has_queue_operations_but_not_message_operations(sqs, portside):
    """SQS's message operations are CloudTrail data events, which its event history never
    records; queue operations are management events."""
    name = f"trail-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    sqs.receive_message(QueueUrl=url)
    time.sleep(0.1)  # records are written in batches
    trail = portside.client("cloudtrail")

    def recorded(event_name: str) -> list[dict]:
        events = trail.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": event_name}])["Events"]
        return [e for e in events if name in e["CloudTrailEvent"]]

    assert recorded("CreateQueue")
    assert recorded("SendMessage") == [] and recorded("ReceiveMessage") == []


# -- in-process callers ------------------------------------------------------------------------


def test_an_aws_service_principal_can_send_in_process(tmp_path):
    """S3 event notifications call the SendMessage handler in-process (awaiting it) with the
    s3.amazonaws.com principal; whether a queue policy allows that is enforcement's business."""
    from portside.auth.identity import Principal, PrincipalType
    from portside.config import Settings
    from portside.context import RequestContext
    from portside.runtime import Runtime

    runtime = Runtime(Settings(data_dir=tmp_path / "data", port=4999))
    try:
        sqs = runtime.services["sqs"]
        root = RequestContext(ACCOUNT, REGION, Principal.root(ACCOUNT), "test", "r1", "127.0.0.1")
        url = sqs.create_queue(root, {"QueueName": "events"})["QueueUrl"]
        assert url == f"http://127.0.0.1:4999/{ACCOUNT}/events"
        s3 = RequestContext(ACCOUNT, REGION, Principal(PrincipalType.AWS_SERVICE, ACCOUNT,
                                                       "s3.amazonaws.com", "s3.amazonaws.com"),
                            None, "r2", "127.0.0.1")
        sent = asyncio.run(sqs.send_message(s3, {"QueueUrl": url,
                                                 "MessageBody": '{"Records": []}'}))
        assert sent["MD5OfMessageBody"] == hashlib.md5(b'{"Records": []}').hexdigest()
        assert sqs.get_queue_attributes(root, {"QueueUrl": url, "AttributeNames": [
            "ApproximateNumberOfMessages"]})["Attributes"]["ApproximateNumberOfMessages"] == "1"
    finally:
        runtime.close()
