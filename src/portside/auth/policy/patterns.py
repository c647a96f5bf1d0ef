"""Wildcard matching as IAM does it, compiled once into regular expressions.

Three flavours share one translator:

- action names (`s3:Get*`): `*` and `?` anywhere, compared case-insensitively;
- `StringLike` values: `*` and `?` anywhere, case-sensitive;
- ARNs (`Resource`, `ArnLike`): "each of the six colon-delimited components of the ARN is
  checked separately" — a wildcard in the first five components never crosses a colon, while
  the sixth (the resource part, which may itself hold colons) is matched as a whole.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN

A pattern arrives as chunks: `(text, wild)` pairs, where `wild` says whether `*` and `?` in
`text` are wildcards (policy text) or literal characters (a policy variable's value, `${*}`).
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache

Chunks = tuple[tuple[str, bool], ...]

ARN_SEGMENTS = 6  # arn:partition:service:region:account:resource


class Flavour(Enum):
    ACTION = "action"
    STRING = "string"
    ARN = "arn"


def is_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def translate(chunks: Chunks, flavour: Flavour) -> str:
    """The regular expression (for `fullmatch`) that a wildcard pattern stands for."""
    out: list[str] = []
    colons = 0
    for text, wild in chunks:
        for char in text:
            in_resource_part = colons >= ARN_SEGMENTS - 1
            if wild and char == "*":
                out.append("[^:]*" if flavour is Flavour.ARN and not in_resource_part else ".*")
            elif wild and char == "?":
                out.append("[^:]" if flavour is Flavour.ARN and not in_resource_part else ".")
            else:
                out.append(re.escape(char))
            if char == ":":
                colons += 1
    return "".join(out)


@lru_cache(maxsize=8192)
def compile_pattern(chunks: Chunks, flavour: Flavour) -> re.Pattern[str]:
    """One pattern, compiled; cached because policy variables make patterns per request."""
    flags = re.DOTALL | (re.IGNORECASE if flavour is Flavour.ACTION else 0)
    if flavour is Flavour.ARN and chunks == (("*", True),):
        return re.compile(".*", flags)  # a bare `*` is every resource, not one ARN segment
    return re.compile(translate(chunks, flavour), flags)


def compile_any(patterns: list[str], flavour: Flavour) -> re.Pattern[str] | None:
    """Several wildcard patterns of policy text as one alternation (one `fullmatch` call)."""
    if not patterns:
        return None
    if len(patterns) == 1:
        return compile_pattern(((patterns[0], True),), flavour)
    alternatives = "|".join(
        f"(?:{compile_pattern(((p, True),), flavour).pattern})" for p in patterns)
    flags = re.DOTALL | (re.IGNORECASE if flavour is Flavour.ACTION else 0)
    return re.compile(alternatives, flags)
