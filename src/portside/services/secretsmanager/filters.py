"""ListSecrets and BatchGetSecretValue filters, as the Filter reference defines them.

- description: prefix match, not case-sensitive; name, tag-key, tag-value, primary-region,
  owning-service: prefix match, case-sensitive.
- all: the value is broken into words (at changes from lower to upper case, between letters
  and digits, at punctuation), and a secret matches when a word begins a word of its name,
  description, tag keys or tag values; not case-sensitive.
- A value starting with `!` negates. Within one filter a secret matches any of the plain
  values and none of the negated ones; all filters must match.

https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Filter.html
https://docs.aws.amazon.com/secretsmanager/latest/userguide/manage_search-secret.html
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

KEYS = ("description", "name", "tag-key", "tag-value", "primary-region", "owning-service",
        "all")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


@dataclass(frozen=True)
class Searchable:
    """What filters look at in a secret."""

    name: str
    description: str
    tag_keys: tuple[str, ...]
    tag_values: tuple[str, ...]
    primary_region: str
    owning_service: str = ""


@dataclass(frozen=True)
class Filter:
    key: str
    values: tuple[str, ...]


def words(text: str) -> list[str]:
    """`credsDatabase#892` → creds, Database, 892."""
    return _WORD.findall(text)


def matches(secret: Searchable, filters: Sequence[Filter]) -> bool:
    return all(_filter_matches(secret, f) for f in filters)


def _filter_matches(secret: Searchable, found: Filter) -> bool:
    test = _TESTS[found.key]
    plain = [v for v in found.values if not v.startswith("!")]
    negated = [v[1:] for v in found.values if v.startswith("!")]
    if plain and not any(test(secret, v) for v in plain):
        return False
    return not any(test(secret, v) for v in negated)


def _prefix(values: Callable[[Searchable], Iterable[str]], *, fold: bool = False
            ) -> Callable[[Searchable, str], bool]:
    def test(secret: Searchable, value: str) -> bool:
        wanted = value.lower() if fold else value
        return any((v.lower() if fold else v).startswith(wanted) for v in values(secret))
    return test


def _all(secret: Searchable, value: str) -> bool:
    texts = (secret.name, secret.description, *secret.tag_keys, *secret.tag_values)
    known = [w.lower() for text in texts for w in words(text)]
    return any(k.startswith(w.lower()) for w in words(value) for k in known)


_TESTS: dict[str, Callable[[Searchable, str], bool]] = {
    "description": _prefix(lambda s: [s.description], fold=True),
    "name": _prefix(lambda s: [s.name]),
    "tag-key": _prefix(lambda s: s.tag_keys),
    "tag-value": _prefix(lambda s: s.tag_values),
    "primary-region": _prefix(lambda s: [s.primary_region]),
    "owning-service": _prefix(lambda s: [s.owning_service] if s.owning_service else []),
    "all": _all,
}


def parse_filters(given: Iterable[dict]) -> list[Filter]:
    """The request's Filters (the model has checked keys and value patterns)."""
    return [Filter(f["Key"], tuple(f.get("Values") or ())) for f in given]
