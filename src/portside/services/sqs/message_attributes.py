"""Message attributes: their rules, their size and the MD5 digests SDKs check them against.

The digest of a set of attributes is MD5 over a binary encoding: the attributes sorted by name,
each written as its name, its data type and its value, every part prefixed by its length as a
4-byte big-endian integer, with one byte before the value naming its transport type (1 for
String and Number, 2 for Binary).
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from portside.protocol.errors import AwsError, error

MAX_ATTRIBUTES = 10
MAX_NAME_LENGTH = 256
MAX_TYPE_LENGTH = 256

STRING_TRANSPORT = 1
BINARY_TRANSPORT = 2

# Message bodies and string values: the XML 1.0 characters (SendMessage API reference).
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The ASCII characters among them: the C0 controls but tab, line feed and carriage return.
_ASCII_FORBIDDEN = bytes(c for c in range(0x20) if c not in b"\t\n\r")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_RESERVED_PREFIXES = ("aws.", "amazon.")
_TYPES = ("String", "Number", "Binary")
# A Number: up to 38 significant digits, from 10^-128 to 10^+126 in magnitude (Developer Guide,
# "Message attribute data types").
_NUMBER_DIGITS = 38
_NUMBER_MAX = Decimal("1e126")
_NUMBER_MIN = Decimal("1e-128")

Attributes = Mapping[str, Mapping[str, Any]]


def forbidden_character(text: str) -> str | None:
    """The first character SQS refuses in a body or string value, if any."""
    if text.isascii():
        # The common case: deleting the refused ASCII controls in C is ~3 times faster than
        # the search (or than isprintable, which also refuses tabs and line ends).
        data = text.encode("ascii")
        if len(data.translate(None, _ASCII_FORBIDDEN)) == len(data):
            return None
    match = _FORBIDDEN.search(text)
    return match.group() if match else None


def transport_of(data_type: str) -> int:
    return BINARY_TRANSPORT if data_type.startswith("Binary") else STRING_TRANSPORT


def attributes_md5(attributes: Attributes) -> str:
    """MD5OfMessageAttributes (and MD5OfMessageSystemAttributes) of validated attributes."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        _write(digest, name.encode())
        _write(digest, data_type.encode())
        if transport_of(data_type) == BINARY_TRANSPORT:
            digest.update(bytes([BINARY_TRANSPORT]))
            _write(digest, bytes(value["BinaryValue"]))
        else:
            digest.update(bytes([STRING_TRANSPORT]))
            _write(digest, value["StringValue"].encode())
    return digest.hexdigest()


def _write(digest: Any, data: bytes) -> None:
    digest.update(len(data).to_bytes(4, "big"))
    digest.update(data)


def body_md5(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def attributes_size(attributes: Attributes) -> int:
    """Bytes the attributes add to a message's size: each name, data type and value."""
    size = 0
    for name, value in attributes.items():
        data = value.get("BinaryValue") or (value.get("StringValue") or "").encode()
        size += len(name.encode()) + len((value.get("DataType") or "").encode()) + len(data)
    return size


def validate_attributes(attributes: Attributes) -> None:
    """Check message attributes as SendMessage does."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise error("InvalidParameterValue", f"Number of message attributes "
                    f"[{len(attributes)}] exceeds the allowed maximum [{MAX_ATTRIBUTES}].")
    for name, value in attributes.items():
        _validate_attribute(name, value)


def _validate_attribute(name: str, value: Mapping[str, Any]) -> None:
    if not is_valid_name(name):
        raise error("InvalidParameterValue", f"Message (user) attribute name '{name}' is "
                    "invalid. The name can contain alphanumeric characters, hyphens, underscores "
                    "and periods, must not start or end with a period or contain two in a row, "
                    "must not start with AWS. or Amazon., and must be at most 256 characters.")
    data_type = value.get("DataType") or ""
    base = data_type.split(".", 1)[0]
    if base not in _TYPES or len(data_type) > MAX_TYPE_LENGTH or data_type.endswith("."):
        raise error("InvalidParameterValue", f"The type of message (user) attribute '{name}' "
                    "is invalid. You must use only the following supported type prefixes: "
                    "Binary, Number, String.")
    if base == "Binary":
        data = value.get("BinaryValue")
        if not data:
            raise _missing_value(name, "Binary")
        return
    text = value.get("StringValue")
    if not text:
        raise _missing_value(name, base)
    if forbidden_character(text) is not None:
        raise error("InvalidParameterValue", f"Message (user) attribute '{name}' value "
                    "contains invalid characters.")
    if base == "Number" and not is_valid_number(text):
        raise error("InvalidParameterValue", f"Can't cast the value of message (user) "
                    f"attribute '{name}' to a number.")


def _missing_value(name: str, kind: str) -> AwsError:
    return error("InvalidParameterValue", f"Message (user) attribute '{name}' must contain a "
                 f"non-empty value of type '{kind}'.")


def is_valid_name(name: str) -> bool:
    return (0 < len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(name) is not None
            and not name.startswith(".") and not name.endswith(".") and ".." not in name
            and not name.lower().startswith(_RESERVED_PREFIXES))


def is_valid_number(text: str) -> bool:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return False
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")  # the significant ones
    return len(digits) <= _NUMBER_DIGITS and _NUMBER_MIN <= abs(number) <= _NUMBER_MAX


def select_attributes(attributes: Attributes, wanted: list[str]) -> dict[str, Any]:
    """The attributes ReceiveMessage returns for `MessageAttributeNames`: all for `All` or
    `.*`, those starting with `prefix.` for `prefix.*`, else the ones named."""
    if not wanted or not attributes:
        return {}
    if "All" in wanted or ".*" in wanted:
        return dict(attributes)
    names = {n for n in wanted if not n.endswith(".*")}
    prefixes = tuple(n[:-1] for n in wanted if n.endswith(".*"))
    return {name: value for name, value in attributes.items()
            if name in names or (prefixes and name.startswith(prefixes))}


def to_json(attributes: Attributes) -> dict[str, dict[str, str]]:
    """Attributes as stored: binary values in base64."""
    stored = {}
    for name, value in attributes.items():
        entry = {"DataType": value["DataType"]}
        if transport_of(value["DataType"]) == BINARY_TRANSPORT:
            entry["BinaryValue"] = base64.b64encode(bytes(value["BinaryValue"])).decode()
        else:
            entry["StringValue"] = value["StringValue"]
        stored[name] = entry
    return stored


def from_json(stored: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """Attributes as the response shape carries them: binary values as bytes."""
    attributes: dict[str, dict[str, Any]] = {}
    for name, entry in stored.items():
        value: dict[str, Any] = dict(entry)
        if "BinaryValue" in value:
            value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        attributes[name] = value
    return attributes
