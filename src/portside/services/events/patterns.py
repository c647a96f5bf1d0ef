"""EventBridge event patterns: parsed and checked once into a tree of predicates, then matched
against each event by walking the pattern's keys only (never the whole event).

The grammar and its meaning are AWS's:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html and
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html.

- Fields are ANDed; the values in a field's array are ORed; `$or` ORs whole sub-patterns.
- When the event's value is an array, the field matches if any element does. A sub-pattern
  matched against an array of objects must match within one element.
- Operators test leaf values (strings, numbers, booleans, null); an object is no leaf, so
  `{"exists": false}` holds for a field whose value is an object.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portside.protocol.errors import AwsError

# A test over the leaf values an event holds at one field (none when the field is absent).
FieldTest = Callable[[list[Any]], bool]
LeafTest = Callable[[Any], bool]

NUMERIC_LIMIT = 5.0e9  # numeric matching covers -5.0e9 … +5.0e9 inclusive
_LOWER = frozenset({">", ">="})
_UPPER = frozenset({"<", "<="})
_EMPTY: dict[str, Any] = {}


class InvalidEventPattern(AwsError):
    code = "InvalidEventPatternException"
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"Event pattern is not valid. Reason: {reason}")


@dataclass(frozen=True)
class Node:
    """An object of the pattern: every field must match, and one branch of each `$or`."""

    fields: tuple[tuple[str, Node | FieldTest], ...]
    alternatives: tuple[tuple[Node, ...], ...]

    def matches(self, event: dict[str, Any]) -> bool:
        for key, test in self.fields:
            value = event.get(key, _MISSING)
            if isinstance(test, Node):
                if not _match_nested(test, value):
                    return False
            elif not test(_leaves(value)):
                return False
        return all(any(branch.matches(event) for branch in branches)
                   for branches in self.alternatives)


class _Missing:
    """The value of a field the event does not have."""


_MISSING = _Missing()


@dataclass(frozen=True)
class Pattern:
    """A compiled event pattern. `matches` never raises, whatever JSON the event holds."""

    root: Node
    source: str

    def matches(self, event: Any) -> bool:
        return isinstance(event, dict) and self.root.matches(event)


def compile_pattern(text: str) -> Pattern:
    """Parse and check an EventPattern; raise InvalidEventPattern with AWS's reason."""
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidEventPattern(f"Invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidEventPattern("Filter is not an object")
    try:
        return Pattern(_node(document), text)
    except RecursionError:
        raise InvalidEventPattern("Filter is nested too deeply") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


# -- matching ------------------------------------------------------------------------------


def _flatten(values: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        if isinstance(value, list):
            flat.extend(_flatten(value))
        else:
            flat.append(value)
    return flat


def _leaves(value: Any) -> list[Any]:
    """The leaf values at a field: none for an absent field or an object."""
    if isinstance(value, list):
        return [v for v in _flatten(value) if not isinstance(v, dict)]
    if value is _MISSING or isinstance(value, dict):
        return []
    return [value]


def _match_nested(node: Node, value: Any) -> bool:
    if isinstance(value, dict):
        return node.matches(value)
    if isinstance(value, list):
        objects = [v for v in _flatten(value) if isinstance(v, dict)]
        if objects:
            return any(node.matches(o) for o in objects)
    # Nothing below this field: only tests of absence can hold.
    return node.matches(_EMPTY)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(number: float) -> float:
    """JSON numbers compare as numbers (300 = 300.0 = 3.0e2); an integer too large for a
    float becomes an infinity rather than an error."""
    try:
        return float(number)
    except OverflowError:
        return math.copysign(math.inf, number)


# -- compiling -----------------------------------------------------------------------------


def _node(document: dict[str, Any]) -> Node:
    if not document:
        raise InvalidEventPattern("Empty objects are not allowed")
    fields: list[tuple[str, Node | FieldTest]] = []
    alternatives: list[tuple[Node, ...]] = []
    for key, value in document.items():
        if key == "$or" and _is_branch_list(value):
            alternatives.append(tuple(_node(branch) for branch in value))
        elif isinstance(value, dict):
            fields.append((key, _node(value)))
        elif isinstance(value, list):
            fields.append((key, _field(value)))
        else:
            raise InvalidEventPattern(f'"{key}" must be an object or an array')
    return Node(tuple(fields), tuple(alternatives))


def _is_branch_list(value: Any) -> bool:
    """`$or` is the operator when it lists objects; otherwise it is a field named `$or`."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _field(values: list[Any]) -> FieldTest:
    """The test of one field: its exact values in sets, each operator a test of its own."""
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")
    strings: set[str] = set()
    numbers: set[float] = set()
    constants: list[Any] = []  # true, false, null: compared by identity of kind and value
    tests: list[FieldTest] = []
    for value in values:
        if isinstance(value, str):
            strings.add(value)
        elif _is_number(value):
            numbers.add(_as_float(value))
        elif value is None or isinstance(value, bool):
            constants.append(value)
        elif isinstance(value, dict):
            tests.append(_operator(value))
        else:
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
    if strings or numbers or constants:
        tests.insert(0, _any_leaf(_exact(frozenset(strings), frozenset(numbers),
                                         tuple(constants))))
    if len(tests) == 1:
        return tests[0]
    all_tests = tuple(tests)
    return lambda leaves: any(test(leaves) for test in all_tests)


def _exact(strings: frozenset[str], numbers: frozenset[float],
           constants: tuple[Any, ...]) -> LeafTest:
    def test(leaf: Any) -> bool:
        if isinstance(leaf, str):
            return leaf in strings
        if _is_number(leaf):
            return _as_float(leaf) in numbers
        return any(leaf is c for c in constants)
    return test


def _any_leaf(test: LeafTest) -> FieldTest:
    return lambda leaves: any(test(leaf) for leaf in leaves)


def _operator(spec: dict[str, Any]) -> FieldTest:
    if not spec:
        raise InvalidEventPattern("Empty objects are not allowed")
    if len(spec) > 1:
        raise InvalidEventPattern("Only one key allowed in match expression")
    (name, value), = spec.items()
    if name == "exists":
        if not isinstance(value, bool):
            raise InvalidEventPattern("exists match pattern must be either true or false.")
        return bool if value else (lambda leaves: not leaves)
    if name == "anything-but":
        return _any_leaf(_anything_but(value))
    leaf_operators: dict[str, Callable[[Any], LeafTest]] = {
        "prefix": _prefix, "suffix": _suffix, "equals-ignore-case": _equals_ignore_case,
        "wildcard": _wildcard_operator, "numeric": _numeric, "cidr": _cidr,
    }
    if name not in leaf_operators:
        raise InvalidEventPattern(f"Unrecognized match type {name}")
    return _any_leaf(leaf_operators[name](value))


def _string_operand(operator: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidEventPattern(f"{operator} match pattern must be a string")
    return value


def _ignoring_case(operator: str, value: Any) -> str | None:
    """The operand of `{"prefix": {"equals-ignore-case": "x"}}`, or None for a plain string."""
    if not isinstance(value, dict):
        return None
    if list(value) != ["equals-ignore-case"]:
        raise InvalidEventPattern(f"Unsupported {operator} pattern: {json.dumps(value)}")
    return _string_operand("equals-ignore-case", value["equals-ignore-case"]).lower()


def _prefix(value: Any) -> LeafTest:
    folded = _ignoring_case("prefix", value)
    if folded is not None:
        return lambda leaf: isinstance(leaf, str) and leaf.lower().startswith(folded)
    prefix = _string_operand("prefix", value)
    return lambda leaf: isinstance(leaf, str) and leaf.startswith(prefix)


def _suffix(value: Any) -> LeafTest:
    folded = _ignoring_case("suffix", value)
    if folded is not None:
        return lambda leaf: isinstance(leaf, str) and leaf.lower().endswith(folded)
    suffix = _string_operand("suffix", value)
    return lambda leaf: isinstance(leaf, str) and leaf.endswith(suffix)


def _equals_ignore_case(value: Any) -> LeafTest:
    folded = _string_operand("equals-ignore-case", value).lower()
    return lambda leaf: isinstance(leaf, str) and leaf.lower() == folded


def _wildcard_operator(value: Any) -> LeafTest:
    match = wildcard(_string_operand("wildcard", value))
    return lambda leaf: isinstance(leaf, str) and match(leaf)


def wildcard(pattern: str) -> Callable[[str], bool]:
    """A matcher for `*` (any run of characters, none included); `\\*` and `\\\\` are a literal
    star and backslash, and any other escape is refused, as are consecutive stars. Literal
    runs are found left to right, so matching takes linear passes, never backtracking."""
    segments = [""]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in "*\\":
                raise InvalidEventPattern(f"Invalid escape character at pos {i}")
            segments[-1] += pattern[i + 1]
            i += 2
            continue
        if char == "*":
            if i + 1 < len(pattern) and pattern[i + 1] == "*":
                raise InvalidEventPattern(f"Consecutive wildcard characters at pos {i + 1}")
            segments.append("")
        else:
            segments[-1] += char
        i += 1
    if len(segments) == 1:
        literal = segments[0]
        return lambda text: text == literal
    head, middle, tail = segments[0], tuple(segments[1:-1]), segments[-1]
    fixed = len(head) + len(tail)

    def match(text: str) -> bool:
        if len(text) < fixed or not text.startswith(head) or not text.endswith(tail):
            return False
        position, end = len(head), len(text) - len(tail)
        for run in middle:
            found = text.find(run, position, end)
            if found < 0:
                return False
            position = found + len(run)
        return True
    return match


def _anything_but(value: Any) -> LeafTest:
    """The complement of a value, a list of values, or of prefix/suffix/equals-ignore-case/
    wildcard. Leaves of another kind than the operand (a number against strings) match."""
    if isinstance(value, dict):
        return _anything_but_operator(value)
    if isinstance(value, list):
        if not value:
            raise InvalidEventPattern("Empty arrays are not allowed")
        if not all(isinstance(v, str) or _is_number(v) for v in value):
            raise InvalidEventPattern(
                "Inside anything but list, start|null|boolean is not supported.")
        listed = value
    elif isinstance(value, str) or _is_number(value):
        listed = [value]
    else:
        raise InvalidEventPattern(
            "Value of anything-but must be an array or single string/number value.")
    excluded = _exact(frozenset(v for v in listed if isinstance(v, str)),
                      frozenset(_as_float(v) for v in listed if _is_number(v)), ())
    return lambda leaf: not excluded(leaf)


def _anything_but_operator(spec: dict[str, Any]) -> LeafTest:
    if len(spec) != 1:
        raise InvalidEventPattern("Only one key allowed in match expression")
    (name, value), = spec.items()
    if name in ("prefix", "suffix"):
        operand = _string_operand(name, value)
        test = ((lambda s: s.startswith(operand)) if name == "prefix"
                else (lambda s: s.endswith(operand)))
    elif name == "equals-ignore-case":
        folded = frozenset(s.lower() for s in _strings(name, value))
        test = lambda s: s.lower() in folded  # noqa: E731
    elif name == "wildcard":
        matchers = tuple(wildcard(s) for s in _strings(name, value))
        test = lambda s: any(m(s) for m in matchers)  # noqa: E731
    else:
        raise InvalidEventPattern(f"Unsupported anything-but pattern: {name}")
    return lambda leaf: not (isinstance(leaf, str) and test(leaf))


def _strings(operator: str, value: Any) -> list[str]:
    """A string or a non-empty list of strings (anything-but equals-ignore-case/wildcard)."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")
    return [_string_operand(operator, v) for v in values]


def _numeric(spec: Any) -> LeafTest:
    """`["=", 3]`, `["<", 10]`, `[">", 0, "<=", 5]`: one bound each side at most."""
    if not isinstance(spec, list) or not spec:
        raise InvalidEventPattern("Value of numeric must be an array.")
    if len(spec) % 2 or len(spec) > 4:
        raise InvalidEventPattern(f"Invalid member in numeric match: {json.dumps(spec)}")
    bounds: dict[str, tuple[str, float]] = {}
    for operator, operand in zip(spec[::2], spec[1::2], strict=True):
        if operator not in ("=", *_LOWER, *_UPPER):
            raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")
        if not _is_number(operand):
            raise InvalidEventPattern(f"Value of {operator} must be numeric")
        if not abs(operand) <= NUMERIC_LIMIT:
            raise InvalidEventPattern(
                f"Value of {operator} must be between -5.0E9 and 5.0E9 inclusive")
        side = "=" if operator == "=" else ("lower" if operator in _LOWER else "upper")
        if side in bounds or (side == "=" and len(spec) > 2):
            raise InvalidEventPattern(f"Invalid member in numeric match: {json.dumps(spec)}")
        bounds[side] = (operator, float(operand))
    if "=" in bounds:
        target = bounds["="][1]
        return lambda leaf: _is_number(leaf) and leaf == target
    low, high = bounds.get("lower"), bounds.get("upper")
    if low and high and low[1] >= high[1]:
        raise InvalidEventPattern("Bottom must be less than top")
    return lambda leaf: (_is_number(leaf) and _above(leaf, low) and _below(leaf, high))


def _above(value: float, bound: tuple[str, float] | None) -> bool:
    if bound is None:
        return True
    return value > bound[1] if bound[0] == ">" else value >= bound[1]


def _below(value: float, bound: tuple[str, float] | None) -> bool:
    if bound is None:
        return True
    return value < bound[1] if bound[0] == "<" else value <= bound[1]


def _cidr(value: Any) -> LeafTest:
    """An IPv4 or IPv6 network; a leaf matches if it is an address inside it."""
    text = _string_operand("cidr", value)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidEventPattern(f"Nonstandard IP address: {text}") from None

    def test(leaf: Any) -> bool:
        if not isinstance(leaf, str):
            return False
        try:
            return ipaddress.ip_address(leaf) in network
        except ValueError:
            return False
    return test
