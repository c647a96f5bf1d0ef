"""Queue names, URLs and ARNs: what CreateQueue accepts and what a QueueUrl may look like."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portside.services.sqs.names import (
    QueueRef,
    is_valid_name,
    parse_queue_arn,
    parse_queue_url,
    queue_arn,
    queue_url,
)

accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)
standard_names = st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True)
fifo_names = st.from_regex(r"[A-Za-z0-9_-]{1,75}", fullmatch=True).map(lambda n: n + ".fifo")
names = standard_names | fifo_names
hosts = st.sampled_from(["localhost:4566", "127.0.0.1:4566", "sqs.us-east-1.amazonaws.com",
                         "us-east-1.queue.amazonaws.com", "queue.amazonaws.com", "portside",
                         "[::1]:4566"])
regions = st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1"])


@pytest.mark.parametrize("name, valid", [
    ("a", True), ("A-b_9", True), ("x" * 80, True), ("x" * 75 + ".fifo", True),
    ("", False), ("x" * 81, False), ("x" * 76 + ".fifo", False), ("a b", False),
    ("a.b", False), (".fifo", False), ("a.fifo.fifo", False), ("é", False), ("a/b", False),
])
def test_queue_names(name, valid):
    """1 to 80 alphanumerics, hyphens and underscores; .fifo counts towards the 80."""
    assert is_valid_name(name) is valid


@given(host=hosts, account=accounts, name=names, scheme=st.sampled_from(["http", "https"]))
def test_a_url_from_any_host_names_its_account_and_queue(host, account, name, scheme):
    url = queue_url(host, account, name).replace("http://", f"{scheme}://", 1)
    assert parse_queue_url(url) == QueueRef(account, name)


@given(account=accounts, name=names)
def test_a_path_alone_names_the_queue(account, name):
    """Older SDKs post query requests to the queue's path; the parser passes the path on."""
    assert parse_queue_url(f"/{account}/{name}") == QueueRef(account, name)


@pytest.mark.parametrize("url", [
    "", "queue", "http://host/", "http://host/000000000000", "http://host/12345/q",
    "http://host/000000000000/q/extra", "http://host/000000000000/bad name",
    "http://host/abcdefghijkl/q", "http://host/000000000000//q",
])
def test_urls_that_name_no_queue(url):
    assert parse_queue_url(url) is None


@given(st.text())
def test_any_text_parses_to_a_valid_queue_or_none(text):
    ref = parse_queue_url(text)
    assert ref is None or (is_valid_name(ref.name) and len(ref.account_id) == 12)


@given(region=regions, account=accounts, name=names)
def test_arns_round_trip(region, account, name):
    arn = queue_arn(region, account, name)
    assert arn == f"arn:aws:sqs:{region}:{account}:{name}"
    assert parse_queue_arn(arn) == (region, QueueRef(account, name))


@given(st.text())
def test_any_text_parses_to_an_arn_or_none(text):
    found = parse_queue_arn(text)
    assert found is None or is_valid_name(found[1].name)


@pytest.mark.parametrize("arn", [
    "arn:aws:sns:us-east-1:000000000000:q", "arn:aws:sqs:us-east-1:000000000000",
    "arn:aws:sqs:us-east-1:0000:q", "arn:aws:sqs:us-east-1:000000000000:bad name",
])
def test_strings_that_are_no_queue_arn(arn):
    assert parse_queue_arn(arn) is None
