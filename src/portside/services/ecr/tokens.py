"""The registry password GetAuthorizationToken hands out: a signed, expiring token naming the
access key that asked for it, so the registry acts as that principal (as ECR does: the token
carries the caller's IAM identity for 12 hours).

`<payload>.<mac>`, both base64url; payload `{"k": access key id, "e": expiry (epoch s)}`; mac is
HMAC-SHA256 with a key kept in the data directory (created on first use, mode 0600).
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_LIFETIME = 12 * 3600


@dataclass(frozen=True)
class TokenClaims:
    access_key_id: str
    expires: float


def load_key(data_dir: Path) -> bytes:
    path = data_dir / "ecr-token.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: bytes, access_key_id: str, expires: float) -> str:
    payload = _b64(json.dumps({"k": access_key_id, "e": int(expires)}).encode())
    mac = _b64(hmac.digest(key, payload.encode(), "sha256"))
    return f"{payload}.{mac}"


def verify(key: bytes, token: str, now: float) -> TokenClaims | None:
    """The claims of a token this key signed and that has not expired; None otherwise."""
    payload, _, mac = token.partition(".")
    try:
        expected = _b64(hmac.digest(key, payload.encode(), "sha256"))
        if not hmac.compare_digest(expected, mac):
            return None
        claims = json.loads(_unb64(payload))
        result = TokenClaims(str(claims["k"]), float(claims["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    return result if result.expires > now else None


def basic_password(authorization: str) -> str | None:
    """The password of `Authorization: Basic base64(AWS:<password>)`; None for anything else."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return password if user == "AWS" and password else None
