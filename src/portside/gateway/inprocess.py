"""One service of portside calling another's operation, as a given principal.

The gateway's chain without HTTP: validate the parameters against the model, authorize the
caller through the same enforcement as every request, call the handler, and record the call in
CloudTrail. An EventBridge target's RunTask runs as the target role's session, so that role's
policies decide, exactly as if the role had called over the wire.

Contexts for the two kinds of callers a service acts as:
- `service_context`: an AWS service principal (events.amazonaws.com …) acting for one of the
  caller's resources, allowed by the target's resource policy (queue policy, bus policy);
- `session_context`: the session of a role the service assumed (`Sts.assume_role_for_service`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from botocore.model import OperationModel, ServiceModel

from portside.auth.identity import Principal, PrincipalType
from portside.context import RequestContext
from portside.gateway.authorize import authorize
from portside.ids import new_uuid
from portside.protocol.errors import (
    AccessDenied,
    AwsError,
    InternalFailure,
    NotImplementedOperation,
)
from portside.protocol.validate import validate_params
from portside.services.cloudtrail.records import build_record

if TYPE_CHECKING:
    from portside.runtime import Runtime

LOCAL_IP = "127.0.0.1"


async def call(runtime: Runtime, ctx: RequestContext, service_name: str, operation: str,
               params: dict[str, Any]) -> dict[str, Any]:
    """Run `operation` of `service_name` as `ctx.principal`; raises the AWS error the call
    would have answered over HTTP (AccessDenied, NotImplemented for a planned service …)."""
    service = runtime.services.get(service_name)
    if service is None:
        raise NotImplementedOperation(f"portside has no service {service_name}.")
    model = service.model
    operation_model = model.operation_model(operation)
    ctx.service, ctx.operation = service_name, operation
    try:
        handler = service.handler(operation)
        if handler is None:  # nothing would run, so there is nothing to authorize
            raise NotImplementedOperation(
                f"portside does not implement {model.service_id} {operation} yet.")
        validate_params(operation_model, params, model.metadata["protocol"])
        authorize(runtime, ctx, service, operation, params)
        answer = handler(ctx, params)
        result = (await answer if inspect.isawaitable(answer) else answer) or {}
    except AwsError as exc:
        # Audited here rather than kept in a local for later: a local of this frame holding
        # the error its traceback holds is a cycle that keeps the handler's frames alive.
        audit(runtime, ctx, model, operation_model, params, None, exc)
        raise
    except Exception:
        audit(runtime, ctx, model, operation_model, params, None,
              InternalFailure("We encountered an internal error. Please try again."))
        raise
    audit(runtime, ctx, model, operation_model, params, result, None)
    return result


def audit(runtime: Runtime, ctx: RequestContext, model: ServiceModel,
          operation: OperationModel | None, params: dict[str, Any] | None,
          result: dict[str, Any] | None, failure: AwsError | None) -> None:
    """Record one call, allowed or failed, in CloudTrail's event history."""
    service = runtime.services.get(ctx.service)
    if service is not None and ctx.operation in service.data_events:
        return
    record = build_record(ctx, f"{model.signing_name}.amazonaws.com", operation, params,
                          result, failure)
    runtime.trail.record(ctx, record, params)


def service_context(service_principal: str, account_id: str, region: str, *,
                    source_arn: str | None = None) -> RequestContext:
    """`service_principal` (e.g. events.amazonaws.com) acting in `account_id` for the
    resource `source_arn`, which resource policies see as aws:SourceArn/aws:SourceAccount."""
    principal = Principal(PrincipalType.AWS_SERVICE, account_id, service_principal,
                          service_principal)
    return RequestContext(account_id=account_id, region=region, principal=principal,
                          access_key_id=None, request_id=new_uuid(), source_ip=LOCAL_IP,
                          user_agent=service_principal, source_arn=source_arn,
                          source_account=account_id if source_arn else None)


def session_context(runtime: Runtime, credentials: dict[str, Any], region: str,
                    user_agent: str) -> RequestContext:
    """The role session whose STS `credentials` a service obtained, calling in `region`."""
    key = runtime.keyring.lookup(credentials["AccessKeyId"])
    if key is None:
        raise AccessDenied("The security token included in the request is invalid.")
    principal = key.principal
    return RequestContext(account_id=principal.account_id, region=region, principal=principal,
                          access_key_id=key.access_key_id, request_id=new_uuid(),
                          source_ip=LOCAL_IP, user_agent=user_agent)
