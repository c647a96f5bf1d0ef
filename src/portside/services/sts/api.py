"""STS operations: who am I, temporary credentials for roles and users, whose key is this.

Sessions are stored by IAM (which resolves their keys for the keyring); STS decides whether a
session may begin. AssumeRole evaluates the role's trust policy with the policy engine — the
caller's own permission to call sts:AssumeRole is the gateway's identity-side check — and
portside's services assume roles in-process through `assume_role_for_service`.
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from portside.auth.actions import Action, Check
from portside.auth.identity import PrincipalType
from portside.auth.policy import (
    CallerType,
    PolicyKind,
    PolicySet,
    PrincipalInfo,
    Request,
    evaluate,
    parse_policy,
)
from portside.context import RequestContext
from portside.protocol.errors import AccessDenied, AwsError, error
from portside.protocol.validate import Violation, validation_error
from portside.services.base import ResourcePolicy, Service
from portside.services.iam import documents, ids
from portside.services.iam.credentials import SessionSpec
from portside.services.sts.packing import packed_policy_size

if TYPE_CHECKING:
    from sqlalchemy import Row

    from portside.services.iam.api import Iam

DEFAULT_DURATION = 3600
CHAINED_MAX_DURATION = 3600  # a role session that assumes a role gets at most an hour
SESSION_TOKEN_DEFAULT = 43_200
ROOT_SESSION_MAX = 3600  # "sessions for AWS account owners are restricted to ... one hour"
SESSION_POLICY_PLAINTEXT = 2048
_EXTRA_ACTIONS = (("sts:TagSession", "Tags"), ("sts:SetSourceIdentity", "SourceIdentity"))
# The trust policy is the resource side of AssumeRole; the caller's identity side is checked
# by the gateway, so here it stands as allowing everything.
_IDENTITY_SIDE = parse_policy(
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    PolicyKind.IDENTITY)


class Sts(Service):
    name = "sts"
    # GetCallerIdentity and GetSessionToken need no permission, and no policy can deny them.
    actions = {"GetCallerIdentity": (), "GetSessionToken": (),
               "AssumeRole": Action("sts:AssumeRole", "{RoleArn}")}

    @cached_property
    def iam(self) -> Iam:
        return self.runtime.services["iam"]  # type: ignore[return-value]

    def condition_keys(self, ctx: RequestContext, operation: str,
                       params: dict[str, Any]) -> dict[str, Any]:
        """The sts: keys a trust policy can test (aws:RequestTag/… come from the gateway)."""
        if operation != "AssumeRole":
            return {}
        inherited = self.iam.transitive_tags(ctx.principal)
        keys = {
            "sts:RoleSessionName": params.get("RoleSessionName"),
            "sts:ExternalId": params.get("ExternalId"),
            "sts:SourceIdentity": params.get("SourceIdentity"),
            "sts:TransitiveTagKeys": tuple(_transitive_keys(
                params.get("TransitiveTagKeys") or [], params.get("Tags") or [], inherited)),
        }
        return {k: v for k, v in keys.items() if v is not None}

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        """A role's trust policy is the resource policy of sts:AssumeRole: it may grant a user
        it names directly, and it must allow in every case."""
        if ":role/" not in resource_arn:
            return None
        try:
            role = self.iam.role_by_arn(resource_arn)
        except AwsError:
            return None
        if role is None:
            return None
        return ResourcePolicy(role.trust_policy, role.account_id, PolicyKind.TRUST)

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        """AssumeRole also needs sts:TagSession to pass tags, sts:SetSourceIdentity to set
        a source identity (on the caller's side as on the trust policy's)."""
        found = super().authorization_checks(ctx, operation, params)
        if operation == "AssumeRole":
            found += [Check(action, params["RoleArn"]) for action, member in _EXTRA_ACTIONS
                      if params.get(member)]
        return found

    def get_caller_identity(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        p = ctx.principal
        return {"UserId": p.user_id, "Account": p.account_id, "Arn": p.arn}

    def get_access_key_info(self, ctx: RequestContext,
                            request: dict[str, Any]) -> dict[str, Any]:
        """The account of any access key: a known one's, else the one its id encodes."""
        key_id = request["AccessKeyId"]
        known = self.runtime.keyring.lookup(key_id)
        account = known.principal.account_id if known else ids.account_of_access_key(key_id)
        if account is None:
            raise error("ValidationError", f"The access key id {key_id} is not valid.")
        return {"Account": account}

    def get_session_token(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        """Temporary credentials that act as the calling user (or root) itself."""
        p = ctx.principal
        if p.session_key_id is not None or not (p.type is PrincipalType.IAM_USER or p.is_root):
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        _refuse_mfa(request)
        duration = request.get("DurationSeconds") or SESSION_TOKEN_DEFAULT
        if p.is_root:
            duration = min(duration, ROOT_SESSION_MAX)
        spec = SessionSpec(p.type, p.account_id, p.arn, p.user_id, p.name, issuer_arn=p.arn,
                           issuer_id=p.user_id, duration=duration)
        return {"Credentials": self.iam.issue_session(spec)}

    def assume_role(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        caller = ctx.principal
        role_arn, session_name = request["RoleArn"], request["RoleSessionName"]
        if caller.is_root:
            raise AccessDenied("Roles may not be assumed by root accounts.")
        _refuse_mfa(request)
        policy = request.get("Policy")
        self._check_session_policy(policy, request.get("PolicyArns") or [])
        inherited = self.iam.transitive_tags(caller)
        tags = _session_tags(request.get("Tags") or [], inherited)
        transitive = _transitive_keys(request.get("TransitiveTagKeys") or [],
                                      request.get("Tags") or [], inherited)
        # The gateway has evaluated the trust policy as sts:AssumeRole's resource policy.
        role = self.iam.role_by_arn(role_arn)
        if role is None:  # denied like any other role: AWS does not tell who may not know
            raise AccessDenied(f"User: {caller.arn} is not authorized to perform: "
                               f"sts:AssumeRole on resource: {role_arn}")
        duration = request.get("DurationSeconds") or DEFAULT_DURATION
        if duration > role.max_session_duration:
            raise error("ValidationError", "The requested DurationSeconds exceeds the "
                        "MaxSessionDuration set for this role.")
        if caller.type is PrincipalType.ASSUMED_ROLE and duration > CHAINED_MAX_DURATION:
            raise error("ValidationError", "The requested DurationSeconds exceeds the 1 hour "
                        "session limit for roles assumed by role chaining.")
        policy_arns = [p["arn"] for p in request.get("PolicyArns") or []]
        packed = packed_policy_size(policy, policy_arns, tags)
        source_identity = request.get("SourceIdentity") or self.iam.source_identity(caller)
        response = self._session_for_role(
            role, session_name, duration, ctx.region, policy=policy, policy_arns=policy_arns,
            tags=tags, transitive_tag_keys=transitive, source_identity=source_identity)
        if policy or policy_arns or tags:
            response["PackedPolicySize"] = packed
        if source_identity:
            response["SourceIdentity"] = source_identity
        return response

    def assume_role_for_service(self, service_principal: str, role_arn: str,
                                session_name: str, *, source_arn: str | None = None,
                                source_account: str | None = None,
                                duration: int = DEFAULT_DURATION) -> dict[str, Any]:
        """Credentials of `role_arn` for one of portside's own services acting as the AWS
        service `service_principal` (ecs-tasks.amazonaws.com, events.amazonaws.com …): the
        role must trust that service, with aws:SourceArn/aws:SourceAccount in the context.
        Raises AccessDenied otherwise. Returns the STS Credentials shape."""
        caller = PrincipalInfo(CallerType.SERVICE, service_principal)
        context: dict[str, Any] = {"aws:CurrentTime": datetime.now(UTC),
                                   "aws:EpochTime": int(datetime.now(UTC).timestamp()),
                                   "sts:RoleSessionName": session_name}
        if source_arn:
            context["aws:SourceArn"] = source_arn
        if source_account:
            context["aws:SourceAccount"] = source_account
        role = self._trusted_role(caller, service_principal, role_arn, ["sts:AssumeRole"],
                                  context)
        return self._session_for_role(role, session_name,
                                      min(duration, role.max_session_duration),
                                      None)["Credentials"]

    # -- helpers -----------------------------------------------------------------------------

    def _trusted_role(self, caller: PrincipalInfo, caller_arn: str, role_arn: str,
                      actions: list[str], context: dict[str, Any]) -> Row:
        """The role `role_arn`, if its trust policy lets `caller` do each of `actions`; an
        unknown role is denied alike, as AWS does not tell who may not know."""
        role = self.iam.role_by_arn(role_arn)
        for action in actions:
            allowed = False
            if role is not None:
                trust = documents.validated(role.trust_policy, PolicyKind.TRUST)
                request = Request(caller, action, role.arn, role.account_id, context)
                allowed = evaluate(request, PolicySet(identity=[_IDENTITY_SIDE],
                                                      resource=trust)).allowed
            if not allowed:
                raise AccessDenied(f"User: {caller_arn} is not authorized to perform: "
                                   f"{action} on resource: {role_arn}")
        assert role is not None
        return role

    def _session_for_role(self, role: Row, session_name: str, duration: int,
                          region: str | None, **narrowing: Any) -> dict[str, Any]:
        """A session of `role`; `narrowing` holds SessionSpec's policies, tags and source
        identity. The assumed-role ARN names the role without its path, as AWS's does."""
        assumed_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}"
        user_id = f"{role.id}:{session_name}"
        spec = SessionSpec(PrincipalType.ASSUMED_ROLE, role.account_id, assumed_arn, user_id,
                           session_name, issuer_arn=role.arn, issuer_id=role.id,
                           duration=duration, **narrowing)
        credentials = self.iam.issue_session(spec, role_used_in=region)
        return {"Credentials": credentials,
                "AssumedRoleUser": {"AssumedRoleId": user_id, "Arn": assumed_arn}}

    def _check_session_policy(self, policy: str | None, policy_arns: list[dict[str, str]]) -> None:
        """Session policies: a valid inline document and policy ARNs, together no longer in
        plain text than STS allows."""
        if policy is not None:
            documents.validated(policy, PolicyKind.SESSION)
        for descriptor in policy_arns:
            ids.parse_iam_arn(descriptor.get("arn") or "", "policy", code="ValidationError")
        plaintext = len(policy or "") + sum(len(d.get("arn") or "") for d in policy_arns)
        if plaintext > SESSION_POLICY_PLAINTEXT:
            raise validation_error(self.model.operation_model("AssumeRole"), "query", [
                Violation("policy", policy, "Member must have length less than or equal to "
                          f"{SESSION_POLICY_PLAINTEXT}", sensitive=True)])


def _refuse_mfa(request: dict[str, Any]) -> None:
    """portside keeps no MFA devices, so no MFA code can be validated."""
    if request.get("SerialNumber") or request.get("TokenCode"):
        raise AccessDenied("MultiFactorAuthentication failed, unable to validate MFA code.")


def _session_tags(requested: list[dict[str, str]],
                  inherited: list[dict[str, str]]) -> list[dict[str, str]]:
    """The new session's tags: the request's, after those inherited from the calling session
    (role chaining), which the request may not set again.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_role-chaining
    """
    seen = {t["Key"].lower() for t in inherited}
    for tag in requested:
        key = tag["Key"].lower()
        if key in seen:
            raise _invalid(f"Duplicate tag key {tag['Key']}: session tag keys are case "
                           "insensitive, and a transitive tag of the calling session may not "
                           "be passed again.")
        if key.startswith("aws:"):
            raise _invalid("Session tag keys cannot start with 'aws:'.")
        seen.add(key)
    return [*inherited, *({"Key": t["Key"], "Value": t["Value"]} for t in requested)]


def _transitive_keys(keys: list[str], requested: list[dict[str, str]],
                     inherited: list[dict[str, str]]) -> list[str]:
    """The session's transitive tag keys: the requested ones, which must name tags of the
    request, and every inherited one (transitive tags stay transitive down the chain)."""
    tag_keys = {t["Key"].lower() for t in requested}
    for key in keys:
        if key.lower() not in tag_keys:
            raise _invalid(f"Transitive tag key {key} is not among the session tags.")
    return [t["Key"] for t in inherited] + keys


def _invalid(message: str) -> AwsError:
    return error("InvalidParameterValue", message)

