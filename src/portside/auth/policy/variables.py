"""Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`, defaults.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

- Only policies with `"Version": "2012-10-17"` have variables; in older ones `${…}` is text.
- `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
- `${key, 'default'}` uses the default when the key has no value in the request.
- A variable whose key has no value (and no default) "causes the statement to be invalid":
  evaluation raises `Unresolved` and the statement does not apply.
- Multivalued keys cannot be variables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from portside.auth.policy.patterns import Chunks

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NAME_AND_DEFAULT = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

Lookup = Callable[[str], str | None]  # a lower-cased key to its single value, or None


class Unresolved(Exception):
    """A variable has no value in the request: the statement it is in does not apply."""


@dataclass(frozen=True, slots=True)
class Variable:
    key: str  # lower-cased: condition keys are case-insensitive
    default: str | None


Part = str | Variable  # text: policy text when wild, else an escape such as `${*}`


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string with at least one variable in it."""

    parts: tuple[tuple[Part, bool], ...]  # (part, wild): wild text keeps its `*` and `?`

    def chunks(self, lookup: Lookup) -> Chunks:
        """The pattern chunks with every variable replaced by its value (never wild)."""
        return tuple(
            (part, wild) if isinstance(part, str) else (_resolve(part, lookup), False)
            for part, wild in self.parts)

    def render(self, lookup: Lookup) -> str:
        return "".join(text for text, _ in self.chunks(lookup))


def _resolve(variable: Variable, lookup: Lookup) -> str:
    value = lookup(variable.key)
    if value is not None:
        return value
    if variable.default is not None:
        return variable.default
    raise Unresolved(variable.key)


def parse(text: str, variables: bool) -> str | Template:
    """`text` itself when it has no variables (or the policy version has none), else a Template."""
    if not variables or "${" not in text:
        return text
    parts: list[tuple[Part, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        inner = match.group(1)
        if inner in _ESCAPES:
            part: Part = _ESCAPES[inner]
        else:
            name = _NAME_AND_DEFAULT.fullmatch(inner)
            if name is None:
                continue  # not a variable: stays policy text
            part = Variable(name.group(1).lower(), name.group(2))
        if match.start() > position:
            parts.append((text[position:match.start()], True))
        parts.append((part, False))
        position = match.end()
    if not parts:
        return text
    if position < len(text):
        parts.append((text[position:], True))
    return Template(tuple(parts))
