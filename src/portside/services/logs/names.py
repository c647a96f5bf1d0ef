"""Log group and stream ARNs, retention settings and GetLogEvents' paging tokens.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html
"""

from __future__ import annotations

import re
from typing import NamedTuple

# PutRetentionPolicy accepts only these (the API reference, retentionInDays).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)

_GROUP_ARN = re.compile(r"arn:aws:logs:([a-z0-9-]+):(\d{12}):log-group:([\.\-_/#A-Za-z0-9]+)"
                        r"(?::\*)?")


def group_arn(region: str, account_id: str, name: str) -> str:
    """The ARN that IAM policies, tagging and `logGroupArn` use: without the trailing `:*`."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{name}"


def stream_arn(region: str, account_id: str, group: str, stream: str) -> str:
    return f"{group_arn(region, account_id, group)}:log-stream:{stream}"


class GroupRef(NamedTuple):
    region: str
    account_id: str
    name: str


def parse_group_arn(arn: str) -> GroupRef | None:
    """The log group an ARN names (with or without `:*`), or None for any other string."""
    found = _GROUP_ARN.fullmatch(arn)
    return GroupRef(*found.groups()) if found else None


class Position(NamedTuple):
    """A place between events of a stream, in (timestamp, id) order."""

    timestamp: int
    id: int


_TOKEN = re.compile(r"([fb])/(\d{20})(\d{20})")


def encode_token(direction: str, position: Position) -> str:
    """A GetLogEvents token: `f/…` reads forward from `position`, `b/…` backward. Digits only,
    as AWS's are, so clients that log or compare them see nothing unusual."""
    return f"{direction}/{position.timestamp:020d}{position.id:020d}"


def decode_token(token: str) -> tuple[str, Position] | None:
    """The direction and position of a token this module issued; None for anything else."""
    found = _TOKEN.fullmatch(token)
    if found is None:
        return None
    return found.group(1), Position(int(found.group(2)), int(found.group(3)))
