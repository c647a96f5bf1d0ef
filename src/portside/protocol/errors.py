"""AWS errors as Python exceptions.

A service raises the modelled error where it finds the fault; the serializer for the request's
protocol turns it into the wire format so that botocore raises the matching exception class.
"""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error with an AWS error code, an HTTP status and, optionally, modelled members."""

    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        status: int | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.sender_fault = self.status < 500
        self.fields = fields or {}  # modelled members of the error shape, e.g. S3's BucketName
        self.headers = headers or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, status={self.status})"


def error(code: str, message: str, status: int | None = None, **fields: Any) -> AwsError:
    """Shorthand for a modelled error a service raises by its AWS code.

    Without `status`, the serializer takes the error shape's `httpStatusCode` from the model
    (S3's NoSuchBucket is 404), else 400.
    """
    return AwsError(message, code=code, status=status, fields=fields)


class NotImplementedOperation(AwsError):
    """An operation portside knows from the model but does not serve (yet): never a fake success."""

    code = "NotImplemented"
    status = 501


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500


class AccessDenied(AwsError):
    code = "AccessDenied"
    status = 403
