"""The `Condition` element: operators, `…IfExists`, `ForAllValues:`/`ForAnyValue:`.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html

- Several operators in a block, and several keys under one operator, must all hold (AND);
  several values for one key are alternatives (OR) — for a negated operator, none may match.
- A key absent from the request makes a condition false, a negated one true; `…IfExists`
  makes it true either way; `ForAllValues` is true and `ForAnyValue` false on an absent key or
  an empty set.
- Policy variables work in the string, ARN and `Bool` operators only.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from portside.auth.policy.patterns import Flavour, compile_pattern
from portside.auth.policy.request import ContextValue, ContextView, as_text
from portside.auth.policy.variables import Template, parse

Prepared = Any  # a policy value made ready for comparison: str, float, bytes, network, regex


@dataclass(frozen=True, slots=True)
class Family:
    """How one kind of operator reads policy values and request values, and compares them."""

    prepare: Callable[[str], Prepared | None]  # None: a value that can never match
    coerce: Callable[[ContextValue], Any | None]
    matches: Callable[[Any, Prepared], bool]
    variables: bool  # whether policy variables are substituted in its values
    flavour: Flavour | None = None  # wildcard operators: a variable's value is never a wildcard

    def prepare_template(self, template: Template, context: ContextView) -> Prepared | None:
        if self.flavour is None:
            return self.prepare(template.render(context.variable))
        return compile_pattern(template.chunks(context.variable), self.flavour)


def _text(value: ContextValue) -> str:
    return as_text(value)


def _folded(value: ContextValue) -> str:
    return as_text(value).casefold()


def _like(text: str) -> re.Pattern[str]:
    return compile_pattern(((text, True),), Flavour.STRING)


def _arn_like(text: str) -> re.Pattern[str]:
    return compile_pattern(((text, True),), Flavour.ARN)


def _fullmatch(value: str, pattern: re.Pattern[str]) -> bool:
    return pattern.fullmatch(value) is not None


def _number(value: ContextValue | str) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) and "_" not in value else None
    except ValueError:
        return None


_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})")  # a bare year reads as an epoch number


def _epoch(value: ContextValue | str) -> float | None:
    """Seconds since the epoch of an ISO 8601 (W3C profile) date or an epoch number.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date
    """
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    number = _number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        return None
    partial = _YEAR_MONTH.fullmatch(value)
    try:
        if partial:
            moment = datetime(int(partial.group(1)), int(partial.group(2)), 1)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _boolean(value: ContextValue | str) -> str:
    return as_text(value).lower()


def _binary(value: ContextValue | str) -> bytes | None:
    try:
        return base64.b64decode(as_text(value), validate=True)
    except (binascii.Error, ValueError):
        return None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A CIDR block; a bare address is its own /32 (or /128)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _address(value: ContextValue) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(as_text(value).strip())
    except ValueError:
        return None


def _in_network(address: Any, network: Any) -> bool:
    return address.version == network.version and address in network


def _numeric(compare: Callable[[float, float], bool]) -> Family:
    return Family(_number, _number, compare, variables=False)


def _date(compare: Callable[[float, float], bool]) -> Family:
    return Family(_epoch, _epoch, compare, variables=False)


_EXACT = Family(str, _text, operator.eq, variables=True)
_IGNORE_CASE = Family(str.casefold, _folded, operator.eq, variables=True)
_LIKE = Family(_like, _text, _fullmatch, variables=True, flavour=Flavour.STRING)
_ARN = Family(_arn_like, _text, _fullmatch, variables=True, flavour=Flavour.ARN)
_BOOL = Family(_boolean, _boolean, operator.eq, variables=True)
_BINARY = Family(_binary, _binary, operator.eq, variables=False)
_IP = Family(_network, _address, _in_network, variables=False)

# name (lower-cased) -> (family, negated)
OPERATORS: Mapping[str, tuple[Family, bool]] = {
    "stringequals": (_EXACT, False),
    "stringnotequals": (_EXACT, True),
    "stringequalsignorecase": (_IGNORE_CASE, False),
    "stringnotequalsignorecase": (_IGNORE_CASE, True),
    "stringlike": (_LIKE, False),
    "stringnotlike": (_LIKE, True),
    "numericequals": (_numeric(operator.eq), False),
    "numericnotequals": (_numeric(operator.eq), True),
    "numericlessthan": (_numeric(operator.lt), False),
    "numericlessthanequals": (_numeric(operator.le), False),
    "numericgreaterthan": (_numeric(operator.gt), False),
    "numericgreaterthanequals": (_numeric(operator.ge), False),
    "dateequals": (_date(operator.eq), False),
    "datenotequals": (_date(operator.eq), True),
    "datelessthan": (_date(operator.lt), False),
    "datelessthanequals": (_date(operator.le), False),
    "dategreaterthan": (_date(operator.gt), False),
    "dategreaterthanequals": (_date(operator.ge), False),
    "bool": (_BOOL, False),
    "binaryequals": (_BINARY, False),
    "ipaddress": (_IP, False),
    "notipaddress": (_IP, True),
    "arnequals": (_ARN, False),
    "arnlike": (_ARN, False),
    "arnnotequals": (_ARN, True),
    "arnnotlike": (_ARN, True),
}


class Qualifier(Enum):
    FOR_ALL_VALUES = "forallvalues"
    FOR_ANY_VALUE = "foranyvalue"


@dataclass(frozen=True, slots=True)
class Test:
    """One key under one operator, e.g. `"StringLike": {"s3:prefix": ["", "home/*"]}`."""

    key: str  # lower-cased
    family: Family
    negated: bool
    qualifier: Qualifier | None
    if_exists: bool
    fixed: tuple[Prepared, ...]  # prepared at parse time
    templates: tuple[Template, ...]  # prepared per request (policy variables)

    def holds(self, context: ContextView) -> bool:
        """Raises `Unresolved` when a variable in a value has no value in the request."""
        present = context.get(self.key)
        if present is None:
            if self.if_exists or self.qualifier is Qualifier.FOR_ALL_VALUES:
                return True
            if self.qualifier is Qualifier.FOR_ANY_VALUE:
                return False
            return self.negated
        wanted = self.fixed
        if self.templates:
            rendered = (self.family.prepare_template(t, context) for t in self.templates)
            wanted = wanted + tuple(p for p in rendered if p is not None)
        matches = self.family.matches

        def matched(value: ContextValue) -> bool:
            coerced = self.family.coerce(value)
            return coerced is not None and any(matches(coerced, p) for p in wanted)

        if self.qualifier is Qualifier.FOR_ALL_VALUES:
            return all(matched(v) != self.negated for v in present)
        if self.qualifier is Qualifier.FOR_ANY_VALUE:
            return any(matched(v) != self.negated for v in present)
        return any(matched(v) for v in present) != self.negated


@dataclass(frozen=True, slots=True)
class NullTest:
    """`"Null": {"key": "true"}` holds when the key is absent; `"false"` when present."""

    key: str
    absent: frozenset[bool]  # the presences that satisfy it: {True}, {False} or both

    def holds(self, context: ContextView) -> bool:
        return (context.get(self.key) is None) in self.absent


Condition = Test | NullTest


class BadCondition(ValueError):
    """The reason a Condition block is malformed (the caller turns it into MalformedPolicy)."""


def split_operator(name: str) -> tuple[Qualifier | None, str, bool]:
    """`ForAnyValue:StringLikeIfExists` -> (FOR_ANY_VALUE, "stringlike", True)."""
    lowered = name.lower()
    qualifier = None
    for candidate in Qualifier:
        if lowered.startswith(candidate.value + ":"):
            qualifier = candidate
            lowered = lowered[len(candidate.value) + 1:]
            break
    if_exists = lowered.endswith("ifexists") and lowered != "ifexists"
    base = lowered[:-len("ifexists")] if if_exists else lowered
    known = base in OPERATORS or (base == "null" and not if_exists)  # no NullIfExists
    if not known:
        raise BadCondition(name)
    return qualifier, base, if_exists


def compile_test(operator_name: str, key: str, values: list[str], variables: bool) -> Condition:
    """One key of one operator; `values` are the policy's values as text."""
    qualifier, base, if_exists = split_operator(operator_name)
    if base == "null":
        return NullTest(key.lower(), frozenset(v.lower() == "true" for v in values))
    family, negated = OPERATORS[base]
    fixed: list[Prepared] = []
    templates: list[Template] = []
    for value in values:
        parsed = parse(value, variables and family.variables)
        if isinstance(parsed, Template):
            templates.append(parsed)
        else:
            prepared = family.prepare(parsed)
            if prepared is not None:
                fixed.append(prepared)
    return Test(key.lower(), family, negated, qualifier, if_exists, tuple(fixed), tuple(templates))
