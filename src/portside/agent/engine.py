"""The agent's client of the local Docker Engine: docker-py's, whose calls go over kept
connections to the engine's Unix socket with http.client instead of through requests.

docker-py sends each call through a requests Session (the request's preparation and setting
merges, urllib3's pool, the response's wrapping): ~1 ms of CPU per call on the benchmark host,
against ~0.2-0.4 ms for the same request made by http.client — and every task's start and
clean-up make several, on a host whose CPU the containers' own start needs. docker-py still
builds every request and reads every answer (its errors, its JSON): only the transport below it
changes. A call that streams (a pull's progress, logs, events) stays with requests, from which
docker-py reads the stream.
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import docker
import requests
from docker.transport import UnixHTTPAdapter
from docker.utils.decorators import update_headers
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

KEPT_CONNECTIONS = 32  # idle connections kept open: more than the agent's blocking threads


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)

    def dropped(self) -> bool:
        """Closed by the engine while idle (readable with nothing asked: at its end)."""
        if self.sock is None:
            return True
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))


class EngineClient(docker.APIClient):
    """docker-py's API client of an engine on a Unix socket, its calls that do not stream made
    over kept connections with http.client."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trust_env = False  # requests' look-ups of proxy variables and ~/.netrc: no use
        self._socket_path = self.get_adapter(self.base_url).socket_path
        self._idle: list[_UnixConnection] = []
        self._lock = threading.Lock()

    # docker-py's own methods of its requests, each with the HttpHeaders of its configuration
    @update_headers
    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        answer = self._call("GET", url, kwargs)
        return super()._get(url, **kwargs) if answer is None else answer

    @update_headers
    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        answer = self._call("POST", url, kwargs)
        return super()._post(url, **kwargs) if answer is None else answer

    @update_headers
    def _delete(self, url: str, **kwargs: Any) -> requests.Response:
        answer = self._call("DELETE", url, kwargs)
        return super()._delete(url, **kwargs) if answer is None else answer

    def _call(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response | None:
        """The call over a kept connection, answered as requests would; None for one that
        streams or sends what is not text (left to requests)."""
        body = kwargs.get("data")
        if kwargs.get("stream") or not isinstance(body, str | bytes | None):
            return None
        target = urlsplit(url).path
        if kwargs.get("params"):
            target += "?" + _query(kwargs["params"])
        headers = {"User-Agent": self.headers["User-Agent"], **(kwargs.get("headers") or {})}
        connection = self._connection(kwargs.get("timeout", self.timeout))
        try:
            connection.request(method, target, body.encode() if isinstance(body, str) else body,
                               headers)
            answer = connection.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise requests.ConnectionError(exc) from exc
        self._keep(connection, answer)
        response = requests.Response()
        response.status_code, response.reason, response.url = answer.status, answer.reason, url
        response.headers = CaseInsensitiveDict(answer.getheaders())
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(content)
        return response

    def _connection(self, timeout: float | None) -> _UnixConnection:
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not connection.dropped():
                    connection.timeout = timeout
                    connection.sock.settimeout(timeout)
                    return connection
                connection.close()
        return _UnixConnection(self._socket_path, timeout)

    def _keep(self, connection: _UnixConnection, answer: http.client.HTTPResponse) -> None:
        with self._lock:
            if not answer.will_close and len(self._idle) < KEPT_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()


def _query(params: Mapping[str, Any]) -> str:
    """A query string as requests makes it: None values left out, a list repeats its key."""
    pairs = [(key, item) for key, value in params.items()
             for item in (value if isinstance(value, list | tuple) else [value])
             if item is not None]
    return urlencode(pairs)


def engine_client() -> docker.DockerClient:
    """docker-py's client of the local Docker Engine (DOCKER_HOST's), with an EngineClient
    under it when the engine is on a Unix socket."""
    client = docker.DockerClient.from_env(version="auto")
    adapter = client.api.get_adapter(client.api.base_url)
    if isinstance(adapter, UnixHTTPAdapter):
        api = EngineClient(base_url=f"unix://{adapter.socket_path}",
                           version=client.api.api_version, timeout=client.api.timeout)
        client.api.close()
        client.api = api
    return client
