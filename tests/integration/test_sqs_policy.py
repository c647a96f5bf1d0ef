"""Queue policies through IAM: another account reaches a queue only as its policy allows, whether
written with SetQueueAttributes or with AddPermission."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from server import ACCOUNT, PortsideServer

OTHER = "111122223333"


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory):
    server = PortsideServer(tmp_path_factory.mktemp("sqs-policy") / "data", env={
        "PORTSIDE_ACCOUNTS": f"{ACCOUNT}:test:test,{OTHER}:other:other"}).start()
    yield server
    server.stop()


def denied(call) -> bool:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"].startswith("AccessDenied")
    return False


def test_another_account_needs_the_queue_policy(two_accounts):
    owner = two_accounts.client("sqs")
    other = two_accounts.client("sqs", key="other", secret="other")
    url = owner.create_queue(QueueName="shared")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:shared"
    assert denied(lambda: other.send_message(QueueUrl=url, MessageBody="hi"))

    owner.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "sqs:SendMessage", "Resource": arn}]})})
    other.send_message(QueueUrl=url, MessageBody="hi")
    other.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "batched"}])
    assert denied(lambda: other.receive_message(QueueUrl=url))
    got = owner.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                AttributeNames=["SenderId"])["Messages"]
    assert sorted(m["Body"] for m in got) == ["batched", "hi"]
    assert {m["Attributes"]["SenderId"] for m in got} == {OTHER}


def test_add_and_remove_permission(two_accounts):
    owner = two_accounts.client("sqs")
    other = two_accounts.client("sqs", key="other", secret="other")
    url = owner.create_queue(QueueName="granted")["QueueUrl"]
    owner.add_permission(QueueUrl=url, Label="OtherReads", AWSAccountIds=[OTHER],
                         Actions=["ReceiveMessage", "GetQueueUrl"])
    owner.send_message(QueueUrl=url, MessageBody="for you")
    assert other.get_queue_url(QueueName="granted", QueueOwnerAWSAccountId=ACCOUNT)[
        "QueueUrl"] == url
    assert other.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "for you"
    policy = json.loads(owner.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])
    assert policy["Statement"][0]["Sid"] == "OtherReads"
    with pytest.raises(ClientError) as info:
        owner.add_permission(QueueUrl=url, Label="OtherReads", AWSAccountIds=[OTHER],
                             Actions=["SendMessage"])
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    owner.remove_permission(QueueUrl=url, Label="OtherReads")
    assert denied(lambda: other.receive_message(QueueUrl=url))
    assert "Attributes" not in owner.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
