"""What a target receives: the event, a constant `Input`, the part of the event at
`InputPath`, or an `InputTransformer` template filled from the event.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html

Templates follow AWS's quoting rules. In a JSON template (one that starts with `{`, `[` or
`"`), a placeholder outside a string literal becomes the value as JSON (a string in quotes), and
inside a string literal it becomes the string's characters, escaped for JSON. In any other
(plain text) template the values are written as they are. `<aws.events.event>` and
`<aws.events.event.json>` are JSON objects, written unescaped wherever they stand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_PATHS = 100
MAX_TEMPLATE = 8192
RESERVED = ("aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time",
            "aws.events.event", "aws.events.event.json")
_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_PATH = re.compile(r"\$(\.[A-Za-z0-9_\-/]+|\.\*|\[\d+\]|\[\*\])*")
_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+|\*)|\[(\d+|\*)\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


class _Missing:
    """A path the event has no value at."""


MISSING = _Missing()


def is_path(path: str) -> bool:
    """The JSON path syntax EventBridge evaluates: dot notation with names of letters, digits,
    dashes, underscores and slashes, array indices and `*` wildcards."""
    return _PATH.fullmatch(path) is not None


def is_path_key(key: str) -> bool:
    """An InputPathsMap key: letters, digits, `_` and `-`; AWS reserves those starting
    with `AWS.` (which the character set already excludes)."""
    return _KEY.fullmatch(key) is not None


def resolve(event: Any, path: str) -> Any:
    """The value at `path` (a list where a wildcard fans out), or MISSING."""
    values = [event]
    fanned = False
    for match in _STEP.finditer(path[1:]):
        step = match.group(1) if match.group(1) is not None else match.group(2)
        found: list[Any] = []
        for value in values:
            if step == "*":
                fanned = True
                children = value.values() if isinstance(value, dict) else (
                    value if isinstance(value, list) else [])
                found.extend(children)
            elif match.group(2) is not None:
                index = int(step)
                if isinstance(value, list) and index < len(value):
                    found.append(value[index])
            elif isinstance(value, dict) and step in value:
                found.append(value[step])
        values = found
    if fanned:
        return values
    return values[0] if values else MISSING


@dataclass(frozen=True)
class Delivery:
    """The facts the reserved variables name."""

    rule_arn: str
    rule_name: str
    ingestion_time: str  # ISO 8601


def reserved_values(event: dict[str, Any], delivery: Delivery) -> dict[str, Any]:
    without_detail = {k: v for k, v in event.items() if k != "detail"}
    return {
        "aws.events.rule-arn": delivery.rule_arn,
        "aws.events.rule-name": delivery.rule_name,
        "aws.events.event.ingestion-time": delivery.ingestion_time,
        "aws.events.event": _Raw(without_detail),
        "aws.events.event.json": _Raw(event),
    }


@dataclass(frozen=True)
class _Raw:
    """A value written as JSON, unescaped, even inside a string literal."""

    value: Any


def target_input(target: dict[str, Any], event: dict[str, Any], delivery: Delivery) -> str:
    """The text a target receives for `event`."""
    if "Input" in target:
        return target["Input"]
    if "InputPath" in target:
        return to_json(resolve(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer is not None:
        values = {k: resolve(event, p) for k, p in (transformer.get("InputPathsMap") or {})
                  .items()}
        values.update(reserved_values(event, delivery))
        return render(transformer["InputTemplate"], values)
    return to_json(event)


def to_json(value: Any) -> str:
    return "null" if value is MISSING else json.dumps(value, separators=(",", ":"))


def is_json_template(template: str) -> bool:
    return template.lstrip()[:1] in ("{", "[", '"')


def render(template: str, values: dict[str, Any]) -> str:
    """Fill each `<name>` of `values` into the template; other `<…>` text stays."""
    if not is_json_template(template):
        return _PLACEHOLDER.sub(lambda m: _plain(values, m), template)
    return "".join(_json_pieces(template, lambda name, quoted: _in_json(values, name, quoted)))


def placeholder_check_text(template: str, names: set[str]) -> str:
    """The JSON template with its known placeholders outside strings made `null` and inside
    strings emptied: parseable exactly when the filled template will be (a placeholder used
    as an object key is not)."""
    def fill(name: str, quoted: bool) -> str | None:
        if name not in names:
            return None
        return "" if quoted else "null"
    return "".join(_json_pieces(template, fill))


def _json_pieces(template: str,
                 fill: Callable[[str, bool], str | None]) -> list[str]:
    """The template in pieces, each placeholder replaced by `fill(name, inside_a_string)`
    (None keeps it as written). String literals are tracked with their escapes."""
    pieces: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "<":
            match = _PLACEHOLDER.match(template, i)
            if match:
                filled = fill(match.group(1), in_string)
                pieces.append(match.group(0) if filled is None else filled)
                i = match.end()
                continue
        if in_string and char == "\\":
            pieces.append(template[i:i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        pieces.append(char)
        i += 1
    return pieces


def _plain(values: dict[str, Any], match: re.Match[str]) -> str:
    name = match.group(1)
    if name not in values:
        return match.group(0)
    value = values[name]
    if isinstance(value, _Raw):
        return to_json(value.value)
    if value is MISSING:
        return ""
    return value if isinstance(value, str) else to_json(value)


def _in_json(values: dict[str, Any], name: str, quoted: bool) -> str | None:
    if name not in values:
        return None
    value = values[name]
    if isinstance(value, _Raw):
        return to_json(value.value)
    if not quoted:
        return to_json(value)
    if value is MISSING:
        return ""
    return json.dumps(value)[1:-1] if isinstance(value, str) else to_json(value)
