"""`environmentFiles`: `.env` files in S3 (`{"type": "s3", "value": "arn:aws:s3:::bucket/key"}`)
fetched with the task's execution role (S3 GetObject through portside's API) before the
container is created. `VARIABLE=VALUE` lines, `#` comments and blank lines ignored; the
container's `environment` wins over a file, and of several files the first to name a variable
wins, as ECS's agent merges them.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/use-environment-file.html
"""

from __future__ import annotations

import asyncio
from typing import Any

from portside.agent import aws
from portside.agent.execution import ExecutionRole, error_text

_S3_ARN = "arn:aws:s3:::"


class EnvFileError(Exception):
    """The task's stopped reason: an environment file could not be read."""


def parse(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        if name.strip():
            found.setdefault(name.strip(), value)
    return found


async def _fetch(role: ExecutionRole, region: str, arn: str) -> str:
    bucket, _, key = arn.removeprefix(_S3_ARN).partition("/")
    if not arn.startswith(_S3_ARN) or not bucket or not key:
        raise EnvFileError(f"ResourceInitializationError: failed to download env files: "
                           f"{arn} is not an S3 object ARN")
    try:
        s3 = await role.client(aws.S3, region)
        body = await asyncio.to_thread(s3.get_object, bucket, key)
    except (aws.CallError, RuntimeError) as exc:
        raise EnvFileError(f"ResourceInitializationError: failed to download env files: "
                           f"{arn}: {error_text(exc)}") from None
    return body.decode("utf-8", "replace")


async def resolve_task(role: ExecutionRole, containers: list[dict[str, Any]],
                       region: str) -> dict[str, dict[str, str]]:
    """{container: variables from its environment files}. Raises EnvFileError."""
    found: dict[str, dict[str, str]] = {}
    for container in containers:
        variables: dict[str, str] = {}
        for entry in container.get("environmentFiles") or ():
            if entry.get("type", "s3") != "s3":
                raise EnvFileError("ResourceInitializationError: failed to download env files: "
                                   f"unsupported type {entry.get('type')}")
            for name, value in parse(await _fetch(role, region, entry["value"])).items():
                variables.setdefault(name, value)
        found[container["name"]] = variables
    return found
