"""Helpers shared by the Secrets Manager and Parameter Store tests: unique names, IAM users
with a policy, the AWS CLI, and everything a server has written to disk."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from server import REGION, PortsideServer

AWS_CLI = str(Path(sys.executable).with_name("aws"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def new_user(server: PortsideServer, identity_policy: str | None = None) -> tuple[str, dict]:
    """A new IAM user (with an inline policy when given): its ARN and access key."""
    iam = server.client("iam")
    name = unique("u")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if identity_policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=identity_policy)
    return arn, iam.create_access_key(UserName=name)["AccessKey"]


def client_as(server: PortsideServer, service: str, key: dict, region: str = REGION):
    return boto3.client(service, endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id=key["AccessKeyId"],
                        aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 1}))


def error_of(call) -> dict:
    """The Error member of the AWS error a call answers."""
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]


def aws(server: PortsideServer, *args: str) -> dict:
    out = subprocess.run([AWS_CLI, *args, "--output", "json"], env=server.cli_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def trail_records(server: PortsideServer, event_source: str) -> list[dict]:
    """The CloudTrail records of one service."""
    time.sleep(0.1)  # records are written in batches
    ct = server.client("cloudtrail")
    records, token = [], None
    source = [{"AttributeKey": "EventSource", "AttributeValue": event_source}]
    while True:
        page = ct.lookup_events(LookupAttributes=source, MaxResults=50,
                                **({"NextToken": token} if token else {}))
        records += [json.loads(e["CloudTrailEvent"]) for e in page["Events"]]
        token = page.get("NextToken")
        if not token:
            break
    return records


def data_dir_bytes(server: PortsideServer) -> bytes:
    """Every byte of the database files (with the WAL, whose pages reach the database later)."""
    return b"".join(p.read_bytes() for p in sorted(server.data_dir.glob("portside.db*")))
