"""Whether a request is allowed: AWS's policy evaluation logic over every applicable policy.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html

1. An explicit Deny in any applicable policy wins.
2. Within one account, an Allow in an identity-based policy or in the resource-based policy
   allows — except that a permissions boundary and the session policies limit what the
   identity-based policies grant, and what a resource-based policy grants to a session's
   role (or a federated user's IAM user); a grant to the session, the user, "*" itself is not
   limited. A role trust policy must always allow.
3. Across accounts, both sides must allow: the caller's identity-based policies (as limited
   by boundary and session policies) and the resource's resource-based policy.
4. The account root may do anything in its own account, bar a resource-based Deny.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from portside.auth.policy.document import Effect, Policy, PolicyKind
from portside.auth.policy.request import CallerType, ContextView, MatchKind, Request


class Decision(StrEnum):
    """SimulatePrincipalPolicy's EvalDecision values."""

    ALLOW = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


class PolicyType(StrEnum):
    """The policy types AWS names in an access denied message."""

    IDENTITY = "identity-based policy"
    RESOURCE = "resource-based policy"
    TRUST = "role trust policy"
    BOUNDARY = "permissions boundary"
    SESSION = "session policy"


@dataclass(frozen=True)
class PolicySet:
    """Every policy that applies to one request."""

    identity: Sequence[Policy] = ()  # the user's and its groups', or the role's
    resource: Policy | None = None  # the resource's policy; a role's trust policy for AssumeRole
    boundary: Policy | None = None  # the user's or role's permissions boundary
    session: Sequence[Policy] = ()  # the session policies passed when the session was made


@dataclass(frozen=True)
class MatchedStatement:
    """A statement that decided the result (SimulatePrincipalPolicy's MatchedStatements)."""

    policy_type: PolicyType
    source_id: str  # the policy's `source_id`
    index: int
    sid: str | None
    effect: Effect


@dataclass(frozen=True)
class Result:
    decision: Decision
    denied_by: PolicyType | None = None  # the policy type a denial is blamed on
    matched: tuple[MatchedStatement, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def explicit(self) -> bool:
        return self.decision is Decision.EXPLICIT_DENY


@dataclass
class _Found:
    """The statements of one policy type that apply to the request."""

    policy_type: PolicyType
    allows: list[tuple[MatchedStatement, MatchKind]]
    denies: list[MatchedStatement]

    def kinds(self) -> set[MatchKind]:
        return {kind for _, kind in self.allows}


# Callers with no identity-based policies of their own: only a resource-based policy can
# grant them anything (the root user aside, who owns its account).
_WITHOUT_IDENTITY = frozenset({CallerType.ACCOUNT, CallerType.SERVICE, CallerType.WEB_IDENTITY,
                               CallerType.SAML, CallerType.ANONYMOUS})


def evaluate(request: Request, policies: PolicySet) -> Result:
    caller = request.principal
    action = request.action.lower()
    context = ContextView(request)
    has_boundary = policies.boundary is not None

    def scan(policy_type: PolicyType, group: Sequence[Policy | None]) -> _Found:
        found = _Found(policy_type, [], [])
        for policy in group:
            if policy is None:
                continue
            for statement in policy.statements_for(action):
                kind = statement.applies(caller, request.resource, context, has_boundary)
                if kind is None:
                    continue
                matched = MatchedStatement(policy_type, policy.source_id, statement.index,
                                           statement.sid, statement.effect)
                if statement.effect is Effect.DENY:
                    found.denies.append(matched)
                else:
                    found.allows.append((matched, kind))
        return found

    trust = policies.resource is not None and policies.resource.kind is PolicyKind.TRUST
    resource = scan(PolicyType.TRUST if trust else PolicyType.RESOURCE, [policies.resource])
    if caller.type in _WITHOUT_IDENTITY:
        return _decide_without_identity(request, resource)
    found = [
        scan(PolicyType.IDENTITY, policies.identity),
        resource,
        scan(PolicyType.BOUNDARY, [policies.boundary]),
        scan(PolicyType.SESSION, policies.session if caller.is_session else ()),
    ]
    denies = tuple(m for f in found for m in f.denies)
    if denies:
        blamed = next(f.policy_type for f in found if f.denies)
        return Result(Decision.EXPLICIT_DENY, blamed, denies)
    identity, _, boundary, session = found
    boundary_ok = not has_boundary or bool(boundary.allows)
    if not caller.is_session:
        session_ok = True
    elif policies.session:
        session_ok = bool(session.allows)
    else:  # a federated user's session must have been given a session policy
        session_ok = caller.type is CallerType.ASSUMED_ROLE
    allows = tuple(m for f in found for m, _ in f.allows)
    kinds = resource.kinds()

    if request.cross_account:
        identity_side = bool(identity.allows) and boundary_ok and session_ok
        if identity_side and kinds:
            return Result(Decision.ALLOW, None, allows)
        blamed = _first_failing(bool(identity.allows), boundary_ok, session_ok,
                                otherwise=resource.policy_type)
        return Result(Decision.IMPLICIT_DENY, blamed)

    limited_ok = boundary_ok and session_ok
    granted = (MatchKind.DIRECT in kinds
               or (MatchKind.PARENT in kinds and limited_ok)
               or (bool(identity.allows) and limited_ok and (not trust or bool(kinds))))
    if granted:
        return Result(Decision.ALLOW, None, allows)
    if trust and not kinds:
        return Result(Decision.IMPLICIT_DENY, PolicyType.TRUST)
    blamed = _first_failing(bool(identity.allows) or MatchKind.PARENT in kinds, boundary_ok,
                            session_ok, otherwise=PolicyType.IDENTITY)
    return Result(Decision.IMPLICIT_DENY, blamed)


def _decide_without_identity(request: Request, resource: _Found) -> Result:
    if resource.denies:
        return Result(Decision.EXPLICIT_DENY, resource.policy_type, tuple(resource.denies))
    allows = tuple(m for m, _ in resource.allows)
    if request.principal.type is CallerType.ACCOUNT and not request.cross_account:
        return Result(Decision.ALLOW, None, allows)
    if allows:
        return Result(Decision.ALLOW, None, allows)
    return Result(Decision.IMPLICIT_DENY, resource.policy_type)


def _first_failing(identity_ok: bool, boundary_ok: bool, session_ok: bool,
                   otherwise: PolicyType) -> PolicyType:
    if not identity_ok:
        return PolicyType.IDENTITY
    if not boundary_ok:
        return PolicyType.BOUNDARY
    if not session_ok:
        return PolicyType.SESSION
    return otherwise


_WITH_ARTICLE = {
    PolicyType.IDENTITY: "an identity-based policy",
    PolicyType.RESOURCE: "a resource-based policy",
    PolicyType.TRUST: "the role trust policy",
    PolicyType.BOUNDARY: "a permissions boundary",
    PolicyType.SESSION: "a session policy",
}


def access_denied_message(principal_arn: str, action: str, resource: str | None,
                          result: Result) -> str:
    """AWS's access denied message for a denial.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
    """
    if result.allowed:
        raise ValueError("the request was allowed")
    message = f"User: {principal_arn} is not authorized to perform: {action}"
    if resource and resource != "*":
        message += f" on resource: {resource}"
    blamed = result.denied_by or PolicyType.IDENTITY
    if result.explicit:
        return f"{message} with an explicit deny in {_WITH_ARTICLE[blamed]}"
    return f"{message} because no {blamed} allows the {action} action"
