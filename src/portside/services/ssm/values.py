"""What PutParameter checks about a value (tier size, AllowedPattern, data type) and how a
SecureString value is sealed and shown.

https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-ec2-aliases.html
"""

from __future__ import annotations

import base64
import re

from portside.protocol.errors import error
from portside.services.ssm import errors
from portside.services.ssm.records import Parameter, ParameterVersion
from portside.store.sealed import Sealer, Unsealable

STANDARD, ADVANCED, INTELLIGENT = "Standard", "Advanced", "Intelligent-Tiering"
TIER_LIMITS = {STANDARD: 4096, ADVANCED: 8192}  # bytes of value
SECURE = "SecureString"
DEFAULT_KEY_ID = "alias/aws/ssm"
DATA_TYPES = ("text", "aws:ec2:image", "aws:ssm:integration")
_AMI = re.compile(r"ami-([0-9a-f]{8}|[0-9a-f]{17})")


def tier_for(requested: str | None, previous: str | None, value: str) -> str:
    """The tier a new version gets. Intelligent-Tiering picks Standard while the value fits;
    an Advanced parameter cannot go back to Standard."""
    size = len(value.encode())
    if requested == INTELLIGENT:
        tier = ADVANCED if size > TIER_LIMITS[STANDARD] or previous == ADVANCED else STANDARD
    else:
        tier = requested or previous or STANDARD
    if previous == ADVANCED and tier == STANDARD:
        raise errors.validation(
            "This parameter uses the advanced-parameter tier. You can't downgrade a parameter "
            "from the advanced-parameter tier to the standard-parameter tier. If necessary, you "
            "can delete the advanced parameter and recreate it as a standard parameter.")
    if size > TIER_LIMITS[tier]:
        raise errors.validation(
            f"{tier} tier parameters support a maximum parameter value of {TIER_LIMITS[tier]} "
            "characters. To create a larger parameter value, upgrade the parameter to use the "
            "advanced-parameter tier. For more information, see https://docs.aws.amazon.com/"
            "systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
    return tier


def check_pattern(pattern: str | None, value: str) -> None:
    """AllowedPattern, a regular expression the whole value must match. The message names the
    pattern, never the value."""
    if not pattern:
        return
    try:
        compiled = re.compile(pattern)
    except re.error:
        raise error("InvalidAllowedPatternException",
                    "The request doesn't meet the regular expression requirement.") from None
    if compiled.fullmatch(value) is None:
        raise error("ParameterPatternMismatchException",
                    f"Parameter value, cannot be validated against allowedPattern: {pattern}")


def check_data_type(data_type: str, parameter_type: str, value: str) -> None:
    """`aws:ec2:image` takes a String holding an AMI id. AWS then checks that the image exists;
    portside has no EC2 images and checks the id's form only."""
    if data_type not in DATA_TYPES:
        raise errors.validation(f"The following data type is not supported: {data_type} (Data "
                                "type names are all lowercase.)")
    if data_type == "aws:ec2:image":
        if parameter_type != "String":
            raise errors.validation("The aws:ec2:image data type requires a String "
                                    "parameter.")  # wording: portside
        if _AMI.fullmatch(value) is None:
            raise errors.validation(f"Parameter value is not a valid AMI ID for data type "
                                    f"{data_type}.")  # wording: portside; no value shown


class SecureStrings:
    """Seals SecureString values, bound to their parameter and version, and opens them."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def seal(self, parameter: Parameter, version: int, value: str) -> bytes:
        return self._sealer.seal(value.encode(), _context(parameter, version))

    def shown(self, parameter: Parameter, found: ParameterVersion, decrypt: bool) -> str:
        """The Value a response shows: plain types as stored; a SecureString decrypted when
        asked (WithDecryption), else its ciphertext in base64, as AWS shows it."""
        if found.type != SECURE or found.sealed_value is None:
            return found.value or ""
        if not decrypt:
            return base64.b64encode(found.sealed_value).decode()
        try:
            return self._sealer.open(found.sealed_value,
                                     _context(parameter, found.version)).decode()
        except Unsealable:
            raise errors.unreadable() from None


def _context(parameter: Parameter, version: int) -> tuple[str, ...]:
    return ("ssm", parameter.account_id, parameter.region, parameter.name, str(parameter.id),
            str(version))
