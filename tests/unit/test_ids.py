"""new_uuid writes what uuid.uuid4 would: a version 4, RFC 4122 variant UUID in canonical text."""

import uuid

from portside.ids import new_uuid


def test_new_uuid_is_a_canonical_version_4_uuid() -> None:
    for _ in range(2000):
        text = new_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_new_uuids_differ() -> None:
    assert len({new_uuid() for _ in range(10_000)}) == 10_000
