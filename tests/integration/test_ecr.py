"""The ECR API through boto3: repositories, tokens, images, layer uploads, policies, tags."""

import base64
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from botocore.exceptions import ClientError
from ecr_helpers import RegistryClient, digest
from server import ACCOUNT


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


@pytest.fixture
def ecr(portside):
    return portside.client("ecr")


def code(info) -> str:
    return info.value.response["Error"]["Code"]


def test_create_describe_delete_repository_with_namespace(ecr, portside):
    name = f"team/{unique('app')}"
    repo = ecr.create_repository(repositoryName=name, tags=[{"Key": "k", "Value": "v"}])[
        "repository"]
    assert repo["repositoryArn"] == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}"
    assert repo["repositoryUri"] == f"localhost:{portside.port}/{name}"
    assert repo["imageTagMutability"] == "MUTABLE"
    with pytest.raises(ClientError) as info:
        ecr.create_repository(repositoryName=name)
    assert code(info) == "RepositoryAlreadyExistsException"
    found = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert [r["repositoryName"] for r in found] == [name]
    assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [
        {"Key": "k", "Value": "v"}]
    ecr.delete_repository(repositoryName=name)
    with pytest.raises(ClientError) as info:
        ecr.describe_repositories(repositoryNames=[name])
    assert code(info) == "RepositoryNotFoundException"


@pytest.mark.parametrize("bad", ["AB", "Team/app", "team//app", "app/", "a..b", "-ab"])
def test_repository_names_breaking_aws_rules_are_refused(ecr, bad):
    with pytest.raises(ClientError) as info:
        ecr.create_repository(repositoryName=bad)
    assert code(info) in ("InvalidParameterException", "ValidationException")


def test_authorization_token_is_aws_password_for_twelve_hours(ecr, portside):
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password
    left = data["expiresAt"] - datetime.now(UTC)
    assert timedelta(hours=11, minutes=59) < left <= timedelta(hours=12)
    assert data["proxyEndpoint"] == f"http://localhost:{portside.port}"


def test_registry_challenges_without_credentials_and_refuses_forged_tokens(portside):
    answer = requests.get(portside.endpoint + "/v2/", timeout=5)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Basic realm="')
    assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"
    forged = base64.b64encode(b"AWS:eyJrIjoidGVzdCJ9.AAAA").decode()
    answer = requests.get(portside.endpoint + "/v2/", timeout=5,
                          headers={"Authorization": f"Basic {forged}"})
    assert answer.status_code == 401


def test_images_pushed_over_the_registry_are_described_listed_and_deleted(ecr, portside):
    name = unique("images")
    ecr.create_repository(repositoryName=name)
    registry = RegistryClient(portside, ecr)
    first, _ = registry.push_image(name, "v1", [b"layer-one" * 100])
    ecr.put_image(repositoryName=name, imageTag="stable",
                  imageManifest=ecr.batch_get_image(repositoryName=name, imageIds=[
                      {"imageTag": "v1"}])["images"][0]["imageManifest"])
    second, _ = registry.push_image(name, None, [b"layer-two" * 10])
    details = {d["imageDigest"]: d for d in ecr.describe_images(repositoryName=name)[
        "imageDetails"]}
    assert details[first]["imageTags"] == ["stable", "v1"]
    assert details[first]["imageSizeInBytes"] == 900
    assert "imageTags" not in details[second]
    untagged = ecr.list_images(repositoryName=name, filter={"tagStatus": "UNTAGGED"})
    assert untagged["imageIds"] == [{"imageDigest": second}]
    tagged = ecr.describe_images(repositoryName=name, filter={"tagStatus": "TAGGED"})
    assert [d["imageDigest"] for d in tagged["imageDetails"]] == [first]
    # by tag: only the tag goes while another remains
    gone = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "v1"}])
    assert gone["imageIds"] == [{"imageDigest": first, "imageTag": "v1"}]
    assert ecr.batch_get_image(repositoryName=name, imageIds=[{"imageDigest": first}])["images"]
    # by digest: the image and all its tags
    gone = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": first}])
    assert gone["imageIds"] == [{"imageDigest": first, "imageTag": "stable"}]
    missing = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "stable"}])
    assert missing["failures"][0]["failureCode"] == "ImageNotFound"
    with pytest.raises(ClientError) as info:
        ecr.delete_repository(repositoryName=name)
    assert code(info) == "RepositoryNotEmptyException"
    ecr.delete_repository(repositoryName=name, force=True)


def test_immutable_repository_refuses_a_reused_tag(ecr, portside):
    name = unique("immutable")
    ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    registry = RegistryClient(portside, ecr)
    registry.push_image(name, "v1", [b"a"])
    manifest = registry.push_image(name, None, [b"b"])[1]
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=name, imageTag="v1", imageManifest=manifest.decode())
    assert code(info) == "ImageTagAlreadyExistsException"
    answer = registry.request("PUT", f"/v2/{name}/manifests/v1", data=manifest, headers={
        "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "TAG_INVALID"


def test_layer_upload_api_and_presigned_download(ecr, portside):
    name = unique("layers")
    ecr.create_repository(repositoryName=name)
    data = b"0123456789" * 1000
    upload = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    ecr.upload_layer_part(repositoryName=name, uploadId=upload, partFirstByte=0,
                          partLastByte=4999, layerPartBlob=data[:5000])
    with pytest.raises(ClientError) as info:
        ecr.upload_layer_part(repositoryName=name, uploadId=upload, partFirstByte=0,
                              partLastByte=4999, layerPartBlob=data[5000:])
    assert code(info) == "InvalidLayerPartException"
    ecr.upload_layer_part(repositoryName=name, uploadId=upload, partFirstByte=5000,
                          partLastByte=9999, layerPartBlob=data[5000:])
    done = ecr.complete_layer_upload(repositoryName=name, uploadId=upload,
                                     layerDigests=[digest(data)])
    assert done["layerDigest"] == digest(data)
    check = ecr.batch_check_layer_availability(repositoryName=name, layerDigests=[
        digest(data), digest(b"absent")])
    assert check["layers"][0]["layerSize"] == 10000
    assert check["failures"][0]["failureCode"] == "MissingLayerDigest"
    url = ecr.get_download_url_for_layer(repositoryName=name, layerDigest=digest(data))
    fetched = requests.get(url["downloadUrl"], timeout=10)
    assert fetched.status_code == 200 and hashlib.sha256(fetched.content).hexdigest() == \
        digest(data).split(":")[1]


def test_repository_policy_round_trip(ecr):
    name = unique("policy")
    ecr.create_repository(repositoryName=name)
    with pytest.raises(ClientError) as info:
        ecr.get_repository_policy(repositoryName=name)
    assert code(info) == "RepositoryPolicyNotFoundException"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "ecr:BatchGetImage"}]})
    ecr.set_repository_policy(repositoryName=name, policyText=policy)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == policy
    ecr.delete_repository_policy(repositoryName=name)
    with pytest.raises(ClientError):
        ecr.get_repository_policy(repositoryName=name)
    with pytest.raises(ClientError) as info:
        ecr.delete_repository_policy(repositoryName=name)
    assert code(info) == "RepositoryPolicyNotFoundException"


def test_lifecycle_policy_put_get_delete(ecr):
    name = unique("lifecycle")
    ecr.create_repository(repositoryName=name)
    for call in (ecr.get_lifecycle_policy, ecr.delete_lifecycle_policy):
        with pytest.raises(ClientError) as info:
            call(repositoryName=name)
        assert code(info) == "LifecyclePolicyNotFoundException"
    policy = json.dumps({"rules": [{
        "rulePriority": 1, "action": {"type": "expire"},
        "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                      "countNumber": 3}}]})
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy)
    assert ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == policy
    deleted = ecr.delete_lifecycle_policy(repositoryName=name)
    assert (deleted["repositoryName"], deleted["lifecyclePolicyText"]) == (name, policy)
    with pytest.raises(ClientError) as info:
        ecr.get_lifecycle_policy(repositoryName=name)
    assert code(info) == "LifecyclePolicyNotFoundException"
