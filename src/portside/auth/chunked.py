"""Request bodies as S3 clients send them, checked against what the signature promised.

A body streams: it is never held whole, however it is split on the way in. `open_payload` picks
the reader for the request's x-amz-content-sha256:

- a sha256: the body is hashed as it passes and must match (S3 `XAmzContentSHA256Mismatch`);
- `UNSIGNED-PAYLOAD`: passed through;
- `STREAMING-*`: the `aws-chunked` encoding, each chunk `<hex size>[;chunk-signature=<sig>]\\r\\n
  <data>\\r\\n`, a zero-size chunk last, then trailing headers (`x-amz-checksum-crc32:…`) and an
  empty line. Signed chunks chain: each signature covers the chunk's data and the signature
  before it, starting from the request's own (the seed).
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html

Readers raise as soon as the body is found wrong, possibly after yielding some of it: a consumer
keeps what it read only once iteration ends cleanly.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterable, AsyncIterator

from portside.auth.sigv4 import (
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    Kind,
    SignedRequest,
    SigV4Error,
    content_mismatch,
    is_sha256,
    signing_key,
)
from portside.protocol.errors import AwsError
from portside.protocol.http import HttpRequest

_MAX_LINE = 4096  # a chunk header or a trailer; anything longer is not aws-chunked
_MAX_SIZE_DIGITS = 16


def open_payload(request: HttpRequest, signed: SignedRequest | None,
                 secret_key: str | None) -> Payload:
    """The reader for a request's body. `signed` and `secret_key` are those `sigv4.verify`
    accepted; None for an anonymous request, which may still send unsigned chunks."""
    source: AsyncIterable[bytes] = request.stream or _once(request.body)
    header = request.headers.get("x-amz-content-sha256")
    mode = signed.payload_hash if signed is not None else header
    if mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER):
        chain = None
        if mode != STREAMING_UNSIGNED_TRAILER:
            if signed is None or secret_key is None:
                raise SigV4Error(Kind.MISSING, "Request is missing Authentication Token")
            chain = ChunkChain.seeded(signed, secret_key)
        return ChunkedPayload(source, decoded_length=_decoded_length(request), chain=chain,
                              signed_trailer=mode == STREAMING_SIGNED_TRAILER)
    if header is not None and is_sha256(header) and request.stream is not None:
        return HashedPayload(source, header)  # an in-memory body was hashed by `verify`
    return Payload(source)


class Payload:
    """A body passed through as it came."""

    def __init__(self, source: AsyncIterable[bytes]) -> None:
        self._source = source
        self.trailers: dict[str, str] = {}  # trailing headers, once the body has been read

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._read()

    async def _read(self) -> AsyncIterator[bytes]:
        async for piece in self._source:
            yield piece


class HashedPayload(Payload):
    """A body whose sha256 the client signed."""

    def __init__(self, source: AsyncIterable[bytes], expected: str) -> None:
        super().__init__(source)
        self._expected = expected

    async def _read(self) -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        async for piece in self._source:
            digest.update(piece)
            yield piece
        if digest.hexdigest() != self._expected:
            raise content_mismatch(self._expected, digest.hexdigest())


class ChunkChain:
    """The chained chunk signatures of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body."""

    def __init__(self, key: bytes, timestamp: str, scope: str, seed: str) -> None:
        self._key = key
        self._prefix = f"\n{timestamp}\n{scope}\n"
        self.previous = seed

    @classmethod
    def seeded(cls, signed: SignedRequest, secret_key: str) -> ChunkChain:
        credential = signed.credential
        key = signing_key(secret_key, credential.date, credential.region, credential.service)
        return cls(key, signed.timestamp, credential.scope, signed.signature)

    def check_chunk(self, data_sha256: str, claimed: str) -> None:
        self._check(f"AWS4-HMAC-SHA256-PAYLOAD{self._prefix}{self.previous}\n{EMPTY_SHA256}\n"
                    f"{data_sha256}", claimed)

    def check_trailer(self, canonical_trailers: str, claimed: str) -> None:
        digest = hashlib.sha256(canonical_trailers.encode()).hexdigest()
        self._check(f"AWS4-HMAC-SHA256-TRAILER{self._prefix}{self.previous}\n{digest}", claimed)

    def _check(self, to_sign: str, claimed: str) -> None:
        expected = hmac.digest(self._key, to_sign.encode(), "sha256").hex()
        if not hmac.compare_digest(expected.encode(), claimed.encode()):
            raise SigV4Error(
                Kind.BAD_SIGNATURE, "The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and signing method. "
                "Consult the service documentation for details.",
                fields={"StringToSign": to_sign, "SignatureProvided": claimed})
        self.previous = expected


# The decoder's states: what the next bytes must be.
_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedPayload(Payload):
    """An aws-chunked body, decoded; signed chunks and trailers verified when `chain` is set."""

    def __init__(self, source: AsyncIterable[bytes], *, decoded_length: int,
                 chain: ChunkChain | None, signed_trailer: bool) -> None:
        super().__init__(source)
        self._decoded_length = decoded_length
        self._chain = chain
        self._trailers_allowed = chain is None or signed_trailer  # signed chunks sign no trailer
        self._trailer_signed = signed_trailer
        self._trailers_closed = False  # set by the trailer signature: nothing may follow it
        self._state = _SIZE
        self._remaining = 0  # data bytes left in the current chunk
        self._chunk_signature = ""
        self._digest = hashlib.sha256()
        self._total = 0
        self._trailer_lines: list[str] = []

    async def _read(self) -> AsyncIterator[bytes]:
        line = bytearray()
        async for piece in self._source:
            at, end = 0, len(piece)
            while at < end:
                if self._state == _DATA:
                    data = piece[at:at + self._remaining]
                    at += len(data)
                    self._take(data)
                    yield data
                    continue
                newline = piece.find(b"\n", at)
                stop = end if newline < 0 else newline + 1
                line += piece[at:stop]
                at = stop
                if len(line) > _MAX_LINE:
                    raise _malformed("a chunk header or trailer is too long")
                if newline >= 0:
                    if not line.endswith(b"\r\n"):
                        raise _malformed("chunk lines must end with CRLF")
                    self._on_line(line[:-2].decode("latin-1"))
                    line.clear()
        if self._state != _DONE:
            raise AwsError("The request body terminated unexpectedly", code="IncompleteBody")
        if line:
            raise _malformed("data after the final chunk")

    def _take(self, data: bytes) -> None:
        self._remaining -= len(data)
        self._total += len(data)
        if self._total > self._decoded_length:
            raise _length_mismatch(self._decoded_length, self._total)
        if self._chain is not None:
            self._digest.update(data)
        if self._remaining == 0:
            self._state = _DATA_END

    def _on_line(self, text: str) -> None:
        if self._state == _SIZE:
            self._on_size(text)
        elif self._state == _DATA_END:
            if text:
                raise _malformed("chunk data is longer than its declared size")
            if self._chain is not None:
                self._chain.check_chunk(self._digest.hexdigest(), self._chunk_signature)
                self._digest = hashlib.sha256()
            self._state = _SIZE
        elif self._state == _TRAILER:
            self._on_trailer(text)
        else:
            raise _malformed("data after the final chunk")

    def _on_size(self, text: str) -> None:
        size_text, _, extension = text.partition(";")
        if (not size_text or len(size_text) > _MAX_SIZE_DIGITS
                or not all(c in "0123456789abcdefABCDEF" for c in size_text)):
            raise _malformed(f"invalid chunk size {size_text[:32]!r}")
        size = int(size_text, 16)
        if self._chain is not None:
            name, _, signature = extension.partition("=")
            if name != "chunk-signature" or not signature:
                raise _malformed("a signed chunk needs a chunk-signature")
            self._chunk_signature = signature
        if size:
            self._remaining = size
            self._state = _DATA
            return
        if self._chain is not None:
            self._chain.check_chunk(EMPTY_SHA256, self._chunk_signature)
        self._state = _TRAILER

    def _on_trailer(self, text: str) -> None:
        if not text:
            if self._trailer_signed and self._trailer_lines and not self._trailers_closed:
                raise SigV4Error(Kind.INCOMPLETE, "The trailing headers are missing their "
                                 "x-amz-trailer-signature.")
            if self._total != self._decoded_length:
                raise _length_mismatch(self._decoded_length, self._total)
            self._state = _DONE
            return
        name, colon, value = text.partition(":")
        if not colon or not name.strip():
            raise _malformed(f"invalid trailing header {text[:64]!r}")
        if self._trailers_closed or not self._trailers_allowed:
            raise _malformed("a trailing header outside the signature")
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-trailer-signature" and self._trailer_signed and self._chain:
            self._chain.check_trailer("".join(self._trailer_lines), value)
            self._trailers_closed = True
            return
        self._trailer_lines.append(f"{name}:{value}\n")
        self.trailers[name] = value


def _decoded_length(request: HttpRequest) -> int:
    text = request.headers.get("x-amz-decoded-content-length", "")
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise AwsError("You must provide the Content-Length HTTP header.",
                       code="MissingContentLength", status=411)
    return int(text)


def _malformed(reason: str) -> AwsError:
    return AwsError(f"The aws-chunked body is malformed: {reason}.", code="InvalidRequest")


def _length_mismatch(expected: int, provided: int) -> AwsError:
    return AwsError("You did not provide the number of bytes specified by the Content-Length "
                    "HTTP header", code="IncompleteBody", fields={
                        "NumberBytesExpected": expected, "NumberBytesProvided": provided})


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body
