"""Protocol-neutral HTTP request and response, as the wire layer sees them.

The gateway turns an ASGI request into an `HttpRequest`; parsers read it, serializers build an
`HttpResponse`. Keeping these small and framework-free lets the protocol layer be tested without a
server.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field


@dataclass
class HttpRequest:
    method: str
    path: str  # raw, percent-encoded path as received (path-style for S3)
    query_string: str = ""  # raw query string, without the leading '?'
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    # For operations whose payload streams (S3 objects, registry blobs) the gateway leaves the
    # body unread and hands the stream over instead.
    stream: AsyncIterable[bytes] | None = None


@dataclass
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | AsyncIterator[bytes] = b""
