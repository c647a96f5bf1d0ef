"""Server-side encryption at rest: a queue with SSE (SSE-SQS, the default, or KMS) keeps its
message bodies sealed in the data directory, and consumers still receive them as sent — after
a kill -9 and a restart too. A queue without SSE stores bodies as sent."""

from __future__ import annotations

import sqlite3

from server import PortsideServer

SECRET_BODY = "card=4111111111111111"
PLAIN_BODY = "order=12345-plain"


def _stored_bytes(data_dir) -> bytes:
    """Everything the store holds on disk: the database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in data_dir.glob("portside.db*"))


def test_bodies_are_sealed_at_rest_and_received_as_sent(tmp_path):
    data = tmp_path / "data"
    server = PortsideServer(data).start()
    try:
        sqs = server.client("sqs")
        default = sqs.create_queue(QueueName="default-sse")["QueueUrl"]
        kms = sqs.create_queue(QueueName="kms", Attributes={
            "KmsMasterKeyId": "alias/aws/sqs"})["QueueUrl"]
        plain = sqs.create_queue(QueueName="plain", Attributes={
            "SqsManagedSseEnabled": "false"})["QueueUrl"]
        assert sqs.get_queue_attributes(QueueUrl=default, AttributeNames=["All"])[
            "Attributes"]["SqsManagedSseEnabled"] == "true"
        for url in (default, kms):
            sqs.send_message(QueueUrl=url, MessageBody=SECRET_BODY)
        sqs.send_message(QueueUrl=plain, MessageBody=PLAIN_BODY)
        stored = _stored_bytes(data)
        assert PLAIN_BODY.encode() in stored
        assert SECRET_BODY.encode() not in stored
        server.kill()
        server.start()
        sqs = server.client("sqs")
        for url, body in ((default, SECRET_BODY), (kms, SECRET_BODY),
                          (plain, PLAIN_BODY)):
            got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
            assert [m["Body"] for m in got] == [body]
    finally:
        server.stop()
    with sqlite3.connect(data / "portside.db") as db:
        rows = db.execute("SELECT body, sealed_body FROM sqs_messages").fetchall()
    assert sorted(r[0] for r in rows) == ["", "", PLAIN_BODY]


def test_a_message_keeps_its_form_when_the_queue_setting_changes(tmp_path):
    server = PortsideServer(tmp_path / "data").start()
    try:
        sqs = server.client("sqs")
        url = sqs.create_queue(QueueName="toggled")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="sealed when sent")
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "false"})
        sqs.send_message(QueueUrl=url, MessageBody="plain when sent")
        bodies = set()
        for _ in range(4):
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            bodies |= {m["Body"] for m in got.get("Messages", [])}
        assert bodies == {"sealed when sent", "plain when sent"}
    finally:
        server.stop()
