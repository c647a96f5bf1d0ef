"""Whatever a client sends, signature checking ends in acceptance or a SigV4Error that maps to
an AWS error in every protocol — never another exception, which the gateway would turn into a
500."""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from portside.auth import chunked, sigv4
from portside.auth.sigv4 import SigV4Error, aws_error
from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest

PROTOCOLS = ("query", "json", "rest-json", "rest-xml")

pieces = st.sampled_from([
    "", "AKID", "20240101", "us-east-1", "s3", "sts", "aws4_request", "host", "x-amz-date",
    "content-type", "a" * 64, "=", ";", ",", "/", " ", "%", "%2F", "%zz", "ü", "\t", "..",
])
fragments = st.one_of(st.text(max_size=20), st.lists(pieces, max_size=6).map("".join))
amz_dates = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: f"{d:%Y%m%dT%H%M%S}Z"),
    st.sampled_from(["20240101T000000Z", "2024-01-01T00:00:00Z", "Mon, 01 Jan 2024 00:00:00 GMT",
                     "99999999T999999Z", ""]),
    fragments)
payload_hashes = st.one_of(st.none(), st.sampled_from(sorted(sigv4.PAYLOAD_MARKERS)),
                           st.just(sigv4.EMPTY_SHA256), fragments)


def maybe(draw, value: str) -> str:
    """Mostly the well-formed value, sometimes something else: the parts a client gets wrong."""
    return value if draw(st.integers(0, 9)) else draw(fragments)


@st.composite
def requests(draw) -> HttpRequest:
    """A request shaped like a signed one — header or presigned — with random parts broken."""
    when = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
    stamp = maybe(draw, f"{when:%Y%m%dT%H%M%S}Z")
    service = draw(st.sampled_from(["s3", "sts", "ecs"]))
    credential = "/".join([maybe(draw, "AKID"), maybe(draw, stamp[:8]),
                           maybe(draw, "us-east-1"), maybe(draw, service),
                           maybe(draw, "aws4_request")])
    headers = {"host": draw(st.sampled_from(["localhost:4566", "h"]))}
    for name in ("x-amz-security-token", "x-amz-meta-x", "content-type", "date"):
        if draw(st.booleans()):
            headers[name] = draw(amz_dates if name == "date" else fragments)
    content = draw(payload_hashes)
    if content is not None:
        headers["x-amz-content-sha256"] = content
    signed_headers = ";".join(draw(st.lists(
        st.sampled_from([*headers, "x-amz-date", "missing"]), min_size=1, max_size=5)))
    signature = maybe(draw, draw(st.text("0123456789abcdef", min_size=64, max_size=64)))
    query = draw(st.lists(st.tuples(st.sampled_from(["a", "b", "%41", "c d"]), fragments),
                          max_size=3))
    if draw(st.booleans()):
        headers["x-amz-date"] = stamp
        parts = [f"Credential={credential}", f"SignedHeaders={maybe(draw, signed_headers)}",
                 f"Signature={signature}"]
        kept = draw(st.permutations(parts)) if draw(st.integers(0, 9)) else parts[:1]
        scheme = "AWS4-HMAC-SHA256" if draw(st.integers(0, 9)) else "AWS"
        headers["authorization"] = f"{scheme} " + draw(st.sampled_from([", ", ","])).join(kept)
        if not draw(st.integers(0, 9)):
            headers["authorization"] = draw(st.text(max_size=80))
    else:
        query += [("X-Amz-Algorithm", maybe(draw, "AWS4-HMAC-SHA256")),
                  ("X-Amz-Credential", credential.replace("/", "%2F")),
                  ("X-Amz-Date", stamp),
                  ("X-Amz-Expires", maybe(draw, str(draw(st.integers(-5, 700000))))),
                  ("X-Amz-SignedHeaders", signed_headers.replace(";", "%3B")),
                  ("X-Amz-Signature", signature)]
        query = [pair for pair in query if draw(st.integers(0, 19))]  # now and then one missing
    if not draw(st.integers(0, 19)):
        query = [(draw(st.text(max_size=20)), draw(st.text(max_size=20)))]
    return HttpRequest(
        method=draw(st.sampled_from(["GET", "PUT", "POST"])),
        path=draw(st.one_of(st.just("/"), fragments.map(lambda p: "/" + p))),
        query_string="&".join(f"{n}={v}" for n, v in query),
        headers=headers,
        body=draw(st.binary(max_size=64)),
    )


def maps_everywhere(err: SigV4Error) -> None:
    for protocol in PROTOCOLS:
        error = aws_error(err, protocol)
        assert error.code and 400 <= error.status < 500


@settings(max_examples=1500, deadline=None)
@given(request=requests(),
       now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC)),
       service=st.sampled_from([None, "s3", "sts", "ecs"]),
       region=st.sampled_from([None, "us-east-1"]))
def test_any_request_is_accepted_or_refused_with_an_aws_error(request, now, service, region):
    try:
        signed = sigv4.parse_signature(request)
        if signed is not None:
            sigv4.verify(request, signed, "secret", now, expected_service=service,
                         expected_region=region)
    except SigV4Error as err:
        maps_everywhere(err)


@settings(max_examples=300, deadline=None)
@given(request=requests(), secret=st.text(max_size=40))
def test_a_correctly_signed_fuzzed_request_verifies(request, secret):
    """Sign whatever parsed with the secret it claims, the way a client would: it verifies."""
    try:
        signed = sigv4.parse_signature(request)
    except SigV4Error:
        return
    if signed is None:
        return
    s3 = signed.credential.service == "s3"
    canonical = sigv4.canonical_request(request, signed, s3=s3)
    key = sigv4.signing_key(secret, signed.credential.date, signed.credential.region,
                            signed.credential.service)
    signature = hmac.new(key, sigv4.string_to_sign(signed, canonical).encode(),
                         "sha256").hexdigest()
    forged = sigv4.SignedRequest(**{**signed.__dict__, "signature": signature})
    try:
        sigv4.verify(request, forged, secret, signed.amz_date, expected_service=None)
    except SigV4Error as err:
        assert err.kind not in (sigv4.Kind.BAD_SIGNATURE, sigv4.Kind.SKEWED)


chunk_pieces = st.sampled_from([
    b"0\r\n", b"\r\n", b"3\r\nabc\r\n", b"10;chunk-signature=" + b"0" * 64 + b"\r\n", b"x:y\r\n",
    b"x-amz-trailer-signature:00\r\n", b"ffffffffffffffff\r\n", b"\n", b"\r", b";", b"zz\r\n",
])


@settings(max_examples=800, deadline=None)
@given(body=st.one_of(st.binary(max_size=200), st.lists(chunk_pieces, max_size=10).map(b"".join)),
       mode=st.sampled_from([sigv4.STREAMING_UNSIGNED_TRAILER, sigv4.STREAMING_SIGNED,
                             sigv4.STREAMING_SIGNED_TRAILER]),
       declared=st.sampled_from(["0", "3", "16", "", "x", "99999999999999999999"]),
       cut=st.integers(1, 50))
def test_any_chunked_body_decodes_or_fails_with_an_aws_error(body, mode, declared, cut):
    headers = {"x-amz-content-sha256": mode, "x-amz-decoded-content-length": declared,
               "x-amz-date": "20240101T000000Z", "host": "h", "authorization":
               "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, "
               f"SignedHeaders=host, Signature={'0' * 64}"}
    request = HttpRequest("PUT", "/b/k", "", headers, b"")

    async def pieces():
        for at in range(0, len(body), cut):
            yield body[at:at + cut]

    request.stream = pieces()
    signed = sigv4.parse_signature(request)

    async def read() -> None:
        async for _ in chunked.open_payload(request, signed, "secret"):
            pass

    try:
        asyncio.run(read())
    except SigV4Error as err:
        maps_everywhere(err)
    except AwsError as err:
        assert 400 <= err.status < 500
