"""Parameter Store's rules as pure functions: names and hierarchies, selectors and ARNs,
paths, labels, ParameterFilters, tiers, AllowedPattern and data types."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.protocol.errors import AwsError
from portside.services.ssm import filters, names
from portside.services.ssm.names import NameProblem
from portside.services.ssm.values import check_data_type, check_pattern, tier_for

ACCOUNT, REGION = "000000000000", "us-east-1"
segments = st.from_regex(r"[a-zA-Z0-9_.-]{1,12}", fullmatch=True).filter(
    lambda s: not s.lower().startswith(("aws", "ssm")))
flat_names = segments
paths_of_names = st.lists(segments, min_size=1, max_size=15).map(lambda p: "/" + "/".join(p))
any_names = flat_names | paths_of_names


# -- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, problem", [
    ("db", None), ("/app/db/password", None), ("a.b-c_d", None), ("/" + "/".join("a" * 15), None),
    ("/" + "/".join("a" * 16), NameProblem.TOO_DEEP),
    ("a/b", NameProblem.MALFORMED), ("/a//b", NameProblem.MALFORMED),
    ("/a/", NameProblem.MALFORMED),
    ("a b", NameProblem.MALFORMED), ("a:b", NameProblem.MALFORMED), ("", NameProblem.MALFORMED),
    ("awsfoo", NameProblem.RESERVED_AWS), ("/AWS/service", NameProblem.RESERVED_AWS),
    ("ssm-x", NameProblem.RESERVED_SSM), ("/SSM/x", NameProblem.RESERVED_SSM),
    ("/app/aws", None), ("x" * 1000, NameProblem.TOO_LONG),
])
def test_parameter_names_follow_the_naming_constraints(name, problem):
    assert names.name_problem(name) is problem


@given(any_names)
def test_every_well_formed_name_is_accepted(name):
    assert names.name_problem(name) is None


@given(any_names, st.sampled_from(["", ":3", ":prod", ":v1.2_x"]))
def test_a_name_reads_back_from_its_arn_with_its_selector(name, selector):
    arn = names.parameter_arn(REGION, ACCOUNT, name)
    assert arn == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"
    ref = names.parse_reference(arn + selector, "111111111111", "eu-west-1")
    assert (ref.account_id, ref.region) == (ACCOUNT, REGION)
    assert name in ref.names
    assert (ref.selector.text if ref.selector else "") == selector


@given(any_names)
def test_a_name_reference_is_the_name_in_the_callers_account(name):
    assert names.parse_reference(f"  {name}  ", ACCOUNT, REGION) == \
        names.ParameterRef(ACCOUNT, REGION, (name,))


@pytest.mark.parametrize("text, version, label", [
    ("/a:3", 3, None), ("a:prod", None, "prod"), ("/a/b:Release-1.0", None, "Release-1.0"),
])
def test_selectors_name_a_version_or_a_label(text, version, label):
    selector = names.parse_reference(text, ACCOUNT, REGION).selector
    assert selector is not None
    assert (selector.version, selector.label) == (version, label)


@pytest.mark.parametrize("text", ["a:", "a:0", "a:1abc", "a:aws-x", "a:b:c", "a b", "x/y",
                                  "arn:aws:ssm:us-east-1:000000000000:parameter/"])
def test_malformed_references_are_refused(text):
    with pytest.raises(names.BadReference):
        names.parse_reference(text, ACCOUNT, REGION)


def test_a_one_level_arn_may_name_a_flat_or_a_rooted_parameter():
    ref = names.parse_reference(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/db", ACCOUNT, REGION)
    assert ref.names == ("db", "/db")


@pytest.mark.parametrize("label, valid", [
    ("prod", True), ("Release_1.0-b", True), ("x" * 100, True), ("x" * 101, False),
    ("1st", False), ("aws-x", False), ("SSMlabel", False), ("a b", False), ("", False),
])
def test_labels_follow_the_label_rules(label, valid):
    assert names.label_is_valid(label) is valid


# -- paths -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, normalized", [
    ("/", "/"), ("/a", "/a"), ("/a/b/", "/a/b"), ("a", None), ("/a//b", None), ("/a b", None),
])
def test_paths_begin_with_a_slash(path, normalized):
    assert names.normalized_path(path) == normalized


@pytest.mark.parametrize("name, path, recursive, inside", [
    ("/a/b", "/a", False, True), ("/a/b/c", "/a", False, False), ("/a/b/c", "/a", True, True),
    ("/ab", "/a", True, False), ("/a", "/a", True, False), ("/a", "/", False, True),
    ("a", "/", True, False), ("/x/y", "/", True, True),
])
def test_a_path_holds_its_children_or_all_descendants(name, path, recursive, inside):
    assert names.in_path(name, path, recursive) is inside


@given(st.lists(segments, min_size=1, max_size=6), st.integers(0, 5), st.booleans())
def test_every_name_is_under_each_of_its_ancestors(parts, cut, recursive):
    name = "/" + "/".join(parts)
    depth = min(cut, len(parts) - 1)
    path = "/" + "/".join(parts[:depth]) if depth else "/"
    expected = recursive or depth == len(parts) - 1
    assert names.in_path(name, path, recursive) is expected


# -- filters -----------------------------------------------------------------------------------

CANDIDATE = filters.Candidate("/app/db/password", "SecureString", "alias/aws/ssm", "Standard",
                              "text", {"env": "prod", "team": ""}, frozenset({"live"}))


@pytest.mark.parametrize("given, expected", [
    ({"Key": "Name", "Values": ["/app/db/password"]}, True),
    ({"Key": "Name", "Option": "BeginsWith", "Values": ["/app/db"]}, True),
    ({"Key": "Name", "Option": "Contains", "Values": ["db/pass"]}, True),
    ({"Key": "Name", "Values": ["/app/db"]}, False),
    ({"Key": "Path", "Values": ["/app/db"]}, True),
    ({"Key": "Path", "Values": ["/app"]}, False),
    ({"Key": "Path", "Option": "Recursive", "Values": ["/app"]}, True),
    ({"Key": "Type", "Values": ["String", "SecureString"]}, True),
    ({"Key": "KeyId", "Values": ["alias/aws/ssm"]}, True),
    ({"Key": "Tier", "Values": ["Advanced"]}, False),
    ({"Key": "DataType", "Values": ["text"]}, True),
    ({"Key": "tag:env", "Values": ["prod"]}, True),
    ({"Key": "tag:env", "Values": ["dev"]}, False),
    ({"Key": "tag:team"}, True),
    ({"Key": "tag:owner"}, False),
])
def test_describe_filters_match_as_documented(given, expected):
    parsed = filters.parse([given], filters.DESCRIBE_OPTIONS)
    assert filters.matches(CANDIDATE, parsed) is expected


@pytest.mark.parametrize("given, code", [
    ({"Key": "Label", "Values": ["x"]}, "InvalidFilterKey"),
    ({"Key": "Path", "Option": "Equals", "Values": ["/a"]}, "InvalidFilterOption"),
    ({"Key": "Name", "Option": "Recursive", "Values": ["/a"]}, "InvalidFilterOption"),
    ({"Key": "Type", "Values": ["Secret"]}, "InvalidFilterValue"),
    ({"Key": "Path", "Values": ["no-slash"]}, "InvalidFilterValue"),
    ({"Key": "Name"}, "InvalidFilterValue"),
])
def test_invalid_describe_filters_are_refused_with_their_error(given, code):
    with pytest.raises(AwsError) as info:
        filters.parse([given], filters.DESCRIBE_OPTIONS)
    assert info.value.code == code


def test_by_path_filters_take_type_key_id_and_label_only():
    parsed = filters.parse([{"Key": "Label", "Values": ["live"]}], filters.BY_PATH_OPTIONS)
    assert filters.matches(CANDIDATE, parsed)
    with pytest.raises(AwsError):
        filters.parse([{"Key": "Name", "Values": ["/a"]}], filters.BY_PATH_OPTIONS)


def test_legacy_filters_match_names_by_prefix():
    parsed = filters.parse_legacy([{"Key": "Name", "Values": ["/app"]},
                                   {"Key": "Type", "Values": ["SecureString"]}])
    assert filters.matches(CANDIDATE, parsed)


@given(st.lists(st.sampled_from(["Name", "Type", "KeyId", "Tier", "DataType", "Path", "tag:x",
                                 "Label", "Bogus"]), max_size=4),
       st.sampled_from([None, "Equals", "BeginsWith", "Contains", "Recursive", "OneLevel"]),
       st.lists(st.sampled_from(["/a", "String", "Standard", "x", ""]), max_size=3))
def test_any_filter_either_parses_or_is_refused_with_a_filter_error(keys, option, values):
    given = [{"Key": k, **({"Option": option} if option else {}), "Values": values}
             for k in keys]
    try:
        parsed = filters.parse(given, filters.DESCRIBE_OPTIONS)
    except AwsError as exc:
        assert exc.code in ("InvalidFilterKey", "InvalidFilterOption", "InvalidFilterValue")
        return
    filters.matches(CANDIDATE, parsed)


# -- values ------------------------------------------------------------------------------------

@pytest.mark.parametrize("requested, previous, size, tier", [
    (None, None, 4096, "Standard"), ("Advanced", None, 8192, "Advanced"),
    ("Intelligent-Tiering", None, 10, "Standard"),
    ("Intelligent-Tiering", None, 5000, "Advanced"),
    ("Intelligent-Tiering", "Advanced", 10, "Advanced"),
    (None, "Advanced", 10, "Advanced"),
])
def test_tiers(requested, previous, size, tier):
    assert tier_for(requested, previous, "x" * size) == tier


@pytest.mark.parametrize("requested, previous, size", [
    (None, None, 4097), ("Standard", None, 4097), ("Advanced", None, 8193),
    ("Standard", "Advanced", 1),
])
def test_tier_limits_and_no_downgrade(requested, previous, size):
    with pytest.raises(AwsError) as info:
        tier_for(requested, previous, "x" * size)
    assert info.value.code == "ValidationException"


def test_allowed_pattern_checks_the_whole_value_and_never_shows_it():
    check_pattern(r"\d+", "123")
    with pytest.raises(AwsError) as info:
        check_pattern(r"\d+", "123abc-hunter2")
    assert info.value.code == "ParameterPatternMismatchException"
    assert "hunter2" not in info.value.message
    with pytest.raises(AwsError) as info:
        check_pattern("(", "x")
    assert info.value.code == "InvalidAllowedPatternException"


@pytest.mark.parametrize("data_type, kind, value, ok", [
    ("text", "String", "anything", True), ("aws:ec2:image", "String", "ami-12345678", True),
    ("aws:ec2:image", "String", "ami-0123456789abcdef0", True),
    ("aws:ec2:image", "String", "not-an-ami", False),
    ("aws:ec2:image", "SecureString", "ami-12345678", False),
    ("Text", "String", "x", False), ("aws:ssm:integration", "String", "x", True),
])
def test_data_types(data_type, kind, value, ok):
    if ok:
        check_data_type(data_type, kind, value)
    else:
        with pytest.raises(AwsError):
            check_data_type(data_type, kind, value)
