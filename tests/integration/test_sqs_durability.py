"""What SQS acknowledged survives kill -9: every message whose send was answered is received
after a restart, and a message in flight when the server died comes back when its visibility
timeout ends."""

from __future__ import annotations

import threading
import time

from botocore.exceptions import BotoCoreError, ClientError
from server import PortsideServer

SENDERS = 6


def send_until_refused(server: PortsideServer, url: str, worker: int,
                       acknowledged: list[str]) -> None:
    """Send (singly and in batches of 10) until the server is gone; record what it answered."""
    client = server.client("sqs", connect_timeout=1, read_timeout=5)
    n = 0
    while True:
        try:
            if n % 2:
                client.send_message(QueueUrl=url, MessageBody=f"w{worker}-{n}")
                acknowledged.append(f"w{worker}-{n}")
            else:
                bodies = [f"w{worker}-{n}-{i}" for i in range(10)]
                result = client.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
                assert not result.get("Failed")
                acknowledged.extend(bodies)
        except (BotoCoreError, ClientError):
            return
        n += 1


def drain(server: PortsideServer, url: str) -> list[str]:
    client = server.client("sqs")
    bodies: list[str] = []
    while True:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if "Messages" not in got:
            return bodies
        bodies += [m["Body"] for m in got["Messages"]]
        client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(got["Messages"])])


def test_acknowledged_sends_survive_kill_9_during_concurrent_sends(tmp_path):
    server = PortsideServer(tmp_path / "data").start()
    try:
        sqs = server.client("sqs")
        url = sqs.create_queue(QueueName="durable")["QueueUrl"]
        in_flight_url = sqs.create_queue(QueueName="in-flight")["QueueUrl"]
        sqs.send_message(QueueUrl=in_flight_url, MessageBody="being worked on")
        assert sqs.receive_message(QueueUrl=in_flight_url, VisibilityTimeout=2)["Messages"]
        acknowledged: list[list[str]] = [[] for _ in range(SENDERS)]
        senders = [threading.Thread(target=send_until_refused, args=(server, url, w, acked))
                   for w, acked in enumerate(acknowledged)]
        for sender in senders:
            sender.start()
        time.sleep(1.5)
        server.kill()
        for sender in senders:
            sender.join(30)
        sent = {body for acked in acknowledged for body in acked}
        assert len(sent) > 100, "the senders should have been acknowledged many times"

        server.start()
        received = drain(server, url)
        assert sent <= set(received), f"{len(sent - set(received))} acknowledged messages lost"
        started = time.monotonic()
        back = server.client("sqs").receive_message(QueueUrl=in_flight_url, WaitTimeSeconds=5)
        assert back["Messages"][0]["Body"] == "being worked on"
        assert time.monotonic() - started < 5
        print(f"{len(sent)} acknowledged before kill -9, {len(received)} received after restart")
    finally:
        server.stop()
