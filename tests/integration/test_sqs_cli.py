"""SQS through the AWS CLI (`aws sqs …`).

AWS CLI v1 points `aws sqs` at the legacy `<region>.queue.amazonaws.com` endpoints unless the
`--endpoint-url` flag is given: for SQS it ignores AWS_ENDPOINT_URL (awscli's
customizations/overridesslcommonname.py), so these tests pass the flag as its users must.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

AWS_CLI = str(Path(sys.executable).with_name("aws"))


def aws(portside, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AWS_CLI, "sqs", *args, "--output", "json", "--endpoint-url",
                           portside.endpoint], env=portside.cli_env(), capture_output=True,
                          text=True, timeout=60, check=check)


def aws_json(portside, *args: str) -> dict:
    out = aws(portside, *args).stdout
    return json.loads(out) if out.strip() else {}


def test_cli_queue_and_message_round_trip(portside):
    name = f"cli-{uuid.uuid4().hex[:10]}"
    url = aws_json(portside, "create-queue", "--queue-name", name, "--attributes",
                   "VisibilityTimeout=20,DelaySeconds=0", "--tags", "team=cli")["QueueUrl"]
    assert url == f"{portside.endpoint}/000000000000/{name}"
    assert url in aws_json(portside, "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    assert aws_json(portside, "get-queue-url", "--queue-name", name)["QueueUrl"] == url
    assert aws_json(portside, "list-queue-tags", "--queue-url", url)["Tags"] == {"team": "cli"}
    aws(portside, "set-queue-attributes", "--queue-url", url, "--attributes",
        "MessageRetentionPeriod=3600")
    attributes = aws_json(portside, "get-queue-attributes", "--queue-url", url,
                          "--attribute-names", "All")["Attributes"]
    assert attributes["MessageRetentionPeriod"] == "3600"
    assert attributes["VisibilityTimeout"] == "20"

    sent = aws_json(portside, "send-message", "--queue-url", url, "--message-body", "from cli",
                    "--message-attributes",
                    '{"color": {"DataType": "String", "StringValue": "red"}}')
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from cli").hexdigest()
    batch = aws_json(portside, "send-message-batch", "--queue-url", url, "--entries",
                     json.dumps([{"Id": "1", "MessageBody": "b1"},
                                 {"Id": "2", "MessageBody": "b2"}]))
    assert len(batch["Successful"]) == 2
    got = aws_json(portside, "receive-message", "--queue-url", url, "--max-number-of-messages",
                   "10", "--attribute-names", "All", "--message-attribute-names", "All",
                   "--wait-time-seconds", "1")["Messages"]
    assert sorted(m["Body"] for m in got) == ["b1", "b2", "from cli"]
    first = next(m for m in got if m["Body"] == "from cli")
    assert first["MessageAttributes"]["color"]["StringValue"] == "red"
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    aws(portside, "change-message-visibility", "--queue-url", url, "--receipt-handle",
        first["ReceiptHandle"], "--visibility-timeout", "0")
    for message in got:
        aws(portside, "delete-message", "--queue-url", url, "--receipt-handle",
            message["ReceiptHandle"])
    attributes = aws_json(portside, "get-queue-attributes", "--queue-url", url,
                          "--attribute-names", "ApproximateNumberOfMessages",
                          "ApproximateNumberOfMessagesNotVisible")["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0",
                          "ApproximateNumberOfMessagesNotVisible": "0"}
    aws(portside, "purge-queue", "--queue-url", url)
    aws(portside, "delete-queue", "--queue-url", url)


def test_cli_fifo_queue(portside):
    name = f"cli-{uuid.uuid4().hex[:10]}.fifo"
    url = aws_json(portside, "create-queue", "--queue-name", name, "--attributes",
                   "FifoQueue=true,ContentBasedDeduplication=true")["QueueUrl"]
    for body in ("1", "2"):
        aws(portside, "send-message", "--queue-url", url, "--message-body", body,
            "--message-group-id", "g")
    got = aws_json(portside, "receive-message", "--queue-url", url, "--max-number-of-messages",
                   "10", "--attribute-names", "SequenceNumber")["Messages"]
    assert [m["Body"] for m in got] == ["1", "2"]
    assert int(got[0]["Attributes"]["SequenceNumber"]) < int(got[1]["Attributes"][
        "SequenceNumber"])


def test_cli_reports_aws_errors(portside):
    missing = aws(portside, "get-queue-url", "--queue-name", "cli-no-such-queue", check=False)
    assert missing.returncode == 255  # awscli v1: a ClientError exits with 255
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing.stderr
    bad = aws(portside, "create-queue", "--queue-name", "cli bad name", check=False)
    assert bad.returncode == 255
    assert "InvalidParameterValue" in bad.stderr
