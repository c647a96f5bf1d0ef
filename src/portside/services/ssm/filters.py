"""ParameterFilters of DescribeParameters and GetParametersByPath, and DescribeParameters'
older Filters.

- DescribeParameters: Name (Equals, BeginsWith, Contains), Path (OneLevel, Recursive), Type,
  KeyId, Tier, DataType (Equals, BeginsWith) and `tag:<key>` (Equals, BeginsWith; no values:
  the tag is present). Equals is the default option, OneLevel for Path.
- GetParametersByPath: Type, KeyId and Label, with Equals.
- A filter matches when any of its values matches; all filters must match.

https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterStringFilter.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from portside.protocol.errors import AwsError, error
from portside.services.ssm.names import in_path, normalized_path

TYPES = ("String", "StringList", "SecureString")
TIERS = ("Standard", "Advanced")
_EQUALS_OR_BEGINS = ("Equals", "BeginsWith")
DESCRIBE_OPTIONS: dict[str, tuple[str, ...]] = {
    "Name": ("Equals", "BeginsWith", "Contains"), "Path": ("OneLevel", "Recursive"),
    "Type": _EQUALS_OR_BEGINS, "KeyId": _EQUALS_OR_BEGINS, "Tier": _EQUALS_OR_BEGINS,
    "DataType": _EQUALS_OR_BEGINS, "tag": _EQUALS_OR_BEGINS,
}
BY_PATH_OPTIONS: dict[str, tuple[str, ...]] = {
    "Type": ("Equals",), "KeyId": ("Equals",), "Label": ("Equals",),
}


@dataclass(frozen=True)
class Candidate:
    """What filters look at in a parameter."""

    name: str
    type: str
    key_id: str | None
    tier: str
    data_type: str
    tags: Mapping[str, str]
    labels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StringFilter:
    key: str  # "Name", "tag:Owner" …
    option: str
    values: tuple[str, ...]

    def matches(self, candidate: Candidate) -> bool:
        if self.key.startswith("tag:"):
            tag = candidate.tags.get(self.key[4:])
            return tag is not None and (not self.values or
                                        any(_compare(self.option, tag, v) for v in self.values))
        if self.key == "Path":
            return any(in_path(candidate.name, normalized_path(v) or v,
                               self.option == "Recursive") for v in self.values)
        if self.key == "Label":
            return any(v in candidate.labels for v in self.values)
        field = _FIELDS[self.key](candidate)
        return field is not None and any(_compare(self.option, field, v) for v in self.values)


_FIELDS: dict[str, Callable[[Candidate], str | None]] = {
    "Name": lambda c: c.name, "Type": lambda c: c.type, "KeyId": lambda c: c.key_id,
    "Tier": lambda c: c.tier, "DataType": lambda c: c.data_type,
}


def _compare(option: str, field: str, value: str) -> bool:
    if option == "BeginsWith":
        return field.startswith(value)
    if option == "Contains":
        return value in field
    return field == value


def parse(given: Iterable[Mapping], allowed: Mapping[str, tuple[str, ...]]) -> list[StringFilter]:
    """The request's ParameterFilters, checked against the keys and options `allowed`."""
    found = []
    for item in given:
        key = item["Key"]
        family = "tag" if key.startswith("tag:") else key
        if family not in allowed:
            raise _invalid("InvalidFilterKey", f"The following filter key is not valid: {key}. "
                           f"Valid filter keys include: [{', '.join(allowed)}].")
        options = allowed[family]
        option = item.get("Option") or options[0]
        if option not in options:
            raise _invalid("InvalidFilterOption", f"The following filter option is not valid: "
                           f"{option}. Valid options include: [{', '.join(options)}].")
        values = tuple(item.get("Values") or ())
        _check_values(key, family, values)
        found.append(StringFilter(key, option, values))
    return found


def _check_values(key: str, family: str, values: Sequence[str]) -> None:
    if not values and family != "tag":
        raise _invalid("InvalidFilterValue", f"The following filter values are missing : "
                       f"null for filter key {key}.")
    allowed = {"Type": TYPES, "Tier": TIERS}.get(family)
    bad = [v for v in values if (allowed and v not in allowed)
           or (family == "Path" and normalized_path(v) is None)]
    if bad:
        raise _invalid("InvalidFilterValue", f"The following filter value is not valid: "
                       f"{bad[0]}. Valid values include: [{', '.join(allowed or ['/path'])}].")


def parse_legacy(given: Iterable[Mapping]) -> list[StringFilter]:
    """DescribeParameters' older Filters (Name, Type, KeyId): names match as prefixes."""
    return [StringFilter(f["Key"], "BeginsWith" if f["Key"] == "Name" else "Equals",
                         tuple(f["Values"])) for f in given]


def matches(candidate: Candidate, filters: Sequence[StringFilter]) -> bool:
    return all(f.matches(candidate) for f in filters)


def _invalid(code: str, message: str) -> AwsError:
    return error(code, message)
