"""IAM policy evaluation, case by case, as the AWS documentation states it.

Each row names the rule it encodes in `source` — a page of the IAM User Guide (or the example on
it) at https://docs.aws.amazon.com/IAM/latest/UserGuide/ — so a failing row says which AWS rule
portside breaks. Pages cited:

- EVAL: reference_policies_evaluation-logic.html (Policy evaluation logic)
- XACCT: reference_policies_evaluation-logic-cross-account.html
- ACTION / RESOURCE / PRINCIPAL / NOTPRINCIPAL: reference_policies_elements_*.html
- OPS: reference_policies_elements_condition_operators.html (Condition operators)
- MULTI: reference_policies_multi-value-conditions.html (ForAllValues / ForAnyValue)
- KEYS: reference_policies_condition-keys.html (AWS global condition context keys)
- VARS: reference_policies_variables.html (Policy variables)
- BOUNDARY: access_policies_boundaries.html (Permissions boundaries)
- SESSION: access_policies.html#policies_session (Session policies)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from portside.auth.policy import (
    CallerType,
    Decision,
    Effect,
    MatchedStatement,
    PolicyKind,
    PolicySet,
    PolicyType,
    PrincipalInfo,
    Request,
    evaluate,
    parse_policy,
)

EVAL = "IAM UG: Policy evaluation logic"
XACCT = "IAM UG: Cross-account policy evaluation logic"
ACTION = "IAM UG: IAM JSON policy elements: Action"
RESOURCE = "IAM UG: IAM JSON policy elements: Resource"
PRINCIPAL = "IAM UG: AWS JSON policy elements: Principal"
NOTPRINCIPAL = "IAM UG: AWS JSON policy elements: NotPrincipal"
OPS = "IAM UG: Condition operators"
MULTI = "IAM UG: Creating a condition with multiple keys or values"
KEYS = "IAM UG: AWS global condition context keys"
VARS = "IAM UG: IAM policy elements: Variables and tags"
BOUNDARY = "IAM UG: Permissions boundaries for IAM entities"
SESSION = "IAM UG: Policies and permissions — Session policies"

ACCT = "111122223333"
OTHER = "444455556666"
BUCKET_KEY = "arn:aws:s3:::bucket/key"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/app"
SESSION_ARN = f"arn:aws:sts::{ACCT}:assumed-role/app/s1"

BOB = PrincipalInfo(CallerType.USER, f"arn:aws:iam::{ACCT}:user/bob", ACCT,
                    "AIDAEXAMPLEBOB0000000", "bob",
                    tags={"team": "storage", "department": "finance", "prefix": "a*"})
ALICE = PrincipalInfo(CallerType.USER, f"arn:aws:iam::{ACCT}:user/alice", ACCT,
                      "AIDAEXAMPLEALICE00000", "alice")
CARLOS = PrincipalInfo(CallerType.USER, f"arn:aws:iam::{ACCT}:user/carlossalazar", ACCT,
                       "AIDAEXAMPLECARLOS0000", "carlossalazar")
ROLE = PrincipalInfo(CallerType.ASSUMED_ROLE, SESSION_ARN, ACCT, "AROAEXAMPLEAPP0000000:s1", "s1",
                     parent_arn=ROLE_ARN, tags={"team": "storage"})
FEDERATED = PrincipalInfo(CallerType.FEDERATED_USER, f"arn:aws:sts::{ACCT}:federated-user/carol",
                          ACCT, f"{ACCT}:carol", "carol", parent_arn=BOB.arn)
ROOT = PrincipalInfo(CallerType.ACCOUNT, f"arn:aws:iam::{ACCT}:root", ACCT, ACCT)
DAVE = PrincipalInfo(CallerType.USER, f"arn:aws:iam::{OTHER}:user/dave", OTHER,
                     "AIDAEXAMPLEDAVE00000", "dave")
OTHER_ROOT = PrincipalInfo(CallerType.ACCOUNT, f"arn:aws:iam::{OTHER}:root", OTHER, OTHER)
OTHER_ROLE = PrincipalInfo(CallerType.ASSUMED_ROLE, f"arn:aws:sts::{OTHER}:assumed-role/audit/x",
                           OTHER, "AROAEXAMPLEAUDIT00000:x", "x",
                           parent_arn=f"arn:aws:iam::{OTHER}:role/audit")
SNS = PrincipalInfo(CallerType.SERVICE, "sns.amazonaws.com")
ANONYMOUS = PrincipalInfo(CallerType.ANONYMOUS, "anonymous")
GOOGLE_USER = PrincipalInfo(CallerType.WEB_IDENTITY, "accounts.google.com")

TOPIC = f"arn:aws:sns:us-east-1:{ACCT}:uploads"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCT}:jobs"


def stmt(effect: str = "Allow", action: str | list[str] | None = "*",
         resource: str | list[str] | None = "*", **elements: Any) -> dict[str, Any]:
    """One statement; `elements` adds e.g. Principal=…, Condition=…, NotAction=…."""
    statement: dict[str, Any] = {"Effect": effect}
    if action is not None:
        statement["Action"] = action
    if resource is not None:
        statement["Resource"] = resource
    return statement | elements


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def allow(action: str | list[str] | None = "*", resource: str | list[str] | None = "*",
          **elements: Any) -> dict[str, Any]:
    return doc(stmt("Allow", action, resource, **elements))


def deny(action: str | list[str] | None = "*", resource: str | list[str] | None = "*",
         **elements: Any) -> dict[str, Any]:
    return doc(stmt("Deny", action, resource, **elements))


def when(operator: str, key: str, value: Any) -> dict[str, Any]:
    """An identity policy allowing everything under one condition."""
    return allow(Condition={operator: {key: value}})


def to(*principals: str, **other: str | list[str]) -> dict[str, Any]:
    """A Principal element naming AWS principals (and others by type)."""
    element: dict[str, Any] = {"AWS": list(principals)} if principals else {}
    return element | other


@dataclass(frozen=True)
class Case:
    name: str
    expected: Decision
    source: str
    denied_by: PolicyType | None = None
    identity: tuple[dict[str, Any], ...] = ()
    resource: dict[str, Any] | None = None
    trust: dict[str, Any] | None = None
    boundary: dict[str, Any] | None = None
    session: tuple[dict[str, Any], ...] = ()
    principal: PrincipalInfo = BOB
    action: str = "s3:GetObject"
    resource_arn: str = BUCKET_KEY
    resource_account: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


ALLOW = Decision.ALLOW
EXPLICIT = Decision.EXPLICIT_DENY
IMPLICIT = Decision.IMPLICIT_DENY
ID, RB, TRUST, BOUND, SESS = (PolicyType.IDENTITY, PolicyType.RESOURCE, PolicyType.TRUST,
                              PolicyType.BOUNDARY, PolicyType.SESSION)

CARLOS_POLICY = doc(
    stmt(action=["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints",
                 "s3:ListAllMyBuckets"], resource="arn:aws:s3:::*", Sid="AllowS3ListRead"),
    stmt(action="s3:*", resource=["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
         Sid="AllowS3Self"),
    stmt("Deny", "s3:*", "arn:aws:s3:::*log*", Sid="DenyS3Logs"),
)
CARLOS_BUCKET = doc(stmt(action="s3:*", resource=["arn:aws:s3:::carlossalazar/*",
                                                  "arn:aws:s3:::carlossalazar"],
                         Principal=to(CARLOS.arn)))
GET_LIST_NOT_REPORTS = doc(stmt(action=["iam:Get*", "iam:List*"], Sid="AllowGetList"),
                           stmt("Deny", "iam:*Report", Sid="DenyReports"))
XCOMPANY_BOUNDARY = doc(
    stmt(action=["s3:*", "cloudwatch:*", "ec2:*", "dynamodb:*"], Sid="ServiceBoundaries"),
    stmt("Deny", "s3:*", ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"], Sid="DenyS3Logs"))
SHIRLEY_BOUNDARY = allow(["s3:*", "cloudwatch:*", "ec2:*"])
EC2_ONLY = allow("ec2:*")
EVERYTHING = allow()
NOT_BOB_DENY = doc(stmt(action="s3:*", Principal="*"),
                   stmt("Deny", "s3:*", NotPrincipal=to(BOB.arn, f"arn:aws:iam::{ACCT}:root")))
TRUST_ACCOUNT_EXTERNAL_ID = doc(stmt(
    action="sts:AssumeRole", resource=None, Principal=to(OTHER),
    Condition={"StringEquals": {"sts:ExternalId": "abc"}}))
SNS_TO_SQS = doc(stmt(action="SQS:SendMessage", resource=QUEUE,
                      Principal={"Service": "sns.amazonaws.com"},
                      Condition={"ArnEquals": {"aws:SourceArn": TOPIC}}))
FINANCE = "arn:aws:someservice:*:111122223333:finance/*"
DOC_ARN_VALUE = ("arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:"
                 "finance/document.txt")
DYNAMODB_ATTRIBUTES = ["PostDateTime", "Message", "Tags"]
HOME = "arn:aws:s3:::bucket/home"
BLOB = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="
MIXED_RANGES = ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]
PLUS_TWO = timezone(timedelta(hours=2))

CASES = [
    # --- the basic rules ------------------------------------------------------------------
    Case("no_policy_is_an_implicit_deny", IMPLICIT, f"{EVAL} — requests are implicitly denied "
         "by default", ID),
    Case("identity_allow", ALLOW, f"{EVAL} — an explicit allow in an identity-based policy "
         "overrides the default", identity=(allow("s3:GetObject", "arn:aws:s3:::bucket/*"),)),
    Case("deny_overrides_allow_in_same_policy", EXPLICIT, f"{EVAL} — an explicit deny overrides "
         "any allows", ID, identity=(doc(stmt(), stmt("Deny", "s3:GetObject")),)),
    Case("deny_in_another_policy_overrides_allow", EXPLICIT, f"{EVAL} — an explicit deny in any "
         "policy overrides any allows", ID, identity=(EVERYTHING, deny("s3:*"))),
    Case("allow_of_another_action_is_implicit_deny", IMPLICIT, f"{EVAL} — no applicable Allow",
         ID, identity=(allow("s3:PutObject"),)),
    Case("root_may_do_anything_in_its_account", ALLOW, f"{EVAL} — except the root user, which "
         "has full access", principal=ROOT),
    Case("root_is_bound_by_a_resource_policy_deny", EXPLICIT, f"{EVAL} — explicit deny in any "
         "policy (root user)", RB, principal=ROOT, resource=deny("s3:*", Principal="*")),
    Case("carlos_denied_on_log_bucket", EXPLICIT, f"{EVAL} — example: DenyS3Logs denies "
         "carlossalazar-logs", ID, identity=(CARLOS_POLICY,), resource=CARLOS_BUCKET,
         principal=CARLOS, action="s3:PutObject",
         resource_arn="arn:aws:s3:::carlossalazar-logs/file"),
    Case("carlos_allowed_on_own_bucket", ALLOW, f"{EVAL} — example: both policies allow "
         "carlossalazar", identity=(CARLOS_POLICY,), resource=CARLOS_BUCKET, principal=CARLOS,
         action="s3:PutObject", resource_arn="arn:aws:s3:::carlossalazar/file"),
    Case("report_actions_explicitly_denied", EXPLICIT, f"{EVAL} — explicit and implicit denies "
         "example: DenyReports", ID, identity=(GET_LIST_NOT_REPORTS,),
         action="iam:GetOrganizationsAccessReport", resource_arn="*"),
    Case("get_actions_allowed", ALLOW, f"{EVAL} — explicit and implicit denies example: "
         "AllowGetList", identity=(GET_LIST_NOT_REPORTS,), action="iam:GetUser",
         resource_arn="*"),
    Case("other_actions_implicitly_denied", IMPLICIT, f"{EVAL} — explicit and implicit denies "
         "example: iam:CreatePolicy", ID, identity=(GET_LIST_NOT_REPORTS,),
         action="iam:CreatePolicy", resource_arn="*"),
    # --- Action and NotAction --------------------------------------------------------------
    Case("action_prefix_wildcard", ALLOW, f"{ACTION} — wildcard in the action name",
         identity=(allow("s3:Get*"),)),
    Case("action_names_are_case_insensitive", ALLOW, f"{ACTION} — action names are not case "
         "sensitive", identity=(allow("S3:getobject"),)),
    Case("action_single_character_wildcard", ALLOW, f"{ACTION} — `?` matches one character",
         identity=(allow("s3:GetObjec?"),)),
    Case("action_star_is_every_action", ALLOW, f"{ACTION} — `*` alone", identity=(EVERYTHING,),
         action="iam:CreateUser", resource_arn="*"),
    Case("action_infix_wildcard", ALLOW, f"{EVAL} — `iam:*AccessKey*` (condition operators "
         "examples)", identity=(allow("iam:*AccessKey*"),), action="iam:CreateAccessKey"),
    Case("action_wildcard_does_not_match_other_prefix", IMPLICIT, f"{ACTION} — `s3:Get*`",
         ID, identity=(allow("s3:Get*"),), action="s3:PutObject"),
    Case("not_action_allows_unlisted_actions", ALLOW, "IAM UG: IAM JSON policy elements: "
         "NotAction — Allow with NotAction", identity=(allow(None, NotAction="iam:*"),)),
    Case("not_action_excludes_listed_actions", IMPLICIT, "IAM UG: IAM JSON policy elements: "
         "NotAction — listed actions are not allowed", ID,
         identity=(allow(None, NotAction="iam:*"),), action="iam:CreateUser"),
    Case("deny_with_not_action_denies_unlisted", EXPLICIT, "IAM UG: IAM JSON policy elements: "
         "NotAction — Deny with NotAction", ID,
         identity=(EVERYTHING, deny(None, NotAction=["s3:GetObject"])), action="s3:PutObject"),
    Case("deny_with_not_action_spares_listed", ALLOW, "IAM UG: IAM JSON policy elements: "
         "NotAction — Deny with NotAction", identity=(EVERYTHING,
                                                      deny(None, NotAction=["s3:GetObject"]))),
    # --- Resource and NotResource ----------------------------------------------------------
    Case("resource_exact", ALLOW, f"{RESOURCE} — a specific resource",
         identity=(allow("s3:*", BUCKET_KEY),)),
    Case("resource_wildcard_spans_slashes", ALLOW, f"{RESOURCE} — all items within a bucket",
         identity=(allow("s3:*", "arn:aws:s3:::bucket/*"),),
         resource_arn="arn:aws:s3:::bucket/a/b"),
    Case("resource_is_case_sensitive", IMPLICIT, f"{RESOURCE} — ARNs are case sensitive", ID,
         identity=(allow("s3:*", "arn:aws:s3:::Bucket/*"),)),
    Case("resource_single_character_wildcard", ALLOW, f"{RESOURCE} — `?` is any single "
         "character", identity=(allow("s3:*", "arn:aws:s3:::bucket/ke?"),)),
    Case("resource_wildcard_stays_in_its_segment", IMPLICIT, f"{RESOURCE} — wildcards within "
         "any ARN segment (segments checked separately)", ID,
         identity=(allow("someservice:*", FINANCE),),
         action="someservice:Get", resource_arn=DOC_ARN_VALUE),
    Case("resource_part_may_hold_colons", ALLOW, f"{RESOURCE} — the resource part of the ARN "
         "matched as a whole",
         identity=(allow("logs:*", f"arn:aws:logs:*:{ACCT}:log-group:app:*"),),
         action="logs:PutLogEvents",
         resource_arn=f"arn:aws:logs:us-east-1:{ACCT}:log-group:app:log-stream:web"),
    Case("not_resource_allows_other_resources", ALLOW, "IAM UG: IAM JSON policy elements: "
         "NotResource", identity=(allow("s3:*", None, NotResource="arn:aws:s3:::secret/*"),)),
    Case("not_resource_excludes_listed", IMPLICIT, "IAM UG: IAM JSON policy elements: "
         "NotResource", ID, identity=(allow("s3:*", None, NotResource="arn:aws:s3:::secret/*"),),
         resource_arn="arn:aws:s3:::secret/x"),
    Case("action_without_resource_needs_star", IMPLICIT, f"{RESOURCE} — services that do not "
         "let you specify individual resources use `*`", ID,
         identity=(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"),), action="s3:ListAllMyBuckets",
         resource_arn="*"),
    Case("action_without_resource_and_star", ALLOW, f"{RESOURCE} — use the wildcard `*` in the "
         "Resource element", identity=(allow("s3:ListAllMyBuckets"),),
         action="s3:ListAllMyBuckets", resource_arn="*"),
    # --- resource-based policies, same account ---------------------------------------------
    Case("bucket_policy_naming_user_needs_no_identity_policy", ALLOW, f"{EVAL} — within the "
         "same account either policy allowing is enough",
         resource=allow("s3:GetObject", "arn:aws:s3:::bucket/*", Principal=to(BOB.arn))),
    Case("bucket_policy_naming_someone_else", IMPLICIT, f"{EVAL} — no applicable Allow", ID,
         resource=allow("s3:GetObject", Principal=to(ALICE.arn))),
    Case("account_principal_delegates_to_identity_policies", IMPLICIT, f"{PRINCIPAL} — an "
         "account principal delegates authority to the account", ID,
         resource=allow("s3:*", Principal=to(ACCT))),
    Case("account_principal_with_identity_allow", ALLOW, f"{PRINCIPAL} — an administrator in "
         "that account grants access to an identity", identity=(allow("s3:GetObject"),),
         resource=allow("s3:*", Principal=to(ACCT))),
    Case("star_principal_grants_same_account_users", ALLOW, f"{PRINCIPAL} — All principals: "
         "no other permissions are required within your account",
         resource=allow("s3:GetObject", Principal="*")),
    Case("aws_star_principal_is_everyone", ALLOW, f"{PRINCIPAL} — `\"*\"` and `{{\"AWS\": "
         "\"*\"}}` are equivalent", resource=allow("s3:GetObject", Principal=to("*"))),
    Case("identity_allow_suffices_when_bucket_policy_is_silent", ALLOW, f"{EVAL} — if either "
         "policy allows and the other doesn't, the request is still allowed",
         identity=(allow("s3:GetObject"),), resource=allow("s3:*", Principal=to(ALICE.arn))),
    Case("role_arn_principal_names_its_sessions", ALLOW, f"{EVAL} — resource-based policies "
         "that grant permissions to an IAM role ARN", principal=ROLE,
         resource=allow("s3:GetObject", Principal=to(ROLE_ARN))),
    Case("role_arn_grant_limited_by_boundary", IMPLICIT, f"{EVAL} — IAM role: limited by an "
         "implicit deny in a permissions boundary", BOUND, principal=ROLE, boundary=EC2_ONLY,
         resource=allow("s3:GetObject", Principal=to(ROLE_ARN))),
    Case("session_arn_grant_not_limited_by_boundary", ALLOW, f"{EVAL} — IAM role session: not "
         "limited by an implicit deny in a permissions boundary", principal=ROLE,
         boundary=EC2_ONLY, resource=allow("s3:GetObject", Principal=to(SESSION_ARN))),
    Case("session_arn_grant_not_limited_by_session_policy", ALLOW, f"{SESSION} — resource-based "
         "policy naming the session: not limited by the session policy", principal=ROLE,
         session=(EC2_ONLY,), resource=allow("s3:GetObject", Principal=to(SESSION_ARN))),
    Case("role_arn_grant_limited_by_session_policy", IMPLICIT, f"{SESSION} — resource-based "
         "policy naming the role: limited by the session policy", SESS, principal=ROLE,
         session=(EC2_ONLY,), resource=allow("s3:GetObject", Principal=to(ROLE_ARN))),
    Case("user_arn_grant_not_limited_by_boundary", ALLOW, f"{EVAL} — IAM user: not limited by "
         "an implicit deny in a permissions boundary", boundary=EC2_ONLY,
         resource=allow("s3:GetObject", Principal=to(BOB.arn))),
    Case("role_unique_id_names_its_sessions", ALLOW, f"{PRINCIPAL} — a role ARN transforms to "
         "the role's unique principal ID", principal=ROLE,
         resource=allow("s3:GetObject", Principal=to("AROAEXAMPLEAPP0000000"))),
    Case("service_principal_with_source_arn", ALLOW, f"{OPS} — ARN operators: SNS to SQS "
         "example", principal=SNS, action="sqs:SendMessage", resource_arn=QUEUE,
         resource=SNS_TO_SQS, context={"aws:SourceArn": TOPIC}),
    Case("service_principal_from_another_topic", IMPLICIT, f"{OPS} — ARN operators: SNS to SQS "
         "example", RB, principal=SNS, action="sqs:SendMessage", resource_arn=QUEUE,
         resource=SNS_TO_SQS, context={"aws:SourceArn": TOPIC + "-other"}),
    Case("service_not_named", IMPLICIT, f"{PRINCIPAL} — AWS service principals", RB,
         principal=SNS, action="sqs:SendMessage", resource_arn=QUEUE,
         resource=allow("sqs:SendMessage", Principal={"Service": "events.amazonaws.com"})),
    Case("anonymous_public_read", ALLOW, f"{PRINCIPAL} — a wildcard grants access to all "
         "users, including anonymous users", principal=ANONYMOUS,
         resource=allow("s3:GetObject", Principal="*")),
    Case("anonymous_not_named_by_account", IMPLICIT, f"{PRINCIPAL} — AWS account principals",
         RB, principal=ANONYMOUS, resource=allow("s3:GetObject", Principal=to(ACCT))),
    Case("federated_user_session_named_directly", ALLOW, f"{EVAL} — IAM federated user "
         "sessions: grants to the session are not limited", principal=FEDERATED,
         resource=allow("s3:GetObject", Principal=to(FEDERATED.arn))),
    Case("federated_user_via_its_iam_user_is_limited", IMPLICIT, f"{EVAL} — a grant to the "
         "federating IAM user is limited by session policy", SESS, principal=FEDERATED,
         resource=allow("s3:GetObject", Principal=to(BOB.arn))),
    # --- NotPrincipal ------------------------------------------------------------------------
    Case("not_principal_deny_spares_listed_user", ALLOW, f"{NOTPRINCIPAL} — example: IAM user "
         "in the same or a different account", resource=NOT_BOB_DENY),
    Case("not_principal_deny_denies_everyone_else", EXPLICIT, f"{NOTPRINCIPAL} — actions are "
         "explicitly denied to all principals except the ones specified", RB, principal=ALICE,
         resource=NOT_BOB_DENY),
    Case("not_principal_without_the_account_denies_the_user", EXPLICIT, f"{NOTPRINCIPAL} — "
         "without the account ARN the policy might deny the account containing the user", RB,
         resource=doc(stmt(action="s3:*", Principal="*"),
                      stmt("Deny", "s3:*", NotPrincipal=to(BOB.arn)))),
    Case("not_principal_deny_applies_to_bounded_principals", EXPLICIT, f"{BOUNDARY} — "
         "NotPrincipal with Deny always denies a principal with a permissions boundary", RB,
         boundary=EVERYTHING, resource=NOT_BOB_DENY),
    Case("not_principal_deny_spares_session_role_and_account", ALLOW, f"{NOTPRINCIPAL} — "
         "example: IAM role in the same or different account", principal=ROLE,
         resource=doc(stmt(action="s3:*", Principal="*"),
                      stmt("Deny", "s3:*", NotPrincipal=to(SESSION_ARN, ROLE_ARN,
                                                           f"arn:aws:iam::{ACCT}:root")))),
    Case("not_principal_deny_without_the_role_denies_the_session", EXPLICIT, f"{NOTPRINCIPAL} — "
         "if the element was missing the role's ARN, the policy might deny the role", RB,
         principal=ROLE, resource=doc(stmt(action="s3:*", Principal="*"),
                                      stmt("Deny", "s3:*", NotPrincipal=to(
                                          SESSION_ARN, f"arn:aws:iam::{ACCT}:root")))),
    # --- cross-account -------------------------------------------------------------------------
    Case("cross_account_needs_both_and_has_both", ALLOW, f"{XACCT} — both evaluations must "
         "return Allow", principal=DAVE, identity=(allow("s3:GetObject"),),
         resource=allow("s3:GetObject", Principal=to(OTHER)), resource_account=ACCT),
    Case("cross_account_without_resource_policy", IMPLICIT, f"{XACCT} — the resource-based "
         "policy in the trusting account must allow", RB, principal=DAVE,
         identity=(allow("s3:GetObject"),), resource_account=ACCT),
    Case("cross_account_without_identity_policy", IMPLICIT, f"{XACCT} — the requester must have "
         "an identity-based policy that allows", ID, principal=DAVE,
         resource=allow("s3:GetObject", Principal=to(DAVE.arn)), resource_account=ACCT),
    Case("cross_account_star_principal_still_needs_identity", IMPLICIT, f"{PRINCIPAL} — "
         "principals in other accounts must also have identity-based permissions", ID,
         principal=DAVE, resource=allow("s3:GetObject", Principal="*"), resource_account=ACCT),
    Case("cross_account_star_principal_with_identity", ALLOW, f"{PRINCIPAL} — cross-account "
         "access with a wildcard principal", principal=DAVE, identity=(allow("s3:*"),),
         resource=allow("s3:GetObject", Principal="*"), resource_account=ACCT),
    Case("cross_account_boundary_limits_identity_side", IMPLICIT, f"{XACCT} — the trusted "
         "account checks policies that can limit an identity-based policy", BOUND,
         principal=DAVE, identity=(allow("s3:*"),), boundary=EC2_ONLY,
         resource=allow("s3:GetObject", Principal=to(OTHER)), resource_account=ACCT),
    Case("cross_account_resource_policy_deny", EXPLICIT, f"{EVAL} — an explicit deny in any "
         "policy", RB, principal=DAVE, identity=(allow("s3:*"),),
         resource=doc(stmt(action="s3:*", Principal=to(OTHER)),
                      stmt("Deny", "s3:GetObject", Principal=to(DAVE.arn))),
         resource_account=ACCT),
    Case("cross_account_root_needs_resource_policy", IMPLICIT, f"{XACCT} — the resource's "
         "account must allow", RB, principal=OTHER_ROOT, resource_account=ACCT),
    Case("cross_account_root_named_by_its_account", ALLOW, f"{PRINCIPAL} — the account ARN "
         "and the shortened account ID behave the same way", principal=OTHER_ROOT,
         resource=allow("s3:GetObject", Principal=to(f"arn:aws:iam::{OTHER}:root")),
         resource_account=ACCT),
    Case("cross_account_session_named_by_role", ALLOW, f"{PRINCIPAL} — IAM role principals",
         principal=OTHER_ROLE, identity=(allow("s3:GetObject"),),
         resource=allow("s3:GetObject", Principal=to(f"arn:aws:iam::{OTHER}:role/audit")),
         resource_account=ACCT),
    Case("cross_account_resource_policy_names_a_third_account", IMPLICIT, f"{XACCT} — the "
         "resource-based policy must specify the principal", RB, principal=DAVE,
         identity=(allow("s3:*"),), resource=allow("s3:*", Principal=to("999999999999")),
         resource_account=ACCT),
    # --- permissions boundaries ----------------------------------------------------------------
    Case("boundary_and_identity_both_allow", ALLOW, f"{BOUNDARY} — allowed by both",
         identity=(allow("s3:*"),), boundary=SHIRLEY_BOUNDARY),
    Case("boundary_limits_identity_policy", IMPLICIT, f"{BOUNDARY} — example: "
         "ShirleyRodriguez cannot create a user", BOUND, identity=(allow("iam:CreateUser"),),
         boundary=SHIRLEY_BOUNDARY, action="iam:CreateUser", resource_arn="*"),
    Case("boundary_grants_nothing_by_itself", IMPLICIT, f"{BOUNDARY} — a boundary does not "
         "provide permissions on its own", ID, boundary=SHIRLEY_BOUNDARY),
    Case("boundary_explicit_deny", EXPLICIT, f"{BOUNDARY} — example: XCompanyBoundaries "
         "DenyS3Logs", BOUND, identity=(allow("s3:*"),), boundary=XCOMPANY_BOUNDARY,
         resource_arn="arn:aws:s3:::logs/2024.txt"),
    # --- session policies ------------------------------------------------------------------
    Case("session_and_identity_both_allow", ALLOW, f"{SESSION} — the intersection of the "
         "identity-based policies and the session policies", principal=ROLE,
         identity=(allow("s3:*"),), session=(allow("s3:GetObject"),)),
    Case("session_policy_limits_role", IMPLICIT, f"{SESSION} — session policies limit "
         "permissions", SESS, principal=ROLE, identity=(allow("s3:*"),),
         session=(allow("s3:PutObject"),)),
    Case("session_policy_grants_nothing_by_itself", IMPLICIT, f"{SESSION} — session policies "
         "do not grant permissions", ID, principal=ROLE, session=(allow("s3:GetObject"),)),
    Case("session_policy_explicit_deny", EXPLICIT, f"{EVAL} — explicit deny in a session "
         "policy", SESS, principal=ROLE, identity=(allow("s3:*"),), session=(deny("s3:*"),)),
    Case("role_session_without_session_policy", ALLOW, f"{EVAL} — no session policy: a role "
         "session is allowed", principal=ROLE, identity=(allow("s3:*"),)),
    Case("federated_user_without_session_policy", IMPLICIT, f"{EVAL} — no session policy and "
         "not a role session: implicitly denied", SESS, principal=FEDERATED,
         identity=(allow("s3:*"),)),
    Case("federated_user_with_session_policy", ALLOW, f"{SESSION} — GetFederationToken: the "
         "intersection of the user's policy and the session policy", principal=FEDERATED,
         identity=(allow("s3:*"),), session=(allow("s3:GetObject"),)),
    Case("any_session_policy_may_allow", ALLOW, f"{SESSION} — an inline session policy and up "
         "to 10 managed session policies", principal=ROLE, identity=(allow("s3:*"),),
         session=(EC2_ONLY, allow("s3:GetObject"))),
    Case("session_boundary_and_identity_all_needed", IMPLICIT, f"{SESSION} — the intersection "
         "of the session policy, the permissions boundary and the identity-based policy", BOUND,
         principal=ROLE, identity=(allow("s3:*"),), session=(allow("s3:*"),), boundary=EC2_ONLY),
    Case("session_policies_only_limit_sessions", ALLOW, f"{EVAL} — if the principal is not a "
         "session principal, the code returns Allow", identity=(allow("s3:*"),),
         session=(EC2_ONLY,)),
    # --- role trust policies -------------------------------------------------------------------
    Case("trust_naming_user_needs_no_identity_policy", ALLOW, f"{EVAL} — resource-based "
         "policy naming the IAM user", action="sts:AssumeRole", resource_arn=ROLE_ARN,
         trust=allow("sts:AssumeRole", None, Principal=to(BOB.arn))),
    Case("trust_naming_account_needs_identity_policy", IMPLICIT, f"{PRINCIPAL} — an account "
         "principal delegates to the account's administrators", ID, action="sts:AssumeRole",
         resource_arn=ROLE_ARN, trust=allow("sts:AssumeRole", None, Principal=to(ACCT))),
    Case("trust_naming_account_with_identity_policy", ALLOW, f"{PRINCIPAL} — an account "
         "principal and an identity-based policy allowing sts:AssumeRole",
         identity=(allow("sts:AssumeRole", ROLE_ARN),), action="sts:AssumeRole",
         resource_arn=ROLE_ARN, trust=allow("sts:AssumeRole", None, Principal=to(ACCT))),
    Case("trust_policy_must_allow", IMPLICIT, f"{EVAL} — IAM role trust policies must "
         "explicitly allow access for principals", TRUST, identity=(allow("sts:AssumeRole"),),
         action="sts:AssumeRole", resource_arn=ROLE_ARN,
         trust=allow("sts:AssumeRole", None, Principal=to(ALICE.arn))),
    Case("trust_external_id_matches", ALLOW, f"{XACCT} — role trust policy for cross-account "
         "access (sts:ExternalId)", principal=DAVE, identity=(allow("sts:AssumeRole"),),
         action="sts:AssumeRole", resource_arn=ROLE_ARN, resource_account=ACCT,
         trust=TRUST_ACCOUNT_EXTERNAL_ID, context={"sts:ExternalId": "abc"}),
    Case("trust_external_id_differs", IMPLICIT, f"{XACCT} — role trust policy condition "
         "fails", TRUST, principal=DAVE, identity=(allow("sts:AssumeRole"),),
         action="sts:AssumeRole", resource_arn=ROLE_ARN, resource_account=ACCT,
         trust=TRUST_ACCOUNT_EXTERNAL_ID, context={"sts:ExternalId": "xyz"}),
    Case("trust_web_identity_provider", ALLOW, f"{PRINCIPAL} — web identity session "
         "principals", principal=GOOGLE_USER, action="sts:AssumeRoleWithWebIdentity",
         resource_arn=ROLE_ARN, resource_account=ACCT,
         trust=allow("sts:AssumeRoleWithWebIdentity", None,
                     Principal={"Federated": "accounts.google.com"},
                     Condition={"StringEquals": {"accounts.google.com:aud": "my-app"}}),
         context={"accounts.google.com:aud": "my-app"}),
    Case("trust_web_identity_other_provider", IMPLICIT, f"{PRINCIPAL} — web identity session "
         "principals", TRUST, principal=GOOGLE_USER, action="sts:AssumeRoleWithWebIdentity",
         resource_arn=ROLE_ARN, resource_account=ACCT,
         trust=allow("sts:AssumeRoleWithWebIdentity", None,
                     Principal={"Federated": "graph.facebook.com"})),
    # --- string operators ----------------------------------------------------------------------
    Case("string_equals", ALLOW, f"{OPS} — StringEquals with aws:PrincipalTag",
         identity=(when("StringEquals", "aws:PrincipalTag/team", "storage"),)),
    Case("string_equals_other_value", IMPLICIT, f"{OPS} — StringEquals: exact matching", ID,
         identity=(when("StringEquals", "aws:PrincipalTag/team", "compute"),)),
    Case("string_equals_is_case_sensitive", IMPLICIT, f"{OPS} — StringEquals: case sensitive",
         ID, identity=(when("StringEquals", "aws:PrincipalTag/team", "Storage"),)),
    Case("string_equals_ignore_case", ALLOW, f"{OPS} — StringEqualsIgnoreCase",
         identity=(when("StringEqualsIgnoreCase", "aws:PrincipalTag/team", "STORAGE"),)),
    Case("string_not_equals_ignore_case", IMPLICIT, f"{OPS} — StringNotEqualsIgnoreCase", ID,
         identity=(when("StringNotEqualsIgnoreCase", "aws:PrincipalTag/team", "STORAGE"),)),
    Case("negated_operator_on_missing_key_is_true", ALLOW, f"{OPS} — a negated operator and a "
         "key not present: the condition is true",
         identity=(when("StringNotEquals", "aws:ResourceTag/env", "prod"),)),
    Case("string_like", ALLOW, f"{OPS} — StringLike: `*` anywhere in the string",
         identity=(when("StringLike", "s3:prefix", "home/*"),), context={"s3:prefix": "home/b/"}),
    Case("string_not_like", IMPLICIT, f"{OPS} — StringNotLike", ID,
         identity=(when("StringNotLike", "s3:prefix", "private/*"),),
         context={"s3:prefix": "private/x"}),
    Case("condition_key_names_are_case_insensitive", ALLOW, f"{VARS} — key names are "
         "case-insensitive (aws:CurrentTime is AWS:currenttime)",
         identity=(when("StringEquals", "AWS:requestedregion", "us-east-1"),),
         context={"aws:RequestedRegion": "us-east-1"}),
    Case("several_values_are_alternatives", ALLOW, f"{MULTI} — multiple values for one key: OR",
         identity=(when("StringEquals", "aws:RequestedRegion", ["eu-west-1", "us-east-1"]),),
         context={"aws:RequestedRegion": "us-east-1"}),
    Case("several_keys_must_all_match", IMPLICIT, f"{MULTI} — multiple keys: AND", ID,
         identity=(allow(Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1",
                                                      "aws:PrincipalTag/team": "compute"}}),),
         context={"aws:RequestedRegion": "us-east-1"}),
    Case("several_operators_must_all_match", IMPLICIT, f"{MULTI} — multiple condition "
         "operators: AND", ID,
         identity=(allow(Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"},
                                    "StringLike": {"s3:prefix": "x*"}}),),
         context={"aws:RequestedRegion": "us-east-1", "s3:prefix": "home/"}),
    Case("negated_operator_values_are_nor", IMPLICIT, f"{MULTI} — a negated operator with "
         "several values matches none of them", ID,
         identity=(when("StringNotEquals", "aws:RequestedRegion", ["eu-west-1", "us-east-1"]),),
         context={"aws:RequestedRegion": "us-east-1"}),
    Case("missing_key_makes_condition_false", IMPLICIT, f"{OPS} — if the key is not present in "
         "the request context, the condition is false", ID,
         identity=(when("StringEquals", "aws:ResourceTag/env", "prod"),)),
    # --- numeric operators -----------------------------------------------------------------
    Case("numeric_less_than_equals_at_limit", ALLOW, f"{OPS} — NumericLessThanEquals "
         "s3:max-keys example", identity=(when("NumericLessThanEquals", "s3:max-keys", "10"),),
         context={"s3:max-keys": 10}),
    Case("numeric_less_than_equals_over_limit", IMPLICIT, f"{OPS} — NumericLessThanEquals "
         "s3:max-keys example", ID, identity=(when("NumericLessThanEquals", "s3:max-keys", "10"),),
         context={"s3:max-keys": "11"}),
    Case("numeric_equals_decimals", ALLOW, f"{OPS} — numeric operators compare integer or "
         "decimal values", identity=(when("NumericEquals", "s3:x-amz-copies", "1.5"),),
         context={"s3:x-amz-copies": "1.50"}),
    Case("numeric_not_equals", IMPLICIT, f"{OPS} — NumericNotEquals", ID,
         identity=(when("NumericNotEquals", "s3:max-keys", 10),), context={"s3:max-keys": 10}),
    Case("numeric_greater_than", ALLOW, f"{OPS} — NumericGreaterThan",
         identity=(when("NumericGreaterThan", "s3:max-keys", "10"),), context={"s3:max-keys": 11}),
    Case("numeric_operator_and_text_value", IMPLICIT, f"{OPS} — a value that is not a number "
         "does not match", ID, identity=(when("NumericLessThan", "s3:max-keys", "10"),),
         context={"s3:max-keys": "ten"}),
    # --- date operators ----------------------------------------------------------------------
    Case("date_greater_than_token_issue_time", ALLOW, f"{OPS} — DateGreaterThan "
         "aws:TokenIssueTime example",
         identity=(when("DateGreaterThan", "aws:TokenIssueTime", "2020-01-01T00:00:01Z"),),
         context={"aws:TokenIssueTime": datetime(2020, 6, 1, tzinfo=UTC)}),
    Case("date_greater_than_earlier_token", IMPLICIT, f"{OPS} — DateGreaterThan "
         "aws:TokenIssueTime example", ID,
         identity=(when("DateGreaterThan", "aws:TokenIssueTime", "2020-01-01T00:00:01Z"),),
         context={"aws:TokenIssueTime": datetime(2019, 12, 31, tzinfo=UTC)}),
    Case("date_less_than_current_time", ALLOW, f"{OPS} — DateLessThan with aws:CurrentTime",
         identity=(when("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z"),),
         context={"aws:CurrentTime": datetime(2026, 3, 1, 12, 0, tzinfo=UTC)}),
    Case("date_epoch_policy_value_iso_request", ALLOW, f"{OPS} — date values in ISO 8601 or "
         "epoch (UNIX) time", identity=(when("DateGreaterThan", "aws:CurrentTime", "1577836800"),),
         context={"aws:CurrentTime": "2021-01-01T00:00:00Z"}),
    Case("date_iso_policy_value_epoch_request", ALLOW, f"{OPS} — aws:EpochTime against an "
         "ISO 8601 date", identity=(when("DateLessThan", "aws:EpochTime", "2020-01-01T00:00:00Z"),),
         context={"aws:EpochTime": 1500000000}),
    Case("date_equals_across_time_zones", ALLOW, f"{OPS} — DateEquals: W3C ISO 8601 with a "
         "time zone designator",
         identity=(when("DateEquals", "aws:CurrentTime", "2024-02-29T13:00:00+01:00"),),
         context={"aws:CurrentTime": datetime(2024, 2, 29, 12, tzinfo=UTC)}),
    Case("date_not_equals", IMPLICIT, f"{OPS} — DateNotEquals", ID,
         identity=(when("DateNotEquals", "aws:CurrentTime", "2024-02-29T12:00:00Z"),),
         context={"aws:CurrentTime": datetime(2024, 2, 29, 14, tzinfo=PLUS_TWO)}),
    # --- Bool, Binary --------------------------------------------------------------------------
    Case("bool_denies_insecure_transport", EXPLICIT, f"{OPS} — Bool aws:SecureTransport "
         "example", ID, identity=(EVERYTHING, deny("s3:*", Condition={
             "Bool": {"aws:SecureTransport": "false"}})), context={"aws:SecureTransport": False}),
    Case("bool_spares_secure_transport", ALLOW, f"{OPS} — Bool aws:SecureTransport example",
         identity=(EVERYTHING, deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})),
         context={"aws:SecureTransport": True}),
    Case("bool_json_true_and_string_context", ALLOW, f"{OPS} — Boolean matching of \"true\"",
         identity=(when("Bool", "aws:MultiFactorAuthPresent", True),),
         context={"aws:MultiFactorAuthPresent": "true"}),
    Case("binary_equals_base64", ALLOW, f"{OPS} — BinaryEquals compares byte for byte a "
         "base-64 value", identity=(when("BinaryEquals", "kms:Blob", BLOB),),
         context={"kms:Blob": BLOB}),
    Case("binary_equals_other_bytes", IMPLICIT, f"{OPS} — BinaryEquals", ID,
         identity=(when("BinaryEquals", "kms:Blob", BLOB),),
         context={"kms:Blob": "b3RoZXI="}),
    # --- IP address operators ------------------------------------------------------------------
    Case("ip_address_in_cidr", ALLOW, f"{OPS} — IpAddress aws:SourceIp 203.0.113.0/24",
         identity=(when("IpAddress", "aws:SourceIp", "203.0.113.0/24"),),
         context={"aws:SourceIp": "203.0.113.7"}),
    Case("ip_address_outside_cidr", IMPLICIT, f"{OPS} — IpAddress aws:SourceIp", ID,
         identity=(when("IpAddress", "aws:SourceIp", "203.0.113.0/24"),),
         context={"aws:SourceIp": "198.51.100.1"}),
    Case("ip_address_without_prefix_is_a_32", IMPLICIT, f"{OPS} — without a routing prefix "
         "IAM uses /32", ID, identity=(when("IpAddress", "aws:SourceIp", "203.0.113.7"),),
         context={"aws:SourceIp": "203.0.113.8"}),
    Case("ipv6_cidr", ALLOW, f"{OPS} — mixing IPv4 and IPv6 addresses",
         identity=(when("IpAddress", "aws:SourceIp", MIXED_RANGES),),
         context={"aws:SourceIp": "2001:db8:1234:5678::1"}),
    Case("ipv6_outside_cidr", IMPLICIT, f"{OPS} — IPv6 ranges", ID,
         identity=(when("IpAddress", "aws:SourceIp", MIXED_RANGES),),
         context={"aws:SourceIp": "2001:db8:1234:9999::1"}),
    Case("not_ip_address_deny", EXPLICIT, f"{OPS} — NotIpAddress", ID,
         identity=(EVERYTHING, deny(Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
         context={"aws:SourceIp": "10.0.0.1"}),
    Case("ipv4_request_against_ipv6_range", IMPLICIT, f"{OPS} — an IPv4 address is not in an "
         "IPv6 range", ID, identity=(when("IpAddress", "aws:SourceIp", "::/0"),),
         context={"aws:SourceIp": "203.0.113.7"}),
    # --- ARN operators -----------------------------------------------------------------------
    Case("arn_like_checks_each_segment", IMPLICIT, f"{OPS} — ArnLike fails where StringLike "
         "succeeds (doc example)", ID,
         identity=(when("ArnLike", "aws:SourceArn", FINANCE),),
         context={"aws:SourceArn": DOC_ARN_VALUE}),
    Case("string_like_crosses_colons", ALLOW, f"{OPS} — with a StringLike condition the "
         "match succeeds (doc example)",
         identity=(when("StringLike", "aws:SourceArn", FINANCE),),
         context={"aws:SourceArn": DOC_ARN_VALUE}),
    Case("arn_not_equals_principal_arn_denies_others", EXPLICIT, f"{PRINCIPAL} — "
         "UsePrincipalArnInsteadOfNotPrincipalWithDeny example", RB, principal=ALICE,
         resource=doc(stmt(action="s3:*", Principal="*"),
                      stmt("Deny", "s3:*", Principal="*",
                           Condition={"ArnNotEquals": {"aws:PrincipalArn": BOB.arn}}))),
    Case("arn_not_equals_principal_arn_spares_named", ALLOW, f"{PRINCIPAL} — "
         "UsePrincipalArnInsteadOfNotPrincipalWithDeny example",
         resource=doc(stmt(action="s3:*", Principal="*"),
                      stmt("Deny", "s3:*", Principal="*",
                           Condition={"ArnNotEquals": {"aws:PrincipalArn": BOB.arn}}))),
    Case("principal_arn_of_a_session_is_its_role", ALLOW, f"{KEYS} — aws:PrincipalArn is the "
         "role's ARN for an assumed-role session", principal=ROLE,
         identity=(when("ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{ACCT}:role/*"),)),
    # --- Null and …IfExists --------------------------------------------------------------------
    Case("null_true_when_key_absent", ALLOW, f"{OPS} — Null aws:TokenIssueTime example",
         identity=(when("Null", "aws:TokenIssueTime", "true"),)),
    Case("null_true_when_key_present", IMPLICIT, f"{OPS} — Null aws:TokenIssueTime example",
         ID, identity=(when("Null", "aws:TokenIssueTime", "true"),),
         context={"aws:TokenIssueTime": datetime(2024, 1, 1, tzinfo=UTC)}),
    Case("null_false_when_key_present", ALLOW, f"{OPS} — Null `false`: the key exists",
         identity=(when("Null", "aws:ResourceTag/env", "false"),),
         context={"aws:ResourceTag/env": "dev"}),
    Case("if_exists_with_absent_key", ALLOW, f"{OPS} — StringLikeIfExists ec2:InstanceType "
         "example", identity=(allow("ec2:RunInstances", Condition={"StringLikeIfExists": {
             "ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}),), action="ec2:RunInstances",
         resource_arn=f"arn:aws:ec2:us-east-1:{ACCT}:key-pair/k"),
    Case("if_exists_with_other_value", IMPLICIT, f"{OPS} — StringLikeIfExists ec2:InstanceType "
         "example", ID, identity=(allow("ec2:RunInstances", Condition={"StringLikeIfExists": {
             "ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}),), action="ec2:RunInstances",
         resource_arn=f"arn:aws:ec2:us-east-1:{ACCT}:instance/*",
         context={"ec2:InstanceType": "c5.large"}),
    Case("if_exists_with_matching_value", ALLOW, f"{OPS} — StringLikeIfExists ec2:InstanceType "
         "example", identity=(allow("ec2:RunInstances", Condition={"StringLikeIfExists": {
             "ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}),), action="ec2:RunInstances",
         resource_arn=f"arn:aws:ec2:us-east-1:{ACCT}:instance/*",
         context={"ec2:InstanceType": "t2.micro"}),
    Case("negated_if_exists_deny_on_absent_key", EXPLICIT, f"{OPS} — Deny with "
         "StringNotEqualsIfExists: still denied if the tag is missing", ID,
         identity=(EVERYTHING, deny(Condition={"StringNotEqualsIfExists": {
             "aws:RequestTag/env": "prod"}}))),
    # --- ForAllValues / ForAnyValue ------------------------------------------------------------
    Case("for_all_values_subset", ALLOW, f"{MULTI} — ForAllValues:StringLike "
         "dynamodb:requestedAttributes example",
         identity=(when("ForAllValues:StringLike", "dynamodb:requestedAttributes",
                        DYNAMODB_ATTRIBUTES),), action="dynamodb:GetItem",
         context={"dynamodb:requestedAttributes": ["PostDateTime", "Message"]}),
    Case("for_all_values_with_an_extra_value", IMPLICIT, f"{MULTI} — ForAllValues: no match "
         "for UserName", ID, identity=(when("ForAllValues:StringLike",
                                            "dynamodb:requestedAttributes", DYNAMODB_ATTRIBUTES),),
         action="dynamodb:GetItem",
         context={"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]}),
    Case("for_all_values_missing_key", ALLOW, "IAM UG: Single-valued vs. multivalued context "
         "keys — ForAllValues returns true if there are no context keys in the request",
         identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["env"]),)),
    Case("for_all_values_empty_set", ALLOW, f"{MULTI} — an empty data set: ForAllValues "
         "returns true", identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["env"]),),
         context={"aws:TagKeys": []}),
    Case("for_any_value_deny", EXPLICIT, f"{MULTI} — ForAnyValue:StringLike PutItem Deny "
         "example", ID, identity=(EVERYTHING, deny("dynamodb:PutItem", Condition={
             "ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}})),
         action="dynamodb:PutItem",
         context={"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]}),
    Case("for_any_value_deny_without_match", ALLOW, f"{MULTI} — ForAnyValue: PutItem with only "
         "UserName is not denied", identity=(EVERYTHING, deny("dynamodb:PutItem", Condition={
             "ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}})),
         action="dynamodb:PutItem", context={"dynamodb:requestedAttributes": ["UserName"]}),
    Case("for_any_value_missing_key", IMPLICIT, "IAM UG: Single-valued vs. multivalued context "
         "keys — ForAnyValue returns false if there are no context keys", ID,
         identity=(when("ForAnyValue:StringEquals", "aws:TagKeys", ["env"]),)),
    Case("for_any_value_empty_set", IMPLICIT, f"{MULTI} — an empty data set: ForAnyValue "
         "returns false", ID, identity=(when("ForAnyValue:StringEquals", "aws:TagKeys", ["env"]),),
         context={"aws:TagKeys": []}),
    Case("for_all_values_tag_keys_outside_list", IMPLICIT, f"{KEYS} — aws:TagKeys with "
         "ForAllValues", ID,
         identity=(when("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team"]),),
         context={"aws:TagKeys": ["env", "owner"]}),
    Case("for_all_values_not_equals", ALLOW, "IAM UG: Single-valued vs. multivalued context "
         "keys — ForAllValues with a negated operator: no request value is listed",
         identity=(when("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"]),),
         context={"aws:TagKeys": ["env", "team"]}),
    Case("for_all_values_not_equals_with_listed_value", IMPLICIT, "IAM UG: Single-valued vs. "
         "multivalued context keys — ForAllValues with a negated operator", ID,
         identity=(when("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"]),),
         context={"aws:TagKeys": ["env", "secret"]}),
    Case("for_any_value_not_equals", ALLOW, "IAM UG: Single-valued vs. multivalued context keys "
         "— ForAnyValue with a negated operator: some request value is not listed",
         identity=(when("ForAnyValue:StringNotEquals", "aws:TagKeys", ["env"]),),
         context={"aws:TagKeys": ["env", "team"]}),
    Case("for_any_value_not_equals_all_listed", IMPLICIT, "IAM UG: Single-valued vs. "
         "multivalued context keys — ForAnyValue with a negated operator", ID,
         identity=(when("ForAnyValue:StringNotEquals", "aws:TagKeys", ["env"]),),
         context={"aws:TagKeys": ["env"]}),
    Case("called_via", ALLOW, f"{KEYS} — aws:CalledVia is multivalued: ForAnyValue",
         identity=(when("ForAnyValue:StringEquals", "aws:CalledVia",
                        "cloudformation.amazonaws.com"),),
         context={"aws:CalledVia": ["cloudformation.amazonaws.com"]}),
    # --- keys derived from the principal -------------------------------------------------------
    Case("principal_account", ALLOW, f"{KEYS} — aws:PrincipalAccount",
         identity=(when("StringEquals", "aws:PrincipalAccount", ACCT),)),
    Case("principal_type_of_a_session", ALLOW, f"{VARS} — aws:PrincipalType is AssumedRole for "
         "a role", principal=ROLE,
         identity=(when("StringEquals", "aws:PrincipalType", "AssumedRole"),)),
    Case("userid_of_a_session", ALLOW, f"{VARS} — aws:userid is role-id:caller-specified-role-"
         "name", principal=ROLE,
         identity=(when("StringLike", "aws:userid", "AROAEXAMPLEAPP0000000:*"),)),
    Case("username_absent_for_a_role", IMPLICIT, f"{VARS} — aws:username is not present for a "
         "role", ID, principal=ROLE, identity=(when("StringEquals", "aws:username", "app"),)),
    # --- policy variables ----------------------------------------------------------------------
    Case("username_variable_in_resource", ALLOW, f"{VARS} — Resource element: the user's home "
         "directory", identity=(allow("s3:*", HOME + "/${aws:username}/*"),),
         resource_arn=HOME + "/bob/notes.txt"),
    Case("username_variable_other_home", IMPLICIT, f"{VARS} — Resource element: another user's "
         "home", ID, identity=(allow("s3:*", HOME + "/${aws:username}/*"),),
         resource_arn=HOME + "/alice/notes.txt"),
    Case("username_variable_in_condition", ALLOW, f"{OPS} — StringLike s3:prefix with a policy "
         "variable example", identity=(allow("s3:ListBucket", "arn:aws:s3:::bucket", Condition={
             "StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}),),
         action="s3:ListBucket", resource_arn="arn:aws:s3:::bucket",
         context={"s3:prefix": "home/bob/"}),
    Case("username_variable_in_condition_other_user", IMPLICIT, f"{OPS} — StringLike s3:prefix "
         "with a policy variable example", ID,
         identity=(allow("s3:ListBucket", "arn:aws:s3:::bucket", Condition={
             "StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}}),),
         action="s3:ListBucket", resource_arn="arn:aws:s3:::bucket",
         context={"s3:prefix": "home/alice/"}),
    Case("principal_tag_variable_in_resource", ALLOW, f"{VARS} — replace part of an ARN with a "
         "tag value",
         identity=(allow("s3:*", "arn:aws:s3:::bucket/${aws:PrincipalTag/department}/*"),),
         resource_arn="arn:aws:s3:::bucket/finance/q3.csv"),
    Case("unresolved_variable_invalidates_statement", IMPLICIT, f"{VARS} — if AWS cannot "
         "resolve a variable, the statement is invalid", ID, principal=ROLE,
         identity=(allow("s3:*", HOME + "/${aws:username}/*"),), resource_arn=HOME + "/s1/x"),
    Case("unresolved_variable_in_deny_does_not_deny", ALLOW, f"{VARS} — an unresolved variable "
         "makes the Deny statement invalid", principal=ROLE,
         identity=(EVERYTHING, deny("s3:*", HOME + "/${aws:username}/*")),
         resource_arn=HOME + "/s1/x"),
    Case("variable_default_value", ALLOW, f"{VARS} — specifying default values", principal=ROLE,
         identity=(allow("s3:*", HOME + "/${aws:username, 'anonymous'}/*"),),
         resource_arn=HOME + "/anonymous/x"),
    Case("star_escape_is_a_literal_star", IMPLICIT, f"{VARS} — special characters: `${{*}}`", ID,
         identity=(allow("s3:*", "arn:aws:s3:::bucket/${*}"),), resource_arn=BUCKET_KEY),
    Case("star_escape_matches_a_star", ALLOW, f"{VARS} — special characters: `${{*}}`",
         identity=(allow("s3:*", "arn:aws:s3:::bucket/${*}"),),
         resource_arn="arn:aws:s3:::bucket/*"),
    Case("question_mark_escape", IMPLICIT, f"{VARS} — special characters: `${{?}}`", ID,
         identity=(allow("s3:*", "arn:aws:s3:::bucket/ke${?}"),), resource_arn=BUCKET_KEY),
    Case("dollar_escape", ALLOW, f"{VARS} — special characters: `${{$}}`",
         identity=(allow("s3:*", "arn:aws:s3:::bucket/${$}5"),),
         resource_arn="arn:aws:s3:::bucket/$5"),
    Case("variables_are_text_in_version_2008", IMPLICIT, f"{VARS} — earlier versions treat "
         "variables as literal strings", ID,
         identity=(doc(stmt(action="s3:*", resource=HOME + "/${aws:username}"),
                       version="2008-10-17"),), resource_arn=HOME + "/bob"),
    Case("variables_are_text_without_version", ALLOW, f"{VARS} — without the Version element "
         "variables are literal strings",
         identity=(doc(stmt(action="s3:*", resource=HOME + "/${aws:username}"), version=None),),
         resource_arn=HOME + "/${aws:username}"),
    Case("userid_variable_in_condition", ALLOW, f"{VARS} — aws:userid as a variable",
         identity=(when("StringEquals", "aws:ResourceTag/owner", "${aws:userid}"),),
         context={"aws:ResourceTag/owner": "AIDAEXAMPLEBOB0000000"}),
    Case("variable_value_is_never_a_wildcard", IMPLICIT, f"{VARS} — a variable's value is "
         "text (special characters need `${{*}}`)", ID,
         identity=(allow("s3:*", "arn:aws:s3:::bucket/${aws:PrincipalTag/prefix}"),),
         resource_arn="arn:aws:s3:::bucket/abc"),
    Case("variable_value_in_string_like_is_literal", IMPLICIT, f"{VARS} — a variable's value "
         "is text in StringLike", ID,
         identity=(when("StringLike", "s3:prefix", "${aws:PrincipalTag/prefix}"),),
         context={"s3:prefix": "abc"}),
]


def _policy_set(case: Case) -> PolicySet:
    resource = None
    if case.resource is not None:
        resource = parse_policy(case.resource, PolicyKind.RESOURCE)
    if case.trust is not None:
        resource = parse_policy(case.trust, PolicyKind.TRUST)
    return PolicySet(
        identity=[parse_policy(d, PolicyKind.IDENTITY) for d in case.identity],
        resource=resource,
        boundary=parse_policy(case.boundary, PolicyKind.BOUNDARY) if case.boundary else None,
        session=[parse_policy(d, PolicyKind.SESSION) for d in case.session],
    )


def test_the_table_has_a_source_for_every_case() -> None:
    assert len(CASES) >= 80
    assert len({case.name for case in CASES}) == len(CASES)
    assert all(case.source for case in CASES)
    assert all((case.denied_by is None) == (case.expected is ALLOW) for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_evaluation(case: Case) -> None:
    request = Request(case.principal, case.action, case.resource_arn, case.resource_account,
                      case.context)
    result = evaluate(request, _policy_set(case))
    assert (result.decision, result.denied_by) == (case.expected, case.denied_by), case.source


def test_matched_statements_name_the_deciding_statements() -> None:
    identity = parse_policy(GET_LIST_NOT_REPORTS, PolicyKind.IDENTITY).with_source("ReadOnly")
    request = Request(BOB, "iam:GetCredentialReport", "*")
    result = evaluate(request, PolicySet(identity=[identity]))
    assert result.explicit
    assert result.matched == (MatchedStatement(PolicyType.IDENTITY, "ReadOnly", 1, "DenyReports",
                                               Effect.DENY),)


def test_allowed_result_lists_allow_statements_of_each_policy_type() -> None:
    identity = parse_policy(allow("s3:*"), PolicyKind.IDENTITY).with_source("user-policy")
    bucket = parse_policy(allow("s3:GetObject", Principal=to(BOB.arn)), PolicyKind.RESOURCE)
    result = evaluate(Request(BOB, "s3:GetObject", BUCKET_KEY),
                      PolicySet(identity=[identity], resource=bucket.with_source("bucket")))
    assert result.allowed and not result.explicit
    assert [(m.policy_type, m.source_id) for m in result.matched] == [
        (PolicyType.IDENTITY, "user-policy"), (PolicyType.RESOURCE, "bucket")]


def test_with_source_shares_the_compiled_statements() -> None:
    policy = parse_policy(allow("s3:*"), PolicyKind.IDENTITY)
    named = policy.with_source("arn:aws:iam::111122223333:policy/p")
    assert named.statements is policy.statements
    assert named.source_id == "arn:aws:iam::111122223333:policy/p"


def test_parse_policy_caches_by_document_text() -> None:
    text = ('{"Version": "2012-10-17", '
            '"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}')
    assert parse_policy(text, PolicyKind.IDENTITY) is parse_policy(text, PolicyKind.IDENTITY)


def test_from_principal_derives_the_role_of_a_session() -> None:
    from portside.auth.identity import Principal, PrincipalType

    session = Principal(PrincipalType.ASSUMED_ROLE, ACCT, SESSION_ARN,
                        "AROAEXAMPLEAPP0000000:s1", "s1")
    info = PrincipalInfo.from_principal(session, tags={"team": "storage"})
    assert (info.type, info.parent_arn) == (CallerType.ASSUMED_ROLE, ROLE_ARN)
    bucket = parse_policy(allow("s3:GetObject", Principal=to(ROLE_ARN)), PolicyKind.RESOURCE)
    assert evaluate(Request(info, "s3:GetObject", BUCKET_KEY), PolicySet(resource=bucket)).allowed
