"""The registry's grammar: repository names, tags, digests, references, registry paths,
Content-Range and pagination, including hypothesis tests that nothing crashes and that what is
produced parses back."""

import time

from hypothesis import given
from hypothesis import strategies as st

from portside.services.ecr import names, tokens

COMPONENT = st.from_regex(r"[a-z0-9]{1,5}([._-][a-z0-9]{1,5}){0,2}", fullmatch=True)
NAME = st.lists(COMPONENT, min_size=1, max_size=4).map("/".join).filter(
    lambda n: 2 <= len(n) <= 256)
DIGEST = st.from_regex(r"sha256:[a-f0-9]{64}", fullmatch=True)
TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,40}", fullmatch=True)


def test_repository_names_follow_ecr_rules():
    assert names.valid_repository_name("team/app")
    assert names.valid_repository_name("a.b_c-d/e")
    for bad in ("a", "Team/app", "team//app", "/app", "app/", "a..b", "a-", "-a", "a" * 257):
        assert not names.valid_repository_name(bad), bad


def test_a_long_almost_valid_name_is_refused_quickly():
    start = time.perf_counter()
    assert not names.valid_repository_name("a-" * 120 + "!")
    assert time.perf_counter() - start < 0.01


@given(NAME)
def test_generated_names_are_valid(name):
    assert names.valid_repository_name(name)


@given(st.text(max_size=300))
def test_any_text_is_a_name_or_not_without_error(text):
    names.valid_repository_name(text)
    names.parse_reference(text)
    names.parse_content_range(text)
    names.parse_registry_path("/v2/" + text)


@given(NAME, DIGEST)
def test_paths_split_into_name_kind_and_digest(name, digest):
    for kind, marker in (("manifests", "manifests"), ("blobs", "blobs"),
                         ("referrers", "referrers")):
        assert names.parse_registry_path(f"/v2/{name}/{marker}/{digest}") == \
            names.RegistryPath(name, kind, digest)
    assert names.parse_registry_path(f"/v2/{name}/blobs/uploads/") == \
        names.RegistryPath(name, "uploads", "")
    assert names.parse_registry_path(f"/v2/{name}/tags/list") == \
        names.RegistryPath(name, "tags", "list")


@given(TAG, DIGEST)
def test_references_are_tags_or_digests(tag, digest):
    assert names.parse_reference(tag) == names.Reference(tag=tag)
    assert names.parse_reference(digest) == names.Reference(digest=digest)
    assert names.parse_reference(digest[:-1]) is None


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_content_range_parses_inclusive_ranges(a, b):
    start, end = min(a, b), max(a, b)
    assert names.parse_content_range(f"{start}-{end}") == (start, end)
    if a != b:
        assert names.parse_content_range(f"{end}-{start}") is None


@given(st.lists(TAG, unique=True), st.integers(1, 10))
def test_following_next_links_walks_every_item_once(items, n):
    seen, last = [], None
    while True:
        chosen, more = names.page(items, n, last)
        seen += chosen
        if not more:
            break
        link = names.next_link("/v2/x/tags/list", n, chosen[-1])
        assert link.endswith('>; rel="next"')
        last = chosen[-1]
    assert seen == sorted(items)


def test_tokens_carry_the_key_and_expire():
    key = b"k" * 32
    token = tokens.issue(key, "AKIA1", time.time() + 60)
    assert tokens.verify(key, token, time.time()) == tokens.TokenClaims(
        "AKIA1", int(time.time() + 60))
    assert tokens.verify(key, token, time.time() + 61) is None
    assert tokens.verify(b"x" * 32, token, time.time()) is None
    tampered = token[:-1] + ("B" if token.endswith("A") else "A")  # a signature of its own
    assert tokens.verify(key, tampered, time.time()) is None


@given(st.text(max_size=100))
def test_any_basic_header_is_a_password_or_none(text):
    tokens.basic_password(text)
    tokens.verify(b"k", text, 0)
