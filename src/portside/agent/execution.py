"""What the agent does on a task's behalf before and around its containers — fetch secrets,
get registry authorization, write the awslogs streams — it does as an ordinary client of
portside's AWS API, signed with the task's **execution role** (assumed as
ecs-tasks.amazonaws.com, as ECS's agent holds it), or with the agent's own credentials when the
task has none (ECS's agent then uses the EC2 instance role). These credentials stay in the agent:
no container sees them.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
"""

from __future__ import annotations

import time
from typing import Any

from portside.agent import aws
from portside.agent.channel import Identity
from portside.agent.endpoints import REFRESH_BEFORE, CredentialSource

CLIENT_CONFIG = aws.Config(attempts=2, connect_timeout=5, read_timeout=30)


class ExecutionRole:
    """One task's execution role: its credentials (renewed before they expire) and clients
    signed with them. A client's calls block: make them off the loop."""

    def __init__(self, identity: Identity, source: CredentialSource | None, task_arn: str,
                 role_arn: str | None) -> None:
        self.identity = identity
        self.source = source
        self.task_arn = task_arn
        self.role_arn = role_arn
        self._credentials: dict[str, Any] | None = None
        self._expires = 0.0

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

    async def client(self, service: aws.Service, region: str) -> aws.Client:
        """A client of `service` in `region`, signed with the role's credentials, or with the
        agent's own when the task has no execution role."""
        await self.refresh()
        keys = aws.Keys.from_sts(self._credentials) if self._credentials else self.identity.keys
        return aws.Client(service, self.identity.endpoint, region, keys, CLIENT_CONFIG)


def error_text(exc: BaseException) -> str:
    """`Code: message` of an AWS error, else the exception's text."""
    return str(exc) or type(exc).__name__
