"""skopeo copies an image from an OCI layout to portside's registry and back: the manifest and
every blob keep their digests."""

import base64
import json
import shutil
import subprocess
import time

import pytest

pytestmark = pytest.mark.docker


def skopeo(*args: str) -> subprocess.CompletedProcess:
    answer = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr
    return answer


def manifest_digest(layout) -> str:
    return json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]


def test_skopeo_round_trip_keeps_digests(portside, busybox_image, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (scripts/setup.sh installs it as root)")
    name = f"skopeo/{time.time_ns()}"
    ecr = portside.client("ecr")
    ecr.create_repository(repositoryName=name)
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    creds = base64.b64decode(token).decode()
    source, back = tmp_path / "source", tmp_path / "back"
    skopeo("copy", f"docker-daemon:{busybox_image}", f"oci:{source}:v1", "--format", "oci")
    remote = f"docker://localhost:{portside.port}/{name}:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{source}:v1", remote)
    skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, remote, f"oci:{back}:v1")
    assert manifest_digest(back) == manifest_digest(source)
    assert sorted(p.name for p in (back / "blobs" / "sha256").iterdir()) == \
        sorted(p.name for p in (source / "blobs" / "sha256").iterdir())
    pushed = ecr.describe_images(repositoryName=name)["imageDetails"][0]
    assert pushed["imageDigest"] == manifest_digest(source)
    assert pushed["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json"
