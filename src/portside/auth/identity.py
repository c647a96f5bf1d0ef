"""Principals and the keyring that maps an access key id to its secret and its principal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portside.config import RootKey


class PrincipalType(StrEnum):
    """CloudTrail's `userIdentity.type` values."""

    ROOT = "Root"
    IAM_USER = "IAMUser"
    ASSUMED_ROLE = "AssumedRole"
    AWS_SERVICE = "AWSService"
    ANONYMOUS = "AWSAccount"  # CloudTrail records anonymous callers with the bucket owner's account


@dataclass(frozen=True)
class Principal:
    type: PrincipalType
    account_id: str
    arn: str
    user_id: str  # aws:userid: the account id for root, AIDA… for users, AROA…:session for roles
    name: str | None = None  # the user name, or the role session name
    # STS sessions only: who the session acts for (the role, with its path, of an assumed role;
    # the user or root that called GetSessionToken), and the session's temporary key id, which
    # finds its session policies and tags.
    issuer_arn: str | None = None
    session_key_id: str | None = None

    @property
    def is_root(self) -> bool:
        return self.type is PrincipalType.ROOT

    @classmethod
    def root(cls, account_id: str) -> Principal:
        return cls(PrincipalType.ROOT, account_id, f"arn:aws:iam::{account_id}:root", account_id)


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    principal: Principal
    session_token: str | None = None  # temporary (ASIA…) keys are valid only with their token
    expiration: datetime | None = None


KeySource = Callable[[str], AccessKey | None]


class Keyring:
    """Finds the key behind an access key id: the configured roots first, then other sources
    (IAM users' keys, STS session credentials) as their services register them."""

    def __init__(self, root_keys: tuple[RootKey, ...]) -> None:
        self._roots = {
            k.access_key_id: AccessKey(k.access_key_id, k.secret_access_key,
                                       Principal.root(k.account_id))
            for k in root_keys
        }
        self._sources: list[KeySource] = []

    def add_source(self, source: KeySource) -> None:
        self._sources.append(source)

    def lookup(self, access_key_id: str) -> AccessKey | None:
        key = self._roots.get(access_key_id)
        if key is not None:
            return key
        for source in self._sources:
            key = source(access_key_id)
            if key is not None:
                return key
        return None

    def is_root_key(self, access_key_id: str) -> bool:
        return access_key_id in self._roots
