"""Persistence: one SQLAlchemy Core schema (SQLite by default), one blob store for large bytes."""

from portside.store.blobs import BlobInfo, BlobStore
from portside.store.db import SCHEMA_VERSION, Store, execute, executemany, first, metadata

__all__ = ["SCHEMA_VERSION", "BlobInfo", "BlobStore", "Store", "execute", "executemany", "first",
           "metadata"]
