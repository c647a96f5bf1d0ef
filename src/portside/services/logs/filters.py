"""Filter patterns (FilterLogEvents' `filterPattern`) as a pure parser and matcher.

Two of AWS's forms are served:
- terms: `ERROR "disk full"` (every term), `?ERROR ?WARN` (any of them), `-debug` (none of
  them); case-sensitive substrings; an empty pattern matches every event.
- JSON: `{ $.level = "error" && ($.code >= 500 || $.retry IS TRUE) }` over events whose message
  is a JSON object: `=`, `!=` (strings with `*` wildcards, numbers), `<`, `<=`, `>`, `>=`
  (numbers), `IS TRUE|FALSE|NULL`, `NOT EXISTS`, `&&`, `||`, parentheses.
Space-delimited (`[ip, user, ...]`) and regex (`%…%`) patterns are refused as invalid.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class FilterPatternError(ValueError):
    """The pattern does not parse; the API answers InvalidParameterException."""


@dataclass(frozen=True)
class Terms:
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()


Selector = tuple[str | int, ...]
Value = float | str | bool | None


@dataclass(frozen=True)
class Comparison:
    selector: Selector
    op: str  # = != < <= > >= IS NOT_EXISTS
    value: Value


@dataclass(frozen=True)
class Junction:
    op: str  # && or ||
    left: Expression
    right: Expression


Expression = Comparison | Junction
Pattern = Terms | Expression

_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|([^\s"{}()\[\]%]+))')


def parse(text: str) -> Pattern:
    """The pattern `text` describes; FilterPatternError when it is not one AWS accepts."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return _JsonParser(stripped).parse()
    return _parse_terms(stripped)


def _parse_terms(text: str) -> Terms:
    groups: dict[str, list[str]] = {"": [], "?": [], "-": []}
    at = 0
    while at < len(text):
        found = _TERM.match(text, at)
        if found is None:
            raise FilterPatternError(f"Invalid character(s) in term at {text[at:at + 20]!r}")
        quoted, bare = found.group(2), found.group(3)
        term = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        if term:
            groups[found.group(1)].append(term)
        at = found.end()
        if at < len(text) and not text[at].isspace():
            raise FilterPatternError(f"Invalid character(s) in term at {text[at:at + 20]!r}")
        while at < len(text) and text[at].isspace():
            at += 1
    return Terms(tuple(groups[""]), tuple(groups["?"]), tuple(groups["-"]))


_JSON_TOKEN = re.compile(r"""\s*(?:
    (?P<sel>\$(?:\.[A-Za-z0-9_@\-]+|\[\d+\])*)
  | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|\{|\})
  | "(?P<str>(?:[^"\\]|\\.)*)"
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w*]))
  | (?P<word>[A-Za-z0-9_*.:/@\-]+)
)""", re.VERBOSE)


class _JsonParser:
    """Recursive descent over `{ … }`: || binds looser than &&, as in AWS's examples."""

    def __init__(self, text: str) -> None:
        self.tokens = self._tokenize(text)
        self.at = 0

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        at = 0
        while at < len(text):
            if text[at:].strip() == "":
                break
            found = _JSON_TOKEN.match(text, at)
            if found is None or found.end() == at:
                raise FilterPatternError(f"Invalid JSON filter pattern at {text[at:at + 20]!r}")
            kind = found.lastgroup or ""
            tokens.append((kind, found.group(kind)))
            at = found.end()
        return tokens

    def parse(self) -> Expression:
        self._expect("op", "{")
        expression = self._either()
        self._expect("op", "}")
        if self.at != len(self.tokens):
            raise FilterPatternError("Unexpected text after the closing '}'")
        return expression

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterPatternError("The JSON filter pattern ends too early")
        self.at += 1
        return token

    def _expect(self, kind: str, text: str) -> None:
        if self._take() != (kind, text):
            raise FilterPatternError(f"Expected {text!r} in the JSON filter pattern")

    def _either(self) -> Expression:
        left = self._both()
        while self._peek() == ("op", "||"):
            self.at += 1
            left = Junction("||", left, self._both())
        return left

    def _both(self) -> Expression:
        left = self._primary()
        while self._peek() == ("op", "&&"):
            self.at += 1
            left = Junction("&&", left, self._primary())
        return left

    def _primary(self) -> Expression:
        if self._peek() == ("op", "("):
            self.at += 1
            inner = self._either()
            self._expect("op", ")")
            return inner
        kind, text = self._take()
        if kind != "sel":
            raise FilterPatternError(f"Expected a $ selector, found {text!r}")
        selector = _selector(text)
        kind, op = self._take()
        if kind == "word" and op in ("IS", "NOT"):
            return self._keyword(selector, op)
        if kind != "op" or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise FilterPatternError(f"Expected a comparison operator, found {op!r}")
        return Comparison(selector, op, self._value(op))

    def _keyword(self, selector: Selector, keyword: str) -> Comparison:
        kind, word = self._take()
        if keyword == "NOT" and word == "EXISTS":
            return Comparison(selector, "NOT_EXISTS", None)
        if keyword == "IS" and word in ("TRUE", "FALSE", "NULL"):
            return Comparison(selector, "IS", {"TRUE": True, "FALSE": False}.get(word))
        raise FilterPatternError(f"Unexpected {keyword} {word}")

    def _value(self, op: str) -> Value:
        kind, text = self._take()
        if kind == "num":
            return float(text)
        if op in ("<", "<=", ">", ">="):
            raise FilterPatternError(f"{op} compares numbers only, not {text!r}")
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", text)
        if kind == "word":
            return text
        raise FilterPatternError(f"Expected a value, found {text!r}")


def _selector(text: str) -> Selector:
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", text[1:]):
        parts.append(int(index) if index else name)
    return tuple(parts)


def matches(pattern: Pattern, message: str) -> bool:
    """Whether an event's message matches a parsed pattern."""
    if isinstance(pattern, Terms):
        return (all(t in message for t in pattern.all_of)
                and (not pattern.any_of or any(t in message for t in pattern.any_of))
                and not any(t in message for t in pattern.none_of))
    try:
        document = json.loads(message)
    except ValueError:
        return False
    return isinstance(document, dict) and _holds(pattern, document)


_MISSING = object()


def _holds(expression: Expression, document: Any) -> bool:
    if isinstance(expression, Junction):
        if expression.op == "&&":
            return _holds(expression.left, document) and _holds(expression.right, document)
        return _holds(expression.left, document) or _holds(expression.right, document)
    found = _select(document, expression.selector)
    if expression.op == "NOT_EXISTS":
        return found is _MISSING
    if found is _MISSING:
        return False
    if expression.op == "IS":
        return found is expression.value
    return _compare(found, expression.op, expression.value)


def _select(document: Any, selector: Selector) -> Any:
    for part in selector:
        if isinstance(part, int):
            if not isinstance(document, list) or part >= len(document):
                return _MISSING
        elif not isinstance(document, dict) or part not in document:
            return _MISSING
        document = document[part]
    return document


def _compare(found: Any, op: str, value: Value) -> bool:
    if isinstance(value, float):
        if isinstance(found, bool) or not isinstance(found, int | float):
            return False
        return {"=": found == value, "!=": found != value, "<": found < value,
                "<=": found <= value, ">": found > value, ">=": found >= value}[op]
    if not isinstance(found, str) or not isinstance(value, str):
        return False
    # `*` is the only wildcard AWS knows in a string value.
    equal = re.fullmatch(".*".join(map(re.escape, value.split("*"))), found, re.DOTALL) \
        is not None
    return equal if op == "=" else not equal
