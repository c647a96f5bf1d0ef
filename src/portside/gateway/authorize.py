"""IAM enforcement: every request, every service, in one place.

The service names what a call needs (its `actions` table, condition keys, resource policy);
IAM supplies the caller's policies; the policy engine decides. A denial is the service's own
AccessDenied error with AWS's message.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portside.auth.actions import Check
from portside.auth.identity import PrincipalType
from portside.auth.policy import (
    PolicySet,
    Request,
    access_denied_message,
    evaluate,
    parse_policy,
)
from portside.context import RequestContext
from portside.protocol.errors import AccessDenied
from portside.services.base import Service

if TYPE_CHECKING:
    from portside.runtime import Runtime


def authorize(runtime: Runtime, ctx: RequestContext, service: Service, operation: str,
              params: dict[str, Any]) -> None:
    """Raise the service's AccessDenied unless IAM allows every check of the call."""
    if ctx.principal.is_root and type(service).resource_policy is Service.resource_policy:
        return  # the root may do anything in its account; no resource policy can deny it here
    if not runtime.settings.iam_enforcement and ctx.principal.type is not PrincipalType.ANONYMOUS:
        return  # the open sandbox: every authenticated principal may do anything
    for check in service.authorization_checks(ctx, operation, params):
        if ctx.principal.is_root and _root_of_unguarded(ctx, service, check):
            continue
        authorize_check(runtime, ctx, service, check, params)


def _root_of_unguarded(ctx: RequestContext, service: Service, check: Check) -> bool:
    """Whether `check` is an account root's, on its own account's resource, which has no policy
    of its own: nothing could deny it then, so the engine need not be asked (the common case of
    a root's S3 object reads and writes). A resource policy can deny the root (an explicit
    Deny), and another account's resource needs that account's grant: both are evaluated."""
    if check.creates:
        return True  # decided by the caller's own policies: the root's allow everything
    found = service.resource_policy(ctx, check.resource)
    if found is None:
        return _arn_account(check.resource) in (None, ctx.account_id)
    return found.account_id == ctx.account_id and not found.document


def authorize_check(runtime: Runtime, ctx: RequestContext, service: Service, check: Check,
                    params: dict[str, Any] | None = None) -> None:
    """One check, also for services that need a further action (`iam:PassRole`)."""
    iam = runtime.services["iam"]
    policies = iam.principal_policies(ctx.principal)
    found = None if check.creates else service.resource_policy(ctx, check.resource)
    resource_policy = (parse_policy(found.document, found.kind)
                       if found and found.document else None)
    request = Request(
        principal=policies.caller(ctx.principal),
        action=check.action,
        resource=check.resource,
        resource_account=found.account_id if found else _arn_account(check.resource),
        context={**global_keys(ctx), **request_tag_keys(params or {}), **check.context},
    )
    result = evaluate(request, PolicySet(policies.identity, resource_policy, policies.boundary,
                                         policies.session))
    if not result.allowed:
        message = access_denied_message(ctx.principal.arn, check.action, check.resource, result)
        raise access_denied(service, message)


def global_keys(ctx: RequestContext) -> dict[str, Any]:
    """The global condition keys every request carries.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"""
    now = datetime.now(UTC)
    keys: dict[str, Any] = {
        "aws:SourceIp": ctx.source_ip,
        "aws:CurrentTime": now,
        "aws:EpochTime": int(now.timestamp()),
        "aws:SecureTransport": ctx.secure_transport,
        "aws:RequestedRegion": ctx.region,
    }
    if ctx.source_arn:
        keys["aws:SourceArn"] = ctx.source_arn
    if ctx.source_account:
        keys["aws:SourceAccount"] = ctx.source_account
    return keys


def request_tag_keys(params: dict[str, Any]) -> dict[str, Any]:
    """`aws:RequestTag/<k>` and `aws:TagKeys` from the tags a request carries, in any of the
    shapes AWS models use: [{Key, Value}], [{key, value}] or {key: value}."""
    tags = params.get("Tags", params.get("tags"))
    if isinstance(tags, dict):
        pairs = [(str(k), str(v)) for k, v in tags.items()]
    elif isinstance(tags, list):
        pairs = [(str(t.get("Key", t.get("key"))), str(t.get("Value", t.get("value", ""))))
                 for t in tags if isinstance(t, dict)]
    else:
        return {}
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs}
    keys["aws:TagKeys"] = [k for k, _ in pairs]
    return keys


def access_denied(service: Service, message: str) -> AccessDenied:
    """The service's own AccessDenied: a modelled `AccessDenied*` shape where there is one,
    else the protocol's common error."""
    for shape in service.model.error_shapes:
        if shape.name.startswith("AccessDenied"):
            code = shape.metadata.get("error", {}).get("code", shape.name)
            status = shape.metadata.get("error", {}).get("httpStatusCode", 403)
            return AccessDenied(message, code=code, status=status)
    protocol = service.model.metadata["protocol"]
    if protocol == "json":
        return AccessDenied(message, code="AccessDeniedException", status=400)
    if protocol == "rest-json":
        return AccessDenied(message, code="AccessDeniedException", status=403)
    return AccessDenied(message, code="AccessDenied", status=403)


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] or None if len(parts) == 6 else None
