"""What the agent does on a task's behalf before and around its containers — fetch secrets,
get registry authorization, write the awslogs streams — it does as an ordinary client of
portside's AWS API, signed with the task's **execution role** (assumed as
ecs-tasks.amazonaws.com, as ECS's agent holds it), or with the agent's own credentials when the
task has none (ECS's agent then uses the EC2 instance role). These credentials stay in the agent:
no container sees them.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from botocore.config import Config

from portside.agent.channel import Identity, new_client
from portside.agent.endpoints import REFRESH_BEFORE, CredentialSource

CLIENT_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                       read_timeout=30)


def task_client(identity: Identity, service: str, region: str,
                credentials: dict[str, Any] | None) -> Any:
    """A botocore client of portside's endpoint, signed with `credentials` (the STS shape) or
    with the agent's own."""
    keys = ({"aws_access_key_id": credentials["AccessKeyId"],
             "aws_secret_access_key": credentials["SecretAccessKey"],
             "aws_session_token": credentials.get("SessionToken")} if credentials else
            identity.keys())
    return new_client(service, region, identity.endpoint, keys, CLIENT_CONFIG)


class ExecutionRole:
    """One task's execution role: its credentials (renewed before they expire) and clients
    signed with them, by service and Region. Blocking calls: use `client` off the loop."""

    def __init__(self, identity: Identity, source: CredentialSource | None, task_arn: str,
                 role_arn: str | None) -> None:
        self.identity = identity
        self.source = source
        self.task_arn = task_arn
        self.role_arn = role_arn
        self._credentials: dict[str, Any] | None = None
        self._expires = 0.0
        self._clients: dict[tuple[str, str, str], Any] = {}

    async def refresh(self) -> None:
        """Assume the role when there is one and its credentials are (nearly) expired. Raises
        RuntimeError (or the AWS error) when it cannot be assumed."""
        if self.role_arn is None:
            return
        if self._credentials is not None and self._expires - time.time() > REFRESH_BEFORE:
            return
        if self.source is None:
            raise RuntimeError("this agent has no source of role credentials")
        try:
            found = await self.source(self.task_arn, self.role_arn)
        except Exception as exc:  # the role refused (an AWS error), or the channel is away
            raise RuntimeError(f"unable to assume the execution role {self.role_arn}: "
                               f"{getattr(exc, 'message', None) or exc}") from None
        expiration = found["Expiration"]
        self._expires = expiration.timestamp() if hasattr(expiration, "timestamp") \
            else time.time() + 3600
        self._credentials = found

    async def client(self, service: str, region: str) -> Any:
        await self.refresh()
        key = (service, region, (self._credentials or {}).get("AccessKeyId", ""))
        found = self._clients.get(key)
        if found is None:
            found = await asyncio.to_thread(task_client, self.identity, service, region,
                                            self._credentials)
            self._clients = {k: v for k, v in self._clients.items() if k[2] == key[2]}
            self._clients[key] = found
        return found


def error_text(exc: BaseException) -> str:
    """`Code: message` of an AWS error (a botocore ClientError), else the exception's text."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc) or type(exc).__name__
