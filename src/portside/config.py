"""One settings object for the whole process: flags, environment variables, the data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class RootKey:
    """An account's root access key: the principal that may do anything in its account."""

    account_id: str
    access_key_id: str
    secret_access_key: str


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "portside"


def _root_keys_from_env(value: str | None) -> tuple[RootKey, ...]:
    """`PORTSIDE_ACCOUNTS=acct:key:secret,acct2:key2:secret2`; the default is the `test` root."""
    if not value:
        return (RootKey(DEFAULT_ACCOUNT, "test", "test"),)
    keys = []
    for item in value.split(","):
        account_id, access_key_id, secret = item.strip().split(":", 2)
        keys.append(RootKey(account_id, access_key_id, secret))
    return tuple(keys)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = field(default_factory=default_data_dir)
    default_region: str = "us-east-1"
    root_keys: tuple[RootKey, ...] = field(default_factory=lambda: _root_keys_from_env(None))
    # Off turns IAM into an open sandbox: every authenticated principal may do anything.
    iam_enforcement: bool = True
    # ECS: how often agents heartbeat on their channel, how long a silent agent counts as
    # connected, and how long a STOPPED task stays describable (an hour, as in ECS).
    ecs_agent_heartbeat: float = 10.0
    ecs_agent_timeout: float = 30.0
    ecs_task_retention: float = 3600.0
    # Seals secret values at rest instead of the data directory's own key file (store/sealed.py).
    master_key: str | None = field(default=None, repr=False)
    # ECR: a domain for AWS-shaped repository URIs (`<account>.dkr.ecr.<region>.<domain>`),
    # else `localhost:<port>`; an external S3-compatible endpoint for registry blobs (its
    # credentials from boto3's usual sources), else portside's own S3. See docs/ecr.md.
    ecr_registry_domain: str | None = None
    ecr_s3_endpoint: str | None = None
    ecr_s3_bucket_prefix: str = "portside-ecr-"
    # ECR: how often blobs no image names are collected, and how long a blob a push has just
    # named (and an unfinished upload) is kept before it may be collected. See docs/ecr.md.
    ecr_gc_interval: float = 3600.0
    ecr_gc_grace: float = 86400.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from `PORTSIDE_*` variables; explicit overrides (CLI flags) win."""
        env = os.environ
        values: dict[str, object] = {
            "host": env.get("PORTSIDE_HOST", "127.0.0.1"),
            "port": int(env.get("PORTSIDE_PORT", "4566")),
            "data_dir": Path(env["PORTSIDE_DATA_DIR"]) if env.get("PORTSIDE_DATA_DIR")
            else default_data_dir(),
            "default_region": env.get("PORTSIDE_DEFAULT_REGION", "us-east-1"),
            "root_keys": _root_keys_from_env(env.get("PORTSIDE_ACCOUNTS")),
            "iam_enforcement": env.get("PORTSIDE_IAM_ENFORCEMENT", "on").lower()
            not in ("off", "0", "false"),
            "ecs_agent_heartbeat": float(env.get("PORTSIDE_ECS_AGENT_HEARTBEAT", "10")),
            "ecs_agent_timeout": float(env.get("PORTSIDE_ECS_AGENT_TIMEOUT", "30")),
            "ecs_task_retention": float(env.get("PORTSIDE_ECS_TASK_RETENTION", "3600")),
            "master_key": env.get("PORTSIDE_MASTER_KEY") or None,
            "ecr_registry_domain": env.get("PORTSIDE_ECR_REGISTRY_DOMAIN") or None,
            "ecr_s3_endpoint": env.get("PORTSIDE_ECR_S3_ENDPOINT") or None,
            "ecr_s3_bucket_prefix": env.get("PORTSIDE_ECR_S3_BUCKET_PREFIX", "portside-ecr-"),
            "ecr_gc_interval": float(env.get("PORTSIDE_ECR_GC_INTERVAL", "3600")),
            "ecr_gc_grace": float(env.get("PORTSIDE_ECR_GC_GRACE", "86400")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"
