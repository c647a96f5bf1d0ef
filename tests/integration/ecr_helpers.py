"""Talking to portside's registry over plain HTTP, as an OCI client does."""

from __future__ import annotations

import base64
import hashlib
import json

import requests


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryClient:
    def __init__(self, portside, ecr=None) -> None:
        self.base = portside.endpoint
        ecr = ecr or portside.client("ecr")
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Basic " + token
        assert base64.b64decode(token).startswith(b"AWS:")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=30, **kwargs)

    def push_blob(self, name: str, data: bytes) -> str:
        d = digest(data)
        started = self.request("POST", f"/v2/{name}/blobs/uploads/")
        assert started.status_code == 202, started.text
        done = self.request("PUT", started.headers["Location"], params={"digest": d}, data=data)
        assert done.status_code == 201, done.text
        return d

    def push_image(self, name: str, tag: str | None, layers: list[bytes],
                   media_type: str = "application/vnd.oci.image.manifest.v1+json",
                   extra: dict | None = None) -> tuple[str, bytes]:
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": self.push_blob(name, config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": self.push_blob(name, layer), "size": len(layer)}
                       for layer in layers],
            **(extra or {}),
        }).encode()
        ref = tag or digest(manifest)
        put = self.request("PUT", f"/v2/{name}/manifests/{ref}", data=manifest,
                           headers={"Content-Type": media_type})
        assert put.status_code == 201, put.text
        return put.headers["Docker-Content-Digest"], manifest
