"""Policy documents: validated when written, compiled once, matched many times.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html

`parse_policy` raises `MalformedPolicy` with the message AWS puts in its
MalformedPolicyDocument error, and returns a `Policy` whose statements answer, per request,
whether they apply. Compiled policies are cached by document text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache

from portside.auth.policy.conditions import BadCondition, Condition, compile_test
from portside.auth.policy.patterns import (
    ARN_SEGMENTS,
    Flavour,
    compile_any,
    compile_pattern,
    is_wildcard,
)
from portside.auth.policy.principals import InvalidPrincipal, Principals, parse_principals
from portside.auth.policy.request import ContextView, MatchKind, PrincipalInfo
from portside.auth.policy.variables import Template, Unresolved, parse

VERSION_2012 = "2012-10-17"  # the only version with policy variables
VERSION_2008 = "2008-10-17"  # the version of a policy that names none

SYNTAX_ERROR = "Syntax errors in policy."
LEGACY_PARSING = "The policy failed legacy parsing"
PRINCIPAL_NOT_ALLOWED = "Policy document should not specify a principal."
MISSING_ACTIONS = "Policy statement must contain actions."
MISSING_RESOURCES = "Policy statement must contain resources."
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
SID_NOT_UNIQUE = "Statement IDs (SID) in a single policy must be unique."
SID_NOT_ALPHANUMERIC = ("Statement IDs (SID) must be alpha-numeric. Check that your input "
                        "satisfies the regular expression [0-9A-Za-z]*")

_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                             "Resource", "NotResource", "Condition"})
_ALPHANUMERIC = re.compile(r"[0-9A-Za-z]*")
_ACTION_CACHE_SIZE = 4096


class MalformedPolicy(ValueError):
    """A document IAM would refuse; `reason` is AWS's MalformedPolicyDocument message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PolicyTooLarge(MalformedPolicy):
    """A document over its size quota; AWS answers this with LimitExceeded, not
    MalformedPolicyDocument, so callers can tell the two apart."""

    def __init__(self, size: int, limit: int, quota: str) -> None:
        super().__init__(f"Cannot exceed quota for {quota}: {limit}")
        self.size = size
        self.limit = limit


class PolicyKind(StrEnum):
    """Where a document is used, which decides how it is validated."""

    IDENTITY = "identity"  # user, group and role policies: no Principal
    RESOURCE = "resource"  # bucket, queue, secret … policies: Principal required
    TRUST = "trust"  # a role's trust policy: Principal required, Resource optional
    BOUNDARY = "boundary"  # a permissions boundary: a managed identity policy
    SESSION = "session"  # passed to AssumeRole / GetFederationToken: an identity policy

    @property
    def has_principal(self) -> bool:
        return self in (PolicyKind.RESOURCE, PolicyKind.TRUST)


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


# Managed policy, user inline, role inline and group inline policy size quotas (characters,
# white space not counted): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MANAGED_POLICY_SIZE = 6144
USER_INLINE_SIZE = 2048
ROLE_INLINE_SIZE = 10240
GROUP_INLINE_SIZE = 5120
TRUST_POLICY_SIZE = 2048


def policy_size(document: str) -> int:
    """The size IAM counts against its quotas: "IAM doesn't count white space"."""
    return sum(1 for char in document if not char.isspace())


def check_policy_size(document: str, limit: int, quota: str = "PolicySize") -> None:
    """Raise `PolicyTooLarge` when `document` exceeds `limit` (the caller picks the quota:
    `MANAGED_POLICY_SIZE`, `ROLE_INLINE_SIZE` …; inline quotas apply to an entity's total)."""
    size = policy_size(document)
    if size > limit:
        raise PolicyTooLarge(size, limit, quota)


@dataclass(frozen=True, slots=True)
class Actions:
    """`Action` or `NotAction`, compiled: exact names, one alternation for the wildcards."""

    everything: bool
    exact: frozenset[str]  # lower-cased
    wildcards: re.Pattern[str] | None
    negated: bool

    def match(self, action: str) -> bool:
        """`action` is lower-cased."""
        hit = (self.everything or action in self.exact
               or (self.wildcards is not None and self.wildcards.fullmatch(action) is not None))
        return hit != self.negated


@dataclass(frozen=True, slots=True)
class Resources:
    """`Resource` or `NotResource`, compiled; patterns with policy variables stay templates."""

    everything: bool
    exact: frozenset[str]
    wildcards: re.Pattern[str] | None
    templates: tuple[Template, ...]
    negated: bool

    def match(self, resource: str, context: ContextView) -> bool:
        """Raises `Unresolved` when a variable has no value in the request."""
        hit = (self.everything or resource in self.exact
               or (self.wildcards is not None and self.wildcards.fullmatch(resource) is not None)
               or any(_template_matches(t, resource, context) for t in self.templates))
        return hit != self.negated


def _template_matches(template: Template, resource: str, context: ContextView) -> bool:
    return compile_pattern(template.chunks(context.variable), Flavour.ARN).fullmatch(
        resource) is not None


@dataclass(frozen=True, slots=True)
class Statement:
    index: int  # position in the policy's Statement list, from 0
    sid: str | None
    effect: Effect
    actions: Actions
    resources: Resources | None  # None: a trust policy statement without Resource
    principals: Principals | None  # None: identity-based policies
    not_principal: bool
    conditions: tuple[Condition, ...]

    def applies(self, caller: PrincipalInfo, resource: str, context: ContextView,
                has_boundary: bool) -> MatchKind | None:
        """Whether this statement (whose action matched) applies to the request, and for a
        resource-based policy, how its principal element named the caller."""
        kind: MatchKind | None = MatchKind.DIRECT
        if self.principals is not None:
            kind = self._principal_match(self.principals, caller, has_boundary)
            if kind is None:
                return None
        try:
            if self.resources is not None and not self.resources.match(resource, context):
                return None
            if not all(condition.holds(context) for condition in self.conditions):
                return None
        except Unresolved:
            return None  # "If AWS cannot resolve a variable, [it may make] the statement invalid"
        return kind

    def _principal_match(self, principals: Principals, caller: PrincipalInfo,
                         has_boundary: bool) -> MatchKind | None:
        if not self.not_principal:
            return principals.match(caller)
        # NotPrincipal with Deny "will always deny any IAM principal that has a permissions
        # boundary policy attached": access_policies_boundaries.html
        if self.effect is Effect.DENY and has_boundary:
            return MatchKind.DIRECT
        return None if principals.excludes(caller) else MatchKind.DIRECT


@dataclass(frozen=True, eq=False)
class Policy:
    """A validated, compiled policy document. `source_id` names it in evaluation results
    (a policy name or ARN); `with_source` gives a copy that shares the compiled statements."""

    kind: PolicyKind
    version: str
    id: str | None
    statements: tuple[Statement, ...]
    source_id: str = ""
    # action -> statements; a field (not a cache attribute) so that `with_source` copies share it
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, repr=False)

    def with_source(self, source_id: str) -> Policy:
        return replace(self, source_id=source_id)

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction admits `action` (lower-cased), memoised per
        action: requests repeat a few actions many times."""
        found = self._by_action.get(action)
        if found is None:
            if len(self._by_action) >= _ACTION_CACHE_SIZE:
                self._by_action.clear()
            found = tuple(s for s in self.statements if s.actions.match(action))
            self._by_action[action] = found
        return found


def parse_policy(document: str | Mapping[str, object], kind: PolicyKind) -> Policy:
    """Validate and compile a policy document (JSON text, or its parsed form)."""
    if isinstance(document, str):
        return _compile(document, kind)
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):
        raise MalformedPolicy(SYNTAX_ERROR) from None
    return _compile(text, kind)


@lru_cache(maxsize=4096)
def _compile(text: str, kind: PolicyKind) -> Policy:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedPolicy(SYNTAX_ERROR) from None
    if not isinstance(document, dict) or not document.keys() <= _POLICY_KEYS:
        raise MalformedPolicy(SYNTAX_ERROR)
    version = document.get("Version", VERSION_2008)
    if not isinstance(version, str):
        raise MalformedPolicy(SYNTAX_ERROR)
    if version not in (VERSION_2012, VERSION_2008):
        raise MalformedPolicy(LEGACY_PARSING)
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicy(SYNTAX_ERROR)
    raw = document.get("Statement")
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    if not items:
        raise MalformedPolicy("Missing required field Statement")
    statements = tuple(_statement(i, item, kind, version == VERSION_2012)
                       for i, item in enumerate(items))
    _check_sids(statements, kind)
    return Policy(kind, version, policy_id, statements)


def _statement(index: int, item: object, kind: PolicyKind, variables: bool) -> Statement:
    if not isinstance(item, dict) or not item.keys() <= _STATEMENT_KEYS:
        raise MalformedPolicy(SYNTAX_ERROR)
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy(SYNTAX_ERROR)
    if "Effect" not in item:
        raise MalformedPolicy("Missing required field Effect")
    if item["Effect"] not in (Effect.ALLOW.value, Effect.DENY.value):
        raise MalformedPolicy(SYNTAX_ERROR)
    principal_key = _one_of(item, "Principal", "NotPrincipal")
    if principal_key is not None and not kind.has_principal:
        raise MalformedPolicy(PRINCIPAL_NOT_ALLOWED)
    if principal_key is None and kind.has_principal:
        raise MalformedPolicy("Missing required field Principal")
    action_key = _one_of(item, "Action", "NotAction")
    if action_key is None:
        raise MalformedPolicy(MISSING_ACTIONS)
    resource_key = _one_of(item, "Resource", "NotResource")
    if resource_key is None and kind is not PolicyKind.TRUST:
        raise MalformedPolicy(MISSING_RESOURCES)
    try:
        principals = parse_principals(item[principal_key]) if principal_key else None
    except InvalidPrincipal as error:
        raise MalformedPolicy(str(error)) from None
    return Statement(
        index=index,
        sid=sid,
        effect=Effect(item["Effect"]),
        actions=_actions(item[action_key], negated=action_key == "NotAction"),
        resources=(_resources(item[resource_key], resource_key == "NotResource", variables)
                   if resource_key else None),
        principals=principals,
        not_principal=principal_key == "NotPrincipal",
        conditions=_conditions(item.get("Condition"), variables),
    )


def _one_of(item: dict[str, object], positive: str, negative: str) -> str | None:
    """Which of an element and its Not… form the statement has; both is a syntax error."""
    if positive in item and negative in item:
        raise MalformedPolicy(SYNTAX_ERROR)
    return positive if positive in item else negative if negative in item else None


def _string_list(value: object, missing: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise MalformedPolicy(missing)
    strings = [v for v in items if isinstance(v, str)]
    if len(strings) != len(items):
        raise MalformedPolicy(SYNTAX_ERROR)
    return strings


def _actions(value: object, negated: bool) -> Actions:
    names = _string_list(value, MISSING_ACTIONS)
    for name in names:
        if name == "*":
            continue
        if ":" not in name or name.startswith(":"):
            raise MalformedPolicy(NO_VENDOR)
        if name.count(":") > 1:
            raise MalformedPolicy(ONE_COLON)
    lowered = [n.lower() for n in names]
    return Actions(
        everything="*" in lowered,
        exact=frozenset(n for n in lowered if not is_wildcard(n)),
        wildcards=compile_any([n for n in lowered if is_wildcard(n) and n != "*"],
                              Flavour.ACTION),
        negated=negated,
    )


def _resources(value: object, negated: bool, variables: bool) -> Resources:
    patterns = _string_list(value, MISSING_RESOURCES)
    for pattern in patterns:
        if pattern != "*" and (not pattern.startswith("arn:")
                               or pattern.count(":") < ARN_SEGMENTS - 1):
            raise MalformedPolicy(f'Resource {pattern} must be in ARN format or "*".')
    parsed = [parse(p, variables) for p in patterns]
    texts = [p for p in parsed if isinstance(p, str)]
    return Resources(
        everything="*" in texts,
        exact=frozenset(p for p in texts if not is_wildcard(p)),
        wildcards=compile_any([p for p in texts if is_wildcard(p) and p != "*"], Flavour.ARN),
        templates=tuple(p for p in parsed if isinstance(p, Template)),
        negated=negated,
    )


def _conditions(block: object, variables: bool) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise MalformedPolicy(SYNTAX_ERROR)
    tests: list[Condition] = []
    for operator_name, keys in block.items():
        if not isinstance(keys, dict):
            raise MalformedPolicy(SYNTAX_ERROR)
        for key, values in keys.items():
            if ":" not in key or key.startswith(":"):
                raise MalformedPolicy(NO_VENDOR)
            try:
                tests.append(compile_test(operator_name, key, _condition_values(values),
                                          variables))
            except BadCondition:
                raise MalformedPolicy(SYNTAX_ERROR) from None
    return tuple(tests)


def _condition_values(values: object) -> list[str]:
    """Condition values as text: JSON `true` is "true", `10` is "10"."""
    items = values if isinstance(values, list) else [values]
    texts = []
    for value in items:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, bool | int | float):
            texts.append(json.dumps(value))
        else:
            raise MalformedPolicy(SYNTAX_ERROR)
    return texts


def _check_sids(statements: tuple[Statement, ...], kind: PolicyKind) -> None:
    """IAM's own policies want unique, alphanumeric Sids; services' resource policies differ."""
    if kind is PolicyKind.RESOURCE:
        return
    sids = [s.sid for s in statements if s.sid]
    if any(not _ALPHANUMERIC.fullmatch(sid) for sid in sids):
        raise MalformedPolicy(SID_NOT_ALPHANUMERIC)
    if len(sids) != len(set(sids)):
        raise MalformedPolicy(SID_NOT_UNIQUE)
