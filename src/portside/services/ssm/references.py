"""Secrets Manager secrets read through Parameter Store: GetParameter(s) of
`/aws/reference/secretsmanager/<secret-id>` with WithDecryption answers the secret's value.

The caller needs ssm:GetParameter (or GetParameters) on the reference, which the gateway checks,
and secretsmanager:GetSecretValue on the secret, checked here.
https://docs.aws.amazon.com/systems-manager/latest/userguide/integration-ps-secretsmanager.html
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from portside.context import RequestContext
from portside.services.ssm import errors
from portside.services.ssm.names import parameter_arn

if TYPE_CHECKING:
    from portside.services.secretsmanager.api import SecretsManager

PREFIX = "/aws/reference/secretsmanager/"


def is_reference(name: str) -> bool:
    return name.strip().startswith(PREFIX)


def resolve(secrets: SecretsManager, ctx: RequestContext, name: str,
            decrypt: bool) -> dict[str, Any]:
    """The Parameter a reference answers: Type SecureString, Version 0, the secret's value, and
    the GetSecretValue answer it came from as SourceResult."""
    name = name.strip()
    if not decrypt:
        raise errors.validation("WithDecryption flag must be True for retrieving a Secret "
                                "Manager secret.")
    secret_id = name[len(PREFIX):]
    for check in secrets.access.checks(ctx, "GetSecretValue", {"SecretId": secret_id}):
        secrets.authorize(ctx, check)
    answer = secrets.get_secret_value(ctx, {"SecretId": secret_id})
    source = {k: v for k, v in answer.items() if k != "SecretBinary"}
    if "SecretBinary" in answer:
        source["SecretBinary"] = base64.b64encode(answer["SecretBinary"]).decode()
    value = source.get("SecretString", source.get("SecretBinary", ""))
    return {"Name": name, "Type": "SecureString", "Value": value, "Version": 0,
            "SourceResult": json.dumps(source), "LastModifiedDate": answer["CreatedDate"],
            "ARN": parameter_arn(ctx.region, ctx.account_id, name), "DataType": "text"}
