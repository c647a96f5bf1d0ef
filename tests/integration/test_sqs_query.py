"""SQS through the query protocol, as SDKs from before its move to JSON speak it: a botocore
client built from the query model, and hand-signed forms posted to the queue's URL."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from sqs_legacy import legacy_sqs_client, legacy_sqs_data
from sqs_reference import attributes_md5

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


@pytest.fixture(scope="module")
def sqs(portside, tmp_path_factory):
    client = legacy_sqs_client(portside.endpoint,
                               legacy_sqs_data(tmp_path_factory.mktemp("botocore-data")))
    assert client.meta.service_model.protocol == "query"
    return client


@pytest.fixture
def queue(sqs):
    return sqs.create_queue(QueueName=f"query-{uuid.uuid4().hex[:12]}")["QueueUrl"]


def signed_form(url: str, form: dict[str, str]) -> requests.Response:
    """A form posted to `url` and signed as an SDK of the query era does."""
    body = urlencode(form)
    request = AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("test", "test"), "sqs", "us-east-1").add_auth(request)
    return requests.post(url, data=body, headers=dict(request.headers), timeout=30)


def test_queue_lifecycle(sqs):
    name = f"query-{uuid.uuid4().hex[:12]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"},
                           tags={"team": "a"})["QueueUrl"]
    assert url.endswith(f"/000000000000/{name}")
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "40"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])[
        "Attributes"] == {"DelaySeconds": "2"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.purge_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
        sqs.get_queue_url(QueueName=name)
    assert info.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_send_receive_delete_with_attributes_and_md5s(sqs, queue):
    attributes = {"kind": {"DataType": "String", "StringValue": "<greeting & more>"},
                  "n": {"DataType": "Number", "StringValue": "7"},
                  "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"}}
    body = "<hello & welcome> ✓"
    sent = sqs.send_message(QueueUrl=queue, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    got = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"],
                              AttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert got[0]["Body"] == body
    assert got[0]["MessageAttributes"] == attributes
    assert got[0]["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=got[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)


def test_batches_and_their_failures(sqs, queue):
    result = sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"},
        {"Id": "c", "MessageBody": "\x01"}])
    assert sorted(e["Id"] for e in result["Successful"]) == ["a", "b"]
    assert result["Failed"][0]["Id"] == "c"
    assert result["Failed"][0]["Code"] == "InvalidMessageContents"
    assert result["Failed"][0]["SenderFault"] is True
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    changed = sqs.change_message_visibility_batch(QueueUrl=queue, Entries=[
        {"Id": "x", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 10}])
    assert [e["Id"] for e in changed["Successful"]] == ["x"]
    deleted = sqs.delete_message_batch(QueueUrl=queue, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)] + [
        {"Id": "bad", "ReceiptHandle": "nope"}])
    assert len(deleted["Successful"]) == 2
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    with pytest.raises(sqs.exceptions.EmptyBatchRequest) as info:
        sqs.delete_message_batch(QueueUrl=queue, Entries=[])
    assert info.value.response["Error"]["Code"] == "AWS.SimpleQueueService.EmptyBatchRequest"


@pytest.mark.parametrize("call, exception, code", [
    (lambda c, q: c.create_queue(QueueName=q.rsplit("/", 1)[1],
                                 Attributes={"VisibilityTimeout": "1"}),
     "QueueNameExists", "QueueAlreadyExists"),
    (lambda c, q: c.delete_message(QueueUrl=q, ReceiptHandle="nope"),
     "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"),
    (lambda c, q: c.get_queue_attributes(QueueUrl=q, AttributeNames=["Bogus"]),
     "InvalidAttributeName", "InvalidAttributeName"),
    (lambda c, q: c.set_queue_attributes(QueueUrl=q, Attributes={"DelaySeconds": "901"}),
     "InvalidAttributeValue", "InvalidAttributeValue"),
    (lambda c, q: (c.purge_queue(QueueUrl=q), c.purge_queue(QueueUrl=q)),
     "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress"),
    (lambda c, q: c.send_message_batch(QueueUrl=q, Entries=[
        {"Id": "a", "MessageBody": "m"}, {"Id": "a", "MessageBody": "m"}]),
     "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
])
def test_errors_reach_the_sdk_as_their_exception_classes(sqs, queue, call, exception, code):
    with pytest.raises(getattr(sqs.exceptions, exception)) as info:
        call(sqs, queue)
    assert info.value.response["Error"]["Code"] == code


def test_unmodelled_errors_carry_their_code(sqs, queue):
    with pytest.raises(ClientError) as info:
        sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=11)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_long_poll_returns_when_a_message_arrives(sqs, queue, portside, tmp_path):
    result: dict = {}
    poller = legacy_sqs_client(portside.endpoint, legacy_sqs_data(tmp_path))

    def poll() -> None:
        result["got"] = poller.receive_message(QueueUrl=queue, WaitTimeSeconds=10)
        result["returned"] = time.monotonic()

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    sqs.send_message(QueueUrl=queue, MessageBody="ping")
    acknowledged = time.monotonic()
    waiter.join(15)
    assert result["got"]["Messages"][0]["Body"] == "ping"
    assert result["returned"] - acknowledged < 0.2


def test_forms_posted_to_the_queue_url_name_the_queue_by_path(queue):
    sent = signed_form(queue, {
        "Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "by path",
        "MessageAttribute.1.Name": "color", "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "blue"})
    assert sent.status_code == 200, sent.text
    root = ElementTree.fromstring(sent.content)
    assert root.tag == f"{{{NS['sqs']}}}SendMessageResponse"
    result = root.find("sqs:SendMessageResult", NS)
    assert result.findtext("sqs:MD5OfMessageBody", namespaces=NS) == \
        hashlib.md5(b"by path").hexdigest()
    assert result.findtext("sqs:MD5OfMessageAttributes", namespaces=NS) == attributes_md5(
        {"color": {"DataType": "String", "StringValue": "blue"}})
    assert root.findtext("sqs:ResponseMetadata/sqs:RequestId", namespaces=NS)

    received = signed_form(queue, {"Action": "ReceiveMessage", "Version": "2012-11-05",
                                   "AttributeName.1": "All", "MessageAttributeName.1": "All"})
    message = ElementTree.fromstring(received.content).find(
        "sqs:ReceiveMessageResult/sqs:Message", NS)
    assert message.findtext("sqs:Body", namespaces=NS) == "by path"
    names = {a.findtext("sqs:Name", namespaces=NS): a.findtext("sqs:Value", namespaces=NS)
             for a in message.findall("sqs:Attribute", NS)}
    assert names["ApproximateReceiveCount"] == "1"
    attribute = message.find("sqs:MessageAttribute", NS)
    assert attribute.findtext("sqs:Name", namespaces=NS) == "color"
    assert attribute.findtext("sqs:Value/sqs:StringValue", namespaces=NS) == "blue"

    handle = message.findtext("sqs:ReceiptHandle", namespaces=NS)
    deleted = signed_form(queue, {"Action": "DeleteMessage", "Version": "2012-11-05",
                                  "ReceiptHandle": handle})
    assert deleted.status_code == 200


def test_a_missing_queue_by_path_is_a_query_error(portside):
    response = signed_form(f"{portside.endpoint}/000000000000/no-such-queue-here",
                           {"Action": "GetQueueAttributes", "Version": "2012-11-05",
                            "AttributeName.1": "All"})
    assert response.status_code == 400
    error = ElementTree.fromstring(response.content).find("sqs:Error", NS)
    assert error.findtext("sqs:Code", namespaces=NS) == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.findtext("sqs:Type", namespaces=NS) == "Sender"
