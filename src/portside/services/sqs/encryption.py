"""Server-side encryption of message bodies at rest.

SQS encrypts the body of every message of a queue with SSE (SSE-SQS by default since 2022, or
SSE-KMS with `KmsMasterKeyId`); message ids, timestamps and attributes stay in the clear, as AWS
documents ("What does SSE encrypt?"). portside seals the body with the data directory's master
key (store/sealed.py, AES-256-GCM) whichever of the two a queue asks for: there is no KMS behind
`KmsMasterKeyId`. The message id is the associated data, so a sealed body moved into another
message's row does not open. Whether a row is sealed is a property of the row, not of its queue:
a message keeps its form when the queue's setting changes or it moves to a dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from portside.store.sealed import Sealer


def encrypts(attributes: Mapping[str, str]) -> bool:
    """Whether a queue with these attributes stores its messages encrypted."""
    return attributes.get("SqsManagedSseEnabled") == "true" or \
        bool(attributes.get("KmsMasterKeyId"))


class BodySealer:
    """Seals message rows on their way into the store and opens them on the way out."""

    def __init__(self, data_dir: Path, master_key: str | None) -> None:
        self._data_dir = data_dir
        self._master_key = master_key

    @cached_property
    def _sealer(self) -> Sealer:
        # Built on first use: the key file is created or read only once a queue encrypts.
        return Sealer.for_data_dir(self._data_dir, self._master_key)

    def seal(self, row: dict[str, Any]) -> None:
        """Replace the row's body by its sealed form (the `body` column keeps an empty string,
        which SQS never accepts as a body)."""
        row["sealed_body"] = self._sealer.seal(row["body"].encode(), ("sqs", row["message_id"]))
        row["body"] = ""

    def body(self, row: Any) -> str:
        """The plaintext body of a stored message row."""
        if row.sealed_body is None:
            return row.body
        return self._sealer.open(row.sealed_body, ("sqs", row.message_id)).decode()
