"""Encryption at rest: a sealed value opens only under its key, for its row, unchanged."""

from __future__ import annotations

import base64
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.store.sealed import (
    KEY_FILE,
    BadMasterKey,
    Sealer,
    Unsealable,
    load_or_create_key,
    new_key_text,
    parse_key,
)

ROW = ("secretsmanager", "000000000000", "us-east-1", "arn:…:secret:db-AbCdEf", "v1")


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(parse_key(new_key_text()))


@given(plaintext=st.binary(max_size=4096),
       context=st.lists(st.text(max_size=20), min_size=1, max_size=6).map(tuple))
def test_a_sealed_value_opens_to_its_plaintext(plaintext, context):
    sealer = Sealer(b"k" * 32)
    sealed = sealer.seal(plaintext, context)
    assert len(plaintext) < 8 or plaintext not in sealed
    assert sealer.open(sealed, context) == plaintext


def test_sealing_twice_gives_different_ciphertexts(sealer):
    assert sealer.seal(b"hunter2", ROW) != sealer.seal(b"hunter2", ROW)


@pytest.mark.parametrize("position", [0, 1, 13, -1])
def test_a_changed_byte_is_refused(sealer, position):
    sealed = bytearray(sealer.seal(b"hunter2", ROW))
    sealed[position] ^= 0x01
    with pytest.raises(Unsealable):
        sealer.open(bytes(sealed), ROW)


def test_a_truncated_value_is_refused(sealer):
    with pytest.raises(Unsealable):
        sealer.open(sealer.seal(b"hunter2", ROW)[:10], ROW)


def test_another_key_cannot_open_it(sealer):
    sealed = sealer.seal(b"hunter2", ROW)
    with pytest.raises(Unsealable):
        Sealer(parse_key(new_key_text())).open(sealed, ROW)


@pytest.mark.parametrize("other", [
    ("secretsmanager", "111111111111", "us-east-1", ROW[3], "v1"),  # another account
    ("secretsmanager", "000000000000", "eu-west-1", ROW[3], "v1"),  # another region
    ("secretsmanager", "000000000000", "us-east-1", "arn:…:secret:other-AbCdEf", "v1"),
    ("secretsmanager", "000000000000", "us-east-1", ROW[3], "v2"),  # another version
    ("ssm", "000000000000", "us-east-1", ROW[3], "v1"),  # another service
    ("secretsmanager", "000000000000", "us-east-1", ROW[3] + "v1"),  # parts joined differently
])
def test_a_value_moved_to_another_row_is_refused(sealer, other):
    with pytest.raises(Unsealable):
        sealer.open(sealer.seal(b"hunter2", ROW), other)


def test_the_key_file_is_created_once_and_readable_by_its_owner_only(tmp_path):
    first = load_or_create_key(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path / "data") == first
    assert len(first) == 32


def test_a_configured_key_wins_over_the_key_file(tmp_path):
    configured = new_key_text()
    sealer = Sealer.for_data_dir(tmp_path, configured)
    sealed = sealer.seal(b"x", ROW)
    assert Sealer(parse_key(configured)).open(sealed, ROW) == b"x"
    assert not (tmp_path / KEY_FILE).exists()


@pytest.mark.parametrize("text", ["", "not base64!", "c2hvcnQ=", "A" * 88])
def test_a_malformed_configured_key_is_refused(text):
    with pytest.raises(BadMasterKey):
        parse_key(text)


def test_url_safe_base64_is_accepted():
    key = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    assert parse_key(base64.urlsafe_b64encode(key).decode()) == key


def test_the_sealer_never_shows_its_key():
    assert "k" * 8 not in repr(Sealer(b"k" * 32))
