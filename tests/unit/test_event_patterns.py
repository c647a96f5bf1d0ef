"""The EventBridge event-pattern engine against the examples of AWS's documentation.

Each row names the page (under https://docs.aws.amazon.com/eventbridge/latest/userguide/) and
the example it encodes.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portside.services.events.patterns import InvalidEventPattern, compile_pattern

EC2_EVENT = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
    "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}
NULL_EVENT = {
    "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
    "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
    "resources": [], "detail": {"eventVersion": "", "responseElements": None},
}
ARRAY_PATTERN = {"resources": [
    "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
    "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}
ARRAY_EVENT = {"resources": [
    "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-"
    "d5978ed4a025:autoScalingGroupName/ASGTerminate",
    "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}


def detail(**fields):
    return {"detail": fields}


CASES = [
    # (page#example, pattern, event, matches)
    ("eb-event-patterns: EC2 instance-termination", {
        "source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["terminated"]}}, EC2_EVENT, True),
    ("eb-event-patterns: a field the event lacks", {"detail": {"reason": ["x"]}},
     EC2_EVENT, False),
    ("eb-create-pattern: matching on multiple field values", {
        "source": ["aws.ec2", "aws.fargate"]}, EC2_EVENT, True),
    ("eb-create-pattern: matching is case sensitive", {"source": ["AWS.EC2"]},
     EC2_EVENT, False),
    ("eb-event-patterns-arrays: intersection of two arrays", ARRAY_PATTERN, ARRAY_EVENT, True),
    ("eb-event-patterns-arrays: no common element", ARRAY_PATTERN,
     {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-other"]}, False),
    ("eb-event-patterns-null-values: empty string", {"detail": {"eventVersion": [""]}},
     NULL_EVENT, True),
    ("eb-event-patterns-null-values: null", {"detail": {"responseElements": [None]}},
     NULL_EVENT, True),
    ("eb-event-patterns-null-values: empty string does not match null",
     {"detail": {"responseElements": [""]}}, NULL_EVENT, False),
    ("eb-event-patterns-null-values: null does not match empty string",
     {"detail": {"eventVersion": [None]}}, NULL_EVENT, False),
    # eb-create-pattern-operators: the comparison table, one row each
    ("operators: And", {"Location": ["New York"], "Day": ["Monday"]},
     {"Location": "New York", "Day": "Monday"}, True),
    ("operators: And, one field differs", {"Location": ["New York"], "Day": ["Monday"]},
     {"Location": "New York", "Day": "Tuesday"}, False),
    ("operators: Anything-but", {"state": [{"anything-but": "initializing"}]},
     {"state": "running"}, True),
    ("operators: Anything-but, the excluded value", {"state": [{"anything-but": "initializing"}]},
     {"state": "initializing"}, False),
    ("operators: Anything-but (begins with)", {"Region": [{"anything-but": {"prefix": "us-"}}]},
     {"Region": "eu-west-1"}, True),
    ("operators: Anything-but (begins with), US region",
     {"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "us-east-1"}, False),
    ("operators: Anything-but (ends with)",
     {"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.jpg"}, True),
    ("operators: Anything-but (ends with), a .png",
     {"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.png"}, False),
    ("operators: Anything-but (ignore case)",
     {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
     {"state": "INITIALIZING"}, False),
    ("operators: Anything-but (ignore case), another state",
     {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
     {"state": "running"}, True),
    ("operators: Anything-but using a wildcard",
     {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     {"FilePath": "/usr/lib/x.so"}, False),
    ("operators: Anything-but using a wildcard, outside lib",
     {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
     {"FilePath": "/usr/bin/x"}, True),
    ("operators: Begins with", {"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True),
    ("operators: Begins with (ignore case)",
     {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
     {"service": "EventBridge"}, True),
    ("operators: Empty", {"LastName": [""]}, {"LastName": ""}, True),
    ("operators: Equals", {"Name": ["Alice"]}, {"Name": "Alice"}, True),
    ("operators: Equals (ignore case)", {"Name": [{"equals-ignore-case": "alice"}]},
     {"Name": "ALICE"}, True),
    ("operators: Ends with", {"FileName": [{"suffix": ".png"}]}, {"FileName": "img.png"}, True),
    ("operators: Ends with (ignore case)",
     {"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]},
     {"service": "EVENTBRIDGE"}, True),
    ("operators: Exists", {"ProductName": [{"exists": True}]}, {"ProductName": "x"}, True),
    ("operators: Exists, absent", {"ProductName": [{"exists": True}]}, {"Other": 1}, False),
    ("operators: Does not exist", {"ProductName": [{"exists": False}]}, {"Other": 1}, True),
    ("operators: Does not exist, present", {"ProductName": [{"exists": False}]},
     {"ProductName": "x"}, False),
    ("operators: Not", {"Weather": [{"anything-but": ["Raining"]}]},
     {"Weather": "Sunny"}, True),
    ("operators: Null", {"UserID": [None]}, {"UserID": None}, True),
    ("operators: Null, absent field", {"UserID": [None]}, {}, False),
    ("operators: Number (equals)", {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, True),
    ("operators: Number (range)", {"Price": [{"numeric": [">", 10, "<=", 20]}]},
     {"Price": 20}, True),
    ("operators: Number (range), at the open bound",
     {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 10}, False),
    ("operators: Or", {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True),
    ("operators: Or (multiple fields)",
     {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
     {"Location": "Boston", "Day": "Monday"}, True),
    ("operators: Or (multiple fields), neither",
     {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
     {"Location": "Boston", "Day": "Friday"}, False),
    ("operators: Wildcard", {"FileName": [{"wildcard": "dir/*.png"}]},
     {"FileName": "dir/a/b.png"}, True),
    ("operators: Wildcard, another folder", {"FileName": [{"wildcard": "dir/*.png"}]},
     {"FileName": "other/b.png"}, False),
    # content-filtering-with-event-patterns: each filter type's example
    ("content-filtering: prefix matching", {"time": [{"prefix": "2017-10-02"}]},
     {"time": "2017-10-02T18:43:48Z"}, True),
    ("content-filtering: prefix matching while ignoring case",
     detail(service=[{"prefix": {"equals-ignore-case": "EventB"}}]),
     detail(service="eventbridge"), True),
    ("content-filtering: suffix matching", {"FileName": [{"suffix": ".png"}]},
     {"FileName": "image.png"}, True),
    ("content-filtering: suffix matching while ignoring case",
     detail(FileName=[{"suffix": {"equals-ignore-case": ".png"}}]),
     detail(FileName="IMAGE.PNG"), True),
    ("content-filtering: anything-but with a number", detail(**{"x-limit": [
        {"anything-but": 123}]}), detail(**{"x-limit": 124}), True),
    ("content-filtering: anything-but with a number, the number",
     detail(**{"x-limit": [{"anything-but": 123}]}), detail(**{"x-limit": 123}), False),
    ("content-filtering: anything-but list of strings",
     detail(state=[{"anything-but": ["stopped", "overloaded"]}]),
     detail(state="overloaded"), False),
    ("content-filtering: anything-but list of numbers",
     detail(**{"x-limit": [{"anything-but": [100, 200, 300]}]}),
     detail(**{"x-limit": 250}), True),
    ("content-filtering: anything-but prefix",
     detail(state=[{"anything-but": {"prefix": "init"}}]), detail(state="initializing"), False),
    ("content-filtering: anything-but suffix",
     detail(FileName=[{"anything-but": {"suffix": ".txt"}}]), detail(FileName="a.txt"), False),
    ("content-filtering: anything-but ignore case, list",
     detail(state=[{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]),
     detail(state="STOPPED"), False),
    ("content-filtering: anything-but wildcard, list",
     detail(FilePath=[{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]),
     detail(FilePath="/usr/bin/x"), False),
    ("content-filtering: numeric matching, all fields true", detail(**{
        "c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}],
        "x-limit": [{"numeric": ["=", 3.018e2]}]}),
     detail(**{"c-count": 5, "d-count": 9.5, "x-limit": 301.8}), True),
    ("content-filtering: numeric matching, one field false", detail(**{
        "c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}]}),
     detail(**{"c-count": 5, "d-count": 10}), False),
    ("content-filtering: numeric matching needs a JSON number",
     detail(**{"c-count": [{"numeric": [">", 0]}]}), detail(**{"c-count": "5"}), False),
    ("content-filtering: IP address matching",
     detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), detail(sourceIPAddress="10.0.0.24"),
     True),
    ("content-filtering: IP address matching, outside",
     detail(sourceIPAddress=[{"cidr": "10.0.0.0/24"}]), detail(sourceIPAddress="10.0.1.1"),
     False),
    ("content-filtering: IP address matching, IPv6",
     detail(sourceIPAddress=[{"cidr": "2001:db8::/32"}]),
     detail(sourceIPAddress="2001:db8:1::7"), True),
    ("content-filtering: exists matching", detail(**{"c-count": [{"exists": False}]}), {
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["initializing", "running"]}}, True),
    ("content-filtering: exists matching, c-count is not a leaf node",
     detail(**{"c-count": [{"exists": False}]}),
     {"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}}, True),
    ("content-filtering: equals-ignore-case matching",
     {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]},
     EC2_EVENT, True),
    ("content-filtering: wildcard matching",
     {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
     {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/orders"}, True),
    ("content-filtering: complex example with multiple matching", {
        "time": [{"prefix": "2017-10-02"}],
        "detail": {"state": [{"anything-but": "initializing"}],
                   "c-count": [{"numeric": [">", 0, "<=", 5]}],
                   "d-count": [{"numeric": ["<", 10]}],
                   "x-limit": [{"anything-but": [100, 200, 300]}]}},
     {"time": "2017-10-02T18:43:48Z",
      "detail": {"state": "running", "c-count": 1, "d-count": 2, "x-limit": 5}}, True),
    ("content-filtering: $or, CloudWatch metric or namespace", {
        "source": ["aws.cloudwatch"],
        "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}]},
     {"source": "aws.cloudwatch", "namespace": "AWS/ES"}, True),
    ("content-filtering: $or inside detail", {"detail": {"$or": [
        {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
        {"d-count": [{"numeric": ["<", 10]}]},
        {"x-limit": [{"numeric": [">", 0, "<=", 100]}]}]}},
     detail(**{"c-count": 50, "x-limit": 99}), True),
    # eb-s3 (ev-events): the flagship rule, S3 "Object Created" with a key suffix
    ("ev-events: Object Created in a bucket, key suffix", {
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["incoming"]}, "object": {"key": [{"suffix": ".csv"}]}}},
     {"source": "aws.s3", "detail-type": "Object Created",
      "detail": {"bucket": {"name": "incoming"}, "object": {"key": "in/a.csv", "size": 5}}},
     True),
]


@pytest.mark.parametrize("case, pattern, event, expected", CASES, ids=[c[0] for c in CASES])
def test_documented_examples(case, pattern, event, expected):
    assert compile_pattern(json.dumps(pattern)).matches(event) is expected


def test_numbers_match_by_value_not_by_spelling():
    """eb-create-pattern-operators: "Number (equals)"; 300, 300.0 and 3.0e2 are one number."""
    pattern = compile_pattern('{"x": [300]}')
    assert pattern.matches(json.loads('{"x": 3.0e2}'))
    assert pattern.matches({"x": 300.0})
    assert not pattern.matches({"x": "300"})
    assert not compile_pattern('{"x": ["300"]}').matches({"x": 300})


def test_booleans_match_only_booleans():
    assert compile_pattern('{"x": [true]}').matches({"x": True})
    assert not compile_pattern('{"x": [true]}').matches({"x": 1})
    assert not compile_pattern('{"x": [1]}').matches({"x": True})


def test_array_elements_are_matched_one_object_at_a_time():
    """A nested pattern against an array of objects must hold within one element."""
    pattern = compile_pattern('{"items": {"kind": ["a"], "size": [1]}}')
    assert pattern.matches({"items": [{"kind": "b", "size": 1}, {"kind": "a", "size": 1}]})
    assert not pattern.matches({"items": [{"kind": "a", "size": 2}, {"kind": "b", "size": 1}]})


def test_anything_but_needs_the_field():
    assert not compile_pattern('{"x": [{"anything-but": "a"}]}').matches({})
    assert compile_pattern('{"x": [{"anything-but": "a"}]}').matches({"x": ["a", "b"]})


def test_exists_false_holds_when_a_parent_is_absent():
    assert compile_pattern('{"detail": {"c": [{"exists": false}]}}').matches({"source": "x"})


def test_an_or_key_that_lists_values_is_a_field_named_or():
    assert compile_pattern('{"$or": ["a"]}').matches({"$or": "a"})


@pytest.mark.parametrize("pattern, escaped_text, matches", [
    (r"a\*b", "a*b", True), (r"a\*b", "axb", False), ("a\\\\*", "a\\zz", True),
    ("*", "", True), ("a*", "a", True), ("*a*a*", "aa", True), ("*a*a*", "a", False),
    ("ab*ab", "ab", False), ("ab*ab", "abab", True),
])
def test_wildcard_escapes_and_runs(pattern, escaped_text, matches):
    """content-filtering-with-event-patterns: "Wildcard matching" (\\* and \\\\ escapes)."""
    doc = json.dumps({"x": [{"wildcard": pattern}]})
    assert compile_pattern(doc).matches({"x": escaped_text}) is matches


@pytest.mark.parametrize("pattern, reason", [
    ("[]", "Filter is not an object"),
    ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
    ('{"detail": {"slug": "p"}}', '"slug" must be an object or an array'),
    ('{"source": []}', "Empty arrays are not allowed"),
    ('{"source": ["aws.s3"], "detail": {}}', "Empty objects are not allowed"),
    ('{"x": [{"begins-with": "a"}]}', "Unrecognized match type begins-with"),
    ('{"x": [{"suffix": [":created"]}]}', "suffix match pattern must be a string"),
    ('{"x": [{"prefix": 1}]}', "prefix match pattern must be a string"),
    ('{"x": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
    ('{"x": [{"numeric": [">", "a"]}]}', "Value of > must be numeric"),
    ('{"x": [{"numeric": ["~", 1]}]}', "Unrecognized numeric range operator: ~"),
    ('{"x": [{"numeric": [">", 5, "<", 1]}]}', "Bottom must be less than top"),
    ('{"x": [{"numeric": [">", 6e9]}]}', "Value of > must be between -5.0E9 and 5.0E9 inclusive"),
    ('{"x": [{"cidr": "10.0.0.300/24"}]}', "Nonstandard IP address: 10.0.0.300/24"),
    ('{"x": [{"wildcard": "a**"}]}', "Consecutive wildcard characters at pos 2"),
    ('{"x": [{"wildcard": "a\\\\b"}]}', "Invalid escape character at pos 1"),
    ('{"x": [{"anything-but": true}]}',
     "Value of anything-but must be an array or single string/number value."),
    ('{"x": [{"anything-but": [null]}]}',
     "Inside anything but list, start|null|boolean is not supported."),
    ('{"x": [{"anything-but": {"numeric": [">", 1]}}]}',
     "Unsupported anything-but pattern: numeric"),
    ('{"x": [["a"]]}', "Match value must be String, number, true, false, or null"),
    ('{"x": [{"prefix": "a", "suffix": "b"}]}', "Only one key allowed in match expression"),
])
def test_invalid_patterns_are_refused_with_the_reason(pattern, reason):
    with pytest.raises(InvalidEventPattern) as info:
        compile_pattern(pattern)
    assert info.value.code == "InvalidEventPatternException"
    assert info.value.message == f"Event pattern is not valid. Reason: {reason}"


def test_text_that_is_not_json_is_refused():
    with pytest.raises(InvalidEventPattern) as info:
        compile_pattern('{"source": [aws.ec2]}')
    assert info.value.message.startswith("Event pattern is not valid. Reason: ")


# -- properties ----------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=8))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["a", "b", "c", "$or"]) | st.text(max_size=3), inner,
                      max_size=4), max_leaves=20)
keys = st.sampled_from(["a", "b", "c", "detail"])
operands = st.text(max_size=6)
operators = st.one_of(
    scalars.filter(lambda v: not isinstance(v, float) or abs(v) < 1e300),
    st.builds(lambda s: {"prefix": s}, operands),
    st.builds(lambda s: {"suffix": {"equals-ignore-case": s}}, operands),
    st.builds(lambda s: {"equals-ignore-case": s}, operands),
    st.builds(lambda s: {"wildcard": s.replace("\\", "")}, st.from_regex(r"[a*]{0,4}",
                                                                          fullmatch=True)
              .filter(lambda s: "**" not in s)),
    st.builds(lambda s: {"anything-but": s}, operands | st.integers()),
    st.builds(lambda s: {"anything-but": {"prefix": s}}, operands),
    st.builds(lambda lo: {"numeric": [">=", lo, "<", lo + 1]}, st.integers(-1000, 1000)),
    st.builds(lambda b: {"exists": b}, st.booleans()),
    st.just({"cidr": "10.0.0.0/8"}), st.just({"cidr": "2001:db8::/32"}),
)
valid_patterns = st.recursive(
    st.dictionaries(keys, st.lists(operators, min_size=1, max_size=3), min_size=1, max_size=3),
    lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3)
    | st.builds(lambda branches: {"$or": branches}, st.lists(inner, min_size=1, max_size=3)),
    max_leaves=8)


@settings(max_examples=300)
@given(pattern=valid_patterns, event=json_values)
def test_any_event_against_any_valid_pattern_never_raises(pattern, event):
    result = compile_pattern(json.dumps(pattern)).matches(event)
    assert result in (True, False)


@settings(max_examples=300)
@given(document=json_values | st.text(max_size=20))
def test_any_text_compiles_or_is_refused_as_invalid(document):
    text = document if isinstance(document, str) else json.dumps(document)
    try:
        compile_pattern(text)
    except InvalidEventPattern as exc:
        assert exc.message.startswith("Event pattern is not valid. Reason: ")
