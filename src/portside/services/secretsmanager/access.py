"""What IAM checks for each Secrets Manager call: `secretsmanager:<Operation>` on the secret's
ARN, with the service's condition keys.

A SecretId given by name or partial ARN is checked against the secret's full ARN; a secret that
does not exist is checked as `…:secret:<name>-??????`, so that a policy naming `<name>-*` or
`<name>-??????` decides between AccessDenied and ResourceNotFoundException, as in AWS.
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portside.auth.actions import Check
from portside.context import RequestContext
from portside.services import tag_lists
from portside.services.secretsmanager import ids
from portside.services.secretsmanager.records import Secret

PREFIX = "secretsmanager"
# Calls that name no secret (BatchGetSecretValue checks GetSecretValue per secret itself).
UNSCOPED = frozenset({"ListSecrets", "GetRandomPassword", "BatchGetSecretValue"})

# Request members that become the service's condition keys, per operation.
_REQUEST_KEYS: dict[str, dict[str, str]] = {
    "CreateSecret": {"Name": "Name", "Description": "Description", "KmsKeyId": "KmsKeyId"},
    "UpdateSecret": {"Description": "Description", "KmsKeyId": "KmsKeyId"},
    "GetSecretValue": {"VersionId": "VersionId", "VersionStage": "VersionStage"},
    "UpdateSecretVersionStage": {"VersionStage": "VersionStage"},
    "DeleteSecret": {"RecoveryWindowInDays": "RecoveryWindowInDays",
                     "ForceDeleteWithoutRecovery": "ForceDeleteWithoutRecovery"},
    "PutResourcePolicy": {"BlockPublicPolicy": "BlockPublicPolicy"},
}

Lookup = Callable[[RequestContext, str], Secret | None]


class AccessRules:
    """The checks of each call; `lookup` finds the secret a SecretId names (or None)."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup

    def checks(self, ctx: RequestContext, operation: str,
               params: dict[str, Any]) -> list[Check]:
        action = f"{PREFIX}:{operation}"
        keys = _request_keys(operation, params)
        if operation in UNSCOPED:
            extra = [Check(f"{PREFIX}:ListSecrets", "*")] \
                if operation == "BatchGetSecretValue" and params.get("Filters") else []
            return [Check(action, "*", keys), *extra]
        if operation == "CreateSecret":
            arn = ids.any_suffix_arn(ctx.region, ctx.account_id, params.get("Name") or "*")
            checks = [Check(action, arn, keys)]
            if params.get("Tags"):
                # Tagging on creation also needs secretsmanager:TagResource (CreateSecret
                # API reference, "Required permissions").
                checks.append(Check(f"{PREFIX}:TagResource", arn, keys))
            return checks
        secret_id = params.get("SecretId")
        if not secret_id:  # ValidateResourcePolicy without a secret
            return [Check(action, "*", keys)]
        secret = self._lookup(ctx, secret_id)
        arn = secret.arn if secret else self.missing_arn(ctx, secret_id)
        return [Check(action, arn, {**self.secret_keys(arn, secret), **keys})]

    @staticmethod
    def missing_arn(ctx: RequestContext, secret_id: str) -> str:
        """The ARN IAM sees for a SecretId that names no secret."""
        ref = ids.parse_secret_id(secret_id, ctx.account_id, ctx.region)
        return ref.arn or ids.any_suffix_arn(ref.region, ref.account_id, ref.name)

    @staticmethod
    def secret_keys(arn: str, secret: Secret | None) -> dict[str, Any]:
        """The condition keys a secret gives every call on it."""
        keys: dict[str, Any] = {f"{PREFIX}:SecretId": arn}
        if secret is not None:
            keys.update(tag_lists.resource_tag_keys(secret.tags, PREFIX))
            keys[f"{PREFIX}:SecretPrimaryRegion"] = secret.region
        return keys


def _request_keys(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return {f"{PREFIX}:{key}": params[member]
            for member, key in _REQUEST_KEYS.get(operation, {}).items()
            if params.get(member) is not None}
