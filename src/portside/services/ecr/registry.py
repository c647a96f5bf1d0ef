"""The OCI distribution API on `/v2/`, over the same repositories, images and blobs as the ECR
API. docker logs in with Basic auth (`AWS` and the password of GetAuthorizationToken); each
request then acts as the principal that password stands for, and IAM decides with the ECR
actions AWS names for registry calls (push: InitiateLayerUpload, UploadLayerPart,
CompleteLayerUpload, PutImage, BatchCheckLayerAvailability; pull: BatchGetImage,
GetDownloadUrlForLayer).
https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md
https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sqlalchemy import Row, select

from portside.auth.actions import Check
from portside.auth.identity import PrincipalType
from portside.context import RequestContext
from portside.gateway.authorize import authorize_check
from portside.ids import new_uuid
from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest, HttpResponse
from portside.services.ecr import manifests, names, tokens
from portside.services.ecr.api import (
    DigestMismatch,
    UploadUnknown,
    digest_of,
    part_keys,
    repository_arn,
)
from portside.services.ecr.model import image_tags, images, repositories, repository_blobs
from portside.services.s3.ranges import Unsatisfiable, parse_range

if TYPE_CHECKING:
    from portside.services.ecr.api import Ecr

MAX_MANIFEST = 4 * 1024 * 1024  # ECR's limit on a manifest's size


class RegistryError(Exception):
    """An error in the OCI format: `{"errors": [{"code", "message", "detail"}]}`."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> HttpResponse:
        body = json.dumps({"errors": [{"code": self.code, "message": self.message,
                                       "detail": {}}]}).encode()
        return HttpResponse(self.status, {"content-type": "application/json", **self.headers},
                            body)


def _unknown(code: str, what: str) -> RegistryError:
    return RegistryError(404, code, what)


class Registry:
    def __init__(self, ecr: Ecr) -> None:
        self.ecr = ecr
        self.runtime = ecr.runtime

    async def serve(self, request: HttpRequest, source_ip: str) -> HttpResponse:
        try:
            ctx = self._authenticate(request, source_ip)
            response = await self._dispatch(ctx, request)
        except RegistryError as exc:
            response = exc.response()
        response.headers.setdefault("docker-distribution-api-version", "registry/2.0")
        return response

    # -- authentication and authorization ----------------------------------------------------

    def _authenticate(self, request: HttpRequest, source_ip: str) -> RequestContext:
        host = request.headers.get("host", "")
        password = tokens.basic_password(request.headers.get("authorization", ""))
        found = self.ecr.principal_for_token(password) if password else None
        if found is None:
            challenge = f'Basic realm="http://{host}/",service="ecr.amazonaws.com"'
            raise RegistryError(401, "UNAUTHORIZED", "authentication required"
                                if password is None else "Your authorization token is invalid "
                                "or has expired.", {"www-authenticate": challenge})
        principal, access_key_id = found
        region = _region_of_host(host) or self.runtime.settings.default_region
        return RequestContext(account_id=principal.account_id, region=region,
                              principal=principal, access_key_id=access_key_id,
                              request_id=new_uuid(), source_ip=source_ip,
                              user_agent=request.headers.get("user-agent", ""), service="ecr",
                              host=host)

    def _authorize(self, ctx: RequestContext, action: str, resource: str) -> None:
        if not self.runtime.settings.iam_enforcement and \
                ctx.principal.type is not PrincipalType.ANONYMOUS:
            return
        try:
            authorize_check(self.runtime, ctx, self.ecr, Check(f"ecr:{action}", resource))
        except AwsError as exc:
            raise RegistryError(403, "DENIED", exc.message) from None

    def _repository(self, ctx: RequestContext, name: str, *actions: str) -> Row:
        """The repository, after IAM allowed every action on it (checked first, so a denied
        caller learns nothing of what exists)."""
        for action in actions:
            self._authorize(ctx, action, repository_arn(ctx.region, ctx.account_id, name))
        with self.runtime.store.begin() as conn:
            try:
                return self.ecr.find_repository(conn, ctx.account_id, ctx.region, name)
            except AwsError as exc:
                raise _unknown("NAME_UNKNOWN", exc.message) from None

    # -- routing -----------------------------------------------------------------------------

    async def _dispatch(self, ctx: RequestContext, request: HttpRequest) -> HttpResponse:
        path, method = request.path, request.method
        query = {k: v[-1] for k, v in parse_qs(request.query_string,
                                               keep_blank_values=True).items()}
        if path in ("/v2", "/v2/"):
            return _json(200, {})
        if path == "/v2/_catalog" and method == "GET":
            return self._catalog(ctx, query)
        target = names.parse_registry_path(path)
        if target is None:
            raise _unknown("NAME_INVALID", f"invalid repository name or path: {path}")
        handler = {
            ("manifests", "GET"): self._get_manifest, ("manifests", "HEAD"): self._get_manifest,
            ("manifests", "PUT"): self._put_manifest,
            ("manifests", "DELETE"): self._delete_manifest,
            ("blobs", "GET"): self._get_blob, ("blobs", "HEAD"): self._get_blob,
            ("blobs", "DELETE"): self._delete_blob,
            ("uploads", "POST"): self._start_upload, ("uploads", "PATCH"): self._patch_upload,
            ("uploads", "PUT"): self._finish_upload, ("uploads", "GET"): self._upload_status,
            ("uploads", "DELETE"): self._cancel_upload,
            ("tags", "GET"): self._tags, ("referrers", "GET"): self._referrers,
        }.get((target.kind, method))
        if handler is None:
            raise RegistryError(405, "UNSUPPORTED", f"{method} is not supported here")
        return await handler(ctx, request, target, query)

    # -- manifests ---------------------------------------------------------------------------

    async def _get_manifest(self, ctx: RequestContext, request: HttpRequest,
                            target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        repo = self._repository(ctx, target.name, "BatchGetImage")
        reference = _reference(target.rest)
        with self.runtime.store.begin() as conn:
            row = self.ecr.find_image(conn, repo, {"imageTag": reference.tag} if reference.tag
                                      else {"imageDigest": reference.digest or ""})
        if row is None:
            raise _unknown("MANIFEST_UNKNOWN", f"manifest {target.rest} is unknown")
        if not _acceptable(row.media_type, request.headers.get("accept", "")):
            raise _unknown("MANIFEST_UNKNOWN", f"the manifest is a {row.media_type}, which the "
                           "request does not accept")
        body = row.manifest.encode()
        headers = {"content-type": row.media_type, "docker-content-digest": row.digest,
                   "content-length": str(len(body)), "etag": f'"{row.digest}"'}
        return HttpResponse(200, headers, b"" if request.method == "HEAD" else body)

    async def _put_manifest(self, ctx: RequestContext, request: HttpRequest,
                            target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        repo = self._repository(ctx, target.name, "PutImage")
        reference = _reference(target.rest)
        body = await _read_limited(request, MAX_MANIFEST)
        try:
            with self.runtime.store.begin() as conn:
                digest, _ = self.ecr.store_manifest(conn, repo, body,
                                                    request.headers.get("content-type"),
                                                    reference.tag, reference.digest)
        except manifests.ManifestInvalid as exc:
            raise RegistryError(400, "MANIFEST_INVALID", str(exc)) from None
        except AwsError as exc:
            digest = self._manifest_refused(exc, body)
        headers = {"location": f"/v2/{repo.name}/manifests/{digest}",
                   "docker-content-digest": digest}
        subject = manifests.parse_manifest(body, request.headers.get("content-type")).subject
        if subject:
            headers["oci-subject"] = subject
        return HttpResponse(201, headers, b"")

    @staticmethod
    def _manifest_refused(exc: AwsError, body: bytes) -> str:
        """The registry's answer to a refused manifest; pushing the same manifest and tag again
        succeeds, as registries are idempotent (ECR's API alone calls it
        ImageAlreadyExistsException)."""
        codes = {"ImageAlreadyExistsException": None,
                 "ImageDigestDoesNotMatchException": (400, "DIGEST_INVALID"),
                 "LayersNotFoundException": (400, "MANIFEST_BLOB_UNKNOWN"),
                 "ReferencedImagesNotFoundException": (400, "MANIFEST_UNKNOWN"),
                 "ImageTagAlreadyExistsException": (400, "TAG_INVALID")}
        if exc.code not in codes:
            raise exc
        mapped = codes[exc.code]
        if mapped is None:
            return digest_of(body)
        raise RegistryError(mapped[0], mapped[1], exc.message)

    async def _delete_manifest(self, ctx: RequestContext, request: HttpRequest,
                               target: names.RegistryPath, query: dict[str, str]
                               ) -> HttpResponse:
        """By digest: the image and its tags go; by tag: only the tag (OCI's tag deletion)."""
        repo = self._repository(ctx, target.name, "BatchDeleteImage")
        reference = _reference(target.rest)
        image_id = ({"imageTag": reference.tag} if reference.tag
                    else {"imageDigest": reference.digest or ""})
        with self.runtime.store.begin() as conn:
            row = self.ecr.find_image(conn, repo, image_id)
            if row is None:
                raise _unknown("MANIFEST_UNKNOWN", f"manifest {target.rest} is unknown")
            if reference.tag:
                conn.execute(image_tags.delete().where(image_tags.c.repository_id == repo.id,
                                                       image_tags.c.tag == reference.tag))
            else:
                self.ecr.delete_image(conn, repo, row.digest)
        return HttpResponse(202, {}, b"")

    async def _referrers(self, ctx: RequestContext, request: HttpRequest,
                         target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        repo = self._repository(ctx, target.name, "BatchGetImage")
        if not names.valid_digest(target.rest):
            raise RegistryError(400, "DIGEST_INVALID", f"invalid digest {target.rest}")
        wanted = query.get("artifactType")
        with self.runtime.store.begin() as conn:
            rows = list(conn.execute(select(images).where(
                images.c.repository_id == repo.id, images.c.subject == target.rest)))
        descriptors = []
        for row in rows:
            if wanted and row.artifact_type != wanted:
                continue
            descriptor: dict[str, Any] = {"mediaType": row.media_type, "digest": row.digest,
                                          "size": len(row.manifest.encode())}
            if row.artifact_type:
                descriptor["artifactType"] = row.artifact_type
            annotations = json.loads(row.manifest).get("annotations")
            if annotations:
                descriptor["annotations"] = annotations
            descriptors.append(descriptor)
        headers = {"content-type": manifests.OCI_INDEX}
        if wanted:
            headers["oci-filters-applied"] = "artifactType"
        body = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX,
                           "manifests": descriptors}).encode()
        return HttpResponse(200, headers, body)

    # -- blobs -------------------------------------------------------------------------------

    async def _get_blob(self, ctx: RequestContext, request: HttpRequest,
                        target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        repo = self._repository(ctx, target.name, "GetDownloadUrlForLayer")
        with self.runtime.store.begin() as conn:
            # A HEAD is how a push asks whether to upload: it counts as a use (collect.py).
            row = (self.ecr.claim_blob if request.method == "HEAD" else self.ecr.blob_row)(
                conn, repo, target.rest)
        if row is None:
            raise _unknown("BLOB_UNKNOWN", f"blob {target.rest} is unknown to this repository")
        headers = {"content-type": "application/octet-stream", "accept-ranges": "bytes",
                   "docker-content-digest": row.digest, "etag": f'"{row.digest}"'}
        start, end, status = 0, row.size, 200
        if "range" in request.headers:
            try:
                selected = parse_range(request.headers["range"], row.size)
            except Unsatisfiable:
                raise RegistryError(416, "BLOB_UNKNOWN", "the range is not satisfiable",
                                    {"content-range": f"bytes */{row.size}"}) from None
            if selected is not None:
                start, end, status = selected.start, selected.end, 206
                headers["content-range"] = selected.content_range(row.size)
        headers["content-length"] = str(end - start)
        if request.method == "HEAD":
            return HttpResponse(status, headers, b"")
        body = self.ecr.blobs.get(repo.account_id, row.object_key, start, end) \
            if end > start else b""
        return HttpResponse(status, headers, body)

    async def _delete_blob(self, ctx: RequestContext, request: HttpRequest,
                           target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        repo = self._repository(ctx, target.name, "BatchDeleteImage")
        with self.runtime.store.begin() as conn:
            gone = conn.execute(repository_blobs.delete().where(
                repository_blobs.c.repository_id == repo.id,
                repository_blobs.c.digest == target.rest)).rowcount
        if not gone:
            raise _unknown("BLOB_UNKNOWN", f"blob {target.rest} is unknown to this repository")
        return HttpResponse(202, {}, b"")

    # -- uploads -----------------------------------------------------------------------------

    async def _start_upload(self, ctx: RequestContext, request: HttpRequest,
                            target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        repo = self._repository(ctx, target.name, "InitiateLayerUpload")
        if "mount" in query and self._mount(ctx, repo, query["mount"], query.get("from")):
            return _blob_created(repo.name, query["mount"])
        upload_id = self.ecr.start_upload(repo)
        if "digest" in query:  # monolithic: the whole blob in the POST
            self._authorize(ctx, "UploadLayerPart", repository_arn(ctx.region, ctx.account_id,
                                                                   repo.name))
            return await self._complete(ctx, request, repo, upload_id, query["digest"])
        return _upload_accepted(repo.name, upload_id, 0)

    def _mount(self, ctx: RequestContext, repo: Row, digest: str, source: str | None) -> bool:
        """Link a blob of another repository of the account; False (a new upload follows, as
        the spec says) when the source lacks it or the caller may not pull from it."""
        if source is None or not names.valid_repository_name(source):
            return False
        try:
            source_repo = self._repository(ctx, source, "GetDownloadUrlForLayer")
        except RegistryError:
            return False
        with self.runtime.store.begin() as conn:
            if self.ecr.claim_blob(conn, source_repo, digest) is None:
                return False
            self.ecr.link_blob(conn, repo, digest)
        return True

    def _upload(self, repo: Row, upload_id: str) -> Row:
        with self.runtime.store.begin() as conn:
            upload = self.ecr.find_upload(conn, repo, upload_id)
        if upload is None:
            raise _unknown("BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} is unknown")
        return upload

    async def _patch_upload(self, ctx: RequestContext, request: HttpRequest,
                            target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        repo = self._repository(ctx, target.name, "UploadLayerPart")
        upload = self._upload(repo, target.rest)
        if "content-range" in request.headers:
            chunk = names.parse_content_range(request.headers["content-range"])
            if chunk is None or chunk[0] != upload.size:
                raise RegistryError(416, "BLOB_UPLOAD_INVALID", "the chunk does not continue "
                                    f"the {upload.size} bytes uploaded so far",
                                    _range_headers(repo.name, upload.id, upload.size))
        size = await self.ecr.append_part(repo, upload, _stream(request))
        return _upload_accepted(repo.name, upload.id, size)

    async def _finish_upload(self, ctx: RequestContext, request: HttpRequest,
                             target: names.RegistryPath, query: dict[str, str]
                             ) -> HttpResponse:
        repo = self._repository(ctx, target.name, "CompleteLayerUpload")
        return await self._complete(ctx, request, repo, target.rest, query.get("digest", ""))

    async def _complete(self, ctx: RequestContext, request: HttpRequest, repo: Row,
                        upload_id: str, digest: str) -> HttpResponse:
        if not names.valid_digest(digest):
            raise RegistryError(400, "DIGEST_INVALID", f"invalid digest {digest!r}")
        upload = self._upload(repo, upload_id)
        if _has_body(request):
            await self.ecr.append_part(repo, upload, _stream(request))
        try:
            await self.ecr.finish_upload(repo, upload_id, digest)
        except DigestMismatch as exc:
            raise RegistryError(400, "DIGEST_INVALID", str(exc)) from None
        except UploadUnknown:
            raise _unknown("BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} is unknown") from None
        return _blob_created(repo.name, digest)

    async def _upload_status(self, ctx: RequestContext, request: HttpRequest,
                             target: names.RegistryPath, query: dict[str, str]
                             ) -> HttpResponse:
        repo = self._repository(ctx, target.name, "UploadLayerPart")
        upload = self._upload(repo, target.rest)
        return HttpResponse(204, _range_headers(repo.name, upload.id, upload.size), b"")

    async def _cancel_upload(self, ctx: RequestContext, request: HttpRequest,
                             target: names.RegistryPath, query: dict[str, str]
                             ) -> HttpResponse:
        repo = self._repository(ctx, target.name, "UploadLayerPart")
        upload = self._upload(repo, target.rest)
        await self.ecr.discard_upload(repo, upload.id, part_keys(upload))
        return HttpResponse(204, {}, b"")

    # -- listings ----------------------------------------------------------------------------

    async def _tags(self, ctx: RequestContext, request: HttpRequest,
                    target: names.RegistryPath, query: dict[str, str]) -> HttpResponse:
        if target.rest != "list":
            raise _unknown("NAME_UNKNOWN", "no such endpoint")
        repo = self._repository(ctx, target.name, "ListImages")
        with self.runtime.store.begin() as conn:
            tags = list(conn.execute(select(image_tags.c.tag).where(
                image_tags.c.repository_id == repo.id)).scalars())
        return _paged_json(f"/v2/{repo.name}/tags/list", {"name": repo.name}, "tags", tags,
                           query)

    def _catalog(self, ctx: RequestContext, query: dict[str, str]) -> HttpResponse:
        self._authorize(ctx, "DescribeRepositories", "*")
        with self.runtime.store.begin() as conn:
            found = list(conn.execute(select(repositories.c.name).where(
                repositories.c.account_id == ctx.account_id,
                repositories.c.region == ctx.region)).scalars())
        return _paged_json("/v2/_catalog", {}, "repositories", found, query)


def _region_of_host(host: str) -> str | None:
    """The region of an AWS-shaped registry host, `<account>.dkr.ecr.<region>.<domain>`."""
    parts = host.split(".")
    if len(parts) > 4 and parts[1:3] == ["dkr", "ecr"]:
        return parts[3]
    return None


def _reference(text: str) -> names.Reference:
    reference = names.parse_reference(text)
    if reference is None:
        raise RegistryError(400, "MANIFEST_INVALID" if ":" in text else "TAG_INVALID",
                            f"invalid reference {text!r}")
    return reference


def _acceptable(media_type: str, accept: str) -> bool:
    """Content negotiation: any manifest when the client names no manifest type (or */*);
    otherwise only one it names."""
    offered = {part.split(";")[0].strip() for part in accept.split(",") if part.strip()}
    named = offered & set(manifests.MEDIA_TYPES)
    return not named or "*/*" in offered or media_type in named


def _has_body(request: HttpRequest) -> bool:
    return request.headers.get("content-length", "0") not in ("", "0") or \
        "transfer-encoding" in request.headers


async def _stream(request: HttpRequest) -> AsyncIterator[bytes]:
    if request.stream is None:
        if request.body:
            yield request.body
        return
    async for chunk in request.stream:
        yield chunk


async def _read_limited(request: HttpRequest, limit: int) -> bytes:
    data = bytearray()
    async for chunk in _stream(request):
        data += chunk
        if len(data) > limit:
            raise RegistryError(413, "SIZE_INVALID", f"a manifest may have at most {limit} "
                                "bytes")
    return bytes(data)


def _upload_accepted(name: str, upload_id: str, size: int) -> HttpResponse:
    return HttpResponse(202, _range_headers(name, upload_id, size), b"")


def _range_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    """An upload's progress. No Content-Length: the 416 of a chunk that does not continue the
    upload sends these with an error body (the gateway counts every body)."""
    return {"location": f"/v2/{name}/blobs/uploads/{upload_id}",
            "range": f"0-{max(size - 1, 0)}", "docker-upload-uuid": upload_id}


def _blob_created(name: str, digest: str) -> HttpResponse:
    return HttpResponse(201, {"location": f"/v2/{name}/blobs/{digest}",
                              "docker-content-digest": digest}, b"")


def _paged_json(path: str, head: dict[str, Any], member: str, items: list[str],
                query: dict[str, str]) -> HttpResponse:
    n = int(query["n"]) if query.get("n", "").isdigit() else None
    chosen, more = names.page(items, n, query.get("last"))
    headers = {"content-type": "application/json"}
    if more and n is not None and chosen:
        headers["link"] = names.next_link(path, n, chosen[-1])
    return HttpResponse(200, headers, json.dumps({**head, member: chosen}).encode())


def _json(status: int, payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())
