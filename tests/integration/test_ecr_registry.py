"""The OCI distribution API over HTTP: uploads (chunked, monolithic, mounted), digest checks,
ranges, manifests and indexes, subject and referrers, tags and catalog pagination, deletes."""

import json
import time

import pytest
from ecr_helpers import RegistryClient, digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def repo(portside):
    name = f"oci/{time.time_ns()}"
    portside.client("ecr").create_repository(repositoryName=name)
    return name


@pytest.fixture
def registry(portside):
    return RegistryClient(portside)


def error_code(answer) -> str:
    return answer.json()["errors"][0]["code"]


def test_chunked_upload_with_content_range(registry, repo):
    data = bytes(range(256)) * 1000
    started = registry.request("POST", f"/v2/{repo}/blobs/uploads/")
    location = started.headers["Location"]
    first = registry.request("PATCH", location, data=data[:100000],
                             headers={"Content-Range": "0-99999"})
    assert first.status_code == 202 and first.headers["Range"] == "0-99999"
    wrong = registry.request("PATCH", location, data=data[100000:],
                             headers={"Content-Range": "5-10"})
    assert wrong.status_code == 416 and error_code(wrong) == "BLOB_UPLOAD_INVALID"
    assert wrong.headers["Range"] == "0-99999"
    status = registry.request("GET", location)
    assert status.status_code == 204 and status.headers["Range"] == "0-99999"
    registry.request("PATCH", location, data=data[100000:200000],
                     headers={"Content-Range": f"100000-{199999}"})
    done = registry.request("PUT", location, params={"digest": digest(data)},
                            data=data[200000:])
    assert done.status_code == 201
    blob = registry.request("GET", f"/v2/{repo}/blobs/{digest(data)}")
    assert blob.content == data
    part = registry.request("GET", f"/v2/{repo}/blobs/{digest(data)}",
                            headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    head = registry.request("HEAD", f"/v2/{repo}/blobs/{digest(data)}")
    assert head.headers["Content-Length"] == str(len(data))


def test_digest_mismatch_stores_nothing(registry, repo, portside):
    started = registry.request("POST", f"/v2/{repo}/blobs/uploads/")
    wrong = registry.request("PUT", started.headers["Location"],
                             params={"digest": digest(b"other")}, data=b"actual")
    assert wrong.status_code == 400 and error_code(wrong) == "DIGEST_INVALID"
    for d in (digest(b"other"), digest(b"actual")):
        assert registry.request("HEAD", f"/v2/{repo}/blobs/{d}").status_code == 404
    assert registry.request("GET", started.headers["Location"]).status_code == 404


def test_monolithic_post_and_cross_repository_mount(registry, repo, portside):
    data = b"mount me"
    posted = registry.request("POST", f"/v2/{repo}/blobs/uploads/",
                              params={"digest": digest(data)}, data=data)
    assert posted.status_code == 201
    other = f"{repo}-copy"
    portside.client("ecr").create_repository(repositoryName=other)
    assert registry.request("HEAD", f"/v2/{other}/blobs/{digest(data)}").status_code == 404
    mounted = registry.request("POST", f"/v2/{other}/blobs/uploads/",
                               params={"mount": digest(data), "from": repo})
    assert mounted.status_code == 201
    assert registry.request("GET", f"/v2/{other}/blobs/{digest(data)}").content == data
    missing = registry.request("POST", f"/v2/{other}/blobs/uploads/",
                               params={"mount": digest(b"nope"), "from": repo})
    assert missing.status_code == 202  # a new upload instead, as the spec says


def test_manifest_needs_its_blobs_and_is_negotiated(registry, repo):
    blob = json.dumps({"mediaType": OCI_MANIFEST, "schemaVersion": 2, "config": {
        "mediaType": "x", "digest": digest(b"absent"), "size": 6}, "layers": []}).encode()
    refused = registry.request("PUT", f"/v2/{repo}/manifests/v1", data=blob,
                               headers={"Content-Type": OCI_MANIFEST})
    assert refused.status_code == 400 and error_code(refused) == "MANIFEST_BLOB_UNKNOWN"
    image, body = registry.push_image(repo, "v1", [b"layer"])
    got = registry.request("GET", f"/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert got.content == body and got.headers["Docker-Content-Digest"] == image
    assert got.headers["Content-Type"] == OCI_MANIFEST
    docker_only = registry.request("GET", f"/v2/{repo}/manifests/v1", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert docker_only.status_code == 404
    assert registry.request("HEAD", f"/v2/{repo}/manifests/{image}").status_code == 200


def test_index_subject_and_referrers(registry, repo):
    amd, amd_body = registry.push_image(repo, None, [b"amd64"])
    arm, arm_body = registry.push_image(repo, None, [b"arm64"])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd, "size": len(amd_body),
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": OCI_MANIFEST, "digest": arm, "size": len(arm_body),
         "platform": {"architecture": "arm64", "os": "linux"}}]}).encode()
    put = registry.request("PUT", f"/v2/{repo}/manifests/multi", data=index,
                           headers={"Content-Type": OCI_INDEX})
    assert put.status_code == 201 and put.headers["Docker-Content-Digest"] == digest(index)
    signature, _ = registry.push_image(repo, None, [b"sig"], extra={
        "artifactType": "application/vnd.example.sig",
        "subject": {"mediaType": OCI_MANIFEST, "digest": amd, "size": len(amd_body)},
        "annotations": {"by": "test"}})
    referrers = registry.request("GET", f"/v2/{repo}/referrers/{amd}")
    found = referrers.json()["manifests"]
    assert [m["digest"] for m in found] == [signature]
    assert found[0]["artifactType"] == "application/vnd.example.sig"
    assert found[0]["annotations"] == {"by": "test"}
    filtered = registry.request("GET", f"/v2/{repo}/referrers/{amd}",
                                params={"artifactType": "other"})
    assert filtered.json()["manifests"] == []
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"


def test_tags_list_and_catalog_paginate(registry, repo):
    for tag in ("c", "a", "b"):
        registry.push_image(repo, tag, [tag.encode()])
    first = registry.request("GET", f"/v2/{repo}/tags/list", params={"n": 2})
    assert first.json() == {"name": repo, "tags": ["a", "b"]}
    assert first.headers["Link"] == f'</v2/{repo}/tags/list?n=2&last=b>; rel="next"'
    rest = registry.request("GET", f"/v2/{repo}/tags/list", params={"n": 2, "last": "b"})
    assert rest.json()["tags"] == ["c"] and "Link" not in rest.headers
    catalog = registry.request("GET", "/v2/_catalog").json()["repositories"]
    assert repo in catalog


def test_deleting_by_tag_untags_and_by_digest_removes(registry, repo):
    image, _ = registry.push_image(repo, "v1", [b"x"])
    assert registry.request("DELETE", f"/v2/{repo}/manifests/v1").status_code == 202
    assert registry.request("GET", f"/v2/{repo}/manifests/v1").status_code == 404
    assert registry.request("GET", f"/v2/{repo}/manifests/{image}").status_code == 200
    assert registry.request("DELETE", f"/v2/{repo}/manifests/{image}").status_code == 202
    gone = registry.request("GET", f"/v2/{repo}/manifests/{image}")
    assert gone.status_code == 404 and error_code(gone) == "MANIFEST_UNKNOWN"


def test_unknown_repository_is_name_unknown(registry):
    answer = registry.request("GET", "/v2/no-such-repo/tags/list")
    assert answer.status_code == 404 and error_code(answer) == "NAME_UNKNOWN"
