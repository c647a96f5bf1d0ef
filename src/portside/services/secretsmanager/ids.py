"""Secret names, ARNs, and the ways a request names a secret: by name, by full ARN, or by a
partial ARN without the random suffix; and the `valueFrom` of an ECS container secret.

https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

SUFFIX_LENGTH = 6
_SUFFIX_ALPHABET = string.ascii_letters + string.digits
# "Invalid name. Must be a valid name containing alphanumeric characters, or any of the
# following: -/_+=.@!" (CreateSecret's ValidationException).
_NAME = re.compile(r"[A-Za-z0-9/_+=.@!-]+")
_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z0-9-]+):"
                  r"(?P<account>\d{12}):secret:(?P<resource>.+)")
_COMPLETE = re.compile(rf"(?P<name>.+)-[A-Za-z0-9]{{{SUFFIX_LENGTH}}}")


def is_valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def secret_arn(region: str, account_id: str, name: str, suffix: str) -> str:
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name}-{suffix}"


def new_suffix() -> str:
    """The six random characters AWS appends to a secret's name in its ARN."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))


def any_suffix_arn(region: str, account_id: str, name: str) -> str:
    """The ARN IAM sees for a secret that does not exist (yet): its name with `??????` where
    the suffix goes, so that policies naming `name-??????` or `name-*` apply to it."""
    return secret_arn(region, account_id, name, "?" * SUFFIX_LENGTH)


@dataclass(frozen=True)
class SecretRef:
    """What a SecretId names. `arn` is set for a complete ARN (matched exactly); otherwise
    the secret is the one called `name` in `account_id` and `region`."""

    account_id: str
    region: str
    name: str
    arn: str | None = None


def parse_secret_id(secret_id: str, account_id: str, region: str) -> SecretRef:
    """A SecretId as Secrets Manager reads it. An ARN whose resource ends in a hyphen and six
    letters or digits is taken as complete; any other ARN is partial and names the secret by
    its name; anything else is a name in the caller's account and region."""
    match = _ARN.fullmatch(secret_id)
    if match is None:
        return SecretRef(account_id, region, secret_id)
    resource = match["resource"]
    complete = _COMPLETE.fullmatch(resource)
    if complete is not None:
        return SecretRef(match["account"], match["region"], complete["name"],
                         secret_arn(match["region"], match["account"], complete["name"],
                                    resource[-SUFFIX_LENGTH:]))
    return SecretRef(match["account"], match["region"], resource)


@dataclass(frozen=True)
class ValueFrom:
    """An ECS `valueFrom` naming a Secrets Manager secret: the secret, and optionally a JSON key
    of its SecretString, a staging label and a version id (empty fields are absent)."""

    secret_id: str  # the ARN without the extra fields
    region: str
    account_id: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


class BadValueFrom(ValueError):
    pass


def parse_value_from(value_from: str) -> ValueFrom:
    """`arn:aws:secretsmanager:<region>:<account>:secret:<name>[:<json-key>:<stage>:<id>]`.
    Like the ECS agent, the part after `secret:` must split on `:` into one or four fields."""
    match = _ARN.fullmatch(value_from)
    if match is None:
        raise BadValueFrom("valueFrom is not a Secrets Manager secret ARN")
    fields = match["resource"].split(":")
    if len(fields) not in (1, 4) or not fields[0]:
        raise BadValueFrom("a Secrets Manager valueFrom ends in secret:<name> or "
                           "secret:<name>:<json-key>:<version-stage>:<version-id>")
    name, *extra = fields
    json_key, stage, version_id = (extra or [""] * 3)
    base = value_from[: len(value_from) - len(match["resource"])] + name
    return ValueFrom(base, match["region"], match["account"], json_key or None, stage or None,
                     version_id or None)
