"""What the registry reads from a manifest: its kind, the blobs or manifests it names, its
subject and artifact type, and the image size ECR reports (the sum of its layers)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPES = (DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX)
INDEXES = (DOCKER_LIST, OCI_INDEX)


class ManifestInvalid(ValueError):
    """The manifest is not JSON of a kind the registry serves."""


@dataclass(frozen=True)
class Manifest:
    media_type: str
    blobs: list[str] = field(default_factory=list)  # config and layers
    manifests: list[str] = field(default_factory=list)  # an index's children
    size: int = 0
    subject: str | None = None
    artifact_type: str | None = None


def parse_manifest(body: bytes, content_type: str | None) -> Manifest:
    """The manifest's kind comes from its `mediaType`, else from the Content-Type it came with
    (OCI makes `mediaType` optional)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ManifestInvalid("the manifest is not JSON") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("the manifest is not a JSON object")
    media_type = doc.get("mediaType") or (content_type or "").split(";")[0].strip()
    if not media_type and isinstance(doc.get("manifests"), list):
        media_type = OCI_INDEX
    elif not media_type and isinstance(doc.get("layers"), list):
        media_type = OCI_MANIFEST
    if media_type not in MEDIA_TYPES:
        raise ManifestInvalid(f"unsupported manifest media type {media_type!r}")
    try:
        subject = (doc.get("subject") or {}).get("digest")
        if media_type in INDEXES:
            children = [m["digest"] for m in doc.get("manifests") or []]
            return Manifest(media_type, manifests=children, subject=subject,
                            artifact_type=doc.get("artifactType"))
        config = doc["config"]
        layers = doc.get("layers") or []
        return Manifest(media_type, blobs=[config["digest"], *(la["digest"] for la in layers)],
                        size=sum(int(la.get("size", 0)) for la in layers), subject=subject,
                        artifact_type=doc.get("artifactType") or config.get("mediaType"))
    except (KeyError, TypeError, AttributeError, ValueError):
        raise ManifestInvalid("the manifest lacks a required field") from None
