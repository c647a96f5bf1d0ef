"""The request context a policy is evaluated against: who calls, what, on what, and with which
condition keys.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-reqcontext

The caller supplies the condition keys it knows (`aws:SourceIp`, `aws:CurrentTime`,
`s3:prefix`, `aws:RequestTag/env` …) in `Request.context`; the keys that describe the
principal (`aws:PrincipalArn`, `aws:username`, `aws:PrincipalTag/…` …) are derived from
`Request.principal` unless the context names them too. Key names are case-insensitive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property

from portside.auth.identity import Principal, PrincipalType

ContextValue = str | bool | int | float | datetime
Context = Mapping[str, ContextValue | Sequence[ContextValue]]


class CallerType(StrEnum):
    """Who is calling; the values are `aws:PrincipalType`'s where AWS defines one.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltype
    """

    ACCOUNT = "Account"  # the account's root user
    USER = "User"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"  # a GetFederationToken session
    SERVICE = "Service"  # an AWS service principal, e.g. sns.amazonaws.com
    WEB_IDENTITY = "WebIdentityUser"  # AssumeRoleWithWebIdentity's caller, named by its provider
    SAML = "SAMLUser"  # AssumeRoleWithSAML's caller, named by its provider
    ANONYMOUS = "Anonymous"


class MatchKind(StrEnum):
    """How a resource-based policy's `Principal` names the caller, which decides whether a
    permissions boundary or session policy limits what that policy grants.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow
    """

    DIRECT = "direct"  # the user, the session, "*", a service or provider: not limited
    PARENT = "parent"  # the role of a session, the user behind a federated user: limited
    ACCOUNT = "account"  # the account: delegates to the account's identity-based policies


Identifier = tuple[str, str]  # ("AWS" | "Service" | "Federated", value)


@dataclass(frozen=True)
class PrincipalInfo:
    """The calling principal, as policy evaluation needs it."""

    type: CallerType
    arn: str  # user, session or root ARN; the service or identity provider's name otherwise
    account_id: str = ""
    user_id: str = ""  # aws:userid: AIDA… for users, AROA…:session for roles, the account for root
    name: str | None = None  # the user name or session name
    parent_arn: str | None = None  # the role (with its path) of a session; the federating user
    tags: Mapping[str, str] = field(default_factory=dict)  # principal and session tags

    @classmethod
    def from_principal(cls, principal: Principal, *, parent_arn: str | None = None,
                       tags: Mapping[str, str] | None = None) -> PrincipalInfo:
        """From an authenticated `Principal`; `parent_arn` is the assumed role's ARN with its
        path (derived without a path when not given). A service principal's `arn` is its
        service principal name, e.g. `sns.amazonaws.com`."""
        kind = _CALLER_TYPES[principal.type]
        parts = principal.arn.split("/")
        if kind is CallerType.ASSUMED_ROLE and parent_arn is None and len(parts) > 2:
            role = parts[1]
            parent_arn = f"arn:{_partition(principal.arn)}:iam::{principal.account_id}:role/{role}"
        return cls(kind, principal.arn, principal.account_id, principal.user_id, principal.name,
                   parent_arn, dict(tags or {}))

    @cached_property
    def chain(self) -> tuple[tuple[MatchKind, tuple[Identifier, ...]], ...]:
        """The identities a `Principal` element can name this caller by, outermost first.

        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
        (AWS checks the account, then the role, then the session).
        """
        if self.type is CallerType.SERVICE:
            return ((MatchKind.DIRECT, (("Service", self.arn),)),)
        if self.type in (CallerType.WEB_IDENTITY, CallerType.SAML):
            return ((MatchKind.DIRECT, (("Federated", self.arn),)),)
        if self.type is CallerType.ANONYMOUS:
            return ()
        account = (MatchKind.ACCOUNT, (("AWS", self.root_arn),))
        if self.type is CallerType.ACCOUNT:
            return ((MatchKind.DIRECT, (("AWS", self.root_arn),)),)
        if self.type is CallerType.USER:
            return account, (MatchKind.DIRECT, (("AWS", self.arn), ("AWS", self.user_id)))
        parent: tuple[Identifier, ...] = ()
        if self.parent_arn:
            parent += (("AWS", self.parent_arn),)
        if self.type is CallerType.ASSUMED_ROLE and ":" in self.user_id:
            parent += (("AWS", self.user_id.split(":", 1)[0]),)  # the role's unique id
        levels = [account]
        if parent:
            levels.append((MatchKind.PARENT, parent))
        levels.append((MatchKind.DIRECT, (("AWS", self.arn),)))
        return tuple(levels)

    @property
    def root_arn(self) -> str:
        return f"arn:{_partition(self.arn)}:iam::{self.account_id}:root"

    @property
    def is_session(self) -> bool:
        return self.type in (CallerType.ASSUMED_ROLE, CallerType.FEDERATED_USER)

    @cached_property
    def condition_keys(self) -> dict[str, tuple[ContextValue, ...]]:
        """The global condition keys that describe this principal (lower-cased names).

        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#principaltable
        """
        if self.type is CallerType.SERVICE:
            return {"aws:principalservicename": (self.arn,)}
        if self.type in (CallerType.ANONYMOUS, CallerType.WEB_IDENTITY, CallerType.SAML):
            return {}
        keys: dict[str, tuple[ContextValue, ...]] = {
            "aws:principalarn": (self.parent_arn if self.type is CallerType.ASSUMED_ROLE
                                 and self.parent_arn else self.arn,),
            "aws:principalaccount": (self.account_id,),
            "aws:principaltype": (self.type.value,),
            "aws:userid": (self.user_id or self.account_id,),
        }
        if self.type is CallerType.USER and self.name:
            keys["aws:username"] = (self.name,)
        for tag, value in self.tags.items():
            keys[f"aws:principaltag/{tag.lower()}"] = (value,)
        return keys


_CALLER_TYPES = {
    PrincipalType.ROOT: CallerType.ACCOUNT,
    PrincipalType.IAM_USER: CallerType.USER,
    PrincipalType.ASSUMED_ROLE: CallerType.ASSUMED_ROLE,
    PrincipalType.AWS_SERVICE: CallerType.SERVICE,
    PrincipalType.ANONYMOUS: CallerType.ANONYMOUS,
}


def _partition(arn: str) -> str:
    parts = arn.split(":", 2)
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


@dataclass(frozen=True)
class Request:
    principal: PrincipalInfo
    action: str  # "s3:GetObject"
    resource: str  # an ARN, or "*" for an action that names no resource
    resource_account: str | None = None  # None: the principal's own account
    context: Context = field(default_factory=dict)

    @property
    def cross_account(self) -> bool:
        return (self.resource_account is not None
                and self.resource_account != self.principal.account_id)


class ContextView:
    """Case-insensitive condition-key lookup, built on first use: most statements have no
    condition, and most requests never need it."""

    __slots__ = ("_request", "_values")

    def __init__(self, request: Request) -> None:
        self._request = request
        self._values: dict[str, tuple[ContextValue, ...]] | None = None

    def get(self, key: str) -> tuple[ContextValue, ...] | None:
        """The values of a lower-cased key; None when absent or empty."""
        if self._values is None:
            self._values = _build(self._request)
        return self._values.get(key)

    def variable(self, key: str) -> str | None:
        """The value a policy variable takes: a single-valued key's value as text."""
        values = self.get(key)
        if values is None or len(values) != 1:
            return None
        return as_text(values[0])


def _build(request: Request) -> dict[str, tuple[ContextValue, ...]]:
    values = dict(request.principal.condition_keys)
    for key, value in request.context.items():
        if isinstance(value, str | bool | int | float | datetime):
            values[key.lower()] = (value,)
        elif value:
            values[key.lower()] = tuple(value)
        else:
            values.pop(key.lower(), None)  # an empty set is an absent key
    return values


def as_text(value: ContextValue) -> str:
    """A request value as the string operators see it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # an offset that would move it past year 1 or 9999
            return moment.isoformat()
        return moment.isoformat().replace("+00:00", "Z")
    return str(value)
