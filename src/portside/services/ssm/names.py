"""Parameter names, paths, selectors, labels and ARNs: the rules Parameter Store applies.

- A name is letters, digits and `_.-`; a hierarchical name starts with `/` and has up to 15
  levels separated by `/`. Names are case-sensitive; spaces around a name are dropped.
- A name may not begin with `aws` or `ssm` in any case (AWS's own parameters live there).
- The ARN of `/a/b` is `arn:aws:ssm:<region>:<account>:parameter/a/b`; at most 1011
  characters of a name's ARN are the caller's.
- `name:3` selects version 3, `name:prod` the version labelled `prod`.
- Labels: 1–100 of letters, digits and `_.-`, not beginning with a digit, `aws` or `ssm`.

https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-labels.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

MAX_LEVELS = 15
MAX_ARN_LENGTH = 1011
MAX_LABEL_LENGTH = 100
_SEGMENT = re.compile(r"[a-zA-Z0-9_.-]+")
_LABEL = re.compile(r"[a-zA-Z0-9_.-]+")
_ARN = re.compile(r"arn:aws[a-z-]*:ssm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                  r"parameter/(?P<rest>.*)")
_RESERVED = ("aws", "ssm")


class NameProblem(Enum):
    MALFORMED = "malformed"
    RESERVED_AWS = "aws"  # AWS answers AccessDeniedException: no access to a reserved name
    RESERVED_SSM = "ssm"
    TOO_DEEP = "deep"
    TOO_LONG = "long"


def segments(name: str) -> list[str]:
    return name[1:].split("/") if name.startswith("/") else [name]


def name_problem(name: str, region: str = "us-east-1",
                 account_id: str = "000000000000") -> NameProblem | None:
    """Why PutParameter would refuse `name` (already stripped of surrounding spaces)."""
    if "/" in name and not name.startswith("/"):
        return NameProblem.MALFORMED
    parts = segments(name)
    if not all(_SEGMENT.fullmatch(p) for p in parts):
        return NameProblem.MALFORMED
    first = parts[0].lower()
    if first.startswith("aws"):
        return NameProblem.RESERVED_AWS
    if first.startswith("ssm"):
        return NameProblem.RESERVED_SSM
    if len(parts) > MAX_LEVELS:
        return NameProblem.TOO_DEEP
    if len(parameter_arn(region, account_id, name)) > MAX_ARN_LENGTH:
        return NameProblem.TOO_LONG
    return None


def is_readable_name(name: str) -> bool:
    """Whether a name is well formed for reading: AWS's reserved prefixes are readable (its
    public parameters live under `/aws/service/…`), malformed names are not."""
    return name_problem(name) in (None, NameProblem.RESERVED_AWS, NameProblem.RESERVED_SSM,
                                  NameProblem.TOO_LONG)


def parameter_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{account_id}:parameter/{name.lstrip('/')}"


def path_arn(region: str, account_id: str, path: str) -> str:
    """The resource GetParametersByPath is authorized on."""
    return parameter_arn(region, account_id, path.rstrip("/") or "/")


@dataclass(frozen=True)
class Selector:
    """`:3` or `:prod` after a name."""

    text: str  # with its colon, as the response's Selector member shows it
    version: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class ParameterRef:
    """A name (or ARN) a request gives, with its selector. An ARN of a one-level name is
    ambiguous (`parameter/a` is `a` or `/a`): `names` holds the candidates, in lookup order."""

    account_id: str
    region: str
    names: tuple[str, ...]
    selector: Selector | None = None

    @property
    def name(self) -> str:
        return self.names[0]


class BadReference(ValueError):
    pass


def parse_reference(text: str, account_id: str, region: str) -> ParameterRef:
    """A Name member of GetParameter(s), or an ECS valueFrom: a name or a parameter ARN,
    optionally followed by `:<version>` or `:<label>`."""
    text = text.strip()
    match = _ARN.fullmatch(text)
    if match is not None:
        account_id, region, text = match["account"], match["region"], match["rest"]
    base, colon, selection = text.partition(":")
    selector = _selector(selection) if colon else None
    if colon and selector is None:
        raise BadReference(f"invalid selector in {text}")
    if match is None:
        if not base or not is_readable_name(base):
            raise BadReference(f"invalid parameter name {base}")
        return ParameterRef(account_id, region, (base,), selector)
    if not base or not all(_SEGMENT.fullmatch(p) for p in base.split("/")):
        raise BadReference(f"invalid parameter ARN {text}")
    names = (f"/{base}",) if "/" in base else (base, f"/{base}")
    return ParameterRef(account_id, region, names, selector)


def _selector(text: str) -> Selector | None:
    if text.isdigit() and text.isascii():
        return Selector(f":{text}", version=int(text)) if int(text) > 0 else None
    return Selector(f":{text}", label=text) if label_is_valid(text) else None


def label_is_valid(label: str) -> bool:
    lowered = label.lower()
    return (0 < len(label) <= MAX_LABEL_LENGTH and _LABEL.fullmatch(label) is not None
            and not label[0].isdigit() and not lowered.startswith(_RESERVED))


def normalized_path(path: str) -> str | None:
    """A GetParametersByPath path without a trailing slash (`/` stays `/`); None when it is not
    a path: it must begin with `/` and its levels be well formed."""
    if not path.startswith("/"):
        return None
    trimmed = path.rstrip("/") or "/"
    if trimmed == "/":
        return trimmed
    parts = trimmed[1:].split("/")
    if len(parts) > MAX_LEVELS or not all(_SEGMENT.fullmatch(p) for p in parts):
        return None
    return trimmed


def in_path(name: str, path: str, recursive: bool) -> bool:
    """Whether `name` lies under the normalized `path`: directly, or at any depth when
    recursive."""
    base = "" if path == "/" else path
    if not name.startswith(base + "/"):
        return False
    rest = name[len(base) + 1:]
    return bool(rest) and (recursive or "/" not in rest)
