"""Encryption at rest for secret values (Secrets Manager secrets, SSM SecureString parameters).

Values are sealed with AES-256-GCM under one master key per data directory. The row a value
belongs to (service, account, region, name, version …) goes in as associated data, so a sealed
value copied into another row, account or region no longer opens, and a changed byte is noticed.

What this protects, and what not: the key lives in the data directory itself (`master.key`,
mode 0600, created on first start) unless `PORTSIDE_MASTER_KEY` supplies it. A leaked database
file or a backup of `portside.db` alone reveals no secret value; whoever reads the whole data
directory (or is root on the host) reads the key as well. Keep the key out of backups, or
supply it through `PORTSIDE_MASTER_KEY` (44 characters of base64: 32 random bytes), to keep the
database and the key apart. There is no KMS behind it: `KmsKeyId` is recorded, not used.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any

KEY_FILE = "master.key"
KEY_BYTES = 32
_NONCE_BYTES = 12
_FORMAT = b"\x01"  # the first byte of every sealed value: format 1 is AES-256-GCM, 96-bit nonce
_AAD_PREFIX = b"portside-sealed:v1\n"


class BadMasterKey(ValueError):
    """The configured master key is not 32 bytes of base64."""


class Unsealable(Exception):
    """A sealed value that does not open: tampered with, moved to another row, or sealed under
    another master key."""


class Sealer:
    """Seals and opens values under one master key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise BadMasterKey(f"a master key is {KEY_BYTES} bytes, not {len(key)}")
        self._key = key

    @cached_property
    def _aead(self) -> Any:
        # cryptography (its Rust core is ~7 MB resident) loads with the first sealed value,
        # not with every server that never stores one.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._key)

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    @classmethod
    def for_data_dir(cls, data_dir: Path, configured: str | None = None) -> Sealer:
        """The sealer of a data directory: the configured key (PORTSIDE_MASTER_KEY) when there
        is one, else the directory's own key file, created on first use."""
        if configured:
            return cls(parse_key(configured))
        return cls(load_or_create_key(data_dir))

    def seal(self, plaintext: bytes, context: tuple[str, ...]) -> bytes:
        """`plaintext` encrypted and bound to `context` (the identity of the row it is for)."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _FORMAT + nonce + self._aead.encrypt(nonce, plaintext, _aad(context))

    def open(self, sealed: bytes, context: tuple[str, ...]) -> bytes:
        """The plaintext of a value sealed for `context`; Unsealable otherwise."""
        if len(sealed) < 1 + _NONCE_BYTES or sealed[:1] != _FORMAT:
            raise Unsealable("not a sealed value of a known format")
        nonce, body = sealed[1:1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES:]
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(nonce, body, _aad(context))
        except InvalidTag:
            raise Unsealable("the value does not open under this key for this row") from None


def parse_key(text: str) -> bytes:
    """A master key given as base64 (standard or URL-safe alphabet)."""
    cleaned = text.strip()
    try:
        key = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise BadMasterKey("PORTSIDE_MASTER_KEY is not base64") from None
    if len(key) != KEY_BYTES:
        raise BadMasterKey(f"PORTSIDE_MASTER_KEY must decode to {KEY_BYTES} bytes, "
                           f"not {len(key)}")
    return key


def new_key_text() -> str:
    """A fresh master key, as PORTSIDE_MASTER_KEY takes it."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def load_or_create_key(data_dir: Path) -> bytes:
    """The key in `data_dir/master.key`. The first caller creates it, readable by its owner
    only; O_EXCL makes two processes starting at once agree on one key."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_key(path.read_text())
    with os.fdopen(fd, "w") as f:
        f.write(new_key_text() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return parse_key(path.read_text())


def _aad(context: tuple[str, ...]) -> bytes:
    # JSON keeps the parts apart unambiguously, whatever characters they hold.
    return _AAD_PREFIX + json.dumps(list(context), separators=(",", ":")).encode()
