"""Lifecycle policy rules as pure functions: validation of the policy text and the images each
rule expires.

Rules run from the lowest `rulePriority` up. An image whose tags a rule selects is that rule's:
no lower-priority rule looks at it again, so an image is expired by at most one rule.
`imageCountMoreThan` keeps the N most recently pushed of a rule's images; `sinceImagePushed`
expires those pushed more than N days ago. `tagged` rules need a prefix or pattern list, and an
image is selected only when every listed prefix (or pattern) matches one of its tags.
https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

DAY = 86400.0
MAX_WILDCARDS = 4


class InvalidLifecyclePolicy(ValueError):
    """The policy text breaks a rule of the format; the message says which."""


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: str  # tagged | untagged | any
    prefixes: tuple[str, ...]
    patterns: tuple[str, ...]
    count_type: str  # imageCountMoreThan | sinceImagePushed
    count_number: int


@dataclass(frozen=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: float


def parse_policy(text: str) -> list[Rule]:
    """The rules of a policy, by priority; raises InvalidLifecyclePolicy."""
    try:
        doc = json.loads(text)
        raw_rules = doc["rules"]
        rules = sorted((_rule(r) for r in raw_rules), key=lambda r: r.priority)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidLifecyclePolicy(f"Invalid lifecycle policy: {exc}") from None
    if not rules:
        raise InvalidLifecyclePolicy("A lifecycle policy needs at least one rule.")
    priorities = [r.priority for r in rules]
    if len(set(priorities)) != len(priorities):
        raise InvalidLifecyclePolicy("Rule priorities must be unique.")
    if any(r.tag_status == "any" for r in rules[:-1]):
        raise InvalidLifecyclePolicy("The rule with tagStatus 'any' must have the highest "
                                     "rulePriority.")
    return rules


def _rule(raw: dict) -> Rule:
    selection = raw["selection"]
    if (raw.get("action") or {}).get("type") != "expire":
        raise InvalidLifecyclePolicy("A rule's action type must be 'expire'.")
    status = selection["tagStatus"]
    prefixes = tuple(selection.get("tagPrefixList") or ())
    patterns = tuple(selection.get("tagPatternList") or ())
    if status not in ("tagged", "untagged", "any"):
        raise InvalidLifecyclePolicy(f"Invalid tagStatus {status!r}.")
    if status == "tagged" and not (prefixes or patterns):
        raise InvalidLifecyclePolicy("A tagged rule needs tagPrefixList or tagPatternList.")
    if status != "tagged" and (prefixes or patterns):
        raise InvalidLifecyclePolicy("Only tagged rules may list tag prefixes or patterns.")
    if prefixes and patterns:
        raise InvalidLifecyclePolicy("A rule lists tag prefixes or patterns, not both.")
    if any(p.count("*") > MAX_WILDCARDS for p in patterns):
        raise InvalidLifecyclePolicy(f"A tag pattern may contain at most {MAX_WILDCARDS} '*'.")
    count_type, number = selection["countType"], int(selection["countNumber"])
    if number < 1:
        raise InvalidLifecyclePolicy("countNumber must be at least 1.")
    if count_type == "sinceImagePushed":
        if selection.get("countUnit") != "days":
            raise InvalidLifecyclePolicy("sinceImagePushed needs countUnit 'days'.")
    elif count_type == "imageCountMoreThan":
        if "countUnit" in selection:
            raise InvalidLifecyclePolicy("imageCountMoreThan takes no countUnit.")
    else:
        raise InvalidLifecyclePolicy(f"Invalid countType {count_type!r}.")
    return Rule(int(raw["rulePriority"]), status, prefixes, patterns, count_type, number)


def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def selects(rule: Rule, image: Image) -> bool:
    if rule.tag_status == "any":
        return True
    if rule.tag_status == "untagged":
        return not image.tags
    if rule.prefixes:
        return all(any(t.startswith(p) for t in image.tags) for p in rule.prefixes)
    return all(any(_pattern(p).fullmatch(t) for t in image.tags) for p in rule.patterns)


def expiring(rules: list[Rule], images: list[Image], now: float) -> dict[str, int]:
    """digest -> priority of the rule that expires it."""
    unclaimed = sorted(images, key=lambda i: i.pushed_at, reverse=True)
    result: dict[str, int] = {}
    for rule in rules:
        mine = [i for i in unclaimed if selects(rule, i)]
        unclaimed = [i for i in unclaimed if not selects(rule, i)]
        if rule.count_type == "imageCountMoreThan":
            doomed = mine[rule.count_number:]
        else:
            doomed = [i for i in mine if i.pushed_at < now - rule.count_number * DAY]
        result.update({i.digest: rule.priority for i in doomed})
    return result
