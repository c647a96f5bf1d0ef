"""Receipt handles: what portside issues reads back; anything else is recognisably invalid."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from portside.services.sqs.receipts import Receipt, decode_receipt, encode_receipt, new_token

ids = st.integers(min_value=0, max_value=2**62)
tokens = st.from_regex(r"[0-9a-f]{16}", fullmatch=True)


@given(queue_id=ids, row_id=ids, token=tokens)
def test_handles_read_back(queue_id, row_id, token):
    receipt = Receipt(queue_id, row_id, token)
    assert decode_receipt(encode_receipt(receipt)) == receipt


def test_each_receive_draws_a_new_token():
    assert len({new_token() for _ in range(1000)}) == 1000


@given(st.text())
def test_any_text_decodes_to_a_receipt_or_none(text):
    found = decode_receipt(text)
    assert found is None or isinstance(found, Receipt)


@given(st.binary(max_size=80))
def test_base64_of_anything_else_is_no_receipt(data):
    import base64

    handle = base64.urlsafe_b64encode(data).decode()
    found = decode_receipt(handle)
    assert found is None or data.startswith(b"r1:")


def test_tampered_handles_are_invalid():
    handle = encode_receipt(Receipt(1, 2, "0123456789abcdef"))
    assert decode_receipt(handle[:-4]) is None
    assert decode_receipt("garbage") is None
    assert decode_receipt("") is None
    assert decode_receipt("cjE6MToyOnh5eg==") is None  # r1:1:2:xyz — not a token
