"""The `Principal` and `NotPrincipal` elements of resource-based and trust policies.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html

- `"*"` and `{"AWS": "*"}` name everyone, anonymous callers included.
- An account id is its root ARN, and names every principal of the account (a delegation).
- A role ARN names the role's sessions; a session or user ARN names only itself. IAM stores
  user and role principals as unique ids (AIDA…, AROA…), which name them too.
- No partial wildcards: `arn:aws:iam::123456789012:user/*` is an invalid principal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from portside.auth.policy.request import Identifier, MatchKind, PrincipalInfo

_ACCOUNT_ID = re.compile(r"\d{12}")
_AWS_ARN = re.compile(
    r"arn:aws[a-z-]*:(?:iam::\d{12}:(?:root|user/.+|role/.+)"
    r"|sts::\d{12}:(?:assumed-role/[^/]+/.+|federated-user/.+))")
_UNIQUE_ID = re.compile(r"A[A-Z]{3}[A-Z0-9]{12,}")  # AIDA… users, AROA… roles
_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


class InvalidPrincipal(ValueError):
    """The reason, in AWS's words: `Invalid principal in policy: "AWS":"…"`."""


@dataclass(frozen=True, slots=True)
class Principals:
    """The principals one `Principal` (or `NotPrincipal`) element names."""

    everyone: bool
    named: frozenset[Identifier]

    def match(self, caller: PrincipalInfo) -> MatchKind | None:
        """How this element names the caller (the most specific way), if it does."""
        if self.everyone:
            return MatchKind.DIRECT
        for kind, identifiers in reversed(caller.chain):
            if any(identifier in self.named for identifier in identifiers):
                return kind
        return None

    def excludes(self, caller: PrincipalInfo) -> bool:
        """For `NotPrincipal`: whether the caller escapes the statement. AWS checks each link
        of the caller's chain (account, role, session), so every link must be listed."""
        if self.everyone:
            return True
        chain = caller.chain
        return bool(chain) and all(
            any(identifier in self.named for identifier in identifiers) for _, identifiers in chain)


def parse_principals(element: object) -> Principals:
    """Validate and compile a `Principal` or `NotPrincipal` value."""
    if element == "*":
        return Principals(True, frozenset())
    if not isinstance(element, dict) or not element:
        raise InvalidPrincipal(f"Invalid principal in policy: {_show(element)}")
    everyone = False
    named: set[Identifier] = set()
    for kind, values in element.items():
        for value in _strings(kind, values):
            if kind == "AWS" and value == "*":
                everyone = True
            else:
                named.add((kind, _normalize(kind, value)))
    return Principals(everyone, frozenset(named))


def _strings(kind: str, values: object) -> Iterable[str]:
    items = values if isinstance(values, list) else [values]
    if kind not in _TYPES or not items:
        raise InvalidPrincipal(f"Invalid principal in policy: {_show({kind: values})}")
    for value in items:
        if not isinstance(value, str) or not value:
            raise InvalidPrincipal(f"Invalid principal in policy: {_show({kind: value})}")
        yield value


def _normalize(kind: str, value: str) -> str:
    """The identifier the caller's chain uses: an account id becomes its root ARN."""
    invalid = InvalidPrincipal(f'Invalid principal in policy: "{kind}":"{value}"')
    if kind != "AWS":
        if "*" in value:
            raise invalid
        return value
    if _ACCOUNT_ID.fullmatch(value):
        return f"arn:aws:iam::{value}:root"
    if "*" in value or not (_AWS_ARN.fullmatch(value) or _UNIQUE_ID.fullmatch(value)):
        raise invalid
    return value


def _show(element: object) -> str:
    if isinstance(element, dict):
        return ", ".join(f'"{k}":{_show(v)}' for k, v in element.items())
    if isinstance(element, str):
        return f'"{element}"'
    return str(element)
