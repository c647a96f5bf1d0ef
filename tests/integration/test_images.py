"""The local test images that scripts/setup.sh builds exist and run."""

import subprocess

import pytest

pytestmark = pytest.mark.docker


def run(image: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, *command],
        capture_output=True, text=True, timeout=120,
    )


def test_busybox_image_runs_a_command(busybox_image):
    result = run(busybox_image, "echo", "hello from busybox")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from busybox\n"


def test_busybox_image_has_its_applets_on_path(busybox_image):
    result = run(busybox_image, "which", "sh", "wget", "nc", "timeout")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/bin/sh", "/usr/bin/wget", "/usr/bin/nc", "/usr/bin/timeout"]


def test_python_boto3_image_has_a_boto3_that_honours_aws_endpoint_url(python_boto3_image):
    # botocore reads AWS_ENDPOINT_URL from 1.31 on (boto3 1.28); Debian's own boto3 is 1.26.
    result = run(python_boto3_image, "python3", "-c", "import boto3; print(boto3.__version__)")

    assert result.returncode == 0, result.stderr
    version = tuple(int(part) for part in result.stdout.strip().split(".")[:2])
    assert version >= (1, 28), result.stdout


def test_python_boto3_image_sends_sdk_calls_to_aws_endpoint_url(python_boto3_image):
    script = "import boto3; print(boto3.client('sts').meta.endpoint_url)"
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none",
         "-e", "AWS_ENDPOINT_URL=http://169.254.170.2:4566", "-e", "AWS_DEFAULT_REGION=us-east-1",
         python_boto3_image, "python3", "-c", script],
        capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://169.254.170.2:4566"
