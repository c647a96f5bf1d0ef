"""AWS Secrets Manager: secrets, versions and staging labels, resource policies, tags, random
passwords; values sealed at rest.

What portside does not do, and says so: rotation (RotateSecret answers InvalidRequestException:
there is no Lambda to run), replication to other Regions (AddReplicaRegions is refused), KMS
(KmsKeyId is recorded and shown, values are sealed with the data directory's master key).
https://docs.aws.amazon.com/secretsmanager/latest/apireference/Welcome.html
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from portside.auth.actions import Check
from portside.auth.identity import PrincipalType
from portside.context import RequestContext
from portside.gateway.authorize import authorize_check
from portside.protocol.errors import AwsError
from portside.services import pagination, tag_lists
from portside.services.base import ResourcePolicy, Service
from portside.services.cloudtrail.records import build_record
from portside.services.secretsmanager import errors, filters, ids, policies, records, staging
from portside.services.secretsmanager.access import AccessRules
from portside.services.secretsmanager.passwords import (
    PasswordRules,
    Unsatisfiable,
    random_password,
)
from portside.services.secretsmanager.records import Secret, Version
from portside.services.secretsmanager.versions import (
    SecretValue,
    Vault,
    add_version,
    check_labels,
    select,
    value_of,
)
from portside.store.sealed import Sealer

DAY = 86400.0
RECOVERY_DAYS = (7, 30)
DEFAULT_RECOVERY_DAYS = 30
MAX_LIST_RESULTS = 100
MAX_BATCH_RESULTS = 20
PURGE_INTERVAL = 60.0  # how often secrets past their recovery window are deleted
SORT_KEYS = {"created-date": "created", "last-changed-date": "last_changed",
             "last-accessed-date": "last_accessed", "name": "name"}


class SecretsManager(Service):
    name = "secretsmanager"

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        settings = runtime.settings
        self.vault = Vault(Sealer.for_data_dir(settings.data_dir, settings.master_key))
        self.access = AccessRules(self._lookup)

    # -- secrets ------------------------------------------------------------------------------

    def create_secret(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = request["Name"]
        if not ids.is_valid_name(name):
            raise errors.validation("Invalid name. Must be a valid name containing "
                                    "alphanumeric characters, or any of the following: -/_+=.@!")
        if request.get("AddReplicaRegions"):
            raise errors.invalid_request("portside does not replicate secrets to other "
                                         "Regions.")
        value = value_of(request)
        tags = tag_lists.merged([], request.get("Tags") or [], errors.invalid_parameter)
        tag_lists.check(tags, errors.invalid_parameter)
        token = request.get("ClientRequestToken") or str(uuid.uuid4())
        now = time.time()
        with self.runtime.store.begin() as conn:
            existing = records.find(conn, ids.SecretRef(ctx.account_id, ctx.region, name))
            if existing is not None:
                return self._create_retry(conn, existing, token, value)
            secret = records.create(conn, Secret(
                0, ctx.account_id, ctx.region, name,
                ids.secret_arn(ctx.region, ctx.account_id, name, ids.new_suffix()),
                request.get("Description"), request.get("KmsKeyId") or None, tags,
                created=now, last_changed=now))
            response = {"ARN": secret.arn, "Name": secret.name}
            if value is not None:
                add_version(conn, self.vault, secret, token, value, None, now)
                response["VersionId"] = token
        return response

    def _create_retry(self, conn: Connection, secret: Secret, token: str,
                      value: SecretValue | None) -> dict[str, Any]:
        """CreateSecret of a name that exists: a retry of the same request (same token, same
        value) answers as the first did; anything else is refused."""
        if secret.scheduled_for_deletion:
            raise errors.invalid_request("You can't create this secret because a secret with "
                                         "this name is already scheduled for deletion.")
        version = next((v for v in records.versions(conn, secret) if v.version_id == token),
                       None)
        if version is None or value is None:
            raise errors.exists(secret.name)
        if self.vault.open(secret, version) != value:
            raise errors.version_exists()
        return {"ARN": secret.arn, "Name": secret.name, "VersionId": token}

    def describe_secret(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._secret(conn, ctx, request["SecretId"])
            found = records.versions(conn, secret)
        response = _metadata(secret)
        labelled = _labelled(found)
        if labelled:
            response["VersionIdsToStages"] = labelled
        return response

    def update_secret(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        value = value_of(request)
        now = time.time()
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            changes: dict[str, Any] = {"last_changed": now}
            if request.get("Description") is not None:
                changes["description"] = request["Description"]
            if request.get("KmsKeyId") is not None:
                changes["kms_key_id"] = request["KmsKeyId"] or None
            secret = records.change(conn, secret, **changes)
            response = {"ARN": secret.arn, "Name": secret.name}
            if value is not None:
                token = request.get("ClientRequestToken") or str(uuid.uuid4())
                response["VersionId"] = add_version(conn, self.vault, secret, token, value,
                                                    None, now).version_id
        return response

    def list_secrets(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        limit = request.get("MaxResults") or MAX_LIST_RESULTS
        with self.runtime.store.begin() as conn:
            found = self._matching(conn, ctx, request.get("Filters") or [],
                                   bool(request.get("IncludePlannedDeletion")))
            field = SORT_KEYS[request.get("SortBy") or "created-date"]
            descending = request.get("SortOrder") == "desc"
            found.sort(key=lambda s: _sort_key(s, field), reverse=descending)
            chunk, token = pagination.page(
                found, lambda s: _sort_key(s, field), limit, request.get("NextToken"),
                scope=f"ListSecrets:{field}", invalid=errors.invalid_next_token,
                descending=descending)
            entries = [_list_entry(s, records.versions(conn, s)) for s in chunk]
        response: dict[str, Any] = {"SecretList": entries}
        if token:
            response["NextToken"] = token
        return response

    def _matching(self, conn: Connection, ctx: RequestContext, given: list[dict[str, Any]],
                  include_deleted: bool) -> list[Secret]:
        wanted = _filters(given)
        return [s for s in records.in_region(conn, ctx.account_id, ctx.region)
                if (include_deleted or not s.scheduled_for_deletion)
                and filters.matches(_searchable(s), wanted)]

    def delete_secret(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        window = request.get("RecoveryWindowInDays")
        force = bool(request.get("ForceDeleteWithoutRecovery"))
        if force and window is not None:
            raise errors.invalid_parameter("You can't use ForceDeleteWithoutRecovery in "
                                           "conjunction with RecoveryWindowInDays.")
        if window is not None and not RECOVERY_DAYS[0] <= window <= RECOVERY_DAYS[1]:
            raise errors.invalid_parameter("The RecoveryWindowInDays value must be between 7 "
                                           "and 30 days (inclusive).")
        now = time.time()
        with self.runtime.store.begin() as conn:
            secret = self._find(conn, ctx, request["SecretId"])
            if secret is None and force:
                # "If you forcibly delete an already deleted or nonexistent secret, the
                # operation does not return ResourceNotFoundException."
                return {"Name": request["SecretId"], "DeletionDate": now}
            if secret is None:
                raise errors.not_found()
            if force:
                records.remove(conn, secret)
                return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": now}
            if secret.scheduled_for_deletion:
                raise errors.marked_for_deletion()
            deletion = now + DAY * (window or DEFAULT_RECOVERY_DAYS)
            records.change(conn, secret, deletion_date=deletion)
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": deletion}

    def restore_secret(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._secret(conn, ctx, request["SecretId"])
            if secret.scheduled_for_deletion:
                records.change(conn, secret, deletion_date=None, last_changed=time.time())
        return {"ARN": secret.arn, "Name": secret.name}

    def rotate_secret(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            self._live_secret(conn, ctx, request["SecretId"])
        raise errors.invalid_request(
            "portside does not rotate secrets: there is no Lambda function to run the rotation. "
            "Rotate by storing the new value with PutSecretValue (AWSPENDING) and moving "
            "AWSCURRENT with UpdateSecretVersionStage.")

    # -- values and versions ------------------------------------------------------------------

    def get_secret_value(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            return self._read(conn, secret, request.get("VersionId"),
                              request.get("VersionStage"))

    def _read(self, conn: Connection, secret: Secret, version_id: str | None,
              stage: str | None) -> dict[str, Any]:
        """The GetSecretValue answer for a version; the read is recorded (LastAccessedDate,
        kept to the day as AWS keeps it)."""
        version = select(records.versions(conn, secret), version_id, stage)
        value = self.vault.open(secret, version)
        today = _midnight(time.time())
        if secret.last_accessed != today or version.last_accessed != today:
            records.touch_version(conn, secret, version.version_id, today)
        response: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name,
                                    "VersionId": version.version_id,
                                    "VersionStages": version.stages,
                                    "CreatedDate": version.created}
        if value.string is not None:
            response["SecretString"] = value.string
        if value.binary is not None:
            response["SecretBinary"] = value.binary
        return response

    def batch_get_secret_value(self, ctx: RequestContext,
                               request: dict[str, Any]) -> dict[str, Any]:
        id_list, given = request.get("SecretIdList"), request.get("Filters")
        if bool(id_list) == bool(given):
            raise errors.invalid_parameter("Either SecretIdList or Filters must be specified, "
                                           "but not both.")
        if id_list and request.get("MaxResults") is not None:
            raise errors.invalid_parameter("MaxResults can be used only with Filters.")
        values: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        with self.runtime.store.begin() as conn:
            targets, token = self._batch_targets(conn, ctx, request)
            reads: list[tuple[str, AwsError | None]] = []
            for secret_id, secret in targets:
                try:
                    values.append(self._batch_read(conn, ctx, secret_id, secret))
                    reads.append((secret_id, None))
                except AwsError as exc:
                    reads.append((secret_id, exc))
                    failures.append({"SecretId": secret_id, "ErrorCode": exc.code,
                                     "Message": exc.message})
        for secret_id, failure in reads:  # once the transaction is over: the trail writes too
            self._record_read(ctx, secret_id, failure)
        response: dict[str, Any] = {"SecretValues": values, "Errors": failures}
        if token:
            response["NextToken"] = token
        return response

    def _batch_targets(self, conn: Connection, ctx: RequestContext, request: dict[str, Any]
                       ) -> tuple[list[tuple[str, Secret | None]], str | None]:
        """The secrets a batch reads (by id, or a page of those its filters match) and the
        next page's token."""
        if request.get("SecretIdList"):
            return [(i, self._find(conn, ctx, i))
                    for i in dict.fromkeys(request["SecretIdList"])], None
        found = sorted(self._matching(conn, ctx, request["Filters"], False), key=lambda s: s.arn)
        chunk, token = pagination.page(
            found, lambda s: [s.arn], request.get("MaxResults") or MAX_BATCH_RESULTS,
            request.get("NextToken"), scope="BatchGetSecretValue",
            invalid=errors.invalid_next_token)
        return [(s.arn, s) for s in chunk], token

    def _batch_read(self, conn: Connection, ctx: RequestContext, secret_id: str,
                    secret: Secret | None) -> dict[str, Any]:
        """One secret of a batch: it needs secretsmanager:GetSecretValue like a single read."""
        arn = secret.arn if secret else self.access.missing_arn(ctx, secret_id)
        self.authorize(ctx, Check("secretsmanager:GetSecretValue", arn,
                                   self.access.secret_keys(arn, secret)))
        if secret is None:
            raise errors.not_found()
        if secret.scheduled_for_deletion:
            raise errors.marked_for_deletion()
        return self._read(conn, secret, None, None)

    def _record_read(self, ctx: RequestContext, secret_id: str,
                     failure: AwsError | None) -> None:
        """CloudTrail's GetSecretValue record of one secret of a batch, as AWS writes one per
        secret (the batch's own record is written by the gateway)."""
        read = replace(ctx, operation="GetSecretValue")
        params = {"SecretId": secret_id}
        record = build_record(read, "secretsmanager.amazonaws.com",
                              self.model.operation_model("GetSecretValue"), params, None, failure)
        self.runtime.trail.record(read, record, params)

    def authorize(self, ctx: RequestContext, check: Check) -> None:
        """Enforce one further check (a secret of a batch, a secret read through Parameter
        Store), as the gateway enforces a call's own checks."""
        if self.runtime.settings.iam_enforcement or ctx.principal.type is PrincipalType.ANONYMOUS:
            authorize_check(self.runtime, ctx, self, check)

    def put_secret_value(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        value = value_of(request)
        if value is None:
            raise errors.invalid_parameter("You must provide either SecretString or "
                                           "SecretBinary.")  # wording: portside
        token = request.get("ClientRequestToken") or str(uuid.uuid4())
        now = time.time()
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            created = add_version(conn, self.vault, secret, token, value,
                                  request.get("VersionStages"), now)
            records.change(conn, secret, last_changed=now)
        return {"ARN": secret.arn, "Name": secret.name, "VersionId": created.version_id,
                "VersionStages": created.stages}

    def list_secret_version_ids(self, ctx: RequestContext,
                                request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._secret(conn, ctx, request["SecretId"])
            found = records.versions(conn, secret)
        if not request.get("IncludeDeprecated"):
            found = [v for v in found if v.stages]
        chunk, token = pagination.page(
            found, lambda v: [v.created, v.version_id], request.get("MaxResults")
            or MAX_LIST_RESULTS, request.get("NextToken"), scope="ListSecretVersionIds",
            invalid=errors.invalid_next_token)
        response: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name,
                                    "Versions": [_version_entry(v) for v in chunk]}
        if token:
            response["NextToken"] = token
        return response

    def update_secret_version_stage(self, ctx: RequestContext,
                                    request: dict[str, Any]) -> dict[str, Any]:
        label = request["VersionStage"]
        move_to, remove_from = request.get("MoveToVersionId"), request.get("RemoveFromVersionId")
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            before = {v.version_id: v.stages for v in records.versions(conn, secret)}
            for version_id in (move_to, remove_from):
                if version_id is not None and version_id not in before:
                    raise errors.invalid_parameter(
                        f"Secrets Manager can't find the specified version {version_id}.")
            move = staging.move_stage(before, label, move_to, remove_from)
            if move.stages is None:
                raise errors.invalid_parameter(move.refusal or "")
            check_labels(move.stages)
            records.set_stages(conn, secret, before, move.stages)
            records.change(conn, secret, last_changed=time.time())
        return {"ARN": secret.arn, "Name": secret.name}

    def get_random_password(self, ctx: RequestContext,
                            request: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"RandomPassword": random_password(PasswordRules.of(request))}
        except Unsatisfiable as exc:
            raise errors.invalid_parameter(str(exc)) from None

    # -- resource policies and tags -----------------------------------------------------------

    def put_resource_policy(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        document = policies.validated(request["ResourcePolicy"])
        if request.get("BlockPublicPolicy") and policies.grants_public_access(document):
            raise policies.public_policy()
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            records.change(conn, secret, policy=document, last_changed=time.time())
        return {"ARN": secret.arn, "Name": secret.name}

    def get_resource_policy(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._secret(conn, ctx, request["SecretId"])
        response = {"ARN": secret.arn, "Name": secret.name}
        if secret.policy:
            response["ResourcePolicy"] = secret.policy
        return response

    def delete_resource_policy(self, ctx: RequestContext,
                               request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            records.change(conn, secret, policy=None, last_changed=time.time())
        return {"ARN": secret.arn, "Name": secret.name}

    def validate_resource_policy(self, ctx: RequestContext,
                                 request: dict[str, Any]) -> dict[str, Any]:
        if request.get("SecretId"):
            with self.runtime.store.begin() as conn:
                self._secret(conn, ctx, request["SecretId"])
        policies.validated(request["ResourcePolicy"])
        return {"PolicyValidationPassed": True, "ValidationErrors": []}

    def tag_resource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            tags = tag_lists.merged(secret.tags, request["Tags"], errors.invalid_parameter)
            tag_lists.check(tags, errors.invalid_parameter)
            records.change(conn, secret, tags=tags, last_changed=time.time())
        return {}

    def untag_resource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, ctx, request["SecretId"])
            records.change(conn, secret, tags=tag_lists.without(secret.tags, request["TagKeys"]),
                           last_changed=time.time())
        return {}

    # -- in-process, for ECS container secrets ------------------------------------------------

    def resolve_secret_value(self, ctx: RequestContext, value_from: str) -> str:
        """The plaintext an ECS container secret's `valueFrom` names (a secret ARN, optionally
        `:json-key:version-stage:version-id`), read in the ARN's Region. The caller has
        authorized it (`value_from_check`) with the task's execution role; the AWS error is
        raised when it cannot be read. The value itself never appears in an error."""
        try:
            ref = ids.parse_value_from(value_from)
        except ids.BadValueFrom as exc:
            raise errors.invalid_parameter(str(exc)) from None
        here = replace(ctx, region=ref.region)
        with self.runtime.store.begin() as conn:
            secret = self._live_secret(conn, here, ref.secret_id)
            answer = self._read(conn, secret, ref.version_id, ref.version_stage)
        text = answer.get("SecretString")
        if text is None:
            raise errors.invalid_request("The secret has a binary value; only SecretString "
                                         "values can be injected.")  # wording: portside
        return text if ref.json_key is None else _json_field(text, ref.json_key)

    def value_from_check(self, ctx: RequestContext, value_from: str) -> Check:
        """What IAM must allow for `resolve_secret_value`: secretsmanager:GetSecretValue on the
        secret."""
        ref = ids.parse_value_from(value_from)
        here = replace(ctx, region=ref.region)
        return self.access.checks(here, "GetSecretValue", {"SecretId": ref.secret_id})[0]

    # -- hooks --------------------------------------------------------------------------------

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        return self.access.checks(ctx, operation, params)

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> ResourcePolicy | None:
        with self.runtime.store.begin() as conn:
            secret = records.by_arn(conn, resource_arn)
        if secret is None or not secret.policy:
            return None
        return ResourcePolicy(secret.policy, secret.account_id)

    def background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._purge_every()]

    async def _purge_every(self) -> None:
        while True:
            self.purge(time.time())
            await asyncio.sleep(PURGE_INTERVAL)

    def purge(self, now: float) -> list[str]:
        """Delete, with all their versions, the secrets whose recovery window has ended; answer
        their ARNs."""
        with self.runtime.store.begin() as conn:
            due = records.due_for_purge(conn, now)
            for secret in due:
                records.remove(conn, secret)
        return [s.arn for s in due]

    # -- helpers ------------------------------------------------------------------------------

    def _lookup(self, ctx: RequestContext, secret_id: str) -> Secret | None:
        with self.runtime.store.begin() as conn:
            return self._find(conn, ctx, secret_id)

    def _find(self, conn: Connection, ctx: RequestContext, secret_id: str) -> Secret | None:
        """The secret a SecretId names, in the request's Region (an ARN of another Region names
        nothing here)."""
        ref = ids.parse_secret_id(secret_id, ctx.account_id, ctx.region)
        return records.find(conn, ref) if ref.region == ctx.region else None

    def _secret(self, conn: Connection, ctx: RequestContext, secret_id: str) -> Secret:
        secret = self._find(conn, ctx, secret_id)
        if secret is None:
            raise errors.not_found()
        return secret

    def _live_secret(self, conn: Connection, ctx: RequestContext, secret_id: str) -> Secret:
        """A secret that is not scheduled for deletion: its value and settings are out of
        reach until it is restored."""
        secret = self._secret(conn, ctx, secret_id)
        if secret.scheduled_for_deletion:
            raise errors.marked_for_deletion()
        return secret


def _metadata(secret: Secret) -> dict[str, Any]:
    """What DescribeSecret and ListSecrets tell of a secret, bar its versions."""
    response: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name,
                                "RotationEnabled": False,
                                "LastChangedDate": secret.last_changed,
                                "CreatedDate": secret.created}
    optional = {"Description": secret.description, "KmsKeyId": secret.kms_key_id,
                "LastAccessedDate": secret.last_accessed, "DeletedDate": secret.deletion_date}
    response.update({k: v for k, v in optional.items() if v is not None})
    if secret.tags:
        response["Tags"] = secret.tags
    return response


def _list_entry(secret: Secret, versions: list[Version]) -> dict[str, Any]:
    entry = _metadata(secret)
    labelled = _labelled(versions)
    if labelled:
        entry["SecretVersionsToStages"] = labelled
    return entry


def _labelled(versions: list[Version]) -> dict[str, list[str]]:
    return {v.version_id: v.stages for v in versions if v.stages}


def _version_entry(version: Version) -> dict[str, Any]:
    entry: dict[str, Any] = {"VersionId": version.version_id, "CreatedDate": version.created}
    if version.stages:
        entry["VersionStages"] = version.stages
    if version.last_accessed is not None:
        entry["LastAccessedDate"] = version.last_accessed
    return entry


def _sort_key(secret: Secret, field: str) -> list[Any]:
    value = getattr(secret, field)
    return [0.0 if value is None else value, secret.arn]


def _searchable(secret: Secret) -> filters.Searchable:
    return filters.Searchable(secret.name, secret.description or "",
                              tuple(t["Key"] for t in secret.tags),
                              tuple(t["Value"] for t in secret.tags), secret.region)


def _filters(given: list[dict[str, Any]]) -> list[filters.Filter]:
    for found in given:
        if not found.get("Key") or not found.get("Values"):
            raise errors.invalid_parameter("Each filter needs a Key and at least one "
                                           "value.")  # wording: portside
    return filters.parse_filters(given)


def _midnight(now: float) -> float:
    return now - now % DAY


def _json_field(text: str, key: str) -> str:
    """A key of a JSON SecretString, as ECS injects it: strings as they are, other values as
    JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or key not in document:
        raise errors.invalid_request(f"The secret value is not a JSON object with the key "
                                     f"{key}.")  # wording: portside; never the value
    found = document[key]
    return found if isinstance(found, str) else json.dumps(found)
