"""Container secrets: `secrets[].valueFrom` and `logConfiguration.secretOptions[].valueFrom`
resolved before a task's containers are created, with the task's execution role, through
portside's Secrets Manager (GetSecretValue) and Parameter Store (GetParameters) APIs — the calls
ECS's agent makes. A secret that cannot be read stops the task with ResourceInitializationError
naming the secret; a value never appears in a reason, a report or the agent's log.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/specifying-sensitive-data.html
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from portside.agent import aws
from portside.agent.execution import ExecutionRole, error_text
from portside.services.secretsmanager.ids import BadValueFrom, parse_value_from

_SSM_ARN = re.compile(r"arn:aws[a-z-]*:ssm:(?P<region>[a-z0-9-]+):\d{12}:parameter/.+")
# AWS's words, shortened so that the secret comes within stoppedReason's 255 characters.
_PREFIX = "ResourceInitializationError: unable to pull secrets or registry auth: "


class SecretError(Exception):
    """The task's stopped reason: a secret could not be read (it names the secret)."""


def _secretsmanager_failure(value_from: str, detail: str) -> SecretError:
    return SecretError(f"{_PREFIX}failed to fetch secret {value_from} from secrets manager: "
                       f"{detail}")


def _ssm_failure(value_from: str, detail: str) -> SecretError:
    return SecretError(f"{_PREFIX}failed to fetch parameter {value_from} from ssm: {detail}")


async def _from_secrets_manager(role: ExecutionRole, value_from: str) -> str:
    try:
        ref = parse_value_from(value_from)
    except BadValueFrom as exc:
        raise _secretsmanager_failure(value_from, f"InvalidParameterException: {exc}") from None
    params: dict[str, Any] = {"SecretId": ref.secret_id}
    if ref.version_id:
        params["VersionId"] = ref.version_id
    if ref.version_stage:
        params["VersionStage"] = ref.version_stage
    try:
        client = await role.client(aws.SECRETS_MANAGER, ref.region)
        answer = await asyncio.to_thread(client.call, "GetSecretValue", **params)
    except (aws.CallError, RuntimeError) as exc:
        raise _secretsmanager_failure(value_from, error_text(exc)) from None
    text = answer.get("SecretString")
    if text is None:
        raise _secretsmanager_failure(value_from, "the secret has a binary value; only "
                                                  "SecretString values can be injected")
    if ref.json_key is None:
        return text
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or ref.json_key not in document:
        raise _secretsmanager_failure(value_from, f"retrieved secret from Secrets Manager did "
                                                  f"not contain json key {ref.json_key}")
    found = document[ref.json_key]
    return found if isinstance(found, str) else json.dumps(found)


async def _from_parameter_store(role: ExecutionRole, value_from: str, region: str) -> str:
    match = _SSM_ARN.fullmatch(value_from)
    try:
        client = await role.client(aws.SSM, match["region"] if match else region)
        answer = await asyncio.to_thread(client.call, "GetParameters", Names=[value_from],
                                         WithDecryption=True)
    except (aws.CallError, RuntimeError) as exc:
        raise _ssm_failure(value_from, error_text(exc)) from None
    if answer.get("InvalidParameters") or not answer.get("Parameters"):
        raise _ssm_failure(value_from, f"invalid parameters: {value_from}")
    return answer["Parameters"][0]["Value"]


async def resolve(role: ExecutionRole, value_from: str, region: str) -> str:
    """The value `valueFrom` names: a Secrets Manager secret ARN (optionally
    `:json-key:version-stage:version-id`), else a Parameter Store ARN or name (a name is in
    the task's Region). Raises SecretError."""
    if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
        return await _from_secrets_manager(role, value_from)
    return await _from_parameter_store(role, value_from, region)


async def resolve_task(role: ExecutionRole, containers: list[dict[str, Any]],
                       region: str) -> dict[str, dict[str, dict[str, str]]]:
    """Every secret of the task's containers: {container: {"env": {NAME: value},
    "log": {option: value}}}. Raises SecretError at the first one that cannot be read."""
    wanted = {ref for c in containers for ref in
              [s["valueFrom"] for s in c.get("secrets") or ()] +
              [s["valueFrom"] for s in (c.get("logConfiguration") or {}).get("secretOptions")
               or ()]}
    values: dict[str, str] = {}
    for value_from in sorted(wanted):  # one at a time: the first failure is the reason
        values[value_from] = await resolve(role, value_from, region)
    return {c["name"]: {
        "env": {s["name"]: values[s["valueFrom"]] for s in c.get("secrets") or ()},
        "log": {s["name"]: values[s["valueFrom"]] for s in
                (c.get("logConfiguration") or {}).get("secretOptions") or ()}}
        for c in containers}
