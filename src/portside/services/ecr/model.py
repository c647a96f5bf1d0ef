"""ECR tables: repositories, images (manifests), tags, blobs and in-progress uploads.

Blob bytes live in S3 storage (blobs.py); these rows name them. `ecr_blobs` holds one object per
digest and account (deduplicated); `ecr_repository_blobs` says which repositories hold a blob,
since a blob is visible only in repositories it was pushed or mounted to; `ecr_blob_uses` says
when a push last named a blob (uploaded, mounted, checked or referenced it), which keeps a blob
that no manifest names yet from being collected while its push goes on (collect.py).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from portside.store import metadata

repositories = Table(
    "ecr_repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("tag_mutability", String(32), nullable=False),
    Column("scan_on_push", Integer, nullable=False, default=0),
    Column("encryption", Text, nullable=False),  # JSON encryptionConfiguration
    Column("tags", Text, nullable=False),  # JSON [{"Key", "Value"}]
    Column("policy", Text),
    Column("lifecycle_policy", Text),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_ecr_repository_name"),
)

images = Table(
    "ecr_images",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", String(200), primary_key=True),
    Column("manifest", Text, nullable=False),  # exactly the bytes pushed (their digest)
    Column("media_type", String(200), nullable=False),
    Column("artifact_type", String(200)),
    Column("subject", String(200)),  # the digest this manifest refers to (referrers API)
    Column("size", BigInteger, nullable=False),  # the layers' sizes, as ECR counts them
    Column("pushed_at", Float, nullable=False),
    Column("pulled_at", Float),
)

image_tags = Table(
    "ecr_image_tags",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("tag", String(300), primary_key=True),
    Column("digest", String(200), nullable=False),
)

blobs = Table(
    "ecr_blobs",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("digest", String(200), primary_key=True),
    Column("object_key", String(300), nullable=False),
    Column("size", BigInteger, nullable=False),
)

blob_uses = Table(
    "ecr_blob_uses",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("digest", String(200), primary_key=True),
    Column("used_at", Float, nullable=False),
)

repository_blobs = Table(
    "ecr_repository_blobs",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", String(200), primary_key=True),
)

uploads = Table(
    "ecr_uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"),
           nullable=False),
    Column("parts", Text, nullable=False),  # JSON [[object_key, size], ...] in order
    Column("size", BigInteger, nullable=False),
    Column("started_at", Float, nullable=False),
)

lifecycle_previews = Table(
    "ecr_lifecycle_previews",
    metadata,
    Column("repository_id", Integer, ForeignKey("ecr_repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("policy", Text, nullable=False),  # the policy the preview evaluates
)
