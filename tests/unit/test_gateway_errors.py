"""An AWS error the gateway answers leaves nothing of the failed call alive. The error's
traceback holds the handler's frames; kept beside the frame that caught it, it made a cycle that
only the garbage collector breaks, and until it ran, a query result a handler had left unfinished
pinned its pooled SQLite connection to a stale snapshot: later calls on that connection read
the past or failed to write with "database is locked". Both the HTTP gateway and service-to-
service calls are covered, with the collector off so that only reference counting frees."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest
from test_sigv4 import Sent, wire

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.gateway.app import Gateway
from portside.gateway.inprocess import call
from portside.protocol.errors import AwsError, error
from portside.protocol.http import HttpRequest
from portside.runtime import Runtime

ACCOUNT = "000000000000"


class Held:
    """What the failing handler holds (an unfinished query result, say)."""


@pytest.fixture
def refusing(tmp_path: Path) -> Iterator[tuple[Runtime, list[weakref.ref[Held]]]]:
    """A runtime whose ECS DeleteCapacityProvider holds an object and refuses."""
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    held: list[weakref.ref[Held]] = []

    def delete_capacity_provider(ctx: RequestContext, params: dict) -> dict:
        thing = Held()
        held.append(weakref.ref(thing))
        raise error("ResourceInUseException", "The specified capacity provider is in use.")

    runtime.services["ecs"]._handlers["DeleteCapacityProvider"] = delete_capacity_provider
    gc.disable()
    try:
        yield runtime, held
    finally:
        gc.enable()
        runtime.close()


def signed_request() -> HttpRequest:
    """DeleteCapacityProvider as boto3 signs it with the default root's keys."""
    client = botocore.session.get_session().create_client(
        "ecs", region_name="us-east-1", endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="test", aws_secret_access_key="test")

    def capture(request: AWSPreparedRequest, **_) -> None:
        raise Sent(request)

    client.meta.events.register("before-send", capture)
    with pytest.raises(Sent) as caught:
        client.delete_capacity_provider(capacityProvider="cp")
    prepared: AWSPreparedRequest = caught.value.args[0]
    return wire(prepared.method, prepared.url, prepared.headers, prepared.body)


def test_an_error_answered_over_http_frees_the_failed_handler(refusing) -> None:
    runtime, held = refusing
    response = asyncio.run(Gateway(runtime).handle(signed_request(), "127.0.0.1"))
    assert response.status == 400
    assert b"ResourceInUseException" in response.body
    assert held and held[0]() is None


def test_an_error_raised_to_a_calling_service_frees_the_failed_handler(refusing) -> None:
    runtime, held = refusing
    ctx = RequestContext(ACCOUNT, "us-east-1", Principal.root(ACCOUNT), None, "r", "127.0.0.1")

    async def calling_service() -> None:
        try:
            await call(runtime, ctx, "ecs", "DeleteCapacityProvider", {"capacityProvider": "cp"})
        except AwsError as exc:
            assert exc.code == "ResourceInUseException"

    asyncio.run(calling_service())
    assert held and held[0]() is None
