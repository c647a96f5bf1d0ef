"""The identifiers IAM and STS hand out, and the IAM ARNs they are known by.

Unique ids: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

from portside.protocol.errors import AwsError, error

# Unique ids and access key ids use the base32 alphabet: upper-case letters and 2-7.
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

USER_PREFIX = "AIDA"
ROLE_PREFIX = "AROA"
GROUP_PREFIX = "AGPA"
POLICY_PREFIX = "ANPA"
ACCESS_KEY_PREFIX = "AKIA"  # long-term keys of IAM users
SESSION_KEY_PREFIX = "ASIA"  # temporary keys of STS sessions

# An access key id carries its account in bits 46..7 of the first six bytes of its base32 body,
# which is how STS GetAccessKeyInfo answers for any key, even one that no longer exists.
_ACCOUNT_MASK = 0x7FFFFFFFFF80
_ACCOUNT_SHIFT = 7


def unique_id(prefix: str) -> str:
    """An IAM unique id: the prefix of its kind and 17 base32 characters (21 in all)."""
    return prefix + "".join(secrets.choice(_BASE32) for _ in range(17))


def access_key_id(prefix: str, account_id: str) -> str:
    """A 20-character access key id (AKIA… or ASIA…) that encodes `account_id`."""
    head = (int(account_id) << _ACCOUNT_SHIFT) | secrets.randbits(_ACCOUNT_SHIFT)
    head |= secrets.randbits(1) << 47
    body = head.to_bytes(6, "big") + secrets.token_bytes(4)
    return prefix + base64.b32encode(body).decode()


def account_of_access_key(key_id: str) -> str | None:
    """The account an AKIA…/ASIA… key id encodes, or None when it is not such an id."""
    if len(key_id) != 20 or key_id[:4] not in (ACCESS_KEY_PREFIX, SESSION_KEY_PREFIX):
        return None
    try:
        body = base64.b32decode(key_id[4:])
    except ValueError:
        return None
    account = (int.from_bytes(body[:6], "big") & _ACCOUNT_MASK) >> _ACCOUNT_SHIFT
    return f"{account:012d}" if account < 10**12 else None


def secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_CHARS) for _ in range(40))


def session_token() -> str:
    """An opaque session token, about as long as the ones STS issues."""
    return base64.b64encode(secrets.token_bytes(288)).decode()


@dataclass(frozen=True)
class IamArn:
    """`arn:aws:iam::<account>:<kind>/<path…/><name>`; `account` is "aws" for AWS managed
    policies."""

    account_id: str
    kind: str  # user, group, role, policy
    path: str  # "/" or "/a/b/"
    name: str

    def __str__(self) -> str:
        return iam_arn(self.account_id, self.kind, self.path, self.name)


_IAM_ARN = re.compile(r"arn:aws:iam::(\d{12}|aws):(user|group|role|policy)(/(?:[!-~]+/)?)([^/]+)")


def iam_arn(account_id: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def parse_iam_arn(arn: str, *kinds: str, code: str = "InvalidInput") -> IamArn:
    """The parts of an IAM ARN of one of `kinds`; an AWS error (`code`) when `arn` is not
    one."""
    match = _IAM_ARN.fullmatch(arn)
    if match is None or match[2] not in kinds:
        raise invalid_arn(arn, code)
    return IamArn(match[1], match[2], match[3], match[4])


def invalid_arn(arn: str, code: str = "InvalidInput") -> AwsError:
    return error(code, f"ARN {arn} is not valid.")
