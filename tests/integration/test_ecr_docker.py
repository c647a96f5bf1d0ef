"""The real Docker CLI and Engine against portside's registry: login with the ECR password,
push and pull of a multi-layer image, IMMUTABLE tags, IAM refusing a push, layers in S3."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from server import ACCOUNT

pytestmark = pytest.mark.docker
AWS_CLI = str(Path(sys.executable).parent / "aws")


def run(args, env=None, input_text=None, check=True, timeout=120):
    answer = subprocess.run(args, capture_output=True, text=True, env=env, input=input_text,
                            timeout=timeout)
    if check and answer.returncode != 0:
        raise AssertionError(f"{args} failed: {answer.stdout}\n{answer.stderr}")
    return answer


@pytest.fixture
def docker_env(tmp_path, docker_available, portside):
    """A docker client with its own config dir, logged in to portside with the root's token."""
    env = {**portside.cli_env(), "DOCKER_CONFIG": str(tmp_path / "docker")}
    login(portside, env, env)
    return env


def registry(portside) -> str:
    return f"localhost:{portside.port}"


def login(portside, docker_env, aws_env):
    password = run([AWS_CLI, "ecr", "get-login-password"], env=aws_env).stdout.strip()
    run(["docker", "login", "--username", "AWS", "--password-stdin", registry(portside)],
        env=docker_env, input_text=password)


def build(tmp_path, tag: str, content: str) -> None:
    """An image of busybox and two layers of its own, built offline."""
    context = tmp_path / f"ctx-{time.time_ns()}"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM portside-test/busybox:latest\n"
        f"RUN echo '{content}' > /one.txt\n"
        "RUN head -c 3000000 /dev/urandom > /two.bin\n")
    run(["docker", "build", "-q", "-t", tag, str(context)])


def test_login_push_remove_pull_a_multi_layer_image(portside, busybox_image, docker_env,
                                                    tmp_path):
    name = f"team/app-{time.time_ns()}"
    portside.client("ecr").create_repository(repositoryName=name)
    uri = portside.client("ecr").describe_repositories(repositoryNames=[name])[
        "repositories"][0]["repositoryUri"]
    tag = f"{uri}:v1"
    build(tmp_path, tag, "hello")
    local_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", tag]).stdout.strip()
    run(["docker", "push", tag], env=docker_env)
    run(["docker", "rmi", tag])
    run(["docker", "pull", tag], env=docker_env)
    assert run(["docker", "image", "inspect", "-f", "{{.Id}}", tag]).stdout.strip() == local_id
    assert run(["docker", "run", "--rm", tag, "cat", "/one.txt"]).stdout == "hello\n"
    run(["docker", "rmi", tag])

    # the layers are objects in the account's registry bucket, of the layers' sizes
    ecr = portside.client("ecr")
    image = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "v1"}])["images"][0]
    layers = json.loads(image["imageManifest"])["layers"]
    assert len(layers) == 3
    listing = portside.client("s3").list_objects_v2(Bucket=f"portside-ecr-{ACCOUNT}")
    sizes = {o["Size"] for o in listing["Contents"]}
    assert {layer["size"] for layer in layers} <= sizes


def test_immutable_tag_is_refused_on_push(portside, busybox_image, docker_env, tmp_path):
    name = f"immutable-{time.time_ns()}"
    portside.client("ecr").create_repository(repositoryName=name,
                                             imageTagMutability="IMMUTABLE")
    tag = f"{registry(portside)}/{name}:v1"
    build(tmp_path, tag, "first")
    first = run(["docker", "image", "inspect", "-f", "{{.Id}}", tag]).stdout.strip()
    try:
        run(["docker", "push", tag], env=docker_env)
        build(tmp_path, tag, "second")
        answer = run(["docker", "push", tag], env=docker_env, check=False)
        assert answer.returncode != 0
        assert "already exists" in answer.stderr and "immutable" in answer.stderr
    finally:  # the first build lost its tag to the second but keeps its pushed digest
        run(["docker", "rmi", "-f", tag, first], check=False)


def test_push_refused_for_a_user_allowed_only_to_pull(portside, busybox_image, tmp_path):
    name = f"guarded-{time.time_ns()}"
    portside.client("ecr").create_repository(repositoryName=name)
    iam = portside.client("iam")
    user = f"puller-{time.time_ns()}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="pull", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    env = {**portside.cli_env(), "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
           "DOCKER_CONFIG": str(tmp_path / "puller")}
    login(portside, env, env)
    tag = f"{registry(portside)}/{name}:v1"
    build(tmp_path, tag, "pushed by nobody")
    answer = run(["docker", "push", tag], env=env, check=False)
    assert answer.returncode != 0
    assert "denied" in answer.stderr.lower()
    assert "ecr:InitiateLayerUpload" in answer.stderr or "ecr:" in answer.stderr
    assert portside.client("ecr").describe_images(repositoryName=name)["imageDetails"] == []
    run(["docker", "rmi", tag])
