"""Which policies apply to whom: a user (its own and its groups'), a role, an STS session.

One assembly serves enforcement (`principal_policies`, parsed and cached by the service), the
policy simulator (`simulation_sources`, which needs each document's text and origin) and
GetAccountAuthorizationDetails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, select

from portside.auth.identity import Principal, PrincipalType
from portside.auth.policy import CallerType, Policy, PolicyKind, PrincipalInfo, parse_policy
from portside.protocol.errors import AwsError, error
from portside.services.iam import ids, policies, shapes, tagging
from portside.services.iam.model import (
    GROUP,
    ROLE,
    USER,
    IdentityKind,
    attachments,
    group_members,
    groups,
    inline_policies,
    policy_versions,
    sts_sessions,
)


@dataclass(frozen=True)
class PolicySource:
    """One policy that applies, with what the simulator reports about it."""

    source_id: str  # the managed policy's ARN, or "<identity ARN>#<inline policy name>"
    name: str  # SourcePolicyId: the policy's name
    policy_type: str  # SourcePolicyType: user | group | role | aws-managed | user-managed
    document: str

    def parsed(self, kind: PolicyKind = PolicyKind.IDENTITY) -> Policy:
        return parse_policy(self.document, kind).with_source(self.source_id)


@dataclass(frozen=True)
class PrincipalPolicies:
    """What limits a principal's requests, for the gateway's enforcement."""

    identity: tuple[Policy, ...] = ()  # inline and attached, the user's groups' included
    boundary: Policy | None = None  # the user's or role's permissions boundary
    session: tuple[Policy, ...] = ()  # the policies passed when the STS session was made
    tags: Mapping[str, str] = field(default_factory=dict)  # aws:PrincipalTag/…, session tags won

    def caller(self, principal: Principal) -> PrincipalInfo:
        """The principal as policy evaluation sees it (its role's ARN with path, its tags)."""
        return PrincipalInfo.from_principal(principal, parent_arn=principal.issuer_arn,
                                            tags=self.tags)


def principal_policies(conn: Connection, principal: Principal) -> PrincipalPolicies:
    """The policies of an IAM user or role session (with its session's policies and tags).
    Root and anonymous callers have none; an identity deleted since has none either."""
    session = None
    if principal.session_key_id:
        session = conn.execute(select(sts_sessions).where(
            sts_sessions.c.access_key_id == principal.session_key_id)).first()
    if principal.type is PrincipalType.IAM_USER:
        kind, entity_id = USER, principal.user_id
    elif principal.type is PrincipalType.ASSUMED_ROLE:
        kind, entity_id = ROLE, principal.user_id.split(":", 1)[0]
    else:
        return PrincipalPolicies()
    entity = conn.execute(select(kind.table).where(kind.table.c.id == entity_id)).first()
    if entity is None:
        return PrincipalPolicies()
    sources = identity_sources(conn, kind, entity)
    boundary = boundary_source(conn, entity.account_id, entity.boundary_arn)
    tags = {t["Key"].lower(): (t["Key"], t["Value"]) for t in tagging.of(conn, entity.id)}
    session_policies: list[Policy] = []
    if session is not None:
        for tag in json.loads(session.tags):
            tags[tag["Key"].lower()] = (tag["Key"], tag["Value"])
        session_policies = [s.parsed(PolicyKind.SESSION)
                            for s in session_sources(conn, entity.account_id, session)]
    return PrincipalPolicies(
        identity=tuple(s.parsed() for s in sources),
        boundary=boundary.parsed(PolicyKind.BOUNDARY) if boundary else None,
        session=tuple(session_policies),
        tags=dict(tags.values()),
    )


def identity_sources(conn: Connection, kind: IdentityKind, entity: Row) -> list[PolicySource]:
    """An identity's inline and attached policies; for a user, its groups' too."""
    found = _own_sources(conn, kind, entity)
    if kind is USER:
        for group in groups_of(conn, entity.id):
            found += _own_sources(conn, GROUP, group)
    return found


def _own_sources(conn: Connection, kind: IdentityKind, entity: Row) -> list[PolicySource]:
    rows = conn.execute(select(inline_policies).where(
        inline_policies.c.entity_id == entity.id).order_by(inline_policies.c.name_key)).all()
    found = [PolicySource(f"{entity.arn}#{r.name}", r.name, kind.kind, r.document)
             for r in rows]
    for policy in attached(conn, entity.account_id, entity.id):
        found.append(_managed_source(conn, policy))
    return found


def boundary_source(conn: Connection, account_id: str, arn: str | None) -> PolicySource | None:
    if not arn:
        return None
    return _managed_source(conn, policies.find(conn, account_id, arn))


def session_sources(conn: Connection, account_id: str, session: Row) -> list[PolicySource]:
    """The inline session policy and the managed session policies of an STS session; a
    managed policy deleted since the session began no longer counts."""
    found = []
    if session.policy:
        found.append(PolicySource(f"{session.arn}#session", "session", "none", session.policy))
    for policy in attachable(conn, account_id, json.loads(session.policy_arns)):
        found.append(_managed_source(conn, policy))
    return found


def attached(conn: Connection, account_id: str, entity_id: str) -> list[policies.ManagedPolicy]:
    arns = conn.execute(select(attachments.c.policy_arn).where(
        attachments.c.entity_id == entity_id)).scalars().all()
    return attachable(conn, account_id, arns)


def attachable(conn: Connection, account_id: str,
               arns: list[str]) -> list[policies.ManagedPolicy]:
    """The managed policies among `arns` that exist for `account_id`."""
    found = []
    for arn in arns:
        try:
            found.append(policies.find(conn, account_id, arn))
        except AwsError:  # a policy deleted since: it grants nothing
            continue
    return found


def groups_of(conn: Connection, user_id: str) -> list[Row]:
    return conn.execute(select(groups).join(
        group_members, group_members.c.group_id == groups.c.id).where(
        group_members.c.user_id == user_id).order_by(groups.c.name_key)).all()


def _managed_source(conn: Connection, policy: policies.ManagedPolicy) -> PolicySource:
    return PolicySource(policy.arn, policy.name,
                        "aws-managed" if policy.is_aws else "user-managed",
                        policies.document(conn, policy))


# -- GetAccountAuthorizationDetails ----------------------------------------------------------

Detail = tuple[str, str, dict[str, Any]]  # (sort key, response member, detail)


def authorization_details(conn: Connection, account_id: str, wanted: set[str]) -> list[Detail]:
    """Every user, group, role and policy the filter asks for (all when it is empty), with
    their policies inline; AWS managed policies only where the account attaches them."""
    details: list[Detail] = []
    for order, kind in enumerate((USER, GROUP, ROLE)):
        if wanted and kind.noun not in wanted:
            continue
        t = kind.table
        for row in conn.execute(select(t).where(t.c.account_id == account_id)):
            details.append((f"{order}\0{row.name_key}", f"{kind.noun}DetailList",
                            _identity_detail(conn, kind, row)))
    counts = policies.usage_counts(conn, account_id)
    for policy in policies.all_in(conn, account_id):
        filter_name = "AWSManagedPolicy" if policy.is_aws else "LocalManagedPolicy"
        if wanted and filter_name not in wanted:
            continue
        used = counts.get(policy.arn, (0, 0))
        if policy.is_aws and used == (0, 0):
            continue
        details.append((f"3\0{policy.name_key}\0{policy.arn}", "Policies",
                        {**policies.shape(policy, used),
                         "PolicyVersionList": _versions(conn, policy)}))
    details.sort(key=lambda d: d[0])
    return details


def _identity_detail(conn: Connection, kind: IdentityKind, row: Row) -> dict[str, Any]:
    detail = shapes.identity(kind, row, tags=tagging.of(conn, row.id), full=True)
    if kind is ROLE:
        detail["InstanceProfileList"] = []
    inline = conn.execute(select(inline_policies).where(
        inline_policies.c.entity_id == row.id).order_by(inline_policies.c.name_key)).all()
    detail[f"{kind.noun}PolicyList"] = [
        {"PolicyName": r.name, "PolicyDocument": shapes.url_encoded(r.document)}
        for r in inline]
    detail["AttachedManagedPolicies"] = [
        {"PolicyName": p.name, "PolicyArn": p.arn}
        for p in attached(conn, row.account_id, row.id)]
    if kind is USER:
        detail["GroupList"] = [g.name for g in groups_of(conn, row.id)]
    return detail


def _versions(conn: Connection, policy: policies.ManagedPolicy) -> list[dict[str, Any]]:
    if policy.is_aws:
        return [shapes.policy_version(1, policies.document(conn, policy), True,
                                      policy.create_date)]
    rows = conn.execute(select(policy_versions).where(
        policy_versions.c.policy_id == policy.policy_id)
        .order_by(policy_versions.c.number.desc())).all()
    return [shapes.policy_version(r.number, r.document, r.number == policy.default_version,
                                  r.create_date) for r in rows]


# -- the simulator's view of an identity -----------------------------------------------------

@dataclass(frozen=True)
class SimulationSubject:
    """The policies under simulation and the simulated caller. A user calls as itself; a
    group's policies are tried by a caller of that group, a role's by a session of it."""

    identity: list[PolicySource]
    boundary: PolicySource | None
    caller: PrincipalInfo


def simulation_subject(conn: Connection, account_id: str, arn: str) -> SimulationSubject:
    """The user, group or role SimulatePrincipalPolicy's PolicySourceArn names."""
    kind, row = _identity_by_arn(conn, account_id, arn, "user", "group", "role")
    if kind is USER:
        caller = _user_caller(conn, row)
    elif kind is ROLE:
        caller = PrincipalInfo(CallerType.ASSUMED_ROLE, row.arn, account_id, f"{row.id}:",
                               parent_arn=row.arn,
                               tags={t["Key"]: t["Value"] for t in tagging.of(conn, row.id)})
    else:
        caller = PrincipalInfo(CallerType.USER, row.arn, account_id)
    boundary = None if kind is GROUP else boundary_source(conn, account_id, row.boundary_arn)
    return SimulationSubject(identity_sources(conn, kind, row), boundary, caller)


def simulation_caller(conn: Connection, account_id: str, arn: str) -> PrincipalInfo:
    """The IAM user a simulation's CallerArn names ("You can specify only the ARN of an IAM
    user")."""
    return _user_caller(conn, _identity_by_arn(conn, account_id, arn, "user")[1])


def _identity_by_arn(conn: Connection, account_id: str, arn: str,
                     *kinds: str) -> tuple[IdentityKind, Row]:
    parsed = ids.parse_iam_arn(arn, *kinds)
    kind = {"user": USER, "group": GROUP, "role": ROLE}[parsed.kind]
    t = kind.table
    row = None
    if parsed.account_id == account_id:
        row = conn.execute(select(t).where(t.c.account_id == account_id,
                                           t.c.name_key == parsed.name.lower())).first()
    if row is None:
        raise error("NoSuchEntity", f"The {kind.kind} with name {parsed.name} cannot be found.")
    return kind, row


def _user_caller(conn: Connection, user: Row) -> PrincipalInfo:
    return PrincipalInfo.from_principal(
        Principal(PrincipalType.IAM_USER, user.account_id, user.arn, user.id, user.name),
        tags={t["Key"]: t["Value"] for t in tagging.of(conn, user.id)})
