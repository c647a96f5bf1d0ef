"""The packed size of a session's policies and tags (AssumeRole's PackedPolicySize).

STS compresses the session policy, the managed session policy ARNs and the session tags into
the session token, whose room is limited separately from the plaintext limits; the response
reports the share used as a percentage, and over 100 % the call fails with
PackedPolicyTooLarge. AWS does not document its format; portside packs with zlib into a
2048-byte room, which keeps typical policies at a modest share and lets many long tags
exceed it, as they do on AWS.
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence

from portside.protocol.errors import AwsError, error

PACKED_ROOM = 2048


def _percent(payload: object) -> int:
    packed = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 9)
    return math.ceil(len(packed) * 100 / PACKED_ROOM)


def packed_policy_size(policy: str | None, policy_arns: Sequence[str],
                       tags: Sequence[dict[str, str]]) -> int:
    """The percentage of the packed room the session's policies and tags use; raises
    PackedPolicyTooLarge over 100 %. `policy` must be valid JSON (it was parsed before)."""
    minified = json.loads(policy) if policy else None
    tag_pairs = [[t["Key"], t["Value"]] for t in tags]
    total = _percent([minified, list(policy_arns), tag_pairs])
    if total <= 100:
        return total
    tags_alone = _percent(tag_pairs)
    if tags_alone > 100:
        raise too_large(f"Packed size of session tags consumes {tags_alone}% of allotted "
                        "space.")
    raise too_large(f"Packed policy consumes {total}% of allotted space, please use smaller "
                    "policy.")


def too_large(message: str) -> AwsError:
    return error("PackedPolicyTooLarge", message)
