"""ECR's errors, with the messages AWS gives them."""

from __future__ import annotations

from portside.protocol.errors import AwsError, error


def repository_not_found(name: str, account_id: str) -> AwsError:
    return error("RepositoryNotFoundException", f"The repository with name '{name}' does not "
                 f"exist in the registry with id '{account_id}'")


def invalid_parameter(message: str) -> AwsError:
    return error("InvalidParameterException", message)


def invalid_name(name: str) -> AwsError:
    return invalid_parameter(
        f"Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy "
        f"regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*'"
        f"' and length between 2 and 256' (got '{name}')")
