"""Reading our HTTP responses back the way botocore does, for serializer tests."""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel, Shape
from botocore.parsers import ResponseParserFactory
from botocore.utils import parse_timestamp
from dateutil.tz import tzutc

from portside.protocol.http import HttpResponse


def epoch_timestamp(value: str | float) -> float:
    """botocore's compliance-test timestamp parser: any timestamp form to epoch seconds."""
    return parse_timestamp(value).astimezone(tzutc()).timestamp()


def body_bytes(response: HttpResponse) -> bytes:
    if isinstance(response.body, bytes | bytearray):
        return bytes(response.body)

    async def drain() -> bytes:
        return b"".join([chunk async for chunk in response.body])

    return asyncio.run(drain())


def parse(
    response: HttpResponse,
    operation: OperationModel,
    protocol: str,
    shape: Shape | None = None,
    timestamp_parser: Any = epoch_timestamp,
) -> dict[str, Any]:
    """botocore's parse of `response` as `shape` (default: the operation's output shape).

    For error responses this is what botocore's endpoint does: the generic parse gives
    Error.Code, and the error shape for that code adds the modelled members.
    """
    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=timestamp_parser)
    parser = factory.create_parser(protocol)
    raw = {
        "status_code": response.status,
        "headers": HeadersDict(response.headers),
        "body": body_bytes(response),
        "context": {"operation_name": operation.name},
    }
    parsed = parser.parse(raw, shape if shape is not None else operation.output_shape)
    if response.status >= 300:
        code = parsed.get("Error", {}).get("Code")
        error_shape = operation.service_model.shape_for_error_code(code)
        if error_shape is not None:
            parsed.update(parser.parse(raw, error_shape))
    return parsed
