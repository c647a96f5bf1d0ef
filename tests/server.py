"""A real portside server in a subprocess, for integration tests: start, kill -9, restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

ACCOUNT = "000000000000"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortsideServer:
    def __init__(self, data_dir: Path, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"portside-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> PortsideServer:
        # The local Fargate host would serve every test's Fargate tasks: tests ask for it.
        env = {**os.environ, "PORTSIDE_LOCAL_AGENTS": "ec2", **self.env}
        env.pop("AWS_ENDPOINT_URL", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "portside", "up", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"portside exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_portside/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"portside did not answer within {timeout}s")

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, service: str, key: str = "test", secret: str = "test",
               region: str = REGION, **kwargs):
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 1}, **kwargs))

    def cli_env(self) -> dict[str, str]:
        """Environment for the AWS CLI pointed at this server."""
        return {**os.environ, "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
                "AWS_PAGER": ""}
