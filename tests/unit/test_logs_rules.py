"""CloudWatch Logs rules as pure functions: the filter-pattern parser and matcher, and
GetLogEvents' `f/…`/`b/…` tokens; hypothesis tests beside the documentation's examples.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.services.logs.filters import (
    Comparison,
    FilterPatternError,
    Junction,
    Terms,
    matches,
    parse,
)
from portside.services.logs.names import (
    Position,
    decode_token,
    encode_token,
    group_arn,
    parse_group_arn,
)

words = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1,
                max_size=8)
messages = st.text(max_size=40)


@pytest.mark.parametrize("pattern, parsed", [
    ("", Terms()),
    ("ERROR", Terms(all_of=("ERROR",))),
    ('ERROR "disk full"', Terms(all_of=("ERROR", "disk full"))),
    ("?ERROR ?WARN", Terms(any_of=("ERROR", "WARN"))),
    ("ERROR -debug", Terms(all_of=("ERROR",), none_of=("debug",))),
    ('"say \\"hi\\""', Terms(all_of=('say "hi"',))),
    ("{ $.a = 1 }", Comparison(("a",), "=", 1.0)),
    ('{ $.a.b[2] != "x y" }', Comparison(("a", "b", 2), "!=", "x y")),
    ("{ $.a > 1 && $.b < 2 || $.c = z }",
     Junction("||", Junction("&&", Comparison(("a",), ">", 1.0), Comparison(("b",), "<", 2.0)),
              Comparison(("c",), "=", "z"))),
    ("{ $.a = 1 && ($.b = 2 || $.c = 3) }",
     Junction("&&", Comparison(("a",), "=", 1.0),
              Junction("||", Comparison(("b",), "=", 2.0), Comparison(("c",), "=", 3.0)))),
    ("{ $.x IS NULL }", Comparison(("x",), "IS", None)),
    ("{ $.x NOT EXISTS }", Comparison(("x",), "NOT_EXISTS", None)),
])
def test_patterns_parse_as_the_documentation_describes(pattern, parsed):
    assert parse(pattern) == parsed


@pytest.mark.parametrize("pattern", [
    '"open', "{ $.a = 1", "{ $.a }", "{ $.a > b }", "{ a = 1 }", "[a, b]", "%regex%",
    "{ $.a = 1 } extra", "{ $.a = 1 && }", "{ $.x IS MAYBE }",
])
def test_malformed_patterns_are_refused(pattern):
    with pytest.raises(FilterPatternError):
        parse(pattern)


@pytest.mark.parametrize("pattern, message, expected", [
    ("ERROR", "an ERROR here", True),
    ("ERROR", "an error here", False),  # terms are case-sensitive
    ("{ $.user = al* }", '{"user": "alice"}', True),
    ("{ $.user = al* }", '{"user": "bob"}', False),
    ("{ $.user = \"a?c\" }", '{"user": "abc"}', False),  # `*` is the only wildcard
    ("{ $.code = 200 }", '{"code": "200"}', False),  # numbers compare with numbers
    ("{ $.code != 200 }", "{}", False),  # a missing field matches no comparison
    ("{ $.ok IS FALSE }", '{"ok": false}', True),
    ("{ $.a[1] = 2 }", '{"a": [1, 2]}', True),
    ("{ $.a = 1 }", "not json", False),
    ("{ $.a = 1 }", "[1]", False),
])
def test_matching_follows_the_documentation(pattern, message, expected):
    assert matches(parse(pattern), message) is expected


@given(st.lists(words, max_size=4), st.lists(words, max_size=3), st.lists(words, max_size=3),
       messages)
def test_term_patterns_match_exactly_as_their_definition(all_of, any_of, none_of, message):
    text = " ".join([*all_of, *(f"?{w}" for w in any_of), *(f"-{w}" for w in none_of)])
    expected = (all(w in message for w in all_of)
                and (not any_of or any(w in message for w in any_of))
                and not any(w in message for w in none_of))
    assert matches(parse(text), message) is expected


@given(st.text(max_size=30))
def test_a_quoted_phrase_matches_messages_that_contain_it(phrase):
    escaped = phrase.replace("\\", "\\\\").replace('"', '\\"')
    assert parse(f'"{escaped}"') == (Terms(all_of=(phrase,)) if phrase else Terms())
    assert matches(parse(f'"{escaped}"'), f"<{phrase}>")


@given(st.text(max_size=60))
def test_any_pattern_text_parses_or_is_refused_with_a_pattern_error(text):
    try:
        pattern = parse(text)
    except FilterPatternError:
        return
    matches(pattern, "message")  # whatever parsed can be matched


@given(st.integers(-1000, 1000), st.integers(-1000, 1000),
       st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
def test_numeric_comparisons_agree_with_python(field, value, op):
    expected = {"=": field == value, "!=": field != value, "<": field < value,
                "<=": field <= value, ">": field > value, ">=": field >= value}[op]
    assert matches(parse(f"{{ $.n {op} {value} }}"), json.dumps({"n": field})) is expected


positions = st.builds(Position, st.integers(0, 10**19), st.integers(0, 10**19))


@given(st.sampled_from("fb"), positions)
def test_tokens_round_trip(direction, position):
    token = encode_token(direction, position)
    assert token.startswith(f"{direction}/")
    assert decode_token(token) == (direction, position)


@given(st.text(max_size=50))
def test_a_string_that_is_not_a_token_decodes_to_none(text):
    decoded = decode_token(text)
    assert decoded is None or encode_token(*decoded) == text


@given(st.from_regex(r"[\.\-_/#A-Za-z0-9]{1,64}", fullmatch=True), st.booleans())
def test_group_arns_round_trip_with_or_without_the_trailing_star(name, star):
    arn = group_arn("us-east-1", "000000000000", name) + (":*" if star else "")
    assert parse_group_arn(arn) == ("us-east-1", "000000000000", name)
