"""Amazon ECR: repositories, images, layer uploads, authorization tokens, repository and
lifecycle policies, and tags. The OCI distribution API (registry.py) serves the same data on
`/v2/`; collect.py removes blobs no image names.

Not implemented, and answered NotImplemented: image scanning, replication, pull-through cache.
https://docs.aws.amazon.com/AmazonECR/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from portside.auth.actions import Action
from portside.auth.identity import Principal
from portside.auth.policy import PolicyKind, parse_policy
from portside.context import RequestContext
from portside.ids import new_uuid
from portside.protocol.errors import AwsError, error
from portside.services import tag_lists
from portside.services.base import ResourcePolicy, Service
from portside.services.ecr import blobs as blob_backends
from portside.services.ecr import collect, errors, lifecycle, manifests, names, tokens
from portside.services.ecr.model import (
    blobs,
    image_tags,
    images,
    lifecycle_previews,
    repositories,
    repository_blobs,
    uploads,
)

_REPO_ARN = "arn:{partition}:ecr:{region}:{account}:repository/{repositoryName}"
_REPOSITORY_OPERATIONS = (
    "CreateRepository", "DeleteRepository", "BatchGetImage", "PutImage", "DescribeImages",
    "ListImages", "BatchDeleteImage", "BatchCheckLayerAvailability", "InitiateLayerUpload",
    "UploadLayerPart", "CompleteLayerUpload", "GetDownloadUrlForLayer", "SetRepositoryPolicy",
    "GetRepositoryPolicy", "DeleteRepositoryPolicy", "PutImageTagMutability",
    "PutLifecyclePolicy", "GetLifecyclePolicy", "DeleteLifecyclePolicy",
    "StartLifecyclePolicyPreview", "GetLifecyclePolicyPreview",
)
MUTABLE, IMMUTABLE = "MUTABLE", "IMMUTABLE"
# AWS expires images within 24 hours of them becoming eligible; portside looks hourly.
LIFECYCLE_INTERVAL = 3600.0

log = logging.getLogger("portside.ecr")


def repository_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:ecr:{region}:{account_id}:repository/{name}"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Ecr(Service):
    name = "ecr"
    streams_requests = False
    actions = {op: Action(f"ecr:{op}", _REPO_ARN) for op in _REPOSITORY_OPERATIONS} | {
        "TagResource": Action("ecr:TagResource", "{resourceArn}"),
        "UntagResource": Action("ecr:UntagResource", "{resourceArn}"),
        "ListTagsForResource": Action("ecr:ListTagsForResource", "{resourceArn}"),
    }

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        settings = runtime.settings
        self.blobs: blob_backends.BlobBackend = (
            blob_backends.ExternalS3Blobs(settings.ecr_s3_endpoint, settings.ecr_s3_bucket_prefix)
            if settings.ecr_s3_endpoint else blob_backends.S3Blobs(runtime))
        self.token_key = tokens.load_key(settings.data_dir)
        from portside.services.ecr.registry import Registry  # it builds on this module

        self.registry = Registry(self)

    def reset(self) -> None:
        self.blobs.reset()

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._collect_forever(), self._apply_lifecycle_forever()]

    async def _apply_lifecycle_forever(self) -> None:
        while True:
            await asyncio.sleep(LIFECYCLE_INTERVAL)
            try:
                self.apply_lifecycle_policies(time.time())
            except Exception:  # the next round tries again; a loop that dies expires nothing
                log.exception("applying ECR lifecycle policies failed")

    async def _collect_forever(self) -> None:
        """Garbage collection on portside's own schedule (`ecr_gc_interval`); see collect.py."""
        while True:
            await asyncio.sleep(self.runtime.settings.ecr_gc_interval)
            try:
                found = await collect.collect(self, time.time())
            except Exception:  # the next round tries again; a loop that dies collects nothing
                log.exception("collecting unreferenced ECR blobs failed")
                continue
            if found.uploads or found.blobs or found.orphans:
                log.info("ECR garbage collection removed %d abandoned uploads, %d blobs no "
                         "image names and %d orphaned objects", found.uploads, found.blobs,
                         found.orphans)

    async def expire_uploads(self, started_before: float) -> int:
        """Remove uploads begun before `started_before` and never completed, with their parts:
        an interrupted push may resume within the grace period (`ecr_gc_grace`), then its
        bytes are reclaimed."""
        with self.runtime.store.begin() as conn:
            stale = list(conn.execute(
                select(uploads, repositories.c.account_id).join(
                    repositories, repositories.c.id == uploads.c.repository_id).where(
                    uploads.c.started_at < started_before)))
        for row in stale:
            await self.discard_upload(row, row.id, part_keys(row))
        return len(stale)

    # -- addressing --------------------------------------------------------------------------

    def registry_host(self, account_id: str, region: str) -> str:
        """The host (and port) of repository URIs; see docs/ecr.md for how account and region
        map onto it."""
        settings = self.runtime.settings
        port = "" if settings.port == 443 else f":{settings.port}"
        if settings.ecr_registry_domain:
            return f"{account_id}.dkr.ecr.{region}.{settings.ecr_registry_domain}{port}"
        return f"localhost{port}"

    def repository_uri(self, account_id: str, region: str, name: str) -> str:
        return f"{self.registry_host(account_id, region)}/{name}"

    # -- repositories ------------------------------------------------------------------------

    def find_repository(self, conn: Connection, account_id: str, region: str,
                        name: str) -> Row:
        row = conn.execute(select(repositories).where(
            repositories.c.account_id == account_id, repositories.c.region == region,
            repositories.c.name == name)).first()
        if row is None:
            raise errors.repository_not_found(name, account_id)
        return row

    def _repository(self, conn: Connection, ctx: RequestContext, params: dict[str, Any]) -> Row:
        _check_registry_id(ctx, params)
        return self.find_repository(conn, ctx.account_id, ctx.region, params["repositoryName"])

    def _lookup(self, ctx: RequestContext, params: dict[str, Any]) -> Row:
        """The request's repository, read in a transaction of its own."""
        with self.runtime.store.begin() as conn:
            return self._repository(conn, ctx, params)

    def _update_repository(self, ctx: RequestContext, params: dict[str, Any],
                           **values: Any) -> Row:
        """Set columns of the request's repository; returns the row as it was."""
        with self.runtime.store.begin() as conn:
            row = self._repository(conn, ctx, params)
            conn.execute(update(repositories).where(repositories.c.id == row.id).values(
                **values))
        return row

    def _repository_with(self, ctx: RequestContext, params: dict[str, Any], column: str,
                         missing: Callable[[Row], AwsError], *, clear: bool = False) -> Row:
        """The request's repository, which must have `column` (a policy) set, else
        `missing(row)` is raised; with `clear`, the column is unset in the same transaction."""
        with self.runtime.store.begin() as conn:
            row = self._repository(conn, ctx, params)
            if not getattr(row, column):
                raise missing(row)
            if clear:
                conn.execute(update(repositories).where(repositories.c.id == row.id).values(
                    {column: None}))
        return row

    def _repository_out(self, row: Row) -> dict[str, Any]:
        return {
            "repositoryArn": repository_arn(row.region, row.account_id, row.name),
            "registryId": row.account_id,
            "repositoryName": row.name,
            "repositoryUri": self.repository_uri(row.account_id, row.region, row.name),
            "createdAt": datetime.fromtimestamp(row.created_at, UTC),
            "imageTagMutability": row.tag_mutability,
            "imageScanningConfiguration": {"scanOnPush": bool(row.scan_on_push)},
            "encryptionConfiguration": json.loads(row.encryption),
        }

    def create_repository(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _check_registry_id(ctx, params)
        name = params["repositoryName"]
        if not names.valid_repository_name(name):
            raise errors.invalid_name(name)
        mutability = params.get("imageTagMutability", MUTABLE)
        if mutability not in (MUTABLE, IMMUTABLE):
            raise errors.invalid_parameter(
                f"portside supports imageTagMutability MUTABLE and IMMUTABLE, not {mutability}.")
        tags = tag_lists.merged([], params.get("tags") or [])
        tag_lists.check(tags, errors.invalid_parameter, _too_many_tags)
        encryption = params.get("encryptionConfiguration") or {"encryptionType": "AES256"}
        with self.runtime.store.begin() as conn:
            if conn.execute(select(repositories.c.id).where(
                    repositories.c.account_id == ctx.account_id,
                    repositories.c.region == ctx.region,
                    repositories.c.name == name)).first():
                raise error("RepositoryAlreadyExistsException",
                            f"The repository with name '{name}' already exists in the registry "
                            f"with id '{ctx.account_id}'")
            conn.execute(insert(repositories).values(
                account_id=ctx.account_id, region=ctx.region, name=name,
                tag_mutability=mutability,
                scan_on_push=int(bool((params.get("imageScanningConfiguration") or {}).get(
                    "scanOnPush"))),
                encryption=json.dumps(encryption), tags=json.dumps(tags),
                created_at=time.time()))
            row = self.find_repository(conn, ctx.account_id, ctx.region, name)
        return {"repository": self._repository_out(row)}

    def describe_repositories(self, ctx: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        _check_registry_id(ctx, params)
        wanted = params.get("repositoryNames")
        with self.runtime.store.begin() as conn:
            if wanted:
                rows = [self.find_repository(conn, ctx.account_id, ctx.region, n)
                        for n in wanted]
            else:
                rows = list(conn.execute(select(repositories).where(
                    repositories.c.account_id == ctx.account_id,
                    repositories.c.region == ctx.region).order_by(repositories.c.name)))
        start = int(params["nextToken"]) if params.get("nextToken", "").isdigit() else 0
        limit = params.get("maxResults") or 1000
        chosen = rows[start:start + limit]
        result: dict[str, Any] = {"repositories": [self._repository_out(r) for r in chosen]}
        if start + limit < len(rows) and not wanted:
            result["nextToken"] = str(start + limit)
        return result

    def delete_repository(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            row = self._repository(conn, ctx, params)
            count = conn.execute(select(images.c.digest).where(
                images.c.repository_id == row.id)).all()
            if count and not params.get("force"):
                raise error("RepositoryNotEmptyException",
                            f"The repository with name '{row.name}' in registry with id "
                            f"'{row.account_id}' cannot be deleted because it still contains "
                            "images")
            out = self._repository_out(row)
            conn.execute(delete(repositories).where(repositories.c.id == row.id))
            for table in (images, image_tags, repository_blobs, uploads, lifecycle_previews):
                conn.execute(delete(table).where(table.c.repository_id == row.id))
        return {"repository": out}

    def put_image_tag_mutability(self, ctx: RequestContext,
                                 params: dict[str, Any]) -> dict[str, Any]:
        mutability = params["imageTagMutability"]
        if mutability not in (MUTABLE, IMMUTABLE):
            raise errors.invalid_parameter(
                f"portside supports imageTagMutability MUTABLE and IMMUTABLE, not {mutability}.")
        row = self._update_repository(ctx, params, tag_mutability=mutability)
        return {"registryId": row.account_id, "repositoryName": row.name,
                "imageTagMutability": mutability}

    # -- authorization -----------------------------------------------------------------------

    def get_authorization_token(self, ctx: RequestContext,
                                params: dict[str, Any]) -> dict[str, Any]:
        if ctx.access_key_id is None:
            raise errors.invalid_parameter("An authorization token needs signed credentials.")
        expires = time.time() + tokens.TOKEN_LIFETIME
        password = tokens.issue(self.token_key, ctx.access_key_id, expires)
        token = base64.b64encode(f"AWS:{password}".encode()).decode()
        return {"authorizationData": [{
            "authorizationToken": token,
            "expiresAt": datetime.fromtimestamp(expires, UTC),
            "proxyEndpoint": f"http://{self.registry_host(ctx.account_id, ctx.region)}",
        }]}

    def principal_for_token(self, password: str) -> tuple[Principal, str] | None:
        """The principal and access key a registry password stands for, while it is valid and
        its access key still exists."""
        claims = tokens.verify(self.token_key, password, time.time())
        if claims is None:
            return None
        key = self.runtime.keyring.lookup(claims.access_key_id)
        if key is None:
            return None
        return key.principal, key.access_key_id

    # -- repository policies and tags --------------------------------------------------------

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        prefix, _, name = resource_arn.partition(":repository/")
        parts = prefix.split(":")
        if not name or len(parts) != 5:
            return None
        with self.runtime.store.begin() as conn:
            row = conn.execute(select(repositories.c.policy, repositories.c.account_id).where(
                repositories.c.account_id == parts[4], repositories.c.region == parts[3],
                repositories.c.name == name)).first()
        if row is None or not row.policy:
            return None
        return ResourcePolicy(_scoped_policy(row.policy, resource_arn), row.account_id)

    def set_repository_policy(self, ctx: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        text = params["policyText"]
        with self.runtime.store.begin() as conn:
            row = self._repository(conn, ctx, params)
            arn = repository_arn(row.region, row.account_id, row.name)
            try:
                parse_policy(_scoped_policy(text, arn), PolicyKind.RESOURCE)
            except ValueError as exc:  # MalformedPolicy, or text that is not JSON
                raise errors.invalid_parameter(f"Invalid parameter at 'PolicyText' failed to "
                                               f"satisfy constraint: '{exc}'") from None
            conn.execute(update(repositories).where(repositories.c.id == row.id).values(
                policy=text))
        return {"registryId": row.account_id, "repositoryName": row.name, "policyText": text}

    def get_repository_policy(self, ctx: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        return _policy_out(self._repository_with(ctx, params, "policy", _no_repository_policy))

    def delete_repository_policy(self, ctx: RequestContext,
                                 params: dict[str, Any]) -> dict[str, Any]:
        return _policy_out(self._repository_with(ctx, params, "policy", _no_repository_policy,
                                                 clear=True))

    def _repository_by_arn(self, conn: Connection, ctx: RequestContext, arn: str) -> Row:
        prefix, _, name = arn.partition(":repository/")
        if prefix != f"arn:aws:ecr:{ctx.region}:{ctx.account_id}" or not name:
            raise errors.invalid_parameter(f"Invalid parameter at 'resourceArn': {arn}")
        return self.find_repository(conn, ctx.account_id, ctx.region, name)

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            row = self._repository_by_arn(conn, ctx, params["resourceArn"])
            merged = tag_lists.merged(json.loads(row.tags), params["tags"])
            tag_lists.check(merged, errors.invalid_parameter, _too_many_tags)
            conn.execute(update(repositories).where(repositories.c.id == row.id).values(
                tags=json.dumps(merged)))
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            row = self._repository_by_arn(conn, ctx, params["resourceArn"])
            kept = tag_lists.without(json.loads(row.tags), params["tagKeys"])
            conn.execute(update(repositories).where(repositories.c.id == row.id).values(
                tags=json.dumps(kept)))
        return {}

    def list_tags_for_resource(self, ctx: RequestContext,
                               params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            row = self._repository_by_arn(conn, ctx, params["resourceArn"])
        return {"tags": json.loads(row.tags)}

    def describe_registry(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"registryId": ctx.account_id, "replicationConfiguration": {"rules": []}}

    # -- lifecycle policies ------------------------------------------------------------------

    def put_lifecycle_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["lifecyclePolicyText"]
        _checked_lifecycle(text)
        row = self._update_repository(ctx, params, lifecycle_policy=text)
        return {"registryId": row.account_id, "repositoryName": row.name,
                "lifecyclePolicyText": text}

    def get_lifecycle_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return _lifecycle_policy_out(self._repository_with(ctx, params, "lifecycle_policy",
                                                           _no_lifecycle_policy))

    def delete_lifecycle_policy(self, ctx: RequestContext,
                                params: dict[str, Any]) -> dict[str, Any]:
        return _lifecycle_policy_out(self._repository_with(ctx, params, "lifecycle_policy",
                                                           _no_lifecycle_policy, clear=True))

    def start_lifecycle_policy_preview(self, ctx: RequestContext,
                                       params: dict[str, Any]) -> dict[str, Any]:
        """The preview evaluates the given policy (or the repository's) when it is read; it is
        always complete, and agrees with expiry because both call the same engine."""
        with self.runtime.store.begin() as conn:
            row = self._repository(conn, ctx, params)
            text = params.get("lifecyclePolicyText") or row.lifecycle_policy
            if not text:
                raise _no_lifecycle_policy(row)
            _checked_lifecycle(text)
            conn.execute(delete(lifecycle_previews).where(
                lifecycle_previews.c.repository_id == row.id))
            conn.execute(insert(lifecycle_previews).values(repository_id=row.id, policy=text))
        return {"registryId": row.account_id, "repositoryName": row.name,
                "lifecyclePolicyText": text, "status": "IN_PROGRESS"}

    def get_lifecycle_policy_preview(self, ctx: RequestContext,
                                     params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            row = self._repository(conn, ctx, params)
            text = conn.execute(select(lifecycle_previews.c.policy).where(
                lifecycle_previews.c.repository_id == row.id)).scalar()
            if text is None:
                raise error("LifecyclePolicyPreviewNotFoundException",
                            "There is no dry run for the repository with name "
                            f"'{row.name}' in the registry with id '{row.account_id}'")
            found = self._lifecycle_images(conn, row)
        doomed = lifecycle.expiring(lifecycle.parse_policy(text), found, time.time())
        results = [{"imageDigest": i.digest, "imageTags": list(i.tags),
                    "imagePushedAt": datetime.fromtimestamp(i.pushed_at, UTC),
                    "action": {"type": "EXPIRE"}, "appliedRulePriority": doomed[i.digest]}
                   for i in found if i.digest in doomed]
        return {"registryId": row.account_id, "repositoryName": row.name,
                "lifecyclePolicyText": text, "status": "COMPLETE", "previewResults": results,
                "summary": {"expiringImageTotalCount": len(results)}}

    def _lifecycle_images(self, conn: Connection, repo: Row) -> list[lifecycle.Image]:
        return [lifecycle.Image(r.digest, tuple(self.tags_of(conn, repo, r.digest)), r.pushed_at)
                for r in conn.execute(select(images.c.digest, images.c.pushed_at).where(
                    images.c.repository_id == repo.id))]

    def apply_lifecycle_policies(self, now: float) -> int:
        """Expire, in every repository with a lifecycle policy, what its rules expire now."""
        expired = 0
        with self.runtime.store.begin() as conn:
            for repo in list(conn.execute(select(repositories).where(
                    repositories.c.lifecycle_policy.is_not(None)))):
                rules = lifecycle.parse_policy(repo.lifecycle_policy)
                for digest in lifecycle.expiring(rules, self._lifecycle_images(conn, repo), now):
                    self.delete_image(conn, repo, digest)
                    expired += 1
        return expired

    # -- images ------------------------------------------------------------------------------

    def store_manifest(self, conn: Connection, repo: Row, body: bytes, content_type: str | None,
                       tag: str | None, digest: str | None = None) -> tuple[str, Row | None]:
        """Store a pushed manifest (and move `tag` to it); returns its digest and the image row
        that was there before. Every blob or child it names must be in the repository."""
        actual = digest_of(body)
        if digest is not None and digest != actual:
            raise error("ImageDigestDoesNotMatchException", f"Provided digest {digest} does not "
                        f"match the digest of the manifest, {actual}.")
        parsed = manifests.parse_manifest(body, content_type)
        collect.touch(conn, repo.account_id, parsed.blobs, time.time())
        missing = [d for d in parsed.blobs if not self.blob_in_repository(conn, repo.id, d)]
        if missing:
            raise error("LayersNotFoundException",
                        f"Layers with digests {missing} required for pushing image into "
                        f"repository with name '{repo.name}' in the registry with id "
                        f"'{repo.account_id}' do not exist")
        for child in parsed.manifests:
            if conn.execute(select(images.c.digest).where(images.c.repository_id == repo.id,
                                                         images.c.digest == child)).first() \
                    is None:
                raise error("ReferencedImagesNotFoundException",
                            f"Manifest references image {child} that does not exist in "
                            f"repository '{repo.name}'")
        existing = conn.execute(select(images).where(images.c.repository_id == repo.id,
                                                     images.c.digest == actual)).first()
        if tag is not None:
            current = conn.execute(select(image_tags.c.digest).where(
                image_tags.c.repository_id == repo.id, image_tags.c.tag == tag)).scalar()
            if current == actual and existing is not None:
                raise error("ImageAlreadyExistsException",
                            f"Image with digest '{actual}' and tag '{tag}' already exists in "
                            f"the repository with name '{repo.name}' in registry with id "
                            f"'{repo.account_id}'")
            if current is not None and repo.tag_mutability == IMMUTABLE:
                raise error("ImageTagAlreadyExistsException",
                            f"The image tag '{tag}' already exists in the '{repo.name}' "
                            "repository and cannot be overwritten because the repository is "
                            "immutable.")
        if existing is None:
            conn.execute(insert(images).values(
                repository_id=repo.id, digest=actual, manifest=body.decode(),
                media_type=parsed.media_type, artifact_type=parsed.artifact_type,
                subject=parsed.subject, size=self._image_size(conn, repo, parsed),
                pushed_at=time.time()))
        if tag is not None:
            conn.execute(delete(image_tags).where(image_tags.c.repository_id == repo.id,
                                                  image_tags.c.tag == tag))
            conn.execute(insert(image_tags).values(repository_id=repo.id, tag=tag,
                                                   digest=actual))
        return actual, existing

    def _image_size(self, conn: Connection, repo: Row, parsed: manifests.Manifest) -> int:
        if not parsed.manifests:
            return parsed.size
        return sum(conn.execute(select(images.c.size).where(
            images.c.repository_id == repo.id, images.c.digest.in_(parsed.manifests))).scalars())

    def blob_in_repository(self, conn: Connection, repository_id: int, digest: str) -> bool:
        return conn.execute(select(repository_blobs.c.digest).where(
            repository_blobs.c.repository_id == repository_id,
            repository_blobs.c.digest == digest)).first() is not None

    def find_image(self, conn: Connection, repo: Row, image_id: dict[str, str]) -> Row | None:
        digest = image_id.get("imageDigest")
        tag = image_id.get("imageTag")
        if tag is not None:
            tagged = conn.execute(select(image_tags.c.digest).where(
                image_tags.c.repository_id == repo.id, image_tags.c.tag == tag)).scalar()
            if tagged is None or (digest is not None and digest != tagged):
                return None
            digest = tagged
        if digest is None:
            return None
        return conn.execute(select(images).where(images.c.repository_id == repo.id,
                                                 images.c.digest == digest)).first()

    def _images_found(self, conn: Connection, repo: Row, image_ids: list[dict[str, str]],
                      failures: list[dict[str, Any]]) -> Iterator[tuple[dict[str, str], Row]]:
        """Each image id with its image; an id of no image is an ImageNotFound failure."""
        for image_id in image_ids:
            row = self.find_image(conn, repo, image_id)
            if row is None:
                failures.append(_failure(image_id, "ImageNotFound", "Requested image not found"))
            else:
                yield image_id, row

    def tags_of(self, conn: Connection, repo: Row, digest: str) -> list[str]:
        return sorted(conn.execute(select(image_tags.c.tag).where(
            image_tags.c.repository_id == repo.id, image_tags.c.digest == digest)).scalars())

    def put_image(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tag = params.get("imageTag")
        if tag is not None and not names.valid_tag(tag):
            raise errors.invalid_parameter(f"Invalid parameter at 'imageTag': {tag}")
        body = params["imageManifest"].encode()
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            try:
                digest, _ = self.store_manifest(conn, repo, body,
                                                params.get("imageManifestMediaType"), tag,
                                                params.get("imageDigest"))
            except manifests.ManifestInvalid as exc:
                raise error("InvalidParameterException", f"Invalid parameter at "
                            f"'imageManifest': {exc}") from None
            row = self.find_image(conn, repo, {"imageDigest": digest})
        assert row is not None
        image_id = {"imageDigest": digest, **({"imageTag": tag} if tag else {})}
        return {"image": {"registryId": repo.account_id, "repositoryName": repo.name,
                          "imageId": image_id, "imageManifest": row.manifest,
                          "imageManifestMediaType": row.media_type}}

    def batch_get_image(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        accepted = params.get("acceptedMediaTypes")
        found, failures = [], []
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            for image_id, row in self._images_found(conn, repo, params["imageIds"], failures):
                if accepted and row.media_type not in accepted:
                    failures.append(_failure(image_id, "UnsupportedImageType",
                                             "The image's media type is not accepted"))
                else:
                    found.append({"registryId": repo.account_id, "repositoryName": repo.name,
                                  "imageId": {"imageDigest": row.digest, **(
                                      {"imageTag": image_id["imageTag"]}
                                      if "imageTag" in image_id else {})},
                                  "imageManifest": row.manifest,
                                  "imageManifestMediaType": row.media_type})
        return {"images": found, "failures": failures}

    def describe_images(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = (params.get("filter") or {}).get("tagStatus", "ANY")
        details = []
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            if params.get("imageIds"):
                rows = []
                for image_id in params["imageIds"]:
                    row = self.find_image(conn, repo, image_id)
                    if row is None:
                        raise error("ImageNotFoundException",
                                    f"The image with imageId {_describe_id(image_id)} does not "
                                    f"exist within the repository with name '{repo.name}' in "
                                    f"the registry with id '{repo.account_id}'")
                    rows.append(row)
            else:
                rows = list(conn.execute(select(images).where(
                    images.c.repository_id == repo.id).order_by(images.c.pushed_at)))
            for row in rows:
                tags = self.tags_of(conn, repo, row.digest)
                if (status == "TAGGED" and not tags) or (status == "UNTAGGED" and tags):
                    continue
                detail = {"registryId": repo.account_id, "repositoryName": repo.name,
                          "imageDigest": row.digest, "imageSizeInBytes": row.size,
                          "imagePushedAt": datetime.fromtimestamp(row.pushed_at, UTC),
                          "imageManifestMediaType": row.media_type}
                if tags:
                    detail["imageTags"] = tags
                if row.artifact_type:
                    detail["artifactMediaType"] = row.artifact_type
                details.append(detail)
        return _paged(params, "imageDetails", details)

    def list_images(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = (params.get("filter") or {}).get("tagStatus", "ANY")
        ids = []
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            for row in conn.execute(select(images.c.digest).where(
                    images.c.repository_id == repo.id).order_by(images.c.pushed_at)):
                tags = self.tags_of(conn, repo, row.digest)
                if status != "UNTAGGED":
                    ids += [{"imageDigest": row.digest, "imageTag": t} for t in tags]
                if status != "TAGGED" and not tags:
                    ids.append({"imageDigest": row.digest})
        return _paged(params, "imageIds", ids)

    def batch_delete_image(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """By tag: only the tag goes, and the image with its last tag. By digest: the image and
        all its tags."""
        deleted, failures = [], []
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            for image_id, row in self._images_found(conn, repo, params["imageIds"], failures):
                tag = image_id.get("imageTag")
                if tag is not None:
                    conn.execute(delete(image_tags).where(image_tags.c.repository_id == repo.id,
                                                          image_tags.c.tag == tag))
                    deleted.append({"imageDigest": row.digest, "imageTag": tag})
                    if self.tags_of(conn, repo, row.digest):
                        continue
                else:
                    deleted += [{"imageDigest": row.digest, "imageTag": t}
                                for t in self.tags_of(conn, repo, row.digest)] or [
                        {"imageDigest": row.digest}]
                self.delete_image(conn, repo, row.digest)
        return {"imageIds": deleted, "failures": failures}

    def delete_image(self, conn: Connection, repo: Row, digest: str) -> None:
        conn.execute(delete(image_tags).where(image_tags.c.repository_id == repo.id,
                                              image_tags.c.digest == digest))
        conn.execute(delete(images).where(images.c.repository_id == repo.id,
                                          images.c.digest == digest))

    # -- layers ------------------------------------------------------------------------------

    def blob_row(self, conn: Connection, repo: Row, digest: str) -> Row | None:
        """The stored blob, when the repository holds it."""
        if not self.blob_in_repository(conn, repo.id, digest):
            return None
        return conn.execute(select(blobs).where(blobs.c.account_id == repo.account_id,
                                                blobs.c.digest == digest)).first()

    def claim_blob(self, conn: Connection, repo: Row, digest: str) -> Row | None:
        """The stored blob, for a push that may go on to name it (a HEAD before uploading, a
        mount, BatchCheckLayerAvailability): its use is recorded first, so the collector
        keeps it for the grace period or has already removed it (collect.py)."""
        collect.touch(conn, repo.account_id, [digest], time.time())
        return self.blob_row(conn, repo, digest)

    def batch_check_layer_availability(self, ctx: RequestContext,
                                       params: dict[str, Any]) -> dict[str, Any]:
        layers, failures = [], []
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            for digest in params["layerDigests"]:
                row = self.claim_blob(conn, repo, digest)
                if row is None:
                    failures.append({"layerDigest": digest, "failureCode": "MissingLayerDigest",
                                     "failureReason": "Could not find layer"})
                else:
                    layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE",
                                   "layerSize": row.size})
        return {"layers": layers, "failures": failures}

    def start_upload(self, repo: Row) -> str:
        upload_id = new_uuid()
        with self.runtime.store.begin() as conn:
            conn.execute(insert(uploads).values(id=upload_id, repository_id=repo.id, parts="[]",
                                                size=0, started_at=time.time()))
        return upload_id

    def find_upload(self, conn: Connection, repo: Row, upload_id: str) -> Row | None:
        return conn.execute(select(uploads).where(uploads.c.id == upload_id,
                                                  uploads.c.repository_id == repo.id)).first()

    async def append_part(self, repo: Row, upload: Row, body: Any) -> int:
        """Stream a chunk into a new object of the upload; returns the upload's new size. The
        part is recorded with its size and SHA-256 (computed as it was stored), so an upload
        resumes after a restart with nothing kept in memory."""
        parts = json.loads(upload.parts)
        key = f"blobs/{upload.id}/{len(parts)}"
        stored = await self.blobs.put(repo.account_id, key, body)
        parts.append([key, stored.size, stored.sha256])
        size = upload.size + stored.size
        with self.runtime.store.begin() as conn:
            conn.execute(update(uploads).where(uploads.c.id == upload.id).values(
                parts=json.dumps(parts), size=size))
        return size

    async def finish_upload(self, repo: Row, upload_id: str, digest: str) -> int:
        """Verify the upload's digest and make it the repository's blob; a mismatch stores
        nothing and raises DigestMismatch. One part is the blob as it is (its hash was taken
        as it was stored); several are concatenated into one object, hashed on the way."""
        with self.runtime.store.begin() as conn:
            upload = self.find_upload(conn, repo, upload_id)
        if upload is None:
            raise UploadUnknown(upload_id)
        keys = part_keys(upload)
        if len(keys) == 1:
            object_key, sha256 = keys[0], json.loads(upload.parts)[0][2:3]
            actual = sha256[0] if sha256 and sha256[0] else await self._sha256(repo, keys[0])
        else:
            object_key = f"blobs/{upload_id}"
            stored = await self.blobs.put(repo.account_id, object_key,
                                          self._concatenated(repo, keys))
            actual = stored.sha256
            keys.append(object_key)  # removed on a mismatch, kept otherwise
        if f"sha256:{actual}" != digest:
            await self.discard_upload(repo, upload_id, keys)
            raise DigestMismatch(digest, f"sha256:{actual}")
        for key in keys:
            if key != object_key:
                await self.blobs.delete(repo.account_id, key)
        return await self.adopt_blob(repo, upload_id, digest, object_key, upload.size)

    async def _sha256(self, repo: Row, key: str) -> str:
        """The hash of a part stored before parts carried theirs."""
        hasher = hashlib.sha256()
        async for chunk in self.blobs.get(repo.account_id, key):
            hasher.update(chunk)
        return hasher.hexdigest()

    async def _concatenated(self, repo: Row, keys: list[str]) -> Any:
        for key in keys:
            async for chunk in self.blobs.get(repo.account_id, key):
                yield chunk

    async def discard_upload(self, repo: Row, upload_id: str, keys: list[str]) -> None:
        with self.runtime.store.begin() as conn:
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
        for key in keys:
            await self.blobs.delete(repo.account_id, key)

    async def adopt_blob(self, repo: Row, upload_id: str, digest: str, object_key: str,
                         size: int) -> int:
        """Record a verified blob; when the account already has this digest (a concurrent or
        earlier push), the new copy is removed and the first one serves."""
        with self.runtime.store.begin() as conn:
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
            kept = conn.execute(select(blobs).where(blobs.c.account_id == repo.account_id,
                                                    blobs.c.digest == digest)).first()
            if kept is None:
                conn.execute(insert(blobs).values(account_id=repo.account_id, digest=digest,
                                                  object_key=object_key, size=size))
            collect.touch(conn, repo.account_id, [digest], time.time())
            self.link_blob(conn, repo, digest)
        if kept is not None and kept.object_key != object_key:
            await self.blobs.delete(repo.account_id, object_key)
        return size

    def link_blob(self, conn: Connection, repo: Row, digest: str) -> None:
        if not self.blob_in_repository(conn, repo.id, digest):
            conn.execute(insert(repository_blobs).values(repository_id=repo.id, digest=digest))

    async def initiate_layer_upload(self, ctx: RequestContext,
                                    params: dict[str, Any]) -> dict[str, Any]:
        repo = self._lookup(ctx, params)
        return {"uploadId": self.start_upload(repo), "partSize": 20 * 1024 * 1024}

    async def upload_layer_part(self, ctx: RequestContext,
                                params: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            upload = self.find_upload(conn, repo, params["uploadId"])
        if upload is None:
            raise error("UploadNotFoundException", f"Upload with id '{params['uploadId']}' "
                        "was not found")
        first, last = params["partFirstByte"], params["partLastByte"]
        if first != upload.size or last - first + 1 != len(params["layerPartBlob"]):
            raise error("InvalidLayerPartException", "The layer part's byte range does not "
                        f"follow the {upload.size} bytes uploaded so far.",
                        lastValidByteReceived=upload.size - 1)
        size = await self.append_part(repo, upload, _one(params["layerPartBlob"]))
        return {"registryId": repo.account_id, "repositoryName": repo.name,
                "uploadId": upload.id, "lastByteReceived": size - 1}

    async def complete_layer_upload(self, ctx: RequestContext,
                                    params: dict[str, Any]) -> dict[str, Any]:
        repo = self._lookup(ctx, params)
        digest = params["layerDigests"][0]
        try:
            await self.finish_upload(repo, params["uploadId"], digest)
        except UploadUnknown:
            raise error("UploadNotFoundException", f"Upload with id '{params['uploadId']}' "
                        "was not found") from None
        except DigestMismatch as exc:
            raise error("InvalidLayerException", str(exc)) from None
        return {"registryId": repo.account_id, "repositoryName": repo.name,
                "uploadId": params["uploadId"], "layerDigest": digest}

    def get_download_url_for_layer(self, ctx: RequestContext,
                                   params: dict[str, Any]) -> dict[str, Any]:
        digest = params["layerDigest"]
        with self.runtime.store.begin() as conn:
            repo = self._repository(conn, ctx, params)
            row = self.blob_row(conn, repo, digest)
        if row is None:
            raise error("LayersNotFoundException", f"The layer with digest {digest} does not "
                        "exist")
        return {"downloadUrl": self._presigned(repo.account_id, row.object_key),
                "layerDigest": digest}

    def _presigned(self, account_id: str, key: str) -> str:
        """A SigV4-presigned GET of the blob's object, signed with the account's root key
        (the storage's owner), valid for an hour."""
        from botocore.session import Session

        root = next(k for k in self.runtime.settings.root_keys if k.account_id == account_id)
        client = Session().create_client(
            "s3", endpoint_url=self.runtime.settings.endpoint,
            region_name=self.runtime.settings.default_region,
            aws_access_key_id=root.access_key_id, aws_secret_access_key=root.secret_access_key)
        return client.generate_presigned_url("get_object", Params={
            "Bucket": self.blobs.bucket(account_id), "Key": key}, ExpiresIn=3600)


def part_keys(upload: Row) -> list[str]:
    """The objects of an upload's parts, in order (`parts` is JSON [[key, size, sha256], …])."""
    return [part[0] for part in json.loads(upload.parts)]


class UploadUnknown(Exception):
    """No such upload in this repository."""


class DigestMismatch(Exception):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"The uploaded content's digest {actual} does not match {expected}.")


async def _one(data: bytes) -> Any:
    yield data


def _scoped_policy(text: str, arn: str) -> str:
    """A repository policy names no Resource (it is the repository's own); the engine gets the
    statements with the repository's ARN filled in."""
    doc = json.loads(text)
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    for statement in statements if isinstance(statements, list) else [statements]:
        if isinstance(statement, dict) and "Resource" not in statement and \
                "NotResource" not in statement:
            statement["Resource"] = arn
    return json.dumps(doc)


def _checked_lifecycle(text: str) -> None:
    try:
        lifecycle.parse_policy(text)
    except lifecycle.InvalidLifecyclePolicy as exc:
        raise error("InvalidParameterException", str(exc)) from None


def _no_repository_policy(repo: Row) -> AwsError:
    return error("RepositoryPolicyNotFoundException", "Repository policy does not exist for the "
                 f"repository with name '{repo.name}' in the registry with id "
                 f"'{repo.account_id}'")


def _policy_out(repo: Row) -> dict[str, Any]:
    return {"registryId": repo.account_id, "repositoryName": repo.name,
            "policyText": repo.policy}


def _lifecycle_policy_out(repo: Row) -> dict[str, Any]:
    return {"registryId": repo.account_id, "repositoryName": repo.name,
            "lifecyclePolicyText": repo.lifecycle_policy}


def _no_lifecycle_policy(repo: Row) -> AwsError:
    return error("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the "
                 f"repository with name '{repo.name}' in the registry with id "
                 f"'{repo.account_id}'")


def _too_many_tags(message: str) -> AwsError:
    return error("TooManyTagsException", message)


def _check_registry_id(ctx: RequestContext, params: dict[str, Any]) -> None:
    registry_id = params.get("registryId")
    if registry_id is not None and registry_id != ctx.account_id:
        raise errors.invalid_parameter(
            "portside serves only the caller's own registry; cross-account registryId "
            f"{registry_id} is not supported.")


def _failure(image_id: dict[str, str], code: str, reason: str) -> dict[str, Any]:
    return {"imageId": image_id, "failureCode": code, "failureReason": reason}


def _describe_id(image_id: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}:'{v}'" for k, v in image_id.items()) + "}"


def _paged(params: dict[str, Any], member: str, items: list[Any]) -> dict[str, Any]:
    start = int(params["nextToken"]) if str(params.get("nextToken", "")).isdigit() else 0
    limit = params.get("maxResults") or 1000
    result: dict[str, Any] = {member: items[start:start + limit]}
    if start + limit < len(items):
        result["nextToken"] = str(start + limit)
    return result
