"""The one modelled error the placement engine raises."""

from __future__ import annotations

from portside.protocol.errors import AwsError


class InvalidParameterException(AwsError):
    """A constraint, strategy or expression ECS would refuse, or a cluster without instances."""

    code = "InvalidParameterException"
