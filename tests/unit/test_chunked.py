"""aws-chunked bodies, decoded as they stream in, however the pieces are split.

The signed vectors are AWS's own worked examples ("Signature Calculations for the Authorization
Header: Transferring Payload in Multiple Chunks" and its trailing-header companion,
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html): 66,560 bytes of
'a' in a 64 KiB and a 1 KiB chunk, with the signatures the documentation prints. The unsigned
variant is what botocore itself sends for an S3 upload over https.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import random
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.config import Config

from portside.auth import chunked, sigv4
from portside.auth.sigv4 import Kind, SigV4Error, aws_error
from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest

DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_TIME = datetime(2013, 5, 24, tzinfo=UTC)
DOC_DATA = b"a" * 66560
DOC_SIGNED = {
    "seed": "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    "chunks": ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
               "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
               "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"],
}
DOC_TRAILER = {
    "seed": "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    "chunks": ["b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
               "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
               "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"],
    "trailer": "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:"
               "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n",
}


def doc_request(trailer: bool = False, body: bytes | None = None) -> HttpRequest:
    vector = DOC_TRAILER if trailer else DOC_SIGNED
    if body is None:
        signatures = vector["chunks"]
        body = (f"10000;chunk-signature={signatures[0]}\r\n".encode() + b"a" * 65536
                + f"\r\n400;chunk-signature={signatures[1]}\r\n".encode() + b"a" * 1024
                + f"\r\n0;chunk-signature={signatures[2]}\r\n".encode()
                + vector.get("trailer", "").encode() + b"\r\n")
    headers = {
        "content-encoding": "aws-chunked",
        "host": "s3.amazonaws.com",
        "x-amz-content-sha256": sigv4.STREAMING_SIGNED_TRAILER if trailer
        else sigv4.STREAMING_SIGNED,
        "x-amz-date": "20130524T000000Z",
        "x-amz-decoded-content-length": "66560",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
    }
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32c"
    else:
        headers["content-length"] = "66824"
    headers["authorization"] = (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        f"SignedHeaders={';'.join(sorted(n for n in headers if n != 'authorization'))},"
        f"Signature={vector['seed']}")
    return HttpRequest("PUT", "/examplebucket/chunkObject.txt", "", headers, body)


async def split(body: bytes, rng: random.Random) -> AsyncIterator[bytes]:
    """The body in pieces of random size, empty ones included, as a server may deliver it."""
    at = 0
    while at < len(body):
        size = rng.choice([0, 1, 2, 3, rng.randint(1, 100), rng.randint(1, 70000)])
        yield body[at:at + size]
        at += size


def decode(request: HttpRequest, secret: str | None = DOC_SECRET, *, seed: int = 0,
           now: datetime = DOC_TIME) -> tuple[bytes, dict[str, str]]:
    """Verify the request's own signature, then read its body through `open_payload`."""
    signed = sigv4.parse_signature(request)
    if signed is not None:
        sigv4.verify(request, signed, secret or "", now, expected_service="s3")
    return read_body(request, signed, secret, seed=seed)


def read_body(request: HttpRequest, signed: sigv4.SignedRequest | None, secret: str | None, *,
              seed: int = 0) -> tuple[bytes, dict[str, str]]:
    request.stream = split(request.body, random.Random(seed))
    payload = chunked.open_payload(request, signed, secret)

    async def read() -> bytes:
        return b"".join([piece async for piece in payload])

    return asyncio.run(read()), payload.trailers


def sign_chunk(previous: str, data: bytes) -> str:
    """A chunk signature as the AWS documentation defines it, for the doc example's scope."""
    key = sigv4.signing_key(DOC_SECRET, "20130524", "us-east-1", "s3")
    to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", "20130524T000000Z",
                         "20130524/us-east-1/s3/aws4_request", previous, sigv4.EMPTY_SHA256,
                         hashlib.sha256(data).hexdigest()])
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def chunk_stream(chunks: list[bytes], seed: str = DOC_SIGNED["seed"]) -> list[bytes]:
    """Each chunk framed with its chained signature, the empty final chunk included."""
    framed, previous = [], seed
    for data in [*chunks, b""]:
        previous = sign_chunk(previous, data)
        framed.append(f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n")
    return framed


@pytest.mark.parametrize("seed", range(8))
def test_aws_documented_signed_chunks_decode_in_any_split(seed):
    request = doc_request()
    assert len(request.body) == 66824  # the Content-Length the documentation gives
    assert decode(request, seed=seed) == (DOC_DATA, {})


@pytest.mark.parametrize("seed", range(4))
def test_aws_documented_signed_trailer_is_verified_and_exposed(seed):
    data, trailers = decode(doc_request(trailer=True), seed=seed)
    assert data == DOC_DATA
    assert trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


@pytest.mark.parametrize("position", [70, 30000, 65600, 66500])
def test_a_tampered_chunk_is_refused(position):
    request = doc_request()
    body = bytearray(request.body)
    body[position + 90] ^= 1  # past the first chunk header, into the data
    request.body = bytes(body)
    with pytest.raises(SigV4Error) as raised:
        decode(request)
    assert raised.value.kind is Kind.BAD_SIGNATURE
    s3 = aws_error(raised.value, "rest-xml")
    assert (s3.code, s3.status) == ("SignatureDoesNotMatch", 403)


def test_a_chunk_signed_with_another_secret_is_refused():
    request = doc_request()
    request.body = request.body.replace(DOC_SIGNED["chunks"][1].encode(), b"0" * 64)
    with pytest.raises(SigV4Error) as raised:
        decode(request)
    assert raised.value.kind is Kind.BAD_SIGNATURE


def test_the_documented_chunk_signatures_are_what_the_documentation_says():
    framed = chunk_stream([b"a" * 65536, b"a" * 1024])
    assert b"".join(framed) == doc_request().body


def test_reordered_chunks_are_refused():
    # Each signature is valid only in its place in the chain.
    request = doc_request()
    signed = sigv4.parse_signature(request)
    x, y, final = chunk_stream([b"x" * 1024, b"y" * 1024])
    request.headers["x-amz-decoded-content-length"] = "2048"
    request.body = x + y + final
    assert read_body(request, signed, DOC_SECRET)[0] == b"x" * 1024 + b"y" * 1024
    request.body = y + x + final
    with pytest.raises(SigV4Error):
        read_body(request, signed, DOC_SECRET)


def test_a_tampered_trailer_is_refused():
    request = doc_request(trailer=True)
    request.body = request.body.replace(b"sOO8/Q==", b"AAAAAA==")
    with pytest.raises(SigV4Error) as raised:
        decode(request)
    assert raised.value.kind is Kind.BAD_SIGNATURE


def test_trailers_outside_a_signature_are_refused():
    request = doc_request(trailer=True)
    request.body = request.body[:-2] + b"x-amz-meta-evil:1\r\n\r\n"  # after the signature
    with pytest.raises(AwsError):
        decode(request)
    request = doc_request()  # signed chunks without a trailer sign no trailing header
    request.body = request.body[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    with pytest.raises(AwsError):
        decode(request)


def test_a_truncated_body_is_incomplete():
    request = doc_request()
    request.body = request.body[:-200]
    with pytest.raises(AwsError) as raised:
        decode(request)
    assert (raised.value.code, raised.value.status) == ("IncompleteBody", 400)


@pytest.mark.parametrize("declared", ["66559", "66561"])
def test_the_decoded_length_must_match(declared):
    request = doc_request()
    signed = sigv4.parse_signature(request)
    request.headers["x-amz-decoded-content-length"] = declared
    with pytest.raises(AwsError) as raised:
        read_body(request, signed, DOC_SECRET)
    assert (raised.value.code, raised.value.status) == ("IncompleteBody", 400)
    assert raised.value.fields["NumberBytesExpected"] == int(declared)


def test_signed_chunks_need_a_signed_request():
    request = doc_request()
    del request.headers["authorization"]
    with pytest.raises(SigV4Error) as raised:
        read_body(request, None, None)
    assert aws_error(raised.value, "rest-xml").code == "AccessDenied"


def test_a_streaming_body_needs_its_decoded_length():
    request = doc_request()
    signed = sigv4.parse_signature(request)
    del request.headers["x-amz-decoded-content-length"]
    with pytest.raises(AwsError) as raised:
        chunked.open_payload(request, signed, DOC_SECRET)
    assert (raised.value.code, raised.value.status) == ("MissingContentLength", 411)


@pytest.mark.parametrize("body", [
    b"zz;chunk-signature=00\r\n",  # not hex
    b"10000;chunk-signature=" + b"0" * 64 + b"\n",  # bare LF
    b"10000\r\n",  # no signature on a signed chunk
    b"1" * 5000,  # no line end in sight
])
def test_malformed_framing_is_a_client_error(body):
    with pytest.raises(AwsError) as raised:
        decode(doc_request(body=body))
    assert raised.value.status == 400


def botocore_upload(data: bytes) -> HttpRequest:
    """An S3 PutObject as botocore sends it over https: STREAMING-UNSIGNED-PAYLOAD-TRAILER with
    a CRC32 trailer, the headers signed with SigV4."""
    session = botocore.session.get_session()
    s3 = session.create_client(
        "s3", region_name="us-east-1", endpoint_url="https://localhost:4566",
        aws_access_key_id="AKID", aws_secret_access_key="SECRET",
        config=Config(signature_version="s3v4"))

    class Sent(Exception):
        pass

    def capture(request, **_):
        raise Sent(request)

    s3.meta.events.register("before-send", capture)
    with pytest.raises(Sent) as caught:
        s3.put_object(Bucket="bucket", Key="key", Body=io.BytesIO(data))
    prepared = caught.value.args[0]
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v.decode() for k, v in prepared.headers.items()}
    headers["host"] = parts.netloc
    return HttpRequest(prepared.method, parts.path, parts.query, headers, prepared.body.read())


@pytest.mark.parametrize("size", [0, 1, 100_000, 3 * 1024 * 1024 + 7])
def test_botocore_unsigned_chunks_with_crc32_trailer(size):
    data = random.Random(size).randbytes(size)
    request = botocore_upload(data)
    assert request.headers["x-amz-content-sha256"] == sigv4.STREAMING_UNSIGNED_TRAILER
    signed = sigv4.parse_signature(request)
    decoded, trailers = decode(request, "SECRET", seed=size, now=signed.amz_date)
    assert decoded == data
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert trailers == {"x-amz-checksum-crc32": crc}


def test_unsigned_chunks_may_come_from_an_anonymous_client():
    request = HttpRequest("PUT", "/b/k", "", {
        "x-amz-content-sha256": sigv4.STREAMING_UNSIGNED_TRAILER,
        "x-amz-decoded-content-length": "3", "x-amz-trailer": "x-amz-checksum-crc32"},
        b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n")
    assert decode(request, None) == (b"abc", {"x-amz-checksum-crc32": "NSRBwg=="})


def test_a_streamed_body_is_held_to_its_signed_sha256():
    data = b"payload" * 1000
    request = HttpRequest("PUT", "/b/k", "", {"x-amz-content-sha256":
                                              hashlib.sha256(data).hexdigest()}, data)
    request.stream = split(data, random.Random(2))
    assert asyncio.run(drain(chunked.open_payload(request, None, None))) == data
    request.stream = split(data[:-1] + b"X", random.Random(2))
    with pytest.raises(SigV4Error) as raised:
        asyncio.run(drain(chunked.open_payload(request, None, None)))
    assert aws_error(raised.value, "rest-xml").code == "XAmzContentSHA256Mismatch"


def test_data_streams_out_before_the_chunk_is_complete():
    """A chunk's data is released as it arrives; only its signature waits for the end."""
    request = doc_request()
    signed = sigv4.parse_signature(request)
    consumed = 0

    async def slowly() -> AsyncIterator[bytes]:
        nonlocal consumed
        for at in range(0, len(request.body), 1000):
            consumed += 1
            yield request.body[at:at + 1000]

    request.stream = slowly()

    async def first() -> bytes:
        async for piece in chunked.open_payload(request, signed, DOC_SECRET):
            return piece
        return b""

    assert asyncio.run(first())
    assert consumed == 1


async def drain(payload: chunked.Payload) -> bytes:
    return b"".join([piece async for piece in payload])
