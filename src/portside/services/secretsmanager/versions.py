"""Secret values: sealing them into versions, creating versions idempotently, and finding the
version a request asks for.

A value is sealed with the secret's ARN, the version id and the field as associated data.
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from portside.services.secretsmanager import errors, records, staging
from portside.services.secretsmanager.records import Secret, Version
from portside.store.sealed import Sealer, Unsealable


@dataclass(frozen=True)
class SecretValue:
    """Exactly one of the two is set."""

    string: str | None = None
    binary: bytes | None = None


def value_of(request: dict[str, Any]) -> SecretValue | None:
    """The SecretString or SecretBinary of a request; None when it has neither."""
    string, binary = request.get("SecretString"), request.get("SecretBinary")
    if string is not None and binary is not None:
        raise errors.invalid_parameter("You can't specify both a binary secret value and a "
                                       "string secret value in the same secret.")
    if string is None and binary is None:
        return None
    return SecretValue(string, binary)


class Vault:
    """Seals values into versions and opens them again, bound to their secret and version."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def seal(self, secret: Secret, version_id: str,
             value: SecretValue) -> tuple[bytes | None, bytes | None]:
        string = None if value.string is None else self._sealer.seal(
            value.string.encode(), _context(secret, version_id, "SecretString"))
        binary = None if value.binary is None else self._sealer.seal(
            value.binary, _context(secret, version_id, "SecretBinary"))
        return string, binary

    def open(self, secret: Secret, version: Version) -> SecretValue:
        try:
            if version.secret_string is not None:
                return SecretValue(string=self._sealer.open(
                    version.secret_string,
                    _context(secret, version.version_id, "SecretString")).decode())
            if version.secret_binary is not None:
                return SecretValue(binary=self._sealer.open(
                    version.secret_binary, _context(secret, version.version_id, "SecretBinary")))
        except Unsealable:
            raise errors.decryption_failure() from None
        return SecretValue()


def _context(secret: Secret, version_id: str, member: str) -> tuple[str, ...]:
    return ("secretsmanager", secret.account_id, secret.region, secret.arn, version_id, member)


@dataclass(frozen=True)
class Created:
    version_id: str
    stages: list[str]


def add_version(conn: Connection, vault: Vault, secret: Secret, token: str, value: SecretValue,
                labels: Sequence[str] | None, now: float) -> Created:
    """Store `value` as version `token` with `labels` (AWSCURRENT when none are given, and
    always on a secret's first version). A token that names an existing version is a retry:
    accepted when the value is the same, refused otherwise."""
    existing = records.versions(conn, secret)
    same = next((v for v in existing if v.version_id == token), None)
    if same is not None:
        if vault.open(secret, same) != value:
            raise errors.version_exists()
        return Created(token, same.stages)
    before = {v.version_id: v.stages for v in existing}
    wanted = list(labels) if labels else [staging.CURRENT]
    if not existing and staging.CURRENT not in wanted:
        wanted.append(staging.CURRENT)
    after = staging.attach(before, token, wanted)
    check_labels(after)
    created = {v.version_id: v.created for v in existing} | {token: now}
    gone = staging.removable(after, created, now)
    if len(after) - len(gone) > staging.MAX_VERSIONS:
        raise errors.limit_exceeded(
            f"A secret can have at most {staging.MAX_VERSIONS} versions; Secrets Manager removes "
            "only versions without staging labels created more than 24 hours ago.")
    string, binary = vault.seal(secret, token, value)
    records.add_version(conn, secret, Version(token, string, binary, after[token], now))
    records.set_stages(conn, secret, before, {v: ls for v, ls in after.items() if v != token})
    records.drop_versions(conn, secret, gone)
    return Created(token, after[token])


def check_labels(stages: dict[str, list[str]]) -> None:
    """The quota on staging labels attached across all versions of a secret."""
    if staging.label_count(stages) > staging.MAX_LABELS:
        raise errors.limit_exceeded(f"A secret can have at most {staging.MAX_LABELS} staging "
                                    "labels attached across all of its versions.")


def select(versions: Sequence[Version], version_id: str | None,
           stage: str | None) -> Version:
    """The version GetSecretValue reads: by id (which must then carry `stage`, when given),
    else by staging label, AWSCURRENT by default."""
    if version_id:
        found = next((v for v in versions if v.version_id == version_id), None)
        if found is None:
            raise errors.no_value(f"VersionId: {version_id}")
        if stage and stage not in found.stages:
            raise errors.invalid_request("You provided a VersionStage that is not associated to "
                                         "the provided VersionId.")
        return found
    label = stage or staging.CURRENT
    found = next((v for v in versions if label in v.stages), None)
    if found is None:
        raise errors.no_value(f"staging label: {label}")
    return found
