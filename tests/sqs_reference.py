"""An independent reading of SQS's message-attribute digest, for tests.

botocore does not check SQS digests (the Java, .NET and Go SDKs do), so tests compare portside
with this implementation, written from the Developer Guide's steps with `struct`, and with the
published vectors in tests/unit/test_sqs_message_attributes.py.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any


def attributes_md5(attributes: dict[str, dict[str, Any]]) -> str:
    chunks = []
    for name in sorted(attributes):  # 1. sort by name
        value = attributes[name]
        chunks.append(_sized(name.encode("utf-8")))  # 2. name
        chunks.append(_sized(value["DataType"].encode("utf-8")))  # 3. data type
        if value["DataType"].split(".")[0] == "Binary":  # 4. transport type, then value
            chunks.append(b"\x02" + _sized(bytes(value["BinaryValue"])))
        else:
            chunks.append(b"\x01" + _sized(value["StringValue"].encode("utf-8")))
    return hashlib.md5(b"".join(chunks)).hexdigest()


def _sized(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data
