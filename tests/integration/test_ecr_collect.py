"""Layers pushed with the real Docker CLI are objects in S3 storage; once the last image naming
them is deleted, portside's own collector removes them on its schedule, and a layer another
image still names stays. The server here collects every second with a grace period of
GRACE seconds (PORTSIDE_ECR_GC_INTERVAL, PORTSIDE_ECR_GC_GRACE)."""

import base64
import hashlib
import json
import os
import subprocess
import time

import pytest
from server import ACCOUNT, PortsideServer

pytestmark = pytest.mark.docker
GRACE = 8


def run(*args: str, env=None, input_text=None) -> str:
    answer = subprocess.run(args, capture_output=True, text=True, env=env, input=input_text,
                            timeout=120)
    assert answer.returncode == 0, f"{args}: {answer.stdout}\n{answer.stderr}"
    return answer.stdout


@pytest.fixture
def collecting(tmp_path):
    server = PortsideServer(tmp_path / "data", env={
        "PORTSIDE_ECR_GC_INTERVAL": "1", "PORTSIDE_ECR_GC_GRACE": str(GRACE)}).start()
    yield server
    server.stop()


def build(tmp_path, tag: str, files: dict[str, bytes]) -> None:
    """busybox and one layer per file (COPY: no container runs, so it takes a second)."""
    context = tmp_path / f"ctx-{time.time_ns()}"
    context.mkdir()
    for name, data in files.items():
        (context / name).write_bytes(data)
    (context / "Dockerfile").write_text("FROM portside-test/busybox:latest\n" + "".join(
        f"COPY {name} /{name}\n" for name in files))
    run("docker", "build", "-q", "-t", tag, str(context))


def stored_digests(s3) -> dict[str, str]:
    """digest -> key of every object in the account's registry bucket (read and hashed)."""
    bucket = f"portside-ecr-{ACCOUNT}"
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        try:
            data = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue  # the collector removed it after the listing
        found["sha256:" + hashlib.sha256(data).hexdigest()] = item["Key"]
    return found


def blob_digests(ecr, name: str) -> set[str]:
    image = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "v1"}])["images"][0]
    doc = json.loads(image["imageManifest"])
    return {doc["config"]["digest"], *(layer["digest"] for layer in doc["layers"])}


def test_layers_of_a_deleted_image_are_collected_and_a_shared_layer_stays(
        collecting, busybox_image, tmp_path):
    ecr, s3 = collecting.client("ecr"), collecting.client("s3")
    env = {**collecting.cli_env(), "DOCKER_CONFIG": str(tmp_path / "docker")}
    password = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    registry = f"localhost:{collecting.port}"
    run("docker", "login", "--username", "AWS", "--password-stdin", registry, env=env,
        input_text=base64.b64decode(password).decode().partition(":")[2])
    tags = {}
    for name, files in (("gc/gone", {"a.txt": b"gone\n", "b": os.urandom(200_000)}),
                        ("gc/kept", {"c.txt": b"kept\n"})):
        ecr.create_repository(repositoryName=name)
        tags[name] = f"{registry}/{name}:v1"
        build(tmp_path, tags[name], files)
        run("docker", "push", tags[name], env=env)
        run("docker", "rmi", tags[name])
    gone, kept = blob_digests(ecr, "gc/gone"), blob_digests(ecr, "gc/kept")
    shared = gone & kept
    assert len(shared) == 1 and len(gone - kept) == 3  # busybox's layer; a config, two layers
    stored = stored_digests(s3)
    assert gone | kept <= set(stored)  # every layer and config is an object

    ecr.batch_delete_image(repositoryName="gc/gone", imageIds=[{"imageTag": "v1"}])
    deadline = time.monotonic() + GRACE + 30
    while time.monotonic() < deadline and set(stored_digests(s3)) & (gone - kept):
        time.sleep(1)
    left = stored_digests(s3)
    assert not set(left) & (gone - kept), "the deleted image's own blobs were not collected"
    assert kept <= set(left)
    assert {stored[d] for d in kept} == {left[d] for d in kept}

    run("docker", "pull", tags["gc/kept"], env=env)  # the image and its shared layer serve
    run("docker", "rmi", tags["gc/kept"])
