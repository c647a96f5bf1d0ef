"""Shared test setup. Its presence puts `tests/` on sys.path, so test modules can import the
shared helpers beside it (e.g. `protocol_vectors`)."""

import os
import shutil
import subprocess

import pytest

# The local test images scripts/setup.sh builds (no registry is reachable here).
BUSYBOX_IMAGE = "portside-test/busybox:latest"
PYTHON_BOTO3_IMAGE = "portside-test/python-boto3:latest"


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def docker_available() -> str:
    """The docker CLI's path, when a Docker Engine answers; the test skips otherwise.

    When scripts/setup.sh reported an engine (PORTSIDE_DOCKER=1), a silent engine fails the test
    instead: a broken engine must not pass as a skip.
    """
    promised = os.environ.get("PORTSIDE_DOCKER") == "1"
    cli = shutil.which("docker")
    answers = False
    if cli is not None:
        try:
            answers = _docker("info", timeout=30).returncode == 0
        except subprocess.TimeoutExpired:
            answers = False
    if answers:
        return cli
    if promised:
        pytest.fail("scripts/setup.sh reported a Docker Engine, but `docker info` does not answer")
    pytest.skip("no Docker Engine answers `docker info` (scripts/setup.sh starts one as root)")


def _test_image(ref: str) -> str:
    """`ref`, when the engine has it; skips when setup.sh did not build it (e.g. not root), fails
    when setup.sh said it had (PORTSIDE_TEST_IMAGES) and it is gone."""
    if _docker("image", "inspect", ref).returncode == 0:
        return ref
    if ref in os.environ.get("PORTSIDE_TEST_IMAGES", "").split():
        pytest.fail(f"scripts/setup.sh built {ref}, but the engine no longer has it")
    pytest.skip(f"{ref} is not built; run scripts/setup.sh (as root for python-boto3)")


@pytest.fixture(scope="session")
def busybox_image(docker_available: str) -> str:
    return _test_image(BUSYBOX_IMAGE)


@pytest.fixture(scope="session")
def python_boto3_image(docker_available: str) -> str:
    return _test_image(PYTHON_BOTO3_IMAGE)
