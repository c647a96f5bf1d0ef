"""Policy documents as IAM validates them when they are written.

The reasons are the messages AWS returns in MalformedPolicyDocument errors (and S3's
MalformedPolicy for a missing Principal): "Syntax errors in policy.", "Policy document should
not specify a principal.", "Policy statement must contain resources." and the rest, as users
report them from CreatePolicy, PutRolePolicy and PutBucketPolicy. Sizes are the quotas of
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.auth.policy import (
    MANAGED_POLICY_SIZE,
    CallerType,
    MalformedPolicy,
    Policy,
    PolicyKind,
    PolicySet,
    PolicyTooLarge,
    PrincipalInfo,
    Request,
    Result,
    check_policy_size,
    evaluate,
    parse_policy,
    policy_size,
)
from portside.auth.policy.document import (
    LEGACY_PARSING,
    MISSING_ACTIONS,
    MISSING_RESOURCES,
    NO_VENDOR,
    ONE_COLON,
    PRINCIPAL_NOT_ALLOWED,
    SID_NOT_ALPHANUMERIC,
    SID_NOT_UNIQUE,
    SYNTAX_ERROR,
)

IDENTITY, RESOURCE, TRUST = PolicyKind.IDENTITY, PolicyKind.RESOURCE, PolicyKind.TRUST
ACCT = "111122223333"


def statement(**elements: Any) -> dict[str, Any]:
    """An identity statement allowing everything, with `elements` changed (None removes)."""
    base: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    base.update(elements)
    return {k: v for k, v in base.items() if v is not None}


def policy(*statements: dict[str, Any], **top: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements)}
    document.update(top)
    return {k: v for k, v in document.items() if v is not None}


BUCKET_STATEMENT = statement(Principal={"AWS": ACCT}, Resource="arn:aws:s3:::b/*")

MALFORMED = [
    ("invalid_json", '{"Version": "2012-10-17", "Statement": [', IDENTITY, SYNTAX_ERROR),
    ("not_an_object", "[]", IDENTITY, SYNTAX_ERROR),
    ("unknown_policy_element", policy(statement(), Extra="x"), IDENTITY, SYNTAX_ERROR),
    ("missing_statement", policy(Statement=None), IDENTITY, "Missing required field Statement"),
    ("empty_statement_list", policy(), IDENTITY, "Missing required field Statement"),
    ("statement_not_an_object", policy("s3:*"), IDENTITY, SYNTAX_ERROR),
    ("unknown_statement_element", policy(statement(Actions="s3:*")), IDENTITY, SYNTAX_ERROR),
    ("missing_effect", policy(statement(Effect=None)), IDENTITY, "Missing required field Effect"),
    ("effect_is_case_sensitive", policy(statement(Effect="allow")), IDENTITY, SYNTAX_ERROR),
    ("action_and_not_action", policy(statement(NotAction="iam:*")), IDENTITY, SYNTAX_ERROR),
    ("resource_and_not_resource", policy(statement(NotResource="arn:aws:s3:::b")), IDENTITY,
     SYNTAX_ERROR),
    ("principal_and_not_principal", policy(statement(Principal="*", NotPrincipal="*")),
     RESOURCE, SYNTAX_ERROR),
    ("missing_action", policy(statement(Action=None)), IDENTITY, MISSING_ACTIONS),
    ("empty_action_list", policy(statement(Action=[])), IDENTITY, MISSING_ACTIONS),
    ("missing_resource", policy(statement(Resource=None)), IDENTITY, MISSING_RESOURCES),
    ("resource_policy_missing_resource", policy(statement(Principal="*", Resource=None)),
     RESOURCE, MISSING_RESOURCES),
    ("identity_policy_with_principal", policy(statement(Principal={"AWS": ACCT})), IDENTITY,
     PRINCIPAL_NOT_ALLOWED),
    ("boundary_with_principal", policy(statement(Principal="*")), PolicyKind.BOUNDARY,
     PRINCIPAL_NOT_ALLOWED),
    ("session_policy_with_not_principal", policy(statement(NotPrincipal="*")),
     PolicyKind.SESSION, PRINCIPAL_NOT_ALLOWED),
    ("resource_policy_without_principal", policy(statement()), RESOURCE,
     "Missing required field Principal"),
    ("trust_policy_without_principal", policy(statement(Action="sts:AssumeRole", Resource=None)),
     TRUST, "Missing required field Principal"),
    ("action_without_vendor", policy(statement(Action="GetObject")), IDENTITY, NO_VENDOR),
    ("action_with_empty_vendor", policy(statement(Action=":GetObject")), IDENTITY, NO_VENDOR),
    ("action_with_two_colons", policy(statement(Action="s3:Get:Object")), IDENTITY, ONE_COLON),
    ("action_not_a_string", policy(statement(Action=["s3:GetObject", 5])), IDENTITY,
     SYNTAX_ERROR),
    ("condition_key_without_vendor", policy(statement(
        Condition={"IpAddress": {"SourceIp": "203.0.113.0/24"}})), IDENTITY, NO_VENDOR),
    ("unknown_condition_operator", policy(statement(
        Condition={"StringEqualz": {"aws:username": "bob"}})), IDENTITY, SYNTAX_ERROR),
    ("null_has_no_if_exists", policy(statement(
        Condition={"NullIfExists": {"aws:TokenIssueTime": "true"}})), IDENTITY, SYNTAX_ERROR),
    ("unknown_set_qualifier", policy(statement(
        Condition={"ForEveryValue:StringEquals": {"aws:TagKeys": "a"}})), IDENTITY, SYNTAX_ERROR),
    ("two_set_qualifiers", policy(statement(
        Condition={"ForAllValues:ForAnyValue:StringEquals": {"aws:TagKeys": "a"}})), IDENTITY,
     SYNTAX_ERROR),
    ("condition_without_operator", policy(statement(
        Condition={"servicecatalog:accountLevel": "self"})), IDENTITY, SYNTAX_ERROR),
    ("condition_not_an_object", policy(statement(Condition=["x"])), IDENTITY, SYNTAX_ERROR),
    ("condition_value_an_object", policy(statement(
        Condition={"StringEquals": {"aws:username": {"a": "b"}}})), IDENTITY, SYNTAX_ERROR),
    ("unknown_version", policy(statement(), Version="2012-10-18"), IDENTITY, LEGACY_PARSING),
    ("version_not_a_string", policy(statement(), Version=2012), IDENTITY, SYNTAX_ERROR),
    ("id_not_a_string", policy(statement(), Id=["x"]), IDENTITY, SYNTAX_ERROR),
    ("resource_not_an_arn", policy(statement(Resource="mybucket")), IDENTITY,
     'Resource mybucket must be in ARN format or "*".'),
    ("resource_arn_too_short", policy(statement(Resource="arn:aws:s3:mybucket")), IDENTITY,
     'Resource arn:aws:s3:mybucket must be in ARN format or "*".'),
    ("principal_partial_wildcard", policy(statement(
        Principal={"AWS": f"arn:aws:iam::{ACCT}:user/*"}, Resource="arn:aws:s3:::b/*")),
     RESOURCE, f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCT}:user/*"'),
    ("principal_not_an_arn", policy(statement(Principal={"AWS": "bob"},
                                              Resource="arn:aws:s3:::b/*")),
     RESOURCE, 'Invalid principal in policy: "AWS":"bob"'),
    ("principal_plain_string", policy(statement(Principal="bob", Resource="arn:aws:s3:::b/*")),
     RESOURCE, 'Invalid principal in policy: "bob"'),
    ("principal_unknown_type", policy(statement(Principal={"Group": "admins"},
                                                Resource="arn:aws:s3:::b/*")),
     RESOURCE, 'Invalid principal in policy: "Group":"admins"'),
    ("principal_empty_list", policy(statement(Principal={"AWS": []}, Resource="arn:aws:s3:::b")),
     RESOURCE, 'Invalid principal in policy: "AWS":[]'),
    ("sid_not_alphanumeric", policy(statement(Sid="allow all")), IDENTITY, SID_NOT_ALPHANUMERIC),
    ("sid_not_unique", policy(statement(Sid="A"), statement(Sid="A")), IDENTITY, SID_NOT_UNIQUE),
    ("sid_not_unique_in_trust_policy", policy(
        statement(Sid="A", Action="sts:AssumeRole", Resource=None, Principal={"AWS": ACCT}),
        statement(Sid="A", Action="sts:TagSession", Resource=None, Principal={"AWS": ACCT})),
     TRUST, SID_NOT_UNIQUE),
]

VALID = [
    ("statement_as_an_object", {"Version": "2012-10-17", "Statement": statement()}, IDENTITY),
    ("version_2008", policy(statement(), Version="2008-10-17"), IDENTITY),
    ("no_version", policy(statement(), Version=None), IDENTITY),
    ("with_id", policy(statement(), Id="cd3ad3d9-2776-4ef1-a904-4c229d1642ee"), IDENTITY),
    ("trust_policy_without_resource", policy(statement(
        Action="sts:AssumeRole", Resource=None, Principal={"Service": "ecs-tasks.amazonaws.com"})),
     TRUST),
    ("resource_policy_sid_with_spaces", policy(dict(BUCKET_STATEMENT, Sid="Allow the account")),
     RESOURCE),
    ("principal_account_id_and_arns", policy(statement(Principal={"AWS": [
        ACCT, f"arn:aws:iam::{ACCT}:root", f"arn:aws:iam::{ACCT}:role/path/r",
        f"arn:aws:sts::{ACCT}:assumed-role/r/session", f"arn:aws:sts::{ACCT}:federated-user/u",
        "AIDAJQABLZS4A3QDU576Q"]}, Resource="arn:aws:s3:::b/*")), RESOURCE),
    ("principal_canonical_user", policy(statement(Principal={"CanonicalUser": "79a59df900b9"},
                                                  Resource="arn:aws:s3:::b/*")), RESOURCE),
    ("every_operator_family", policy(statement(Condition={
        "StringEquals": {"aws:username": "bob"}, "StringNotLikeIfExists": {"s3:prefix": "x*"},
        "NumericLessThanEquals": {"s3:max-keys": 10}, "DateGreaterThan": {
            "aws:CurrentTime": "2020-01-01T00:00:00Z"}, "Bool": {"aws:SecureTransport": True},
        "BinaryEquals": {"kms:blob": "AA=="}, "NotIpAddress": {"aws:SourceIp": ["::1/128"]},
        "ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:t"}, "Null": {"aws:TokenIssueTime": "true"},
        "ForAllValues:StringEqualsIgnoreCase": {"aws:TagKeys": ["a", "b"]},
        "ForAnyValue:StringLikeIfExists": {"aws:CalledVia": "*"}})), IDENTITY),
    ("condition_key_with_colons_in_tag", policy(statement(Condition={
        "StringEquals": {"aws:ResourceTag/aws:cloudformation:stack-name": "s"}})), IDENTITY),
    ("not_action_not_resource", policy(statement(Action=None, NotAction="iam:*", Resource=None,
                                                 NotResource=["arn:aws:s3:::b"])), IDENTITY),
    ("resource_with_variables", policy(statement(
        Resource="arn:aws:s3:::b/${aws:username, 'anonymous'}/${*}")), IDENTITY),
]


@pytest.mark.parametrize(("name", "document", "kind", "reason"), MALFORMED,
                         ids=[case[0] for case in MALFORMED])
def test_malformed_policy_reason(name: str, document: str | dict[str, Any], kind: PolicyKind,
                                 reason: str) -> None:
    with pytest.raises(MalformedPolicy) as raised:
        parse_policy(document, kind)
    assert raised.value.reason == reason


@pytest.mark.parametrize(("name", "document", "kind"), VALID, ids=[case[0] for case in VALID])
def test_valid_policy_parses(name: str, document: dict[str, Any], kind: PolicyKind) -> None:
    assert isinstance(parse_policy(document, kind), Policy)
    assert isinstance(parse_policy(json.dumps(document, indent=2), kind), Policy)


def test_policy_size_does_not_count_white_space() -> None:
    compact = json.dumps(policy(statement()), separators=(",", ":"))
    assert policy_size(json.dumps(policy(statement()), indent=4)) == policy_size(compact)
    assert policy_size('{"a": "b c"}') == len('{"a":"bc"}')


def test_check_policy_size_at_and_over_the_quota() -> None:
    at_limit = "x" * MANAGED_POLICY_SIZE + " \n\t" * 100
    check_policy_size(at_limit, MANAGED_POLICY_SIZE)
    with pytest.raises(PolicyTooLarge) as raised:
        check_policy_size(at_limit + "x", MANAGED_POLICY_SIZE)
    assert isinstance(raised.value, MalformedPolicy)
    assert raised.value.reason == "Cannot exceed quota for PolicySize: 6144"
    assert (raised.value.size, raised.value.limit) == (MANAGED_POLICY_SIZE + 1, MANAGED_POLICY_SIZE)


def test_check_policy_size_names_the_callers_quota() -> None:
    with pytest.raises(PolicyTooLarge) as raised:
        check_policy_size("x" * 2049, 2048, quota="ACLSizePerRole")
    assert raised.value.reason == "Cannot exceed quota for ACLSizePerRole: 2048"


# --- properties: any input parses or is refused; evaluation never fails -----------------------

KINDS = st.sampled_from(list(PolicyKind))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)

KEYS = ["aws:username", "aws:userid", "aws:SourceIp", "aws:CurrentTime", "aws:EpochTime",
        "aws:SecureTransport", "aws:PrincipalTag/team", "aws:RequestTag/env", "aws:TagKeys",
        "aws:PrincipalArn", "aws:SourceArn", "s3:prefix", "s3:max-keys", "kms:blob"]
OPERATOR_NAMES = [
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
    "ArnLike", "ArnNotEquals", "ArnNotLike", "Null", "StringLikeIfExists",
    "ForAllValues:StringEquals", "ForAnyValue:StringNotLike", "ForAllValues:NumericLessThan",
    "ForAnyValue:IpAddressIfExists", "ForAnyValue:DateGreaterThan", "Bogus"]
WORDS = st.sampled_from([
    "*", "?", "", "bob", "true", "false", "10", "1e3", "-1", "nan", "2020-01-01T00:00:00Z",
    "2020-13", "1577836800", "203.0.113.0/24", "2001:db8::/32", "::1", "AA==", "not base64",
    "arn:aws:s3:::b/*", "arn:aws:iam::111122223333:role/*", "${aws:username}", "${*}", "${?",
    "${aws:PrincipalTag/team, 'none'}", "${aws:TagKeys}", "home/${aws:userid}/*", "s3:Get*",
    "s3:*", "iam:*User*", "sts:AssumeRole", "GetObject", "a:b:c",
    f"arn:aws:iam::{ACCT}:user/bob", ACCT, "sns.amazonaws.com"])
STRINGS = WORDS | st.text(max_size=10)
VALUE_OR_LIST = STRINGS | st.lists(STRINGS | st.integers() | st.booleans(), max_size=3)
CONDITIONS = st.dictionaries(
    st.sampled_from(OPERATOR_NAMES),
    st.dictionaries(st.sampled_from(KEYS), VALUE_OR_LIST, min_size=1, max_size=2),
    max_size=3)
PRINCIPALS = st.one_of(
    st.just("*"), STRINGS,
    st.dictionaries(st.sampled_from(["AWS", "Service", "Federated", "Group"]), VALUE_OR_LIST,
                    min_size=1, max_size=2))
STATEMENTS = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny", "Allow", "Deny", "Permit"])},
    optional={"Sid": STRINGS, "Action": VALUE_OR_LIST, "NotAction": VALUE_OR_LIST,
              "Resource": VALUE_OR_LIST, "NotResource": VALUE_OR_LIST, "Condition": CONDITIONS,
              "Principal": PRINCIPALS, "NotPrincipal": PRINCIPALS})
DOCUMENTS = st.fixed_dictionaries(
    {"Statement": st.lists(STATEMENTS, min_size=1, max_size=3) | STATEMENTS},
    optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17", "2012-10-18"]),
              "Id": st.text(max_size=5)})

CONTEXT_VALUES = st.one_of(
    STRINGS, st.booleans(), st.integers(), st.floats(), st.datetimes(),
    st.datetimes(timezones=st.just(UTC)), st.lists(STRINGS | st.integers(), max_size=3))
CONTEXTS = st.dictionaries(st.sampled_from(KEYS + [k.upper() for k in KEYS]), CONTEXT_VALUES,
                           max_size=6)
CALLERS = st.sampled_from([
    PrincipalInfo(CallerType.USER, f"arn:aws:iam::{ACCT}:user/bob", ACCT, "AIDAEXAMPLE", "bob",
                  tags={"team": "a*"}),
    PrincipalInfo(CallerType.ASSUMED_ROLE, f"arn:aws:sts::{ACCT}:assumed-role/r/s", ACCT,
                  "AROAEXAMPLE:s", "s", parent_arn=f"arn:aws:iam::{ACCT}:role/r"),
    PrincipalInfo(CallerType.FEDERATED_USER, f"arn:aws:sts::{ACCT}:federated-user/f", ACCT),
    PrincipalInfo(CallerType.ACCOUNT, f"arn:aws:iam::{ACCT}:root", ACCT, ACCT),
    PrincipalInfo(CallerType.SERVICE, "sns.amazonaws.com"),
    PrincipalInfo(CallerType.ANONYMOUS, "anonymous"),
])


def parse_or_refuse(document: str | dict[str, Any], kind: PolicyKind) -> Policy | None:
    try:
        return parse_policy(document, kind)
    except MalformedPolicy:
        return None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), KINDS)
def test_any_text_parses_or_is_refused(text: str, kind: PolicyKind) -> None:
    parse_or_refuse(text, kind)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, KINDS)
def test_any_json_parses_or_is_refused(value: Any, kind: PolicyKind) -> None:
    parse_or_refuse(json.dumps(value), kind)


ACTIONS = st.sampled_from(["*", "s3:*", "s3:Get*", "s3:GetObject", "iam:*User*", "x:?",
                           "sts:AssumeRole"])
RESOURCES = st.sampled_from(["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/home/${aws:username}/*",
                             "arn:aws:iam::*:user/${aws:PrincipalTag/team, 'x'}", "arn:*:*:*:*:*",
                             "arn:aws:s3:::b/${*}", "arn:aws:s3:::b/${aws:TagKeys}"])
AWS_PRINCIPALS = st.sampled_from(["*", ACCT, f"arn:aws:iam::{ACCT}:user/bob",
                                  f"arn:aws:iam::{ACCT}:role/r", "AROAEXAMPLEROLE00000"])
KNOWN_CONDITIONS = st.dictionaries(
    st.sampled_from(OPERATOR_NAMES[:-1]),
    st.dictionaries(st.sampled_from(KEYS), VALUE_OR_LIST, min_size=1, max_size=2),
    max_size=3)


@st.composite
def plausible_documents(draw: st.DrawFn, kind: PolicyKind) -> dict[str, Any]:
    """Documents built to mostly pass validation, so that evaluation meets many of them."""
    statements = []
    for _ in range(draw(st.integers(1, 3))):
        item: dict[str, Any] = {
            "Effect": draw(st.sampled_from(["Allow", "Deny"])),
            draw(st.sampled_from(["Action", "NotAction"])): draw(st.lists(ACTIONS, min_size=1)),
            draw(st.sampled_from(["Resource", "NotResource"])): draw(
                st.lists(RESOURCES, min_size=1, max_size=3)),
            "Condition": draw(KNOWN_CONDITIONS),
        }
        if kind.has_principal:
            item[draw(st.sampled_from(["Principal", "NotPrincipal"]))] = draw(
                st.just("*") | st.fixed_dictionaries(
                    {"AWS": st.lists(AWS_PRINCIPALS, min_size=1, max_size=3)})
                | st.just({"Service": "sns.amazonaws.com"}))
        statements.append(item)
    return {"Version": draw(st.sampled_from(["2012-10-17", "2008-10-17"])),
            "Statement": statements}


@st.composite
def kinds_and_documents(draw: st.DrawFn) -> tuple[PolicyKind, dict[str, Any]]:
    kind = draw(KINDS)
    return kind, draw(plausible_documents(kind) | DOCUMENTS)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds_and_documents(), CALLERS,
       st.sampled_from(["s3:GetObject", "iam:CreateUser", "x:y", "sts:AssumeRole"]),
       st.sampled_from(["*", "arn:aws:s3:::b/home/bob/k", f"arn:aws:iam::{ACCT}:user/bob"]),
       st.sampled_from([None, ACCT, "444455556666"]), CONTEXTS)
def test_evaluation_of_any_parsed_policy_never_fails(
        kind_and_document: tuple[PolicyKind, dict[str, Any]], caller: PrincipalInfo, action: str,
        resource: str, resource_account: str | None, context: dict[str, Any]) -> None:
    kind, document = kind_and_document
    parsed = parse_or_refuse(document, kind)
    if parsed is None:
        return
    as_resource = parsed.kind in (PolicyKind.RESOURCE, PolicyKind.TRUST)
    policies = PolicySet(
        identity=[] if as_resource else [parsed],
        resource=parsed if as_resource else None,
        boundary=parsed if parsed.kind is PolicyKind.BOUNDARY else None,
        session=[parsed] if parsed.kind is PolicyKind.SESSION else [],
    )
    result = evaluate(Request(caller, action, resource, resource_account, context), policies)
    assert isinstance(result, Result)
