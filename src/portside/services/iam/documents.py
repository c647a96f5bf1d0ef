"""Policy documents as IAM stores them: validated by the policy engine when written.

IAM keeps a document as it was sent and checks it when it is written, so a document that
reaches the store always parses later (the engine caches the parse by text).
"""

from __future__ import annotations

from portside.auth.policy import (
    MalformedPolicy,
    Policy,
    PolicyKind,
    PolicyTooLarge,
    check_policy_size,
    parse_policy,
)
from portside.protocol.errors import error


def validated(document: str, kind: PolicyKind, *, limit: int | None = None,
              quota: str = "PolicySize", malformed: str = "MalformedPolicyDocument") -> Policy:
    """The parsed document. A document over `limit` (white space not counted) is refused
    with LimitExceeded; one that is not a valid policy of `kind` with `malformed`."""
    try:
        policy = parse_policy(document, kind)
        if limit is not None:
            check_policy_size(document, limit, quota)
    except PolicyTooLarge as exc:
        raise error("LimitExceeded", exc.reason) from None
    except MalformedPolicy as exc:
        raise error(malformed, exc.reason) from None
    return policy
