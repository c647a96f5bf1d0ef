"""The ECS cluster query language: `memberOf` constraints and ListContainerInstances filters.

An expression is `subject operator [argument]`, combined with `and`/`&&`, `or`/`||`,
`not`/`!` and parentheses; https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-query-language.html
is the specification. :func:`compile_query` parses an expression once (the result is cached by
its text) into a :class:`ClusterQuery`, whose :meth:`ClusterQuery.matches` tests one container
instance.

Where the page is silent, portside decides, and says so here:

- ``not`` binds tighter than ``and``, which binds tighter than ``or`` (the usual Boolean
  precedence; the page only says parentheses set precedence). Keywords and word operators are
  case-insensitive; subjects are not.
- A comparison on a subject the instance lacks (an attribute it does not carry, no EC2 instance
  id, no agent version) is false, whatever the operator: the page's own example
  ``attribute:stack != prod`` lists "the instances with the custom attribute stack unless the
  attribute value is prod". Only ``!exists`` is true for a missing attribute. An attribute set
  without a value compares as the empty string.
- ``task:group`` compares each group with a task on the instance; the comparison holds when it
  holds for any of them (so ``task:group != db`` is not ``not(task:group == db)``: the page writes
  anti-affinity the second way). An instance without tasks satisfies no ``task:group``
  comparison.
- ``matches`` is a whole-value match (Java's ``String.matches``), with Python's ``re`` dialect,
  which reads the common Java syntax the same way.
- Ordering operators on an attribute compare numbers when both sides are numbers, else strings.
- Values are bare words or quoted with ``'`` or ``"``. A bare regular expression may contain
  balanced parentheses and brackets; quote it when it holds spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any, Protocol

from portside.services.ecs.placement.errors import InvalidParameterException

# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PlacementConstraint.html
MAX_EXPRESSION_LENGTH = 2000
COMPILED_CACHE_SIZE = 1024


class ClusterQueryError(InvalidParameterException):
    """An expression that does not parse, naming what is wrong where."""

    def __init__(self, expression: str, position: int, problem: str) -> None:
        super().__init__(
            f"Invalid cluster query expression: {problem} at position {position + 1}: "
            f"{expression!r}"
        )
        self.expression = expression
        self.position = position
        self.problem = problem


class QueryTarget(Protocol):
    """What an expression can see of a container instance."""

    @property
    def agent_connected(self) -> bool: ...
    @property
    def agent_version(self) -> str | None: ...
    @property
    def attributes(self) -> Mapping[str, str | None]: ...
    @property
    def ec2_instance_id(self) -> str | None: ...
    @property
    def registered_at(self) -> datetime | None: ...
    @property
    def running_tasks_count(self) -> int: ...
    @property
    def task_groups(self) -> Mapping[str, int]:
        """Tasks on the instance that count for placement, by task group."""
        ...


class Operator(Enum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    GREATER_THAN = "greater_than"
    GREATER_THAN_EQUAL = "greater_than_equal"
    LESS_THAN = "less_than"
    LESS_THAN_EQUAL = "less_than_equal"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"
    IN = "in"
    NOT_IN = "not_in"
    MATCHES = "matches"
    NOT_MATCHES = "not_matches"


# Longest first, so that `>=` is not read as `>` followed by `=`.
_SYMBOLS = (
    ("!exists", Operator.NOT_EXISTS),
    ("!in", Operator.NOT_IN),
    ("==", Operator.EQUALS),
    ("!=", Operator.NOT_EQUALS),
    (">=", Operator.GREATER_THAN_EQUAL),
    ("<=", Operator.LESS_THAN_EQUAL),
    ("=~", Operator.MATCHES),
    ("!~", Operator.NOT_MATCHES),
    (">", Operator.GREATER_THAN),
    ("<", Operator.LESS_THAN),
)
_WORDS = {operator.value: operator for operator in Operator}

_EQUALITY = frozenset({Operator.EQUALS, Operator.NOT_EQUALS})
_ORDER = frozenset({
    Operator.GREATER_THAN, Operator.GREATER_THAN_EQUAL, Operator.LESS_THAN,
    Operator.LESS_THAN_EQUAL,
})
_MEMBERSHIP = frozenset({Operator.IN, Operator.NOT_IN})
_PATTERN = frozenset({Operator.MATCHES, Operator.NOT_MATCHES})
_EXISTENCE = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})

ATTRIBUTE_PREFIX = "attribute:"
# "Valid operators" per subject, as the page lists them; attributes take every operator, and
# task:group (listed without operators) takes the string ones, as ec2InstanceId does.
_SUBJECT_OPERATORS = {
    "agentConnected": _EQUALITY | _MEMBERSHIP | _PATTERN,
    "agentVersion": _EQUALITY | _ORDER,
    "ec2InstanceId": _EQUALITY | _MEMBERSHIP | _PATTERN,
    "registeredAt": _EQUALITY | _ORDER,
    "runningTasksCount": _EQUALITY | _ORDER,
    "task:group": _EQUALITY | _MEMBERSHIP | _PATTERN,
}
_ALL_OPERATORS = frozenset(Operator)
# Subjects that change as tasks come and go: a cached answer for them goes stale.
_TASK_SUBJECTS = frozenset({"task:group", "runningTasksCount"})

# Attribute names: letters, digits, hyphens, underscores, slashes, back slashes and periods.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement-constraints.html
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_\-./\\]+")
_SUBJECT_WORD = re.compile(r"[A-Za-z0-9:]+")
_OPERATOR_WORD = re.compile(r"[A-Za-z_]+")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_:.\-/\\]")
_VERSION = re.compile(r"\d+(?:\.\d+)*")
_INTEGER = re.compile(r"[+-]?\d+")
# A bare value ends at a space, a bracket, a comma or a Boolean operator (attribute values
# cannot hold '&' or '|'); quote a value to put any of these in it.
_BARE_VALUE_END = frozenset(" \t\r\n()[],&|")

Predicate = Callable[[QueryTarget], bool]


@dataclass(frozen=True, eq=False)
class ClusterQuery:
    """A compiled expression. ``dynamic`` says it reads tasks (``task:group``,
    ``runningTasksCount``), so its answer for an instance can change without the instance
    being re-registered."""

    expression: str
    dynamic: bool
    _predicate: Predicate

    def matches(self, instance: QueryTarget) -> bool:
        return self._predicate(instance)


def compile_query(expression: str) -> ClusterQuery:
    """Parse ``expression`` (cached by its text) or raise :class:`ClusterQueryError`."""
    return _compile_cached(expression)


@lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compile_cached(expression: str) -> ClusterQuery:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ClusterQueryError(
            expression, MAX_EXPRESSION_LENGTH, f"longer than {MAX_EXPRESSION_LENGTH} characters"
        )
    parser = _Parser(expression)
    predicate = parser.parse()
    return ClusterQuery(expression, parser.dynamic, predicate)


class _Parser:
    """Recursive descent over the text: or → and → not → (group | comparison)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.dynamic = False

    def parse(self) -> Predicate:
        self._skip_space()
        if self.pos == len(self.text):
            raise self._error("empty expression")
        predicate = self._or()
        self._skip_space()
        if self.pos != len(self.text):
            raise self._error(f"unexpected {self.text[self.pos]!r}")
        return predicate

    # --- Boolean structure -------------------------------------------------------------------

    def _or(self) -> Predicate:
        terms = [self._and()]
        while self._keyword("or") or self._symbol("||"):
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else _any_of(tuple(terms))

    def _and(self) -> Predicate:
        terms = [self._not()]
        while self._keyword("and") or self._symbol("&&"):
            terms.append(self._not())
        return terms[0] if len(terms) == 1 else _all_of(tuple(terms))

    def _not(self) -> Predicate:
        if self._keyword("not") or self._symbol("!"):
            inner = self._not()
            return lambda target: not inner(target)
        return self._primary()

    def _primary(self) -> Predicate:
        if self._symbol("("):
            inner = self._or()
            if not self._symbol(")"):
                raise self._error("missing ')'")
            return inner
        return self._comparison()

    # --- subject operator [argument] ---------------------------------------------------------

    def _comparison(self) -> Predicate:
        self._skip_space()
        start = self.pos
        subject = self._subject()
        operator = self._operator()
        attribute = subject.startswith(ATTRIBUTE_PREFIX)
        if operator not in (_ALL_OPERATORS if attribute else _SUBJECT_OPERATORS[subject]):
            raise ClusterQueryError(
                self.text, start, f"operator {operator.value} is not valid for {subject}"
            )
        self.dynamic = self.dynamic or subject in _TASK_SUBJECTS
        if operator in _EXISTENCE:
            return _existence(subject, operator is Operator.EXISTS)
        if operator in _MEMBERSHIP:
            members = frozenset(self._list())
            return _comparison(subject, _membership_test(members, operator is Operator.IN))
        value_start = self._skip_space()
        if operator in _PATTERN:
            pattern = self._regex(self._pattern(), value_start)
            return _comparison(subject, _pattern_test(pattern, operator is Operator.MATCHES))
        value = self._value(_BARE_VALUE_END)
        if attribute:
            return _comparison(subject, _attribute_test(operator, value))
        typed = self._typed(subject, value, value_start)
        return _comparison(subject, _ordering_test(operator, typed))

    def _subject(self) -> str:
        if self.text.startswith(ATTRIBUTE_PREFIX, self.pos):
            name = _ATTRIBUTE_NAME.match(self.text, self.pos + len(ATTRIBUTE_PREFIX))
            if name is None:
                raise self._error("missing attribute name")
            self.pos = name.end()
            return ATTRIBUTE_PREFIX + name.group()
        word = _SUBJECT_WORD.match(self.text, self.pos)
        if self.pos == len(self.text):
            raise self._error("missing subject")
        if word is None or word.group() not in _SUBJECT_OPERATORS:
            found = word.group() if word else self.text[self.pos]
            raise self._error(f"unknown subject {found!r}")
        self.pos = word.end()
        return word.group()

    def _operator(self) -> Operator:
        self._skip_space()
        for symbol, operator in _SYMBOLS:
            end = self.pos + len(symbol)
            # `!in` and `!exists` end in a letter: `!inx` is no operator.
            if self.text.startswith(symbol, self.pos) and not (
                symbol[-1].isalpha() and self._word_continues(end)
            ):
                self.pos = end
                return operator
        word = _OPERATOR_WORD.match(self.text, self.pos)
        operator = _WORDS.get(word.group().lower()) if word else None
        if word is None or operator is None:
            raise self._error("missing operator")
        self.pos = word.end()
        return operator

    def _list(self) -> tuple[str, ...]:
        self._skip_space()
        if not self._symbol("["):
            raise self._error("expected an argument list '[...]'")
        values = [self._value(_BARE_VALUE_END)]
        while self._symbol(","):
            values.append(self._value(_BARE_VALUE_END))
        if not self._symbol("]"):
            raise self._error("expected ',' or ']'")
        return tuple(values)

    def _value(self, stops: frozenset[str]) -> str:
        self._skip_space()
        quoted = self._quoted()
        if quoted is not None:
            return quoted
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        if self.pos == start:
            raise self._error("missing value")
        return self.text[start : self.pos]

    def _pattern(self) -> str:
        """A quoted value, or a bare regular expression that ends at a space, at `&&` or `||`,
        or at a ')' that closes no parenthesis of its own."""
        quoted = self._quoted()
        if quoted is not None:
            return quoted
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if depth == 0 and (
                char.isspace() or char == ")" or self.text.startswith(("&&", "||"), self.pos)
            ):
                break
            if char == "\\":
                self.pos += 1
            elif char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            self.pos += 1
        if self.pos == start:
            raise self._error("missing regular expression")
        return self.text[start : self.pos]

    def _quoted(self) -> str | None:
        if self.pos >= len(self.text) or self.text[self.pos] not in "'\"":
            return None
        quote, start = self.text[self.pos], self.pos
        end = self.text.find(quote, start + 1)
        if end < 0:
            raise self._error("unterminated quoted value")
        self.pos = end + 1
        return self.text[start + 1 : end]

    # --- typed arguments ---------------------------------------------------------------------

    def _typed(self, subject: str, value: str, position: int) -> Any:
        """The argument in the subject's own type, so that evaluation compares like with like."""
        if subject == "runningTasksCount":
            if not _INTEGER.fullmatch(value):
                raise ClusterQueryError(self.text, position, f"{value!r} is not an integer")
            return int(value)
        if subject == "agentVersion":
            if not _VERSION.fullmatch(value):
                raise ClusterQueryError(self.text, position, f"{value!r} is not a version")
            return _version(value)
        if subject == "registeredAt":
            moment = _date(value)
            if moment is None:
                raise ClusterQueryError(self.text, position, f"{value!r} is not a valid date")
            return moment
        return value

    def _regex(self, pattern: str, position: int) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as problem:
            raise ClusterQueryError(
                self.text, position, f"invalid regular expression ({problem})"
            ) from None

    # --- lexical helpers ---------------------------------------------------------------------

    def _skip_space(self) -> int:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos

    def _symbol(self, symbol: str) -> bool:
        self._skip_space()
        if self.text.startswith(symbol, self.pos):
            self.pos += len(symbol)
            return True
        return False

    def _keyword(self, word: str) -> bool:
        self._skip_space()
        end = self.pos + len(word)
        if self.text[self.pos : end].lower() == word and not self._word_continues(end):
            self.pos = end
            return True
        return False

    def _word_continues(self, index: int) -> bool:
        return index < len(self.text) and _WORD_CHAR.match(self.text[index]) is not None

    def _error(self, problem: str) -> ClusterQueryError:
        return ClusterQueryError(self.text, self.pos, problem)


# --- evaluation ------------------------------------------------------------------------------


def _all_of(terms: tuple[Predicate, ...]) -> Predicate:
    return lambda target: all(term(target) for term in terms)


def _any_of(terms: tuple[Predicate, ...]) -> Predicate:
    return lambda target: any(term(target) for term in terms)


def _existence(subject: str, wanted: bool) -> Predicate:
    name = subject[len(ATTRIBUTE_PREFIX) :]
    return lambda target: (name in target.attributes) is wanted


_MISSING = object()
Test = Callable[[Any], bool]


def _getter(subject: str) -> Callable[[QueryTarget], Any]:
    """The subject's value on an instance (``_MISSING`` when it has none), in the type its
    arguments are compiled to."""
    if subject.startswith(ATTRIBUTE_PREFIX):
        name = subject[len(ATTRIBUTE_PREFIX) :]

        def attribute(target: QueryTarget) -> Any:
            value = target.attributes.get(name, _MISSING)
            return "" if value is None else value

        return attribute
    if subject == "agentConnected":
        return lambda target: "true" if target.agent_connected else "false"
    if subject == "agentVersion":
        return lambda target: (
            _MISSING if target.agent_version is None else _version(target.agent_version)
        )
    if subject == "ec2InstanceId":
        return lambda target: _MISSING if target.ec2_instance_id is None else target.ec2_instance_id
    if subject == "registeredAt":
        return lambda target: _MISSING if target.registered_at is None else target.registered_at
    return lambda target: target.running_tasks_count


def _comparison(subject: str, test: Test) -> Predicate:
    """The test applied to the subject's value; false whenever the instance lacks the subject.
    ``task:group`` holds when the test holds for any group with a task on the instance."""
    if subject == "task:group":
        return lambda target: any(
            test(group) for group, count in target.task_groups.items() if count > 0
        )
    get = _getter(subject)

    def compare(target: QueryTarget) -> bool:
        value = get(target)
        return value is not _MISSING and test(value)

    return compare


def _pattern_test(pattern: re.Pattern[str], wanted: bool) -> Test:
    return lambda value: (pattern.fullmatch(value) is not None) is wanted


def _membership_test(members: frozenset[str], wanted: bool) -> Test:
    return lambda value: (value in members) is wanted


def _ordering_test(operator: Operator, argument: Any) -> Test:
    compare = _ORDERINGS[operator]
    return lambda value: compare(value, argument)


def _attribute_test(operator: Operator, argument: str) -> Test:
    """Attribute values are strings; ordering compares them as numbers when both are."""
    compare = _ORDERINGS[operator]
    number = _number(argument) if operator in _ORDER else None
    if number is None:
        return lambda value: compare(value, argument)

    def test(value: str) -> bool:
        value_number = _number(value)
        if value_number is None:
            return compare(value, argument)
        return compare(value_number, number)

    return test


_ORDERINGS: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.EQUALS: lambda a, b: a == b,
    Operator.NOT_EQUALS: lambda a, b: a != b,
    Operator.GREATER_THAN: lambda a, b: a > b,
    Operator.GREATER_THAN_EQUAL: lambda a, b: a >= b,
    Operator.LESS_THAN: lambda a, b: a < b,
    Operator.LESS_THAN_EQUAL: lambda a, b: a <= b,
}


def _version(text: str) -> tuple[int, ...]:
    """1.14.5 → (1, 14, 5); trailing text such as a commit suffix is ignored."""
    match = _VERSION.match(text)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# The page's date formats: 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z,
# 2018-06-18T22:28:28 and 2018-06-18; without a zone, UTC.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?)?")


def _date(text: str) -> datetime | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
