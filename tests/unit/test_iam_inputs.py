"""What IAM and STS parse themselves: markers, ARNs, access key ids, statement positions,
context entries, packed sizes. Property tests: any input gets an answer or an AWS error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.protocol.errors import AwsError
from portside.services.iam import ids, paging
from portside.services.iam.simulate import context_entries, position, statement_spans
from portside.services.sts.packing import packed_policy_size

# -- paging --------------------------------------------------------------------------------

names = st.lists(st.text(min_size=1, max_size=12), unique=True, max_size=40).map(sorted)


@given(items=names, max_items=st.integers(min_value=1, max_value=15))
def test_paging_visits_every_item_once_in_order(items, max_items):
    seen: list[str] = []
    request: dict = {"MaxItems": max_items}
    for _ in range(len(items) + 2):
        chunk, more = paging.page(items, request, key=lambda x: x)
        assert len(chunk) <= max_items
        seen += chunk
        if not more["IsTruncated"]:
            break
        request = {"MaxItems": max_items, "Marker": more["Marker"]}
    assert seen == items


@given(items=names.filter(lambda x: len(x) >= 3))
def test_a_deleted_item_does_not_shift_the_next_page(items):
    first, more = paging.page(items, {"MaxItems": 2}, key=lambda x: x)
    remaining = [i for i in items if i != first[-1]]  # the marker's own item goes away
    second, _ = paging.page(remaining, {"Marker": more["Marker"]}, key=lambda x: x)
    assert second == items[2:][:100]


@given(marker=st.text(max_size=60))
def test_any_marker_pages_or_is_refused_as_invalid_input(marker):
    try:
        paging.page(["a", "b"], {"Marker": marker}, key=lambda x: x)
    except AwsError as exc:
        assert exc.code == "InvalidInput"


# -- ARNs and ids ------------------------------------------------------------------------------

@pytest.mark.parametrize("arn, kind, path, name", [
    ("arn:aws:iam::123456789012:user/alice", "user", "/", "alice"),
    ("arn:aws:iam::123456789012:role/service-role/a/b/r", "role", "/service-role/a/b/", "r"),
    ("arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy", "policy",
     "/service-role/", "AmazonECSTaskExecutionRolePolicy"),
])
def test_iam_arns_split_into_path_and_name(arn, kind, path, name):
    parsed = ids.parse_iam_arn(arn, kind)
    assert (parsed.kind, parsed.path, parsed.name) == (kind, path, name)
    assert str(parsed) == arn


@pytest.mark.parametrize("arn", [
    "arn:aws:iam::123456789012:user/", "arn:aws:iam::12345:user/a", "arn:aws:s3:::bucket",
    "arn:aws:iam::123456789012:role/r", "arn:aws:iam::123456789012:user//a",
])
def test_other_arns_are_invalid_input(arn):
    with pytest.raises(AwsError) as info:
        ids.parse_iam_arn(arn, "user")
    assert info.value.code == "InvalidInput"


@given(arn=st.text(max_size=80))
def test_any_text_parses_as_an_arn_or_is_refused(arn):
    try:
        parsed = ids.parse_iam_arn(arn, "user", "group", "role", "policy")
    except AwsError as exc:
        assert exc.code == "InvalidInput"
    else:
        assert str(parsed) == arn


@given(account=st.integers(min_value=0, max_value=10**12 - 1),
       prefix=st.sampled_from([ids.ACCESS_KEY_PREFIX, ids.SESSION_KEY_PREFIX]))
def test_access_key_ids_carry_their_account(account, prefix):
    key = ids.access_key_id(prefix, f"{account:012d}")
    assert len(key) == 20 and key.startswith(prefix)
    assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert ids.account_of_access_key(key) == f"{account:012d}"


def test_documented_access_key_decodes_to_its_account():
    # A published session key id and the account it belongs to.
    assert ids.account_of_access_key("ASIAQNZGKIQY56JQ7WML") == "029608264753"


@given(key=st.text(max_size=24))
def test_any_text_is_a_key_of_an_account_or_none(key):
    account = ids.account_of_access_key(key)
    assert account is None or (len(account) == 12 and account.isdigit())


def test_unique_ids_and_secrets_have_aws_shapes():
    assert len(ids.unique_id(ids.USER_PREFIX)) == 21
    assert len(ids.secret_access_key()) == 40


# -- statement positions -------------------------------------------------------------------

statement = st.fixed_dictionaries({
    "Effect": st.sampled_from(["Allow", "Deny"]),
    "Action": st.lists(st.sampled_from(["s3:*", "sqs:Send*", "ecs:RunTask"]), min_size=1),
    "Resource": st.just("*"),
    "Sid": st.text(alphabet="abc123", max_size=4),
})


@given(statements=st.lists(statement, min_size=1, max_size=5), indent=st.sampled_from(
    [None, 0, 2, 4]), single=st.booleans())
def test_statement_spans_cover_each_statement(statements, indent, single):
    body = statements[0] if single else statements
    text = json.dumps({"Version": "2012-10-17", "Statement": body}, indent=indent)
    spans = statement_spans(text)
    expected = [statements[0]] if single else statements
    assert [json.loads(text[a:b]) for a, b in spans] == expected


@given(text=st.text(max_size=80))
def test_statement_spans_of_any_text_are_a_list(text):
    assert isinstance(statement_spans(text), list)


def test_positions_are_one_based_lines_and_columns():
    assert position('{\n  "a"', 4) == {"Line": 2, "Column": 3}
    assert position("{}", 0) == {"Line": 1, "Column": 1}


# -- context entries and packed sizes --------------------------------------------------------

def test_context_entries_take_the_type_they_name():
    got = context_entries([
        {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"],
         "ContextKeyType": "ip"},
        {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["10"],
         "ContextKeyType": "numeric"},
        {"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"],
         "ContextKeyType": "boolean"},
        {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a", "b"],
         "ContextKeyType": "stringList"},
    ])
    assert got == {"aws:SourceIp": "10.0.0.1", "s3:max-keys": 10,
                   "aws:MultiFactorAuthPresent": True, "aws:TagKeys": ("a", "b")}


@given(kind=st.sampled_from(["string", "numeric", "boolean", "date", "ip", "binary",
                             "numericList", "dateList", "booleanList"]),
       values=st.lists(st.text(max_size=20), max_size=3))
@settings(max_examples=200)
def test_any_context_entry_converts_or_is_invalid_input(kind, values):
    try:
        context_entries([{"ContextKeyName": "k:k", "ContextKeyValues": values,
                          "ContextKeyType": kind}])
    except AwsError as exc:
        assert exc.code == "InvalidInput"


def test_packed_policy_size_is_a_share_and_many_long_tags_overflow_it():
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    assert 0 < packed_policy_size(policy, [], []) < 100
    tags = [{"Key": f"k{i}-" + "x" * 100,
             "Value": "".join(ids.secret_access_key() for _ in range(6))} for i in range(50)]
    with pytest.raises(AwsError) as info:
        packed_policy_size(None, [], tags)
    assert info.value.code == "PackedPolicyTooLarge"
    assert "session tags consumes" in info.value.message
