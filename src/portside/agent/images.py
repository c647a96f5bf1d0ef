"""Images for a task's containers.

- An image in **portside's ECR** (its registry host is portside's: `localhost:<port>` or
  `127.0.0.1:<port>` of the agent's endpoint, or an AWS-shaped `<account>.dkr.ecr.<region>.…`
  host) is always pulled before any container is created, as ECS's default pull behaviour
  does, with the authorization of `ecr:GetAuthorizationToken` called with the task's execution
  role: the registry then holds the pull to that role's
  `ecr:BatchGetImage`/`ecr:GetDownloadUrlForLayer`.
- Any other image is used from the engine when it has it (ECS's `prefer-cached`), else pulled,
  anonymously or with `repositoryCredentials` (a Secrets Manager secret of `username` and
  `password`, read with the execution role, before any container is created); no public
  registry is reachable from this kind of machine, so that fails at once with Docker's own
  error. The container's create is the look-up: the image is pulled when the engine answers it
  "No such image" (an inspect of its own would cost every start an engine call).

A task's `pullStartedAt` and `pullStoppedAt` are those of its pulls, and only a task that
pulled has them. A failed pull stops the task with `CannotPullContainerError: …` (Docker's
words after it), and so does an execution role that cannot get the registry's authorization
(`… unable to retrieve ecr registry auth: AccessDeniedException: …`).
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_cannot_pull_image.html
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import docker.errors
import requests
from docker.utils import parse_repository_tag

from portside.agent import aws
from portside.agent.channel import Identity
from portside.agent.execution import ExecutionRole, error_text

PULL_TIMEOUT = 300.0  # seconds one image may take
_AWS_SHAPED = re.compile(r"\d{12}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\..+")
_LOOPBACK = ("localhost", "127.0.0.1")


class PullError(Exception):
    def __init__(self, container: str, reason: str) -> None:
        super().__init__(reason)
        self.container = container
        self.reason = reason


def registry_host(image: str) -> str | None:
    """The registry host an image names (Docker's rule: a first component with a `.` or `:`,
    or `localhost`), None for Docker Hub."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def ecr_region(image: str, identity: Identity) -> str | None:
    """The Region of portside's ECR an image is in, None when it is not portside's."""
    host = registry_host(image)
    if host is None:
        return None
    match = _AWS_SHAPED.fullmatch(host)
    if match:
        return match["region"]
    name, _, port = host.partition(":")
    endpoint = urlsplit(identity.endpoint)
    if name in _LOOPBACK and endpoint.hostname in (*_LOOPBACK, name) and \
            port == str(endpoint.port or 80):
        return identity.region
    return None


async def _ecr_auth(role: ExecutionRole, region: str) -> dict[str, str]:
    ecr = await role.client(aws.ECR, region)
    answer = await asyncio.to_thread(ecr.call, "GetAuthorizationToken")
    token = answer["authorizationData"][0]["authorizationToken"]
    username, _, password = base64.b64decode(token).decode().partition(":")
    return {"username": username, "password": password}


async def _private_registry_auth(role: ExecutionRole, container: dict[str, Any]) -> dict[str, str]:
    """`repositoryCredentials`: a Secrets Manager secret holding `{"username", "password"}`,
    read with the execution role."""
    from portside.agent.secrets import SecretError, resolve

    arn = container["repositoryCredentials"]["credentialsParameter"]
    try:
        document = json.loads(await resolve(role, arn, role.identity.region))
        return {"username": str(document["username"]), "password": str(document["password"])}
    except SecretError as exc:
        raise PullError(container["name"], str(exc)) from None
    except (ValueError, KeyError, TypeError):
        raise PullError(container["name"], "ResourceInitializationError: unable to pull "
                        f"secrets or registry auth: the secret {arn} does not hold a JSON "
                        "document with username and password") from None


def _pull(client: Any, image: str, auth: dict[str, str] | None) -> str | None:
    """docker pull; the image's repo digest. Raises PullError's reason as a string."""
    repository, tag = parse_repository_tag(image)
    try:
        for message in client.api.pull(repository, tag=tag or "latest", stream=True,
                                       decode=True, auth_config=auth):
            if "error" in message:
                raise RuntimeError(message.get("error"))
        inspected = client.api.inspect_image(image)
    except docker.errors.APIError as exc:
        raise RuntimeError(f"Error response from daemon: {exc.explanation or exc}") from None
    except requests.RequestException as exc:
        raise RuntimeError(str(exc)) from None
    for digest in inspected.get("RepoDigests") or ():
        if digest.startswith(repository + "@"):
            return digest.partition("@")[2]
    return None


class TaskImages:
    """The images of one task's containers: their registries' authorizations, their pulls and
    the digests of the images pulled (by container), the pulls' times in `times` (the task's)."""

    def __init__(self, client: Any, role: ExecutionRole, identity: Identity,
                 times: dict[str, float]) -> None:
        self.client = client
        self.role = role
        self.identity = identity
        self.times = times
        self.digests: dict[str, str] = {}
        self._auths: dict[str, dict[str, str]] = {}  # container -> registry authorization

    async def prepare(self, containers: list[dict[str, Any]]) -> None:
        """Before any container is created: every registry authorization (as ECS fetches a
        task's up front), and the pulls of the images in portside's ECR. Raises PullError for
        the first that cannot be had."""
        ecr: dict[str, dict[str, str]] = {}
        for container in containers:
            name, image = container["name"], container["image"]
            region = ecr_region(image, self.identity)
            if region is None:
                if (container.get("repositoryCredentials") or {}).get("credentialsParameter"):
                    self._auths[name] = await _private_registry_auth(self.role, container)
                continue
            # Its pull begins with the registry's authorization.
            self.times.setdefault("pullStartedAt", time.time())
            if region not in ecr:
                try:
                    ecr[region] = await _ecr_auth(self.role, region)
                except (aws.CallError, RuntimeError) as exc:
                    self.times["pullStoppedAt"] = time.time()
                    raise PullError(name, f"CannotPullContainerError: {image}: unable to "
                                    f"retrieve ecr registry auth: {error_text(exc)}") from None
            self._auths[name] = ecr[region]
            await self.pull(container)

    async def pull(self, container: dict[str, Any]) -> None:
        """docker pull of the container's image. Raises PullError when it cannot be had."""
        name, image = container["name"], container["image"]
        self.times.setdefault("pullStartedAt", time.time())
        try:
            digest = await asyncio.wait_for(asyncio.to_thread(
                _pull, self.client, image, self._auths.get(name)), PULL_TIMEOUT)
        except TimeoutError:
            raise PullError(name, f"CannotPullContainerError: pull of {image} timed out after "
                                  f"{int(PULL_TIMEOUT)} s") from None
        except RuntimeError as exc:
            raise PullError(name, f"CannotPullContainerError: {exc}") from None
        finally:
            self.times["pullStoppedAt"] = time.time()
        if digest:
            self.digests[name] = digest
