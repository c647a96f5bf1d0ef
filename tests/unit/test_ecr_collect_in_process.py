"""Garbage collection of registry blobs in process: a blob no manifest of the account names goes
with its object once the grace period has passed since a push last used it; a blob another
image names stays; a push that uses a blob while the collector runs keeps it (or finds it gone
and is refused, never left with a manifest naming a missing blob); objects no row names go."""

import asyncio
import hashlib
import json
import time

import pytest
from sqlalchemy import select

from portside.auth.identity import Principal, PrincipalType
from portside.config import Settings
from portside.context import RequestContext
from portside.protocol.errors import AwsError
from portside.runtime import Runtime
from portside.services.ecr import collect
from portside.services.ecr.model import blobs, uploads

ACCOUNT = "000000000000"
GRACE = 3600.0


def ctx() -> RequestContext:
    root = Principal(PrincipalType.ROOT, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    return RequestContext(account_id=ACCOUNT, region="us-east-1", principal=root,
                          access_key_id="test", request_id="r", source_ip="127.0.0.1")


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def one(data: bytes):
    yield data


@pytest.fixture
def ecr(tmp_path):
    runtime = Runtime(Settings(data_dir=tmp_path, ecr_gc_grace=GRACE))
    service = runtime.services["ecr"]
    for name in ("app", "other"):
        service.create_repository(ctx(), {"repositoryName": name})
    yield service
    runtime.close()


def repo(ecr, name: str):
    with ecr.runtime.store.begin() as conn:
        return ecr.find_repository(conn, ACCOUNT, "us-east-1", name)


async def push_blob(ecr, name: str, data: bytes) -> str:
    target = repo(ecr, name)
    upload_id = ecr.start_upload(target)
    with ecr.runtime.store.begin() as conn:
        upload = ecr.find_upload(conn, target, upload_id)
    await ecr.append_part(target, upload, one(data))
    await ecr.finish_upload(target, upload_id, digest(data))
    return digest(data)


def manifest(config: str, layers: list[str]) -> str:
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                   "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d,
                    "size": 1} for d in layers]})


def put_image(ecr, name: str, tag: str, config: str, layers: list[str]) -> None:
    ecr.put_image(ctx(), {"repositoryName": name, "imageTag": tag,
                          "imageManifest": manifest(config, layers)})


def object_key(ecr, blob_digest: str) -> str | None:
    with ecr.runtime.store.begin() as conn:
        return conn.execute(select(blobs.c.object_key).where(
            blobs.c.digest == blob_digest)).scalar()


def later() -> float:
    """A moment when every use so far is older than the grace period."""
    return time.time() + GRACE + 1


def test_blobs_of_a_deleted_image_go_once_the_grace_period_has_passed(ecr):
    async def main():
        config = await push_blob(ecr, "app", b"{}")
        layer = await push_blob(ecr, "app", b"layer-one")
        put_image(ecr, "app", "v1", config, [layer])
        keys = [object_key(ecr, config), object_key(ecr, layer)]
        assert (await collect.collect(ecr, later())).blobs == 0  # named by v1

        ecr.batch_delete_image(ctx(), {"repositoryName": "app",
                                       "imageIds": [{"imageTag": "v1"}]})
        assert (await collect.collect(ecr, time.time())).blobs == 0  # within the grace period
        assert (await collect.collect(ecr, later())).blobs == 2
        for key in keys:
            assert await ecr.blobs.head(ACCOUNT, key) is None
        assert object_key(ecr, layer) is None
        answer = ecr.batch_check_layer_availability(
            ctx(), {"repositoryName": "app", "layerDigests": [layer]})
        assert answer["failures"][0]["failureCode"] == "MissingLayerDigest"

    asyncio.run(main())


def test_a_blob_another_repository_names_stays(ecr):
    async def main():
        config = await push_blob(ecr, "app", b"{}")
        shared = await push_blob(ecr, "app", b"shared-base")
        own = await push_blob(ecr, "app", b"own-layer")
        put_image(ecr, "app", "v1", config, [shared, own])
        assert ecr.registry._mount(ctx(), repo(ecr, "other"), shared, "app")
        assert ecr.registry._mount(ctx(), repo(ecr, "other"), config, "app")
        put_image(ecr, "other", "v1", config, [shared])

        ecr.batch_delete_image(ctx(), {"repositoryName": "app",
                                       "imageIds": [{"imageTag": "v1"}]})
        assert (await collect.collect(ecr, later())).blobs == 1
        assert object_key(ecr, own) is None
        for kept in (config, shared):
            assert await ecr.blobs.head(ACCOUNT, object_key(ecr, kept)) is not None

    asyncio.run(main())


def test_a_push_that_uses_a_blob_while_it_is_collected_keeps_it(ecr, monkeypatch):
    """The collector has found the blob unnamed and unused; before it removes it, a push
    names it in a manifest. The removal re-checks the use in its own statement and leaves it."""
    async def main():
        config = await push_blob(ecr, "app", b"{}")
        layer = await push_blob(ecr, "app", b"layer")
        cutoff_now = time.time() + 0.001  # both blobs count as unused before this
        scanned = collect.unreferenced

        def scan_then_push(stored, texts):
            found = scanned(stored, texts)
            assert {config, layer} <= found
            time.sleep(0.01)
            put_image(ecr, "app", "v1", config, [layer])  # the concurrent push
            return found

        monkeypatch.setattr(collect, "unreferenced", scan_then_push)
        assert await collect.collect_blobs(ecr, ACCOUNT, cutoff_now) == 0
        monkeypatch.setattr(collect, "unreferenced", scanned)
        for kept in (config, layer):
            assert await ecr.blobs.head(ACCOUNT, object_key(ecr, kept)) is not None
        image = ecr.batch_get_image(ctx(), {"repositoryName": "app",
                                            "imageIds": [{"imageTag": "v1"}]})
        assert image["images"] and not image["failures"]

    asyncio.run(main())


def test_a_push_checking_a_blob_keeps_it_for_the_grace_period(ecr):
    async def main():
        layer = await push_blob(ecr, "app", b"checked-layer")
        checked_at = time.time()
        ecr.batch_check_layer_availability(ctx(), {"repositoryName": "app",
                                                   "layerDigests": [layer]})
        # unused before checked_at, but the check counts as a use
        assert await collect.collect_blobs(ecr, ACCOUNT, checked_at) == 0
        assert object_key(ecr, layer) is not None

    asyncio.run(main())


def test_a_manifest_naming_a_collected_blob_is_refused_and_the_blob_can_be_pushed_again(ecr):
    async def main():
        config = await push_blob(ecr, "app", b"{}")
        layer = await push_blob(ecr, "app", b"layer")
        assert (await collect.collect(ecr, later())).blobs == 2
        with pytest.raises(AwsError) as refused:
            put_image(ecr, "app", "v1", config, [layer])
        assert refused.value.code == "LayersNotFoundException"
        await push_blob(ecr, "app", b"{}")
        await push_blob(ecr, "app", b"layer")
        put_image(ecr, "app", "v1", config, [layer])

    asyncio.run(main())


def test_objects_no_row_names_are_swept_but_unfinished_uploads_and_blobs_stay(ecr):
    async def main():
        layer = await push_blob(ecr, "app", b"a-blob")
        target = repo(ecr, "app")
        upload_id = ecr.start_upload(target)
        with ecr.runtime.store.begin() as conn:
            upload = ecr.find_upload(conn, target, upload_id)
        await ecr.append_part(target, upload, one(b"half-way"))
        await ecr.blobs.put(ACCOUNT, "blobs/crashed-upload/0", one(b"left behind"))
        put_image(ecr, "app", "v1", layer, [])

        # the abandoned-upload lifetime is the grace period: sweep orphans alone here
        assert await collect.sweep_orphans(ecr, ACCOUNT, time.time() - 60) == 0
        assert await collect.sweep_orphans(ecr, ACCOUNT, later()) == 1
        assert await ecr.blobs.head(ACCOUNT, "blobs/crashed-upload/0") is None
        assert await ecr.blobs.head(ACCOUNT, f"blobs/{upload_id}/0") is not None
        assert await ecr.blobs.head(ACCOUNT, object_key(ecr, layer)) is not None

        # a whole round also ends the abandoned upload, with its part
        found = await collect.collect(ecr, later())
        assert (found.uploads, found.blobs) == (1, 0)
        with ecr.runtime.store.begin() as conn:
            assert conn.execute(select(uploads)).first() is None
        assert await ecr.blobs.head(ACCOUNT, f"blobs/{upload_id}/0") is None

    asyncio.run(main())


def test_unreferenced_reads_config_and_layers_of_every_manifest():
    texts = [(manifest("sha256:c", ["sha256:a"]), "application/vnd.oci.image.manifest.v1+json"),
             ('{"manifests": [{"digest": "sha256:x"}]}', "application/vnd.oci.image.index.v1+json"),
             ("not json", "application/vnd.oci.image.manifest.v1+json")]
    assert collect.unreferenced({"sha256:a", "sha256:b", "sha256:c", "sha256:x"}, texts) == {
        "sha256:b", "sha256:x"}
