"""Secrets Manager's rules as pure functions: secret ids and partial ARNs, ECS valueFrom,
staging-label moves, version pruning, ListSecrets filters and random passwords."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.services.secretsmanager import filters, ids, staging
from portside.services.secretsmanager.passwords import (
    PUNCTUATION,
    PasswordRules,
    Unsatisfiable,
    random_password,
)

ACCOUNT, REGION = "000000000000", "us-east-1"
names = st.from_regex(r"[A-Za-z0-9/_+=.@!-]{1,40}", fullmatch=True)
suffixes = st.from_regex(r"[A-Za-z0-9]{6}", fullmatch=True)
accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)
regions = st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2"])


# -- names and secret ids ---------------------------------------------------------------------

@pytest.mark.parametrize("name, valid", [
    ("db", True), ("prod/db/password", True), ("a+b=c.d@e!f_g-h", True), ("x" * 512, True),
    ("", False), ("with space", False), ("colon:name", False), ("é", False), ("a*b", False),
])
def test_secret_names_take_letters_digits_and_some_symbols(name, valid):
    assert ids.is_valid_name(name) is valid


@given(names, suffixes, accounts, regions)
def test_a_full_arn_names_its_secret_exactly(name, suffix, account, region):
    arn = ids.secret_arn(region, account, name, suffix)
    ref = ids.parse_secret_id(arn, ACCOUNT, REGION)
    assert ref == ids.SecretRef(account, region, name, arn)


@given(names, accounts, regions)
def test_a_partial_arn_names_its_secret_by_name(name, account, region):
    partial = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"
    ref = ids.parse_secret_id(partial, ACCOUNT, REGION)
    if ref.arn is None:
        assert ref == ids.SecretRef(account, region, name)
    else:  # a name ending in -XXXXXX reads as complete: AWS's documented confusion
        assert name[-7] == "-" and ref.arn == partial


@given(names)
def test_a_name_is_a_secret_of_the_callers_account_and_region(name):
    assert ids.parse_secret_id(name, ACCOUNT, REGION) == ids.SecretRef(ACCOUNT, REGION, name)


def test_a_missing_secret_is_checked_with_any_suffix():
    assert ids.any_suffix_arn(REGION, ACCOUNT, "db") == \
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-??????"


def test_suffixes_are_six_random_letters_or_digits():
    drawn = {ids.new_suffix() for _ in range(50)}
    assert len(drawn) > 45
    assert all(len(s) == 6 and s.isalnum() and s.isascii() for s in drawn)


# -- valueFrom ---------------------------------------------------------------------------------

@given(names.filter(lambda n: ":" not in n), suffixes, accounts, regions,
       st.sampled_from(["", "password", "user.name"]), st.sampled_from(["", "AWSPREVIOUS"]),
       st.sampled_from(["", "6a5b1b9e-1234-4c3b-9e1d-000000000001"]))
def test_value_from_splits_into_secret_key_stage_and_version(name, suffix, account, region,
                                                            key, stage, version):
    arn = ids.secret_arn(region, account, name, suffix)
    parsed = ids.parse_value_from(f"{arn}:{key}:{stage}:{version}")
    assert parsed == ids.ValueFrom(arn, region, account, key or None, stage or None,
                                   version or None)
    assert ids.parse_value_from(arn) == ids.ValueFrom(arn, region, account)


@pytest.mark.parametrize("value_from", [
    "db-password",  # a name: ECS takes Secrets Manager secrets by ARN
    "arn:aws:ssm:us-east-1:000000000000:parameter/db",
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:key",  # 2 extra fields
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:a:b:c:d",
    "arn:aws:secretsmanager:us-east-1:000000000000:secret::key::",
])
def test_malformed_value_from_is_refused(value_from):
    with pytest.raises(ids.BadValueFrom):
        ids.parse_value_from(value_from)


# -- staging labels ----------------------------------------------------------------------------

def test_a_new_current_version_leaves_previous_on_the_old_one():
    stages = staging.attach({"v1": ["AWSCURRENT"]}, "v2", ["AWSCURRENT"])
    assert stages == {"v1": ["AWSPREVIOUS"], "v2": ["AWSCURRENT"]}
    stages = staging.attach(stages, "v3", ["AWSCURRENT"])
    assert stages == {"v1": [], "v2": ["AWSPREVIOUS"], "v3": ["AWSCURRENT"]}


def test_a_custom_label_moves_without_touching_current():
    stages = staging.attach({"v1": ["AWSCURRENT", "blue"]}, "v2", ["blue", "AWSPENDING"])
    assert stages == {"v1": ["AWSCURRENT"], "v2": ["blue", "AWSPENDING"]}


def test_moving_current_needs_the_version_it_is_on():
    stages = {"v1": ["AWSCURRENT"], "v2": ["AWSPENDING"]}
    refused = staging.move_stage(stages, "AWSCURRENT", "v2", None)
    assert refused.stages is None and "RemoveFromVersionId" in (refused.refusal or "")
    moved = staging.move_stage(stages, "AWSCURRENT", "v2", "v1")
    assert moved.stages == {"v1": ["AWSPREVIOUS"], "v2": ["AWSPENDING", "AWSCURRENT"]}


def test_current_cannot_be_removed_outright_but_other_labels_can():
    stages = {"v1": ["AWSCURRENT", "blue"]}
    assert staging.move_stage(stages, "AWSCURRENT", None, "v1").stages is None
    assert staging.move_stage(stages, "blue", None, "v1").stages == {"v1": ["AWSCURRENT"]}
    assert staging.move_stage(stages, "blue", None, "v9").stages is None


label_names = st.sampled_from(["AWSCURRENT", "AWSPREVIOUS", "AWSPENDING", "blue", "green"])


@given(st.lists(st.tuples(st.sampled_from(["v1", "v2", "v3", "v4"]),
                          st.lists(label_names, max_size=3)), max_size=12))
def test_each_label_is_on_at_most_one_version_whatever_the_moves(moves):
    stages: dict[str, list[str]] = {}
    for version, labels in moves:
        stages = staging.attach(stages, version, labels)
        attached = [label for ls in stages.values() for label in ls]
        assert len(attached) == len(set(attached))
        for label in labels:
            assert label in stages[version]


def test_only_old_unlabelled_versions_are_pruned_beyond_the_quota():
    now = 10 * staging.KEEP_SECONDS
    stages = {f"v{i}": [] for i in range(staging.MAX_VERSIONS + 3)}
    stages["v0"] = ["blue"]
    created = {v: float(i) for i, v in enumerate(stages)}
    created["v2"] = now - 60  # a day has not passed
    assert staging.removable(stages, created, now) == ["v1", "v3", "v4"]
    assert staging.removable({"v1": []}, {"v1": 0.0}, now) == []


# -- ListSecrets filters -----------------------------------------------------------------------

SECRET = filters.Searchable("prod/credsDatabase", "The MAIN database", ("Owner", "env"),
                            ("team-a", "production"), "us-east-1")


@pytest.mark.parametrize("key, values, expected", [
    ("name", ["prod/"], True), ("name", ["Prod/"], False), ("name", ["creds"], False),
    ("description", ["the main"], True), ("description", ["main"], False),
    ("tag-key", ["Own"], True), ("tag-key", ["own"], False),
    ("tag-value", ["prod"], True), ("tag-value", ["team-b"], False),
    ("primary-region", ["us-"], True), ("primary-region", ["eu-"], False),
    ("owning-service", ["rds"], False),
    ("name", ["!prod"], False), ("name", ["!dev"], True), ("name", ["dev", "prod"], True),
    ("name", ["prod", "!prod/creds"], False),
    ("all", ["database"], True), ("all", ["DATA"], True), ("all", ["credsX"], True),
    ("all", ["nothing-here"], False), ("all", ["!team"], False),
])
def test_filters_follow_the_filter_reference(key, values, expected):
    assert filters.matches(SECRET, [filters.Filter(key, tuple(values))]) is expected


searchables = st.builds(filters.Searchable, names, st.text(max_size=20),
                        st.lists(st.text(max_size=8), max_size=3).map(tuple),
                        st.lists(st.text(max_size=8), max_size=3).map(tuple), regions)


@given(searchables, st.sampled_from(filters.KEYS),
       st.from_regex(r"[a-zA-Z0-9 :_@/+=.-]{0,12}", fullmatch=True))
def test_a_negated_value_matches_exactly_what_the_value_does_not(secret, key, value):
    plain = filters.matches(secret, [filters.Filter(key, (value,))])
    assert filters.matches(secret, [filters.Filter(key, (f"!{value}",))]) is not plain


def test_every_filter_must_match():
    both = [filters.Filter("name", ("prod",)), filters.Filter("tag-key", ("env",))]
    assert filters.matches(SECRET, both)
    assert not filters.matches(SECRET, [*both, filters.Filter("tag-value", ("x",))])


@pytest.mark.parametrize("text, expected", [
    ("credsDatabase#892", ["creds", "Database", "892"]),
    ("My_Secret", ["My", "Secret"]), ("HTTPServer2", ["HTTP", "Server", "2"]), ("", []),
])
def test_search_words_break_at_case_digits_and_punctuation(text, expected):
    assert filters.words(text) == expected


@given(st.text(max_size=40))
def test_words_are_letters_or_digits_only(text):
    assert all(w.isalnum() for w in filters.words(text))


# -- random passwords --------------------------------------------------------------------------

TYPES = [string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION]


def test_the_default_password_has_32_characters_of_every_type():
    password = random_password(PasswordRules())
    assert len(password) == 32
    assert all(any(c in chars for c in password) for chars in TYPES)
    assert " " not in password


@given(length=st.integers(1, 200), exclude=st.text(alphabet=string.printable, max_size=20),
       flags=st.lists(st.booleans(), min_size=6, max_size=6))
def test_passwords_honour_every_option(length, exclude, flags):
    rules = PasswordRules(length, exclude, *flags)
    try:
        password = random_password(rules)
    except Unsatisfiable:
        kinds = rules.character_types()
        assert not kinds or (rules.require_each_included_type and len(kinds) > length)
        return
    assert len(password) == length
    assert not set(password) & set(exclude)
    kinds = [(string.digits, rules.exclude_numbers), (PUNCTUATION, rules.exclude_punctuation),
             (string.ascii_uppercase, rules.exclude_uppercase),
             (string.ascii_lowercase, rules.exclude_lowercase),
             (" ", not rules.include_space)]
    for chars, excluded in kinds:
        present = any(c in chars for c in password)
        if excluded:
            assert not present
        elif rules.require_each_included_type and set(chars) - set(exclude):
            assert present


def test_rules_come_from_the_request_with_aws_defaults():
    rules = PasswordRules.of({"PasswordLength": 12, "ExcludePunctuation": True,
                              "RequireEachIncludedType": False})
    assert rules == PasswordRules(length=12, exclude_punctuation=True,
                                  require_each_included_type=False)
    assert PasswordRules.of({}) == PasswordRules()
