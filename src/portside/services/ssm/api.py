"""AWS Systems Manager Parameter Store: String, StringList and SecureString parameters with
versions, labels, hierarchies, tiers and tags; SecureString values sealed at rest. The rest of
Systems Manager (documents, Run Command, sessions …) answers 501 NotImplemented.

What portside does not do, and says so: parameter policies (Policies is refused), sharing
parameters with other accounts (Shared lists nothing), KMS (KeyId is recorded and shown,
values are sealed with the data directory's master key).
https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-parameter-store.html
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from portside.auth.actions import Check
from portside.context import RequestContext
from portside.protocol.errors import AwsError, error
from portside.services import pagination, tag_lists
from portside.services.base import Service
from portside.services.ssm import errors, filters, names, records, references
from portside.services.ssm.access import AccessRules
from portside.services.ssm.names import NameProblem, ParameterRef, Selector
from portside.services.ssm.records import Parameter, ParameterVersion
from portside.services.ssm.values import (
    DEFAULT_KEY_ID,
    SECURE,
    SecureStrings,
    check_data_type,
    check_pattern,
    tier_for,
)
from portside.services.tag_lists import Tags
from portside.store.sealed import Sealer

MAX_VERSIONS = 100
MAX_LABELS_PER_VERSION = 10
BY_PATH_PAGE = 10
DESCRIBE_PAGE = 50
HISTORY_PAGE = 50
# What GetParameters reports in InvalidParameters rather than failing the call for.
_MISSING = frozenset({"ParameterNotFound", "ParameterVersionNotFound", "ValidationException"})
_MISSING_REFERENCE = frozenset({"ResourceNotFoundException"})


class Ssm(Service):
    name = "ssm"

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        settings = runtime.settings
        self.secure = SecureStrings(Sealer.for_data_dir(settings.data_dir, settings.master_key))
        self.access = AccessRules(self._tags_of)

    # -- writing ------------------------------------------------------------------------------

    def put_parameter(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        name = _writable_name(ctx, request["Name"])
        value = request["Value"]
        overwrite = bool(request.get("Overwrite"))
        tags = tag_lists.merged([], request.get("Tags") or [], errors.validation)
        if overwrite and tags:
            raise errors.validation(
                "Invalid request: tags and overwrite can't be used together. To create a "
                "parameter with tags, please remove overwrite flag. To update tags for an "
                "existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
        tag_lists.check(tags, errors.validation, errors.too_many_tags)
        if request.get("Policies"):
            raise errors.validation("portside does not apply parameter policies (Expiration, "
                                    "ExpirationNotification, NoChangeNotification).")
        now = time.time()
        with self.runtime.store.begin() as conn:
            parameter = records.find(conn, ctx.account_id, ctx.region, (name,))
            if parameter is not None and not overwrite:
                raise errors.already_exists()
            previous = records.version(conn, parameter, parameter.version) if parameter else None
            draft = _draft(request, previous, ctx.principal.arn, now)
            if parameter is None:
                parameter = records.create(conn, ctx.account_id, ctx.region, name, tags)
            else:
                _make_room(conn, parameter)
            number = parameter.version + 1
            sealed = self.secure.seal(parameter, number, value) if draft.type == SECURE else None
            records.add_version(conn, parameter, replace(
                draft, version=number, value=None if sealed else value, sealed_value=sealed))
        return {"Version": number, "Tier": draft.tier}

    def label_parameter_version(self, ctx: RequestContext,
                                request: dict[str, Any]) -> dict[str, Any]:
        labels = list(dict.fromkeys(request["Labels"]))
        invalid = [label for label in labels if not names.label_is_valid(label)]
        valid = [label for label in labels if names.label_is_valid(label)]
        with self.runtime.store.begin() as conn:
            parameter = self._parameter(conn, ctx, request["Name"])
            number = request.get("ParameterVersion") or parameter.version
            history = records.versions(conn, parameter)
            target = next((v for v in history if v.version == number), None)
            if target is None:
                raise errors.version_not_found(parameter.name, number)
            wanted = target.labels + [x for x in valid if x not in target.labels]
            if len(wanted) > MAX_LABELS_PER_VERSION:
                raise error("ParameterVersionLabelLimitExceeded", "A parameter version can have "
                            "maximum 10 labels.Move one or more labels to another version and "
                            "try again.")
            for other in history:
                moved = [x for x in other.labels if x in valid and other.version != number]
                if moved:
                    records.set_labels(conn, parameter, other.version,
                                       [x for x in other.labels if x not in moved])
            records.set_labels(conn, parameter, number, wanted)
        response: dict[str, Any] = {"ParameterVersion": number}
        if invalid:
            response["InvalidLabels"] = invalid
        return response

    def unlabel_parameter_version(self, ctx: RequestContext,
                                  request: dict[str, Any]) -> dict[str, Any]:
        labels = list(dict.fromkeys(request["Labels"]))
        with self.runtime.store.begin() as conn:
            parameter = self._parameter(conn, ctx, request["Name"])
            number = request["ParameterVersion"]
            target = records.version(conn, parameter, number)
            if target is None:
                raise errors.version_not_found(parameter.name, number)
            removed = [x for x in labels if x in target.labels]
            records.set_labels(conn, parameter, number,
                               [x for x in target.labels if x not in removed])
        response: dict[str, Any] = {}
        if removed:
            response["RemovedLabels"] = removed
        invalid = [x for x in labels if x not in removed]
        if invalid:
            response["InvalidLabels"] = invalid
        return response

    def delete_parameter(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            records.remove(conn, self._parameter(conn, ctx, request["Name"]))
        return {}

    def delete_parameters(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        deleted, invalid = [], []
        with self.runtime.store.begin() as conn:
            for given in dict.fromkeys(request["Names"]):
                parameter = self._find(conn, ctx, given)
                if parameter is None:
                    invalid.append(given)
                    continue
                records.remove(conn, parameter)
                deleted.append(given)
        response: dict[str, Any] = {}
        if deleted:
            response["DeletedParameters"] = deleted
        if invalid:
            response["InvalidParameters"] = invalid
        return response

    # -- reading ------------------------------------------------------------------------------

    def get_parameter(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        decrypt = bool(request.get("WithDecryption"))
        if references.is_reference(request["Name"]):
            return {"Parameter": self._reference(ctx, request["Name"], decrypt)}
        with self.runtime.store.begin() as conn:
            ref = _reference_of(ctx, request["Name"])
            parameter = self._located(conn, ctx, ref)
            if parameter is None:
                raise errors.not_found()
            found = _selected(conn, parameter, ref.selector)
            return {"Parameter": self._shown(parameter, found, decrypt, ref.selector)}

    def get_parameters(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        decrypt = bool(request.get("WithDecryption"))
        shown: list[dict[str, Any]] = []
        invalid: list[str] = []
        with self.runtime.store.begin() as conn:
            for given in dict.fromkeys(request["Names"]):
                reference = references.is_reference(given)
                try:
                    shown.append(self._reference(ctx, given, decrypt) if reference
                                 else self._one_of_many(conn, ctx, given, decrypt))
                except AwsError as exc:
                    if exc.code not in (_MISSING_REFERENCE if reference else _MISSING):
                        raise
                    invalid.append(given)
        return {"Parameters": shown, "InvalidParameters": invalid}

    def _one_of_many(self, conn: Connection, ctx: RequestContext, given: str,
                     decrypt: bool) -> dict[str, Any]:
        ref = _reference_of(ctx, given)
        parameter = self._located(conn, ctx, ref)
        if parameter is None:
            raise errors.not_found()
        return self._shown(parameter, _selected(conn, parameter, ref.selector), decrypt,
                           ref.selector)

    def get_parameters_by_path(self, ctx: RequestContext,
                               request: dict[str, Any]) -> dict[str, Any]:
        path = names.normalized_path(request["Path"].strip())
        if path is None:
            raise errors.validation(errors.PATH_RULES)
        recursive = bool(request.get("Recursive"))
        wanted = filters.parse(request.get("ParameterFilters") or [], filters.BY_PATH_OPTIONS)
        decrypt = bool(request.get("WithDecryption"))
        labels = [v for f in wanted if f.key == "Label" for v in f.values]
        with self.runtime.store.begin() as conn:
            found = [(p, v) for p, v in records.current(conn, ctx.account_id, ctx.region)
                     if names.in_path(p.name, path, recursive)]
            found = self._filtered(conn, found, wanted)
            if labels:  # a Label filter answers the labelled version, not the latest
                found = [(p, _labelled(conn, p, labels)) for p, _ in found]
            chunk, token = pagination.page(
                found, lambda pv: [pv[0].name], request.get("MaxResults") or BY_PATH_PAGE,
                request.get("NextToken"), scope=f"GetParametersByPath:{path}:{recursive}",
                invalid=errors.invalid_next_token)
            shown = [self._shown(p, v, decrypt) for p, v in chunk]
        return _page_answer("Parameters", shown, token)

    def describe_parameters(self, ctx: RequestContext,
                            request: dict[str, Any]) -> dict[str, Any]:
        if request.get("Filters") and request.get("ParameterFilters"):
            raise errors.validation("You can use either Filters or ParameterFilters in a single "
                                    "request.")
        wanted = filters.parse_legacy(request.get("Filters") or []) + filters.parse(
            request.get("ParameterFilters") or [], filters.DESCRIBE_OPTIONS)
        with self.runtime.store.begin() as conn:
            found = [] if request.get("Shared") else records.current(
                conn, ctx.account_id, ctx.region)
            found = self._filtered(conn, found, wanted)
        chunk, token = pagination.page(
            found, lambda pv: [pv[0].name], request.get("MaxResults") or DESCRIBE_PAGE,
            request.get("NextToken"), scope="DescribeParameters",
            invalid=errors.invalid_next_token)
        return _page_answer("Parameters", [_metadata(p, v) for p, v in chunk], token)

    def _filtered(self, conn: Connection, found: list[tuple[Parameter, ParameterVersion]],
                  wanted: list[filters.StringFilter]
                  ) -> list[tuple[Parameter, ParameterVersion]]:
        if not wanted:
            return found
        labels = records.with_labels(conn, [p.id for p, _ in found]) \
            if any(f.key == "Label" for f in wanted) else {}
        return [(p, v) for p, v in found
                if filters.matches(_candidate(p, v, labels.get(p.id, set())), wanted)]

    def get_parameter_history(self, ctx: RequestContext,
                              request: dict[str, Any]) -> dict[str, Any]:
        decrypt = bool(request.get("WithDecryption"))
        with self.runtime.store.begin() as conn:
            parameter = self._parameter(conn, ctx, request["Name"])
            history = records.versions(conn, parameter)
        chunk, token = pagination.page(
            history, lambda v: [v.version], request.get("MaxResults") or HISTORY_PAGE,
            request.get("NextToken"), scope=f"GetParameterHistory:{parameter.id}",
            invalid=errors.invalid_next_token)
        entries = [{**_metadata(parameter, v), "Value": self.secure.shown(parameter, v, decrypt),
                    **({"Labels": v.labels} if v.labels else {})} for v in chunk]
        for entry in entries:
            entry.pop("ARN", None)
        return _page_answer("Parameters", entries, token)

    # -- tags ---------------------------------------------------------------------------------

    def add_tags_to_resource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            parameter = self._tagged(conn, ctx, request)
            tags = tag_lists.merged(parameter.tags, request["Tags"],
                                        errors.validation)
            tag_lists.check(tags, errors.validation, errors.too_many_tags)
            records.set_tags(conn, parameter, tags)
        return {}

    def remove_tags_from_resource(self, ctx: RequestContext,
                                  request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            parameter = self._tagged(conn, ctx, request)
            records.set_tags(conn, parameter, tag_lists.without(parameter.tags,
                                                                request["TagKeys"]))
        return {}

    def list_tags_for_resource(self, ctx: RequestContext,
                               request: dict[str, Any]) -> dict[str, Any]:
        with self.runtime.store.begin() as conn:
            return {"TagList": self._tagged(conn, ctx, request).tags}

    def _tagged(self, conn: Connection, ctx: RequestContext,
                request: dict[str, Any]) -> Parameter:
        if request["ResourceType"] != "Parameter":
            raise error("InvalidResourceType", "portside's Systems Manager keeps tags of "
                        "parameters only (ResourceType Parameter).")
        parameter = self._find(conn, ctx, request["ResourceId"])
        if parameter is None:
            raise errors.invalid_resource_id()
        return parameter

    # -- in-process, for ECS container secrets ------------------------------------------------

    def resolve_secret_value(self, ctx: RequestContext, value_from: str) -> str:
        """The decrypted value an ECS container secret's `valueFrom` names: a parameter ARN
        (of any Region of the account) or a name in the caller's Region, with an optional
        `:version` or `:label`. The caller has authorized it (`value_from_check`) with the
        task's execution role; ParameterNotFound (or the selector's error) otherwise."""
        with self.runtime.store.begin() as conn:
            ref = _reference_of(ctx, value_from)
            here = replace(ctx, region=ref.region)
            parameter = self._located(conn, here, ref)
            if parameter is None:
                raise errors.not_found()
            found = _selected(conn, parameter, ref.selector)
            return self.secure.shown(parameter, found, decrypt=True)

    def value_from_check(self, ctx: RequestContext, value_from: str) -> Check:
        """What IAM must allow for `resolve_secret_value`: ssm:GetParameters on the parameter,
        the call the ECS agent makes."""
        return self.access.parameter_check(ctx, "ssm:GetParameters", value_from)

    # -- hooks --------------------------------------------------------------------------------

    def authorization_checks(self, ctx: RequestContext, operation: str,
                             params: dict[str, Any]) -> list[Check]:
        return self.access.checks(ctx, operation, params)

    # -- helpers ------------------------------------------------------------------------------

    def _tags_of(self, account_id: str, region: str, candidates: tuple[str, ...]) -> Tags | None:
        with self.runtime.store.begin() as conn:
            parameter = records.find(conn, account_id, region, candidates)
        return parameter.tags if parameter else None

    def _located(self, conn: Connection, ctx: RequestContext,
                 ref: ParameterRef) -> Parameter | None:
        """The parameter a reference names. Parameters of other accounts (AWS's shared
        parameters) and of other Regions are not found here."""
        if (ref.account_id, ref.region) != (ctx.account_id, ctx.region):
            return None
        return records.find(conn, ctx.account_id, ctx.region, ref.names)

    def _find(self, conn: Connection, ctx: RequestContext, given: str) -> Parameter | None:
        """The parameter a plain Name names (no selector)."""
        try:
            ref = names.parse_reference(given, ctx.account_id, ctx.region)
        except names.BadReference:
            return None
        return None if ref.selector else self._located(conn, ctx, ref)

    def _parameter(self, conn: Connection, ctx: RequestContext, given: str) -> Parameter:
        parameter = self._find(conn, ctx, given)
        if parameter is None:
            raise errors.not_found()
        return parameter

    def _shown(self, parameter: Parameter, found: ParameterVersion, decrypt: bool,
               selector: Selector | None = None) -> dict[str, Any]:
        """A Parameter of GetParameter(s) and GetParametersByPath."""
        shown: dict[str, Any] = {
            "Name": parameter.name, "Type": found.type,
            "Value": self.secure.shown(parameter, found, decrypt), "Version": found.version,
            "LastModifiedDate": found.last_modified,
            "ARN": names.parameter_arn(parameter.region, parameter.account_id, parameter.name),
            "DataType": found.data_type}
        if selector is not None:
            shown["Selector"] = selector.text
        return shown

    def _reference(self, ctx: RequestContext, name: str, decrypt: bool) -> dict[str, Any]:
        """A `/aws/reference/secretsmanager/<secret>` name: the secret's value, read through
        Secrets Manager with the caller's permissions there."""
        return references.resolve(self.runtime.services["secretsmanager"], ctx, name, decrypt)


def _writable_name(ctx: RequestContext, given: str) -> str:
    name = given.strip()
    problem = names.name_problem(name, ctx.region, ctx.account_id)
    if problem is NameProblem.RESERVED_AWS:
        raise errors.reserved(name)
    if problem is NameProblem.TOO_DEEP:
        raise errors.too_deep()
    if problem is NameProblem.TOO_LONG:
        raise errors.validation(f"Parameter name must be at most {names.MAX_ARN_LENGTH} "
                                "characters, counted with the ARN that precedes it.")
    if problem is not None:
        raise errors.validation(errors.NAME_RULES)
    return name


def _reference_of(ctx: RequestContext, given: str) -> ParameterRef:
    try:
        return names.parse_reference(given, ctx.account_id, ctx.region)
    except names.BadReference:
        raise errors.validation(errors.NAME_RULES) from None


def _draft(request: dict[str, Any], previous: ParameterVersion | None, user: str,
           now: float) -> ParameterVersion:
    """The new version's settings: the request's, else the previous version's (an overwrite
    that leaves a setting out keeps it), else AWS's defaults. The value is checked here."""
    value = request["Value"]
    kind = request.get("Type") or (previous.type if previous else None)
    if kind is None:
        raise errors.validation("A parameter type is required when you create a parameter.")
    key_id = request.get("KeyId")
    if key_id and kind != SECURE:
        raise errors.validation("KeyId can only be used with SecureString "
                                "parameters.")  # wording: portside
    if kind == SECURE:
        kept = previous.key_id if previous and previous.type == SECURE else None
        key_id = key_id or kept or DEFAULT_KEY_ID
    description = request.get("Description")
    pattern = request.get("AllowedPattern")
    data_type = request.get("DataType") or (previous.data_type if previous else "text")
    if previous is not None:
        description = previous.description if description is None else description
        pattern = previous.allowed_pattern if pattern is None else pattern
    check_pattern(pattern, value)
    check_data_type(data_type, kind, value)
    tier = tier_for(request.get("Tier"), previous.tier if previous else None, value)
    return ParameterVersion(0, kind, None, None, key_id, description, pattern or None, tier,
                            data_type, [], now, user)


def _make_room(conn: Connection, parameter: Parameter) -> None:
    """Parameter Store keeps the 100 latest versions: the oldest goes to make room, unless a
    label holds it."""
    history = records.versions(conn, parameter)
    if len(history) < MAX_VERSIONS:
        return
    oldest = history[0]
    if oldest.labels:
        raise error("ParameterMaxVersionLimitExceeded",
                    f"You attempted to create a new version of {parameter.name} by calling the "
                    f"PutParameter API with the overwrite flag. Version {oldest.version}, the "
                    "oldest version, can't be deleted because it has a label associated with "
                    "it. Move the label to another version of the parameter, and try again.")
    records.drop_version(conn, parameter, oldest.version)


def _selected(conn: Connection, parameter: Parameter,
              selector: Selector | None) -> ParameterVersion:
    """The version a selector names: `:3`, `:label`, or the latest."""
    if selector is None or selector.version is not None:
        number = parameter.version if selector is None else selector.version
        found = records.version(conn, parameter, number)  # type: ignore[arg-type]
        if found is None:
            raise errors.version_not_found(parameter.name, number)  # type: ignore[arg-type]
        return found
    labelled = next((v for v in records.versions(conn, parameter)
                     if selector.label in v.labels), None)
    if labelled is None:
        raise errors.label_not_found(parameter.name, selector.label or "")
    return labelled


def _labelled(conn: Connection, parameter: Parameter, labels: list[str]) -> ParameterVersion:
    """The newest version carrying one of `labels` (the filter found one)."""
    return next(v for v in reversed(records.versions(conn, parameter))
                if set(v.labels).intersection(labels))


def _metadata(parameter: Parameter, found: ParameterVersion) -> dict[str, Any]:
    """A ParameterMetadata of DescribeParameters (GetParameterHistory shows the same, per
    version)."""
    shown: dict[str, Any] = {
        "Name": parameter.name,
        "ARN": names.parameter_arn(parameter.region, parameter.account_id, parameter.name),
        "Type": found.type, "LastModifiedDate": found.last_modified,
        "LastModifiedUser": found.last_modified_user, "Version": found.version,
        "Tier": found.tier, "Policies": [], "DataType": found.data_type}
    optional = {"KeyId": found.key_id, "Description": found.description,
                "AllowedPattern": found.allowed_pattern}
    shown.update({k: v for k, v in optional.items() if v is not None})
    return shown


def _candidate(parameter: Parameter, found: ParameterVersion,
               labels: Iterable[str]) -> filters.Candidate:
    return filters.Candidate(parameter.name, found.type, found.key_id, found.tier,
                             found.data_type, {t["Key"]: t["Value"] for t in parameter.tags},
                             frozenset(labels))


def _page_answer(member: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {member: items}
    if token:
        response["NextToken"] = token
    return response
