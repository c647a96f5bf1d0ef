"""Secrets Manager's errors, with the messages AWS gives them.
https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html
"""

from __future__ import annotations

from portside.protocol.errors import AwsError, error


def not_found() -> AwsError:
    return error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")


def no_value(selector: str) -> AwsError:
    """`selector` is `staging label: AWSCURRENT` or `VersionId: …`."""
    return error("ResourceNotFoundException",
                 f"Secrets Manager can't find the specified secret value for {selector}")


def marked_for_deletion() -> AwsError:
    return error("InvalidRequestException", "You can't perform this operation on the secret "
                 "because it was marked for deletion.")


def invalid_parameter(message: str) -> AwsError:
    return error("InvalidParameterException", message)


def invalid_request(message: str) -> AwsError:
    return error("InvalidRequestException", message)


def exists(name: str) -> AwsError:
    return error("ResourceExistsException",
                 f"The operation failed because the secret {name} already exists.")


def version_exists() -> AwsError:
    """A ClientRequestToken reused with another value: versions are immutable."""
    return error("ResourceExistsException",
                 "You can't modify an existing version, you can only create a new version.")


def limit_exceeded(message: str) -> AwsError:
    return error("LimitExceededException", message)


def invalid_next_token() -> AwsError:
    return error("InvalidNextTokenException", "The NextToken value is invalid.")


def decryption_failure() -> AwsError:
    """A stored value that does not open under the data directory's master key."""
    return error("DecryptionFailure",
                 "Secrets Manager can't decrypt the protected secret text using the provided "
                 "KMS key.")


def validation(message: str) -> AwsError:
    return error("ValidationException", message)
