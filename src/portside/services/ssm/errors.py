"""Parameter Store's errors, with the messages AWS gives them where known."""

from __future__ import annotations

from portside.protocol.errors import AwsError, error

# AWS's ValidationException for a malformed or `ssm`-prefixed name (its wording names "ssm"
# whatever the fault).
NAME_RULES = ('Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as '
              "a path, it can consist of sub-paths divided by slash symbol; each sub-path can "
              "be formed as a mix of letters, numbers and the following 3 symbols .-_")
PATH_RULES = ('The parameter doesn\'t meet the parameter name requirements. The parameter name '
              'must begin with a forward slash "/". It can\'t be prefixed with \\"aws\\" or '
              '\\"ssm\\" (case-insensitive). It must use only letters, numbers, or the following '
              "symbols: . (period), - (hyphen), _ (underscore). Special characters are not "
              'allowed. All sub-paths, if specified, must use the forward slash symbol "/". '
              "Valid example: /get/parameters2-/by1./path0_.")


def validation(message: str) -> AwsError:
    return error("ValidationException", message)


def not_found() -> AwsError:
    # AWS's ParameterNotFound carries no message.
    return error("ParameterNotFound", "")


def version_not_found(name: str, version: int) -> AwsError:
    return error("ParameterVersionNotFound", f"Systems Manager could not find version {version} "
                 f"of {name}. Verify the version and try again.")


def label_not_found(name: str, label: str) -> AwsError:
    return error("ParameterVersionNotFound", f"Systems Manager could not find label {label} "
                 f"of {name}. Verify the label and try again.")  # wording: portside


def reserved(name: str) -> AwsError:
    return error("AccessDeniedException", f"No access to reserved parameter name: {name}.")


def already_exists() -> AwsError:
    return error("ParameterAlreadyExists", "The parameter already exists. To overwrite this "
                 "value, set the overwrite option in the request to true.")


def too_deep() -> AwsError:
    return error("HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 "
                 "levels. For more information, see Requirements and constraints for parameter "
                 "names in the AWS Systems Manager User Guide.")


def invalid_next_token() -> AwsError:
    return error("InvalidNextToken", "The specified token is not valid.")


def invalid_resource_id() -> AwsError:
    return error("InvalidResourceId", "The resource ID isn't valid. Verify that you entered "
                 "the correct ID and try again.")


def too_many_tags(message: str) -> AwsError:
    return error("TooManyTagsError", message)


def unreadable() -> AwsError:
    """A stored SecureString that does not open under the data directory's master key."""
    return error("InternalServerError", "The SecureString value could not be decrypted with "
                 "this data directory's master key.", status=500)  # wording: portside
