"""IAM operations: users, groups, roles, access keys, managed and inline policies, tags,
permissions boundaries, authorization details and the policy simulator.

IAM is global: everything is scoped by the caller's account, never by region. Users, groups
and roles share their handling where IAM treats them alike (inline and attached policies), one
generic method serving the three operations. Every write goes through `_write`, which drops
the caches of keys and principal policies once the transaction commits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from portside.auth.actions import Check
from portside.auth.identity import AccessKey, Principal, PrincipalType
from portside.auth.policy import (
    MANAGED_POLICY_SIZE,
    TRUST_POLICY_SIZE,
    CallerType,
    PolicyKind,
    PrincipalInfo,
    policy_size,
)
from portside.context import RequestContext
from portside.protocol.errors import AwsError, NotImplementedOperation, error
from portside.services.base import Service
from portside.services.iam import (
    access,
    authorization,
    credentials,
    documents,
    ids,
    paging,
    policies,
    shapes,
    simulate,
    tagging,
)
from portside.services.iam.model import (
    GROUP,
    ROLE,
    USER,
    IdentityKind,
    access_keys,
    attachments,
    group_members,
    inline_policies,
    policy_versions,
    roles,
    users,
)
from portside.services.iam.model import (
    policies as policies_table,
)

Request = dict[str, Any]
Response = dict[str, Any]

# IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
ACCESS_KEYS_PER_USER = 2
GROUPS_PER_USER = 10
MANAGED_POLICIES_PER_IDENTITY = 10
VERSIONS_PER_POLICY = 5
DEFAULT_MAX_SESSION_DURATION = 3600
# Keys and each principal's policies are cached; caps keep ended sessions and unknown key ids
# from piling up.
POLICY_CACHE_SIZE = 10_000
KEY_USE_INTERVAL = 1.0  # seconds between writes of access keys' last-used notes
KEY_CACHE_SIZE = 10_000


def _per_kind(kind: IdentityKind | None,
              method: Callable[..., Response]) -> Callable[..., Response]:
    """A handler for one kind out of a method that serves users, groups and roles alike."""

    def handler(self: Iam, ctx: RequestContext, request: Request) -> Response:
        return method(self, ctx, request, kind)

    handler.__doc__ = method.__doc__
    return handler


class Iam(Service):
    name = "iam"

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self._user_keys: dict[str, AccessKey | None] = {}
        self._principal_policies: dict[Principal, access.PrincipalPolicies] = {}
        self._key_use: dict[str, tuple[float, str, str]] = {}  # key id -> (time, service, region)

    # -- lifecycle, caches, what other parts of portside ask -------------------------------

    def start(self) -> None:
        self.runtime.keyring.add_source(self.lookup_access_key)

    def reset(self) -> None:
        self._forget()
        self._key_use.clear()

    def background(self) -> list:
        return [self._record_key_use_every(KEY_USE_INTERVAL)]

    def _forget(self) -> None:
        self._user_keys.clear()
        self._principal_policies.clear()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; the caches are dropped once it commits (or fails)."""
        try:
            with self.runtime.store.begin() as conn:
                yield conn
        finally:
            self._forget()

    def _read(self) -> AbstractContextManager[Connection]:
        return self.runtime.store.begin()

    def lookup_access_key(self, access_key_id: str) -> AccessKey | None:
        """The keyring source: IAM users' Active keys (cached until the next IAM write) and
        STS session keys (read each time, so a session ends exactly at its expiration)."""
        if access_key_id.startswith(ids.SESSION_KEY_PREFIX):
            with self._read() as conn:
                return credentials.session_key(conn, access_key_id)
        if access_key_id not in self._user_keys:
            if len(self._user_keys) >= KEY_CACHE_SIZE:
                self._user_keys.clear()  # unknown ids are cached too; they may be many
            with self._read() as conn:
                self._user_keys[access_key_id] = credentials.user_key(conn, access_key_id)
        return self._user_keys[access_key_id]

    def record_access_key_use(self, access_key_id: str, service: str, region: str) -> None:
        """Note that `access_key_id` signed a request to `service` (GetAccessKeyLastUsed).
        The gateway calls this once a request has authenticated; the notes are written once a
        second, not per request (AWS, too, updates last-used information after the fact)."""
        if access_key_id.startswith(ids.ACCESS_KEY_PREFIX):
            self._key_use[access_key_id] = (time.time(), service, region)

    async def _record_key_use_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self._write_key_use()

    def _write_key_use(self) -> None:
        pending, self._key_use = self._key_use, {}
        if not pending:
            return
        with self.runtime.store.begin() as conn:
            for key_id, (when, service, region) in pending.items():
                conn.execute(update(access_keys).where(
                    access_keys.c.access_key_id == key_id).values(
                    last_used_date=when, last_used_service=service, last_used_region=region))

    def principal_policies(self, principal: Principal) -> access.PrincipalPolicies:
        """What limits `principal`: its identity policies, boundary, session policies and tags,
        parsed; cached until the next IAM write."""
        found = self._principal_policies.get(principal)
        if found is None:
            with self._read() as conn:
                found = access.principal_policies(conn, principal)
            if len(self._principal_policies) >= POLICY_CACHE_SIZE:
                self._principal_policies.clear()
            self._principal_policies[principal] = found
        return found

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        """`iam:<Operation>` on the ARN of the identity or policy the call names."""
        with self._read() as conn:
            return authorization.checks(conn, ctx, operation, params)

    def caller_info(self, principal: Principal) -> PrincipalInfo:
        """`principal` as policy evaluation sees it, with its tags."""
        return self.principal_policies(principal).caller(principal)

    # -- what STS needs ----------------------------------------------------------------------

    def role_by_arn(self, arn: str) -> Row | None:
        """The role `arn` names (its name in any case, its path as given), or None."""
        parsed = ids.parse_iam_arn(arn, "role", code="ValidationError")
        with self._read() as conn:
            row = conn.execute(select(roles).where(
                roles.c.account_id == parsed.account_id,
                roles.c.name_key == parsed.name.lower())).first()
        return row if row is not None and row.path == parsed.path else None

    def issue_session(self, spec: credentials.SessionSpec, *,
                      role_used_in: str | None = None) -> dict[str, Any]:
        """Store a new STS session; a role's session also marks the role used (RoleLastUsed)
        in the region it was assumed in."""
        with self.runtime.store.begin() as conn:
            if spec.principal_type is PrincipalType.ASSUMED_ROLE and role_used_in:
                conn.execute(update(roles).where(roles.c.id == spec.issuer_id).values(
                    last_used_date=time.time(), last_used_region=role_used_in))
            return credentials.issue_session(conn, spec)

    def transitive_tags(self, principal: Principal) -> list[dict[str, str]]:
        """The session tags `principal`'s session passes on when it assumes a role."""
        with self._read() as conn:
            return credentials.transitive_tags(conn, principal.session_key_id)

    def source_identity(self, principal: Principal) -> str | None:
        """The source identity of `principal`'s session, which chained sessions keep."""
        with self._read() as conn:
            return credentials.source_identity(conn, principal.session_key_id)

    # -- users, groups, roles ----------------------------------------------------------------

    def create_user(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            row = self._create_identity(conn, ctx, USER, request, {
                "boundary_arn": self._boundary(conn, ctx, request.get("PermissionsBoundary"))})
            return {"User": self._identity_shape(conn, USER, row)}

    def create_group(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            row = self._create_identity(conn, ctx, GROUP, request, {})
            return {"Group": shapes.identity(GROUP, row)}

    def create_role(self, ctx: RequestContext, request: Request) -> Response:
        trust = _trust_policy(request["AssumeRolePolicyDocument"])
        with self._write() as conn:
            row = self._create_identity(conn, ctx, ROLE, request, {
                "boundary_arn": self._boundary(conn, ctx, request.get("PermissionsBoundary")),
                "trust_policy": trust,
                "description": request.get("Description"),
                "max_session_duration": request.get("MaxSessionDuration")
                or DEFAULT_MAX_SESSION_DURATION,
            })
            return {"Role": self._identity_shape(conn, ROLE, row)}

    def get_user(self, ctx: RequestContext, request: Request) -> Response:
        p = ctx.principal
        if not request.get("UserName") and p.is_root:
            return {"User": {"UserId": p.account_id, "Arn": p.arn}}
        with self._read() as conn:
            row = self._find(conn, ctx, USER, _user_name(ctx, request))
            return {"User": self._identity_shape(conn, USER, row)}

    def get_role(self, ctx: RequestContext, request: Request) -> Response:
        with self._read() as conn:
            row = self._find(conn, ctx, ROLE, request["RoleName"])
            return {"Role": self._identity_shape(conn, ROLE, row)}

    def get_group(self, ctx: RequestContext, request: Request) -> Response:
        with self._read() as conn:
            group = self._find(conn, ctx, GROUP, request["GroupName"])
            members = conn.execute(select(users).join(
                group_members, group_members.c.user_id == users.c.id).where(
                group_members.c.group_id == group.id).order_by(users.c.name_key)).all()
        chunk, more = paging.page(members, request, key=lambda r: r.name_key)
        return {"Group": shapes.identity(GROUP, group),
                "Users": [shapes.identity(USER, r) for r in chunk], **more}

    def list_users(self, ctx: RequestContext, request: Request) -> Response:
        return self._list_identities(ctx, request, USER, "Users")

    def list_groups(self, ctx: RequestContext, request: Request) -> Response:
        return self._list_identities(ctx, request, GROUP, "Groups")

    def list_roles(self, ctx: RequestContext, request: Request) -> Response:
        return self._list_identities(ctx, request, ROLE, "Roles")

    def update_user(self, ctx: RequestContext, request: Request) -> Response:
        return self._rename(ctx, request, USER)

    def update_group(self, ctx: RequestContext, request: Request) -> Response:
        return self._rename(ctx, request, GROUP)

    def update_role(self, ctx: RequestContext, request: Request) -> Response:
        changes = {}
        if "Description" in request:
            changes["description"] = request["Description"]
        if request.get("MaxSessionDuration"):
            changes["max_session_duration"] = request["MaxSessionDuration"]
        with self._write() as conn:
            row = self._find(conn, ctx, ROLE, request["RoleName"])
            if changes:
                conn.execute(update(roles).where(roles.c.id == row.id).values(**changes))
        return {}

    def update_role_description(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            row = self._find(conn, ctx, ROLE, request["RoleName"])
            conn.execute(update(roles).where(roles.c.id == row.id).values(
                description=request["Description"]))
            row = self._find(conn, ctx, ROLE, request["RoleName"])
            return {"Role": self._identity_shape(conn, ROLE, row)}

    def update_assume_role_policy(self, ctx: RequestContext, request: Request) -> Response:
        trust = _trust_policy(request["PolicyDocument"])
        with self._write() as conn:
            row = self._find(conn, ctx, ROLE, request["RoleName"])
            conn.execute(update(roles).where(roles.c.id == row.id).values(trust_policy=trust))
        return {}

    def delete_user(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            row = self._find(conn, ctx, USER, request["UserName"])
            if conn.execute(select(exists().where(access_keys.c.user_id == row.id))).scalar():
                raise _delete_conflict("must delete access keys first")
            if conn.execute(select(exists().where(group_members.c.user_id == row.id))).scalar():
                raise _delete_conflict("must remove user from all groups first")
            self._delete_identity(conn, USER, row)
        return {}

    def delete_group(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            row = self._find(conn, ctx, GROUP, request["GroupName"])
            if conn.execute(select(exists().where(group_members.c.group_id == row.id))).scalar():
                raise _delete_conflict("must remove users from group first")
            self._delete_identity(conn, GROUP, row)
        return {}

    def delete_role(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            self._delete_identity(conn, ROLE, self._find(conn, ctx, ROLE, request["RoleName"]))
        return {}

    def add_user_to_group(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            group = self._find(conn, ctx, GROUP, request["GroupName"])
            user = self._find(conn, ctx, USER, request["UserName"])
            member_of = conn.execute(select(group_members.c.group_id).where(
                group_members.c.user_id == user.id)).scalars().all()
            if group.id in member_of:
                return {}
            if len(member_of) >= GROUPS_PER_USER:
                raise _quota("GroupsPerUser", GROUPS_PER_USER)
            conn.execute(insert(group_members).values(group_id=group.id, user_id=user.id))
        return {}

    def remove_user_from_group(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            group = self._find(conn, ctx, GROUP, request["GroupName"])
            user = self._find(conn, ctx, USER, request["UserName"])
            conn.execute(delete(group_members).where(group_members.c.group_id == group.id,
                                                     group_members.c.user_id == user.id))
        return {}

    def list_groups_for_user(self, ctx: RequestContext, request: Request) -> Response:
        with self._read() as conn:
            user = self._find(conn, ctx, USER, request["UserName"])
            rows = access.groups_of(conn, user.id)
        chunk, more = paging.page(rows, request, key=lambda r: r.name_key)
        return {"Groups": [shapes.identity(GROUP, r) for r in chunk], **more}

    # -- access keys ----------------------------------------------------------------------

    def create_access_key(self, ctx: RequestContext, request: Request) -> Response:
        if not request.get("UserName") and ctx.principal.is_root:
            raise NotImplementedOperation("portside does not create root access keys; they "
                                          "are configured with PORTSIDE_ACCOUNTS.")
        with self._write() as conn:
            user = self._find(conn, ctx, USER, _user_name(ctx, request))
            count = conn.execute(select(func.count()).where(
                access_keys.c.user_id == user.id)).scalar_one()
            if count >= ACCESS_KEYS_PER_USER:
                raise _quota("AccessKeysPerUser", ACCESS_KEYS_PER_USER)
            row = {
                "access_key_id": ids.access_key_id(ids.ACCESS_KEY_PREFIX, user.account_id),
                "account_id": user.account_id, "user_id": user.id,
                "secret": ids.secret_access_key(), "status": "Active",
                "create_date": time.time(),
            }
            conn.execute(insert(access_keys).values(**row))
        return {"AccessKey": {"UserName": user.name, "AccessKeyId": row["access_key_id"],
                              "Status": "Active", "SecretAccessKey": row["secret"],
                              "CreateDate": row["create_date"]}}

    def list_access_keys(self, ctx: RequestContext, request: Request) -> Response:
        if not request.get("UserName") and ctx.principal.is_root:
            keys = [{"AccessKeyId": k.access_key_id, "Status": "Active"}
                    for k in self.runtime.settings.root_keys if k.account_id == ctx.account_id]
            return {"AccessKeyMetadata": keys, "IsTruncated": False}
        with self._read() as conn:
            user = self._find(conn, ctx, USER, _user_name(ctx, request))
            rows = conn.execute(select(access_keys).where(access_keys.c.user_id == user.id)
                                .order_by(access_keys.c.access_key_id)).all()
        chunk, more = paging.page(rows, request, key=lambda r: r.access_key_id)
        return {"AccessKeyMetadata": [shapes.access_key(r, user.name) for r in chunk], **more}

    def update_access_key(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            key = self._user_access_key(conn, ctx, request)
            conn.execute(update(access_keys).where(
                access_keys.c.access_key_id == key.access_key_id).values(
                status=request["Status"]))
        return {}

    def delete_access_key(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            key = self._user_access_key(conn, ctx, request)
            conn.execute(delete(access_keys).where(
                access_keys.c.access_key_id == key.access_key_id))
        return {}

    def get_access_key_last_used(self, ctx: RequestContext, request: Request) -> Response:
        key_id = request["AccessKeyId"]
        self._write_key_use()
        with self._read() as conn:
            row = conn.execute(select(access_keys, users.c.name.label("user_name")).join(
                users, users.c.id == access_keys.c.user_id).where(
                access_keys.c.access_key_id == key_id,
                access_keys.c.account_id == ctx.account_id)).first()
        if row is None:
            raise _no_such_key(key_id)
        last_used: dict[str, Any] = {"ServiceName": row.last_used_service or "N/A",
                                     "Region": row.last_used_region or "N/A"}
        if row.last_used_date is not None:
            last_used["LastUsedDate"] = row.last_used_date
        return {"UserName": row.user_name, "AccessKeyLastUsed": last_used}

    # -- managed policies --------------------------------------------------------------------

    def create_policy(self, ctx: RequestContext, request: Request) -> Response:
        document = _managed_policy_document(request["PolicyDocument"])
        name, path = request["PolicyName"], request.get("Path") or "/"
        tags = tagging.validated(request.get("Tags") or [])
        now = time.time()
        row = {"id": ids.unique_id(ids.POLICY_PREFIX), "account_id": ctx.account_id,
               "name": name, "name_key": name.lower(), "path": path,
               "arn": ids.iam_arn(ctx.account_id, "policy", path, name),
               "description": request.get("Description"), "default_version": 1,
               "next_version": 2, "create_date": now, "update_date": now}
        with self._write() as conn:
            taken = conn.execute(select(exists().where(
                policies_table.c.account_id == ctx.account_id,
                policies_table.c.name_key == name.lower()))).scalar()
            if taken:
                raise _policy_exists(name)
            conn.execute(insert(policies_table).values(**row))
            conn.execute(insert(policy_versions).values(policy_id=row["id"], number=1,
                                                        document=document, create_date=now))
            tagging.put(conn, row["id"], tags)
            policy = policies.find(conn, ctx.account_id, row["arn"])
        return {"Policy": policies.shape(policy, (0, 0), tags)}

    def get_policy(self, ctx: RequestContext, request: Request) -> Response:
        with self._read() as conn:
            policy = policies.find(conn, ctx.account_id, request["PolicyArn"])
            counts = policies.usage_counts(conn, ctx.account_id).get(policy.arn, (0, 0))
            tags = [] if policy.is_aws else tagging.of(conn, policy.policy_id)
        return {"Policy": policies.shape(policy, counts, tags)}

    def delete_policy(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            policy = policies.customer_owned(
                policies.find(conn, ctx.account_id, request["PolicyArn"]))
            if policies.usage_counts(conn, ctx.account_id).get(policy.arn, (0, 0)) != (0, 0):
                raise error("DeleteConflict", "Cannot delete a policy attached to entities.")
            versions = conn.execute(select(func.count()).where(
                policy_versions.c.policy_id == policy.policy_id)).scalar_one()
            if versions > 1:
                raise error("DeleteConflict", "This policy has more than one version. Before "
                            "you delete a policy, you must delete the policy's versions. The "
                            "default version is deleted with the policy.")
            conn.execute(delete(policy_versions).where(
                policy_versions.c.policy_id == policy.policy_id))
            conn.execute(delete(policies_table).where(policies_table.c.id == policy.policy_id))
            tagging.remove(conn, policy.policy_id)
        return {}

    def list_policies(self, ctx: RequestContext, request: Request) -> Response:
        scope = request.get("Scope") or "All"
        prefix = request.get("PathPrefix") or "/"
        usage = 1 if request.get("PolicyUsageFilter") == "PermissionsBoundary" else 0
        with self._read() as conn:
            counts = policies.usage_counts(conn, ctx.account_id)
            found = [
                p for p in policies.all_in(conn, ctx.account_id)
                if (scope == "All" or p.is_aws == (scope == "AWS"))
                and p.path.startswith(prefix)
                and (not request.get("OnlyAttached")
                     or counts.get(p.arn, (0, 0))[usage] > 0)
            ]
        found.sort(key=_policy_key)
        chunk, more = paging.page(found, request, key=_policy_key)
        return {"Policies": [policies.shape(p, counts.get(p.arn, (0, 0))) for p in chunk],
                **more}

    def list_entities_for_policy(self, ctx: RequestContext, request: Request) -> Response:
        wanted = request.get("EntityFilter")
        prefix = request.get("PathPrefix") or "/"
        boundary = request.get("PolicyUsageFilter") == "PermissionsBoundary"
        with self._read() as conn:
            policy = policies.find(conn, ctx.account_id, request["PolicyArn"])
            entities: list[tuple[IdentityKind, Row]] = []
            for kind in (GROUP, ROLE, USER):
                if wanted not in (None, kind.noun) or (boundary and kind is GROUP):
                    continue
                t = kind.table
                if boundary:
                    where = t.c.boundary_arn == policy.arn
                else:
                    where = t.c.id.in_(select(attachments.c.entity_id).where(
                        attachments.c.policy_arn == policy.arn))
                query = select(t).where(t.c.account_id == ctx.account_id, where)
                entities += [(kind, r) for r in conn.execute(query)
                             if r.path.startswith(prefix)]
        entities.sort(key=_entity_key)
        chunk, more = paging.page(entities, request, key=_entity_key)
        out: dict[str, list] = {"PolicyGroups": [], "PolicyRoles": [], "PolicyUsers": []}
        for kind, row in chunk:
            out[f"Policy{kind.noun}s"].append({kind.name_member: row.name,
                                               f"{kind.noun}Id": row.id})
        return {**out, **more}

    def create_policy_version(self, ctx: RequestContext, request: Request) -> Response:
        document = _managed_policy_document(request["PolicyDocument"])
        now = time.time()
        with self._write() as conn:
            policy = policies.customer_owned(
                policies.find(conn, ctx.account_id, request["PolicyArn"]))
            versions = conn.execute(select(func.count()).where(
                policy_versions.c.policy_id == policy.policy_id)).scalar_one()
            if versions >= VERSIONS_PER_POLICY:
                raise error("LimitExceeded", "A managed policy can have up to "
                            f"{VERSIONS_PER_POLICY} versions. Before you create a new version, "
                            "you must delete an existing version.")
            number = conn.execute(select(policies_table.c.next_version).where(
                policies_table.c.id == policy.policy_id)).scalar_one()
            conn.execute(insert(policy_versions).values(
                policy_id=policy.policy_id, number=number, document=document, create_date=now))
            changes: dict[str, Any] = {"next_version": number + 1}
            if request.get("SetAsDefault"):
                changes.update(default_version=number, update_date=now)
            conn.execute(update(policies_table).where(
                policies_table.c.id == policy.policy_id).values(**changes))
        return {"PolicyVersion": shapes.policy_version(
            number, None, bool(request.get("SetAsDefault")), now)}

    def get_policy_version(self, ctx: RequestContext, request: Request) -> Response:
        with self._read() as conn:
            policy = policies.find(conn, ctx.account_id, request["PolicyArn"])
            number = policies.parse_version_id(request["VersionId"], policy)
            document = policies.document(conn, policy, number)
            created = policy.create_date if policy.is_aws else conn.execute(
                select(policy_versions.c.create_date).where(
                    policy_versions.c.policy_id == policy.policy_id,
                    policy_versions.c.number == number)).scalar_one()
        return {"PolicyVersion": shapes.policy_version(
            number, document, number == policy.default_version, created)}

    def list_policy_versions(self, ctx: RequestContext, request: Request) -> Response:
        with self._read() as conn:
            policy = policies.find(conn, ctx.account_id, request["PolicyArn"])
            if policy.is_aws:
                versions = [(1, policy.create_date)]
            else:
                versions = [tuple(r) for r in conn.execute(
                    select(policy_versions.c.number, policy_versions.c.create_date).where(
                        policy_versions.c.policy_id == policy.policy_id))]
        # Newest first, as IAM lists them; the key sorts that order ascending.
        versions.sort(key=lambda v: -v[0])
        chunk, more = paging.page(versions, request, key=lambda v: f"{10**9 - v[0]:010d}")
        return {"Versions": [shapes.policy_version(n, None, n == policy.default_version, c)
                             for n, c in chunk], **more}

    def delete_policy_version(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            policy, number = self._policy_version(conn, ctx, request)
            if number == policy.default_version:
                raise error("DeleteConflict", "Cannot delete the default version of a policy.")
            conn.execute(delete(policy_versions).where(
                policy_versions.c.policy_id == policy.policy_id,
                policy_versions.c.number == number))
        return {}

    def set_default_policy_version(self, ctx: RequestContext, request: Request) -> Response:
        with self._write() as conn:
            policy, number = self._policy_version(conn, ctx, request)
            conn.execute(update(policies_table).where(
                policies_table.c.id == policy.policy_id).values(
                default_version=number, update_date=time.time()))
        return {}

    # -- inline and attached policies of users, groups and roles ---------------------------

    def _put_inline_policy(self, ctx: RequestContext, request: Request,
                           kind: IdentityKind) -> Response:
        """Put{User,Group,Role}Policy: add or replace an inline policy."""
        name, document = request["PolicyName"], request["PolicyDocument"]
        documents.validated(document, PolicyKind.IDENTITY)
        with self._write() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            others = conn.execute(select(inline_policies.c.document).where(
                inline_policies.c.entity_id == entity.id,
                inline_policies.c.name_key != name.lower())).scalars().all()
            if sum(map(policy_size, [*others, document])) > kind.inline_quota:
                raise error("LimitExceeded", f"Maximum policy size of {kind.inline_quota} bytes "
                            f"exceeded for {kind.kind} {entity.name}")
            conn.execute(delete(inline_policies).where(
                inline_policies.c.entity_id == entity.id,
                inline_policies.c.name_key == name.lower()))
            conn.execute(insert(inline_policies).values(
                entity_id=entity.id, name_key=name.lower(), name=name, document=document))
        return {}

    def _get_inline_policy(self, ctx: RequestContext, request: Request,
                           kind: IdentityKind) -> Response:
        """Get{User,Group,Role}Policy: one inline policy, its document URL-encoded."""
        with self._read() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            row = self._inline(conn, kind, entity, request["PolicyName"])
        return {kind.name_member: entity.name, "PolicyName": row.name,
                "PolicyDocument": shapes.url_encoded(row.document)}

    def _delete_inline_policy(self, ctx: RequestContext, request: Request,
                              kind: IdentityKind) -> Response:
        """Delete{User,Group,Role}Policy."""
        with self._write() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            row = self._inline(conn, kind, entity, request["PolicyName"])
            conn.execute(delete(inline_policies).where(
                inline_policies.c.entity_id == entity.id,
                inline_policies.c.name_key == row.name_key))
        return {}

    def _list_inline_policies(self, ctx: RequestContext, request: Request,
                              kind: IdentityKind) -> Response:
        """List{User,Group,Role}Policies: the names of its inline policies."""
        with self._read() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            rows = conn.execute(select(inline_policies.c.name_key, inline_policies.c.name).where(
                inline_policies.c.entity_id == entity.id)
                .order_by(inline_policies.c.name_key)).all()
        chunk, more = paging.page(rows, request, key=lambda r: r.name_key)
        return {"PolicyNames": [r.name for r in chunk], **more}

    def _attach_policy(self, ctx: RequestContext, request: Request,
                       kind: IdentityKind) -> Response:
        """Attach{User,Group,Role}Policy: attach a managed policy (again is no change)."""
        with self._write() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            policy = policies.find(conn, ctx.account_id, request["PolicyArn"])
            attached = conn.execute(select(attachments.c.policy_arn).where(
                attachments.c.entity_id == entity.id)).scalars().all()
            if policy.arn in attached:
                return {}
            if len(attached) >= MANAGED_POLICIES_PER_IDENTITY:
                raise _quota(f"PoliciesPer{kind.noun}", MANAGED_POLICIES_PER_IDENTITY)
            conn.execute(insert(attachments).values(entity_id=entity.id, policy_arn=policy.arn,
                                                    account_id=ctx.account_id))
        return {}

    def _detach_policy(self, ctx: RequestContext, request: Request,
                       kind: IdentityKind) -> Response:
        """Detach{User,Group,Role}Policy."""
        arn = request["PolicyArn"]
        with self._write() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            gone = conn.execute(delete(attachments).where(
                attachments.c.entity_id == entity.id, attachments.c.policy_arn == arn)).rowcount
            if not gone:
                raise error("NoSuchEntity", f"Policy {arn} was not found.")
        return {}

    def _list_attached_policies(self, ctx: RequestContext, request: Request,
                                kind: IdentityKind) -> Response:
        """ListAttached{User,Group,Role}Policies, optionally under a path prefix."""
        prefix = request.get("PathPrefix") or "/"
        with self._read() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            found = [p for p in access.attached(conn, ctx.account_id, entity.id)
                     if p.path.startswith(prefix)]
        found.sort(key=_policy_key)
        chunk, more = paging.page(found, request, key=_policy_key)
        return {"AttachedPolicies": [{"PolicyName": p.name, "PolicyArn": p.arn}
                                     for p in chunk], **more}

    put_user_policy = _per_kind(USER, _put_inline_policy)
    put_group_policy = _per_kind(GROUP, _put_inline_policy)
    put_role_policy = _per_kind(ROLE, _put_inline_policy)
    get_user_policy = _per_kind(USER, _get_inline_policy)
    get_group_policy = _per_kind(GROUP, _get_inline_policy)
    get_role_policy = _per_kind(ROLE, _get_inline_policy)
    delete_user_policy = _per_kind(USER, _delete_inline_policy)
    delete_group_policy = _per_kind(GROUP, _delete_inline_policy)
    delete_role_policy = _per_kind(ROLE, _delete_inline_policy)
    list_user_policies = _per_kind(USER, _list_inline_policies)
    list_group_policies = _per_kind(GROUP, _list_inline_policies)
    list_role_policies = _per_kind(ROLE, _list_inline_policies)
    attach_user_policy = _per_kind(USER, _attach_policy)
    attach_group_policy = _per_kind(GROUP, _attach_policy)
    attach_role_policy = _per_kind(ROLE, _attach_policy)
    detach_user_policy = _per_kind(USER, _detach_policy)
    detach_group_policy = _per_kind(GROUP, _detach_policy)
    detach_role_policy = _per_kind(ROLE, _detach_policy)
    list_attached_user_policies = _per_kind(USER, _list_attached_policies)
    list_attached_group_policies = _per_kind(GROUP, _list_attached_policies)
    list_attached_role_policies = _per_kind(ROLE, _list_attached_policies)

    # -- tags and permissions boundaries --------------------------------------------------

    def _tag(self, ctx: RequestContext, request: Request, kind: IdentityKind | None) -> Response:
        """Tag{User,Role,Policy}."""
        new = tagging.validated(request["Tags"])
        with self._write() as conn:
            tagging.put(conn, self._tagged(conn, ctx, request, kind), new)
        return {}

    def _untag(self, ctx: RequestContext, request: Request,
               kind: IdentityKind | None) -> Response:
        """Untag{User,Role,Policy}: keys match in any case; absent keys are no error."""
        with self._write() as conn:
            tagging.remove(conn, self._tagged(conn, ctx, request, kind), request["TagKeys"])
        return {}

    def _list_tags(self, ctx: RequestContext, request: Request,
                   kind: IdentityKind | None) -> Response:
        """List{User,Role,Policy}Tags."""
        with self._read() as conn:
            found = tagging.of(conn, self._tagged(conn, ctx, request, kind))
        chunk, more = paging.page(found, request, key=lambda t: t["Key"].lower())
        return {"Tags": chunk, **more}

    def _put_boundary(self, ctx: RequestContext, request: Request,
                      kind: IdentityKind) -> Response:
        """Put{User,Role}PermissionsBoundary."""
        with self._write() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            arn = self._boundary(conn, ctx, request["PermissionsBoundary"])
            conn.execute(update(kind.table).where(kind.table.c.id == entity.id).values(
                boundary_arn=arn))
        return {}

    def _delete_boundary(self, ctx: RequestContext, request: Request,
                         kind: IdentityKind) -> Response:
        """Delete{User,Role}PermissionsBoundary."""
        with self._write() as conn:
            entity = self._find(conn, ctx, kind, request[kind.name_member])
            conn.execute(update(kind.table).where(kind.table.c.id == entity.id).values(
                boundary_arn=None))
        return {}

    tag_user = _per_kind(USER, _tag)
    tag_role = _per_kind(ROLE, _tag)
    tag_policy = _per_kind(None, _tag)
    untag_user = _per_kind(USER, _untag)
    untag_role = _per_kind(ROLE, _untag)
    untag_policy = _per_kind(None, _untag)
    list_user_tags = _per_kind(USER, _list_tags)
    list_role_tags = _per_kind(ROLE, _list_tags)
    list_policy_tags = _per_kind(None, _list_tags)
    put_user_permissions_boundary = _per_kind(USER, _put_boundary)
    put_role_permissions_boundary = _per_kind(ROLE, _put_boundary)
    delete_user_permissions_boundary = _per_kind(USER, _delete_boundary)
    delete_role_permissions_boundary = _per_kind(ROLE, _delete_boundary)

    # -- the account's whole picture, and the simulator -----------------------------------

    def get_account_authorization_details(self, ctx: RequestContext,
                                          request: Request) -> Response:
        wanted = set(request.get("Filter") or ())
        with self._read() as conn:
            details = access.authorization_details(conn, ctx.account_id, wanted)
        chunk, more = paging.page(details, request, key=lambda d: d[0])
        out: dict[str, list] = {"UserDetailList": [], "GroupDetailList": [],
                                "RoleDetailList": [], "Policies": []}
        for _key, member, detail in chunk:
            out[member].append(detail)
        return {**out, **more}

    def simulate_principal_policy(self, ctx: RequestContext, request: Request) -> Response:
        with self._read() as conn:
            subject = access.simulation_subject(conn, ctx.account_id, request["PolicySourceArn"])
            if request.get("CallerArn"):
                subject = replace(subject, caller=access.simulation_caller(
                    conn, ctx.account_id, request["CallerArn"]))
        return simulate.run(subject, request)

    def simulate_custom_policy(self, ctx: RequestContext, request: Request) -> Response:
        """The request's policies alone. Without a CallerArn the simulated caller is an
        unnamed user of the account, which a resource policy cannot name."""
        caller = PrincipalInfo(CallerType.USER, "", ctx.account_id)
        if request.get("CallerArn"):
            with self._read() as conn:
                caller = access.simulation_caller(conn, ctx.account_id, request["CallerArn"])
        return simulate.run(access.SimulationSubject([], None, caller), request)

    # -- helpers -----------------------------------------------------------------------------

    def _find(self, conn: Connection, ctx: RequestContext, kind: IdentityKind,
              name: str) -> Row:
        """The user, group or role `name` (in any case) of the caller's account."""
        t = kind.table
        row = conn.execute(select(t).where(t.c.account_id == ctx.account_id,
                                           t.c.name_key == name.lower())).first()
        if row is None:
            raise error("NoSuchEntity", f"The {kind.kind} with name {name} cannot be found.")
        return row

    def _create_identity(self, conn: Connection, ctx: RequestContext, kind: IdentityKind,
                         request: Request, extra: dict[str, Any]) -> Row:
        name, path = request[kind.name_member], request.get("Path") or "/"
        tags = tagging.validated(request.get("Tags") or [])
        row = {"id": ids.unique_id(kind.prefix), "account_id": ctx.account_id, "name": name,
               "name_key": name.lower(), "path": path,
               "arn": ids.iam_arn(ctx.account_id, kind.kind, path, name),
               "create_date": time.time(), **extra}
        try:
            conn.execute(insert(kind.table).values(**row))
        except IntegrityError:
            raise error("EntityAlreadyExists",
                        f"{kind.noun} with name {name} already exists.") from None
        tagging.put(conn, row["id"], tags)
        return self._find(conn, ctx, kind, name)

    def _identity_shape(self, conn: Connection, kind: IdentityKind, row: Row) -> Response:
        return shapes.identity(kind, row, tags=tagging.of(conn, row.id), full=True)

    def _list_identities(self, ctx: RequestContext, request: Request, kind: IdentityKind,
                         member: str) -> Response:
        t = kind.table
        prefix = request.get("PathPrefix") or "/"
        with self._read() as conn:
            rows = conn.execute(select(t).where(t.c.account_id == ctx.account_id)
                                .order_by(t.c.name_key)).all()
        rows = [r for r in rows if r.path.startswith(prefix)]
        chunk, more = paging.page(rows, request, key=lambda r: r.name_key)
        return {member: [shapes.identity(kind, r) for r in chunk], **more}

    def _rename(self, ctx: RequestContext, request: Request, kind: IdentityKind) -> Response:
        """Update{User,Group}: a new name and/or path, and with them a new ARN."""
        with self._write() as conn:
            row = self._find(conn, ctx, kind, request[kind.name_member])
            name = request.get(f"New{kind.name_member}") or row.name
            path = request.get("NewPath") or row.path
            try:
                conn.execute(update(kind.table).where(kind.table.c.id == row.id).values(
                    name=name, name_key=name.lower(), path=path,
                    arn=ids.iam_arn(ctx.account_id, kind.kind, path, name)))
            except IntegrityError:
                raise error("EntityAlreadyExists",
                            f"{kind.noun} with name {name} already exists.") from None
        return {}

    def _delete_identity(self, conn: Connection, kind: IdentityKind, row: Row) -> None:
        """Delete a user, group or role that holds no policies (DeleteConflict otherwise)."""
        if conn.execute(select(exists().where(inline_policies.c.entity_id == row.id))).scalar():
            raise _delete_conflict("must delete policies first")
        if conn.execute(select(exists().where(attachments.c.entity_id == row.id))).scalar():
            raise _delete_conflict("must detach all policies first")
        tagging.remove(conn, row.id)
        conn.execute(delete(kind.table).where(kind.table.c.id == row.id))

    def _inline(self, conn: Connection, kind: IdentityKind, entity: Row, name: str) -> Row:
        row = conn.execute(select(inline_policies).where(
            inline_policies.c.entity_id == entity.id,
            inline_policies.c.name_key == name.lower())).first()
        if row is None:
            raise error("NoSuchEntity", f"The {kind.kind} policy with name {name} cannot be "
                        "found.")
        return row

    def _boundary(self, conn: Connection, ctx: RequestContext, arn: str | None) -> str | None:
        """A permissions boundary ARN, checked: a managed policy the account can attach."""
        if arn is None:
            return None
        try:
            return policies.find(conn, ctx.account_id, arn).arn
        except AwsError as exc:
            if exc.code != "NoSuchEntity":
                raise
            raise error("NoSuchEntity", f"Scope ARN: {arn} does not exist or is not "
                        "attachable.") from None

    def _tagged(self, conn: Connection, ctx: RequestContext, request: Request,
                kind: IdentityKind | None) -> str:
        """The id of the user or role (`kind`) or customer managed policy (None) to tag."""
        if kind is None:
            return policies.customer_owned(
                policies.find(conn, ctx.account_id, request["PolicyArn"])).policy_id
        return self._find(conn, ctx, kind, request[kind.name_member]).id

    def _user_access_key(self, conn: Connection, ctx: RequestContext, request: Request) -> Row:
        """The access key of the named (or calling) user; NoSuchEntity if it is another's."""
        user = self._find(conn, ctx, USER, _user_name(ctx, request))
        row = conn.execute(select(access_keys).where(
            access_keys.c.access_key_id == request["AccessKeyId"],
            access_keys.c.user_id == user.id)).first()
        if row is None:
            raise _no_such_key(request["AccessKeyId"])
        return row

    def _policy_version(self, conn: Connection, ctx: RequestContext,
                        request: Request) -> tuple[policies.ManagedPolicy, int]:
        policy = policies.customer_owned(
            policies.find(conn, ctx.account_id, request["PolicyArn"]))
        number = policies.parse_version_id(request["VersionId"], policy)
        policies.document(conn, policy, number)  # NoSuchEntity when there is no such version
        return policy, number


def _user_name(ctx: RequestContext, request: Request) -> str:
    """The UserName of the request, or the calling user's when the request names none."""
    if request.get("UserName"):
        return request["UserName"]
    p = ctx.principal
    if p.type is PrincipalType.IAM_USER and p.name:
        return p.name
    raise error("ValidationError", "Must specify userName when calling with non-User "
                "credentials")


def _trust_policy(document: str) -> str:
    documents.validated(document, PolicyKind.TRUST, limit=TRUST_POLICY_SIZE,
                        quota="ACLSizePerRole")
    return document


def _managed_policy_document(document: str) -> str:
    documents.validated(document, PolicyKind.IDENTITY, limit=MANAGED_POLICY_SIZE)
    return document


def _policy_key(policy: policies.ManagedPolicy) -> str:
    return f"{policy.name_key}\0{policy.arn}"


def _entity_key(entity: tuple[IdentityKind, Row]) -> str:
    kind, row = entity
    return f"{kind.kind}\0{row.name_key}"


def _quota(name: str, limit: int) -> AwsError:
    return error("LimitExceeded", f"Cannot exceed quota for {name}: {limit}")


def _delete_conflict(what: str) -> AwsError:
    return error("DeleteConflict", f"Cannot delete entity, {what}.")


def _policy_exists(name: str) -> AwsError:
    return error("EntityAlreadyExists",
                 f"A policy called {name} already exists. Duplicate names are not allowed.")


def _no_such_key(key_id: str) -> AwsError:
    return error("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.")

