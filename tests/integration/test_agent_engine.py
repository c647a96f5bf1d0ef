"""The agent's Docker Engine client (agent/engine.py) against the real engine: its kept
connections answer as docker-py's requests transport would, errors included, each call sent
once."""

from __future__ import annotations

from typing import Any

import docker
import pytest

from portside.agent.engine import EngineClient, engine_client

pytestmark = pytest.mark.docker


@pytest.fixture
def engine(docker_available: str) -> Any:
    client = engine_client()
    assert isinstance(client.api, EngineClient)
    yield client
    client.close()


@pytest.fixture
def through_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls docker-py's own transport made (a kept-connection call makes none)."""
    calls: list[str] = []
    for method in ("_get", "_post", "_delete"):
        original = getattr(docker.APIClient, method)

        def counted(self: Any, url: str, *args: Any, _original: Any = original,
                    **kwargs: Any) -> Any:
            calls.append(url)
            return _original(self, url, *args, **kwargs)

        monkeypatch.setattr(docker.APIClient, method, counted)
    return calls


def test_an_error_answer_is_raised_once_without_a_second_request(engine, through_requests):
    with pytest.raises(docker.errors.NotFound):
        engine.api.inspect_container("portside-no-such-container")
    with pytest.raises(docker.errors.ImageNotFound):
        engine.api.create_container("portside-test/no-such-image:latest", command=["true"])
    with pytest.raises(docker.errors.NotFound):
        engine.api.remove_container("portside-no-such-container")
    assert through_requests == []


def test_answers_come_over_kept_connections(engine, busybox_image, through_requests):
    container = engine.api.create_container(busybox_image, command=["true"],
                                            labels={"portside.test": "engine"})
    try:
        assert engine.api.inspect_container(container["Id"])["Config"]["Cmd"] == ["true"]
        assert engine.api.version()["ApiVersion"]
    finally:
        engine.api.remove_container(container["Id"], force=True)
    assert through_requests == []
