"""Shared by the S3 integration tests: unique bucket names, the AWS CLI, signed raw requests."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AWS_CLI = str(Path(sys.executable).with_name("aws"))


def unique(prefix: str = "b") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def aws(server, *args: str, check: bool = True,
        timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([AWS_CLI, *args], env=server.cli_env(), capture_output=True,
                          text=True, timeout=timeout, check=check)


def aws_json(server, *args: str) -> dict:
    out = aws(server, *args, "--output", "json").stdout
    return json.loads(out) if out.strip() else {}


def signed_request(method: str, url: str, *, body: bytes = b"",
                   headers: dict[str, str] | None = None, connect_to: str | None = None,
                   ) -> requests.Response:
    """Sign as botocore does for S3; with `connect_to`, send to that address while keeping the
    URL's host in the Host header (virtual-host addressing without DNS)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    sent_headers = dict(prepared.headers)
    send_url = prepared.url
    if connect_to is not None:
        parts = urlsplit(prepared.url)
        send_url = connect_to + parts.path + (f"?{parts.query}" if parts.query else "")
        sent_headers["Host"] = parts.netloc
    return requests.request(method, send_url, data=body, headers=sent_headers, timeout=30)
