"""What S3 parses itself: Range headers, copy sources, entity-tag lists and conditional dates,
listing tokens, bucket names and tagging headers — table cases from the S3 documentation, and
properties over any input (never a crash, only S3's errors)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.protocol.errors import AwsError
from portside.services.s3 import checksums, listing
from portside.services.s3.conditions import Conditions, Verdict, etag_list, evaluate
from portside.services.s3.copysource import parse_copy_source
from portside.services.s3.names import bucket_name_problem
from portside.services.s3.ranges import (
    ByteRange,
    Unsatisfiable,
    parse_copy_source_range,
    parse_range,
)
from portside.services.s3.tagging import parse_tagging_header

# -- Range -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header, size, expected", [
    ("bytes=0-9", 100, ByteRange(0, 10)),
    ("bytes=10-", 100, ByteRange(10, 100)),
    ("bytes=-10", 100, ByteRange(90, 100)),
    ("bytes=-500", 100, ByteRange(0, 100)),  # a suffix longer than the object: all of it
    ("bytes=90-500", 100, ByteRange(90, 100)),  # the last position is clipped to the end
    ("bytes=5-4", 100, None),  # last < first: invalid, so ignored
    ("bytes=0-1,5-6", 100, None),  # several ranges: S3 serves one, so the whole object
    ("items=0-1", 100, None),
    ("bytes=-", 100, None),
    ("", 100, None),
])
def test_range_header(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header, size", [("bytes=100-", 100), ("bytes=100-200", 100),
                                          ("bytes=-0", 100), ("bytes=0-", 0)])
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


@given(st.text(max_size=40), st.integers(0, 10**12))
def test_any_range_header_selects_bytes_inside_the_object_or_nothing(header, size):
    try:
        selected = parse_range(header, size)
    except Unsatisfiable:
        return
    if selected is not None:
        assert 0 <= selected.start < selected.end <= size


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(1, 10**9))
def test_well_formed_ranges_round_trip_through_content_range(first, length, size):
    header = f"bytes={first}-{first + length}"
    try:
        selected = parse_range(header, size)
    except Unsatisfiable:
        assert first >= size
        return
    assert selected is not None
    assert selected.content_range(size) == \
        f"bytes {first}-{min(first + length, size - 1)}/{size}"


def test_copy_source_range_is_strict():
    assert parse_copy_source_range("bytes=0-9", 10) == ByteRange(0, 10)
    for header in ("bytes=0-10", "bytes=5-", "bytes=-5", "bytes=3-2"):
        with pytest.raises(AwsError) as info:
            parse_copy_source_range(header, 10)
        assert info.value.code == "InvalidArgument"


# -- copy source -------------------------------------------------------------------------------


@pytest.mark.parametrize("header, bucket, key, version", [
    ("b/k", "b", "k", None),
    ("/b/dir/k", "b", "dir/k", None),
    ("b/a%20b%2Bc", "b", "a b+c", None),
    ("b/k?versionId=abc", "b", "k", "abc"),
    ("b/%E2%9C%93", "b", "\u2713", None),
])
def test_copy_source(header, bucket, key, version):
    source = parse_copy_source(header)
    assert (source.bucket, source.key, source.version_id) == (bucket, key, version)


@pytest.mark.parametrize("header", ["b", "b/", "/b", "", "b/k?versionId=", "b/%FF"])
def test_malformed_copy_source(header):
    with pytest.raises(AwsError) as info:
        parse_copy_source(header)
    assert info.value.code == "InvalidArgument"


@given(st.text(min_size=1).filter(lambda s: "/" not in s),
       st.text(min_size=1), st.none() | st.text(st.characters(codec="ascii"), min_size=1))
def test_copy_source_round_trips_what_botocore_sends(bucket, key, version):
    header = f"{quote(bucket, safe='')}/{quote(key, safe='/~')}"
    if version is not None:
        header += "?" + urlencode({"versionId": version})
    source = parse_copy_source(header)
    assert (source.bucket, source.key, source.version_id) == (bucket, key, version)


@given(st.text())
def test_any_copy_source_parses_or_is_invalid_argument(header):
    try:
        parse_copy_source(header)
    except AwsError as exc:
        assert exc.code == "InvalidArgument"


# -- conditions --------------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ETAG = '"abc"'


@pytest.mark.parametrize("conditions, verdict", [
    (Conditions(if_match='"abc"'), Verdict.OK),
    (Conditions(if_match='"other", "abc"'), Verdict.OK),
    (Conditions(if_match="*"), Verdict.OK),
    (Conditions(if_match='"zzz"'), Verdict.FAILED),
    (Conditions(if_none_match='"abc"'), Verdict.NOT_MODIFIED),
    (Conditions(if_none_match='W/"abc"'), Verdict.NOT_MODIFIED),
    (Conditions(if_none_match='"zzz"'), Verdict.OK),
    (Conditions(if_modified_since=T0), Verdict.NOT_MODIFIED),
    (Conditions(if_modified_since=T0 - timedelta(seconds=1)), Verdict.OK),
    (Conditions(if_unmodified_since=T0), Verdict.OK),
    (Conditions(if_unmodified_since=T0 - timedelta(seconds=1)), Verdict.FAILED),
    # "If-Match true and If-Unmodified-Since false: 200 OK" (GetObject API reference)
    (Conditions(if_match='"abc"', if_unmodified_since=T0 - timedelta(days=1)), Verdict.OK),
    # "If-None-Match false and If-Modified-Since true: 304 Not Modified"
    (Conditions(if_none_match='"abc"', if_modified_since=T0 - timedelta(days=1)),
     Verdict.NOT_MODIFIED),
    (Conditions(if_none_match='"zzz"', if_modified_since=T0), Verdict.OK),
    (Conditions(if_match='"zzz"', if_none_match='"abc"'), Verdict.FAILED),
])
def test_conditional_request_precedence(conditions, verdict):
    assert evaluate(conditions, ETAG, T0 + timedelta(microseconds=500))[0] == verdict


@given(st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                      exclude_characters='",*'), min_size=1), max_size=5))
def test_etag_lists_read_back_quoted_or_not(tags):
    assert etag_list(", ".join(f'"{t}"' for t in tags)) == tags
    assert etag_list(",".join(tags)) == [t.strip() for t in tags if t.strip()]


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)),
       st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)))
def test_date_conditions_compare_whole_seconds(modified, since):
    """Last-Modified goes out with second precision; the client sends that value back."""
    sent = since.replace(microsecond=0)
    verdict, _ = evaluate(Conditions(if_modified_since=sent), ETAG, modified)
    assert (verdict == Verdict.OK) == (int(modified.timestamp()) > int(sent.timestamp()))
    verdict, _ = evaluate(Conditions(if_unmodified_since=sent), ETAG, modified)
    assert (verdict == Verdict.OK) == (int(modified.timestamp()) <= int(sent.timestamp()))


# -- listing tokens ----------------------------------------------------------------------------

@given(st.text(), st.booleans(), st.none() | st.integers(0, 2**62) | st.text(max_size=64))
def test_continuation_tokens_round_trip(key, inclusive, tiebreak):
    cursor = listing.Cursor(key, inclusive, tiebreak)
    assert listing.parse_token(cursor.token()) == cursor


@given(st.text(max_size=80))
def test_foreign_tokens_are_invalid_argument(token):
    try:
        listing.parse_token(token)
    except AwsError as exc:
        assert exc.code == "InvalidArgument"


@given(st.text(min_size=1), st.text())
def test_successor_bounds_exactly_the_keys_with_the_prefix(prefix, rest):
    upper = listing.successor(prefix)
    assert upper is None or (prefix < upper and prefix + rest < upper)
    assert upper is None or not upper.startswith(prefix)


def test_successor_skips_surrogates_and_carries():
    assert listing.successor("a/") == "a0"
    assert listing.successor("a\ud7ff") == "a\ue000"
    assert listing.successor("a\U0010ffff") == "b"
    assert listing.successor("\U0010ffff") is None


@given(st.lists(st.text(st.sampled_from("ab/c."), max_size=6), max_size=30, unique=True),
       st.text(st.sampled_from("ab/"), max_size=2), st.sampled_from([None, "/", "b", "a/"]),
       st.integers(1, 5))
def test_walking_pages_lists_every_key_once_like_a_full_scan(keys, prefix, delimiter, size):
    """The listing algorithm against a sorted list: pages joined give what one scan gives."""
    class Row:
        def __init__(self, key: str) -> None:
            self.key = key

    rows = sorted((Row(k) for k in keys), key=lambda r: r.key)

    def fetch(cursor, limit):
        found = [r for r in rows if r.key.startswith(prefix) and (
            cursor is None or (r.key >= cursor.key if cursor.inclusive else r.key > cursor.key))]
        return found[:limit]

    expected_keys, expected_prefixes = [], []
    for row in rows:
        if not row.key.startswith(prefix):
            continue
        cp = listing.common_prefix(row.key, prefix, delimiter)
        if cp is None:
            expected_keys.append(row.key)
        elif cp not in expected_prefixes:
            expected_prefixes.append(cp)
    got_keys, got_prefixes, cursor = [], [], None
    for _ in range(100):
        page = listing.walk(fetch, prefix, delimiter, cursor, size,
                            lambda r: listing.Cursor(r.key))
        assert len(page.entries) + len(page.prefixes) <= size
        got_keys += [r.key for r in page.entries]
        got_prefixes += page.prefixes
        if not page.truncated:
            break
        cursor = listing.parse_token(page.next_cursor.token())
    assert got_keys == expected_keys
    assert got_prefixes == expected_prefixes


# -- bucket names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["abc", "my-bucket.data", "a" * 63, "1bucket", "b-1.2"])
def test_valid_bucket_names(name):
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize("name", ["ab", "a" * 64, "My-Bucket", "-bucket", "bucket-",
                                  "my..bucket", "192.168.5.4", "xn--bucket", "sthree-x",
                                  "bucket-s3alias", "bucket--ol-s3", "under_score", "b.mrap",
                                  "amzn-s3-demo-bucket", "bucket--x-s3", ".bucket"])
def test_invalid_bucket_names(name):
    assert bucket_name_problem(name) is not None


@given(st.text(max_size=70))
def test_a_valid_bucket_name_is_lowercase_and_dns_safe(name):
    if bucket_name_problem(name) is None:
        assert 3 <= len(name) <= 63 and name == name.lower()
        assert all(c.isascii() and (c.isalnum() or c in ".-") for c in name)
        assert name[0].isalnum() and name[-1].isalnum() and ".." not in name


# -- tagging header ----------------------------------------------------------------------------

def test_tagging_header():
    assert parse_tagging_header("a=1&b%20c=d%2Be&empty=") == {"a": "1", "b c": "d+e", "empty": ""}
    assert parse_tagging_header("") == {}


@pytest.mark.parametrize("header, code", [
    ("a=1&a=2", "InvalidTag"),
    ("&".join(f"k{i}=v" for i in range(11)), "BadRequest"),
    ("aws:x=1", "InvalidTag"),
    (f"{'k' * 129}=v", "InvalidTag"),
    (f"k={'v' * 257}", "InvalidTag"),
    ("k=%FF", "InvalidArgument"),
    ("=v", "InvalidTag"),
])
def test_invalid_tagging_headers(header, code):
    with pytest.raises(AwsError) as info:
        parse_tagging_header(header)
    assert info.value.code == code


@given(st.dictionaries(st.text(st.characters(categories=("L", "N")), min_size=1, max_size=20),
                       st.text(st.characters(categories=("L", "N", "Zs")), max_size=30),
                       max_size=10))
def test_tagging_header_round_trips(tags):
    assert parse_tagging_header(urlencode(tags)) == tags


@given(st.text(max_size=200))
def test_any_tagging_header_parses_or_gets_an_s3_error(header):
    try:
        parse_tagging_header(header)
    except AwsError as exc:
        assert exc.code in ("InvalidTag", "BadRequest", "InvalidArgument")


# -- checksums ---------------------------------------------------------------------------------

def test_full_object_crc_of_parts_equals_the_crc_of_the_whole():
    data = bytes(range(256)) * 1000
    pieces = [data[:100_000], data[100_000:200_001], data[200_001:]]
    for name in ("CRC32", "CRC32C", "CRC64NVME"):
        algorithm = checksums.ALGORITHMS[name]
        whole = algorithm.new()
        whole.update(data)
        parts = []
        for piece in pieces:
            digest = algorithm.new()
            digest.update(piece)
            parts.append((digest.value(), len(piece)))
        assert checksums.full_object(algorithm, parts) == whole.value()


def test_composite_checksum_is_the_checksum_of_part_checksums_with_the_count():
    algorithm = checksums.ALGORITHMS["SHA256"]
    values = [base64.b64encode(bytes([i]) * 32).decode() for i in range(3)]
    digest = algorithm.new()
    digest.update(b"".join(base64.b64decode(v) for v in values))
    assert checksums.composite(algorithm, values) == f"{digest.value()}-3"


def test_known_crc_values():
    """Check values from the AWS SDKs' checksum tests for b"Hello world"."""
    for name, expected in (("CRC32", "i9aeUg=="), ("CRC32C", "crUfeA==")):
        digest = checksums.ALGORITHMS[name].new()
        digest.update(b"Hello world")
        assert digest.value() == expected
