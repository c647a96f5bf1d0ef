"""Building CloudTrail event records from a call, with secret material redacted.

Record fields: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, Shape

from portside.context import RequestContext
from portside.ids import new_uuid
from portside.protocol.errors import AwsError

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

# Members that carry secret material even where the model does not mark their shape sensitive.
SECRET_MEMBERS = frozenset({
    "SecretAccessKey", "SessionToken", "SecretString", "SecretBinary", "Password",
    "NewPassword", "OldPassword", "AuthorizationToken", "Token", "PrivateKey",
    "SecretValue", "CertificatePrivateKey", "Credentials",
})

READ_ONLY_PREFIXES = ("Get", "Describe", "List", "Head", "Lookup", "BatchGet", "Search",
                      "Simulate", "Test", "Check", "Select")


def is_read_only(operation: str) -> bool:
    return operation.startswith(READ_ONLY_PREFIXES)


def user_identity(ctx: RequestContext) -> dict[str, Any]:
    p = ctx.principal
    identity: dict[str, Any] = {
        "type": str(p.type), "principalId": p.user_id, "arn": p.arn, "accountId": p.account_id,
    }
    if ctx.access_key_id:
        identity["accessKeyId"] = ctx.access_key_id
    if p.type == "IAMUser" and p.name:
        identity["userName"] = p.name
    if p.type == "AssumedRole" and p.issuer_arn:
        # The role behind the session: principalId is the role's unique id (before the colon).
        identity["sessionContext"] = {"sessionIssuer": {
            "type": "Role", "principalId": p.user_id.split(":", 1)[0], "arn": p.issuer_arn,
            "accountId": p.account_id, "userName": p.issuer_arn.rsplit("/", 1)[-1]}}
    return identity


def username(ctx: RequestContext) -> str:
    p = ctx.principal
    return "root" if p.is_root else (p.name or p.arn)


def build_record(
    ctx: RequestContext,
    event_source: str,
    operation: OperationModel | None,
    params: dict[str, Any] | None,
    result: dict[str, Any] | None,
    error: AwsError | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One CloudTrail record (`eventType: AwsApiCall`) for a call, allowed or failed."""
    now = now or datetime.now(UTC)
    read_only = is_read_only(ctx.operation)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": user_identity(ctx),
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": event_source,
        "eventName": ctx.operation,
        "awsRegion": ctx.region,
        "sourceIPAddress": ctx.source_ip,
        "userAgent": ctx.user_agent,
        "requestParameters": _redact(params, operation.input_shape if operation else None),
        "responseElements": None if read_only or error else _redact(
            result, operation.output_shape if operation else None),
        "requestID": ctx.request_id,
        "eventID": new_uuid(),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ctx.account_id,
        "eventCategory": "Management",
    }
    if error is not None:
        # CloudTrail names every denial AccessDenied, whatever the protocol called it on the wire.
        denied = error.code.startswith("AccessDenied")
        record["errorCode"] = "AccessDenied" if denied else error.code
        record["errorMessage"] = error.message
    return record


def resource_names(params: dict[str, Any] | None) -> list[dict[str, str]]:
    """The resources a call names, for LookupEvents' ResourceName attribute."""
    if not params:
        return []
    return [
        {"ResourceName": value}
        for name, value in params.items()
        if isinstance(value, str) and value
        and (name.endswith(("Arn", "Name", "Url")) or name in ("Bucket", "Key", "cluster"))
    ]


def _redact(value: Any, shape: Shape | None) -> Any:
    """A JSON-safe copy of `value` with sensitive members hidden and keys in lowerCamelCase,
    as CloudTrail writes requestParameters and responseElements."""
    if value is None:
        return None
    if shape is not None and shape.metadata.get("sensitive"):
        return HIDDEN
    if shape is not None and shape.serialization.get("streaming"):
        return None  # object bodies and layers are data, not parameters
    if isinstance(value, dict):
        members = shape.members if shape is not None and shape.type_name == "structure" else {}
        value_shape = shape.value if shape is not None and shape.type_name == "map" else None
        out = {}
        for key, item in value.items():
            if key in SECRET_MEMBERS and item is not None:
                out[_camel(key)] = HIDDEN
            elif members:
                out[_camel(key)] = _redact(item, members.get(key))
            else:
                out[key] = _redact(item, value_shape)
        return out
    if isinstance(value, list | tuple):
        item_shape = shape.member if shape is not None and shape.type_name == "list" else None
        return [_redact(item, item_shape) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value[:1024]).decode() if len(value) <= 1024 else None
    if isinstance(value, str | int | float | bool):
        return value
    return None  # streams and other non-data values are not recorded


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]
