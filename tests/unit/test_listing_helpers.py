"""The listing helpers Secrets Manager and Parameter Store share: keyset paging tokens and
`[{Key, Value}]` tag lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.protocol.errors import AwsError, error
from portside.services import pagination, tag_lists


def invalid() -> AwsError:
    return error("InvalidNextToken", "bad token")


@given(items=st.lists(st.integers(0, 50), unique=True), limit=st.integers(1, 7),
       descending=st.booleans())
def test_paging_visits_every_item_once_in_order(items, limit, descending):
    ordered = sorted(items, reverse=descending)
    seen, token = [], None
    while True:
        chunk, token = pagination.page(ordered, lambda i: [i], limit, token, scope="s",
                                       invalid=invalid, descending=descending)
        assert len(chunk) <= limit
        seen += chunk
        if token is None:
            break
    assert seen == ordered


def test_items_removed_between_pages_neither_repeat_nor_hide_others():
    first, token = pagination.page([1, 2, 3, 4], lambda i: [i], 2, None, scope="s",
                                   invalid=invalid)
    rest, _ = pagination.page([1, 3, 4], lambda i: [i], 2, token, scope="s", invalid=invalid)
    assert first + rest == [1, 2, 3, 4]


@given(st.text(max_size=40))
def test_any_other_token_is_refused_with_the_services_error(token):
    try:
        pagination.page([1, 2], lambda i: [i], 1, token, scope="s", invalid=invalid)
    except AwsError as exc:
        assert exc.code == "InvalidNextToken"


def test_a_token_of_another_listing_is_refused():
    _, token = pagination.page([1, 2], lambda i: [i], 1, None, scope="one", invalid=invalid)
    with pytest.raises(AwsError):
        pagination.page([1, 2], lambda i: [i], 1, token, scope="two", invalid=invalid)
    _, text_token = pagination.page(["a", "b"], lambda i: [i], 1, None, scope="s",
                                    invalid=invalid)
    with pytest.raises(AwsError):  # same scope, keys of another type
        pagination.page([1, 2], lambda i: [i], 1, text_token, scope="s", invalid=invalid)


tags = st.lists(st.fixed_dictionaries({"Key": st.sampled_from("abcd"),
                                       "Value": st.text(max_size=3)}), max_size=6)


@given(tags, tags)
def test_merged_tags_take_the_newest_value_of_each_key(existing, added):
    base = tag_lists.merged([], existing)
    result = tag_lists.merged(base, added)
    expected = {t["Key"]: t["Value"] for t in existing + added}
    assert {t["Key"]: t["Value"] for t in result} == expected
    assert len({t["Key"] for t in result}) == len(result)
    assert tag_lists.without(result, ["a"]) == [t for t in result if t["Key"] != "a"]


def test_tag_rules_and_condition_keys():
    def fail(message: str) -> AwsError:
        return error("InvalidParameterException", message)

    with pytest.raises(AwsError):
        tag_lists.merged([], [{"Value": "no key"}], fail)
    with pytest.raises(AwsError):
        tag_lists.check([{"Key": "AWS:x", "Value": ""}], fail)
    with pytest.raises(AwsError) as info:
        tag_lists.check([{"Key": str(i), "Value": ""} for i in range(51)], fail,
                        lambda m: error("TooManyTagsError", m))
    assert info.value.code == "TooManyTagsError"
    assert tag_lists.resource_tag_keys([{"Key": "env", "Value": "dev"}], "ssm") == {
        "aws:ResourceTag/env": "dev", "ssm:ResourceTag/env": "dev"}
