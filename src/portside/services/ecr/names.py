"""The registry's grammar as pure functions: repository names, tags, digests, references,
Content-Range of chunked uploads, and the `n`/`last` pagination of tags and catalog.

Written without backtracking patterns: a repository name is split on `/` and each component
matched on its own, so no input takes more than linear time.
https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

_COMPONENT = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,299}")
_DIGEST = re.compile(r"(sha256):([a-f0-9]{64})|(sha512):([a-f0-9]{128})")
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d{1,19})-(\d{1,19})")

NAME_MIN, NAME_MAX = 2, 256


def valid_repository_name(name: str) -> bool:
    """ECR's rule: 2-256 characters, lowercase components separated by `/`, each made of
    alphanumerics joined by single `.`, `_` or `-`."""
    if not NAME_MIN <= len(name) <= NAME_MAX:
        return False
    return all(_COMPONENT.fullmatch(part) for part in name.split("/"))


def valid_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag) is not None


def valid_digest(digest: str) -> bool:
    return _DIGEST.fullmatch(digest) is not None


@dataclass(frozen=True)
class Reference:
    """What follows `/manifests/`: a tag or a digest."""

    tag: str | None = None
    digest: str | None = None


def parse_reference(text: str) -> Reference | None:
    """A digest when it has an algorithm, else a tag; None when it is neither."""
    if ":" in text:
        return Reference(digest=text) if valid_digest(text) else None
    return Reference(tag=text) if valid_tag(text) else None


@dataclass(frozen=True)
class RegistryPath:
    """A `/v2/<name>/<kind>/<rest>` path split up: kind is manifests, blobs, uploads, tags or
    referrers."""

    name: str
    kind: str
    rest: str


_KINDS = ("/manifests/", "/blobs/uploads/", "/blobs/", "/tags/", "/referrers/")


def parse_registry_path(path: str) -> RegistryPath | None:
    """Split a path under `/v2/`. Names may contain `/` but what follows a kind marker never
    does (a reference, a digest, an upload id, `list`), so the rightmost marker splits it."""
    if not path.startswith("/v2/"):
        return None
    inner = path[len("/v2/"):]
    if inner.endswith("/blobs/uploads"):
        inner += "/"
    found = max(((inner.rfind(marker), len(marker), marker) for marker in _KINDS),
                default=(-1, 0, ""))
    at, _, marker = found
    if at <= 0:
        return None
    name, rest = inner[:at], inner[at + len(marker):]
    if not valid_repository_name(name) or "/" in rest.removeprefix("list"):
        return None
    kind = "uploads" if marker == "/blobs/uploads/" else marker.strip("/")
    return RegistryPath(name, kind, rest)


def parse_content_range(header: str) -> tuple[int, int] | None:
    """`<start>-<end>` (inclusive) of a chunk, as OCI clients send it; None when malformed."""
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    start, end = int(match[1]), int(match[2])
    return (start, end) if start <= end else None


def page(items: list[str], n: int | None, last: str | None) -> tuple[list[str], bool]:
    """The sorted items after `last`, at most `n` of them, and whether more follow."""
    ordered = sorted(items)
    if last is not None:
        ordered = [item for item in ordered if item > last]
    if n is None:
        return ordered, False
    return ordered[:n], len(ordered) > n


def next_link(path: str, n: int, last: str) -> str:
    """The `Link` header of a page that has a successor (RFC 5988, as the spec shows it)."""
    return f'<{path}?n={n}&last={quote(last, safe="")}>; rel="next"'
