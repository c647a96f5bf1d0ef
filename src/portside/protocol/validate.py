"""Input validation against the botocore model: the constraints AWS checks before a handler runs.

AWS front ends reject a request whose parameters break the model (a missing required member, a
string longer than `max`, a value outside an enum …) with one error listing every violation:

    2 validation errors detected: Value null at 'cluster' failed to satisfy constraint: Member
    must not be null; Value '…' at 'family' failed to satisfy constraint: Member must have length
    less than or equal to 255

Paths name members as AWS does: the member name with its first letter lower-cased, list items as
`list.N.member`, nested members joined with dots. Validators are compiled once per shape, lazily
(recursive shapes stay finite), and cached: this runs on every request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from re import _constants as _sre  # re has no public view of a pattern's structure
from re import _parser as _sre_parse
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from botocore.model import OperationModel, Shape

from portside.protocol.errors import AwsError

# The error AWS answers for a broken constraint: (code for a bad value, code for a missing one),
# by service where it differs from its protocol's default, else by protocol.
# - json / rest-json: coral's ValidationException, e.g. EventBridge ListTargetsByRule.
# - query: ValidationError (IAM, STS, CloudFormation; "Common Errors" in every query API reference).
# - sqs: InvalidParameterValue / MissingParameter (SQS API reference, Common Errors).
# - s3: InvalidArgument; a required body that is absent is MissingRequestBodyError (S3 API
#   reference, "List of error codes").
_ERRORS: dict[str, tuple[str, str]] = {
    "json": ("ValidationException", "ValidationException"),
    "rest-json": ("ValidationException", "ValidationException"),
    "query": ("ValidationError", "ValidationError"),
    "rest-xml": ("InvalidArgument", "InvalidArgument"),
    "sqs": ("InvalidParameterValue", "MissingParameter"),
    # CloudWatch Logs answers broken constraints with its InvalidParameterException.
    "logs": ("InvalidParameterException", "InvalidParameterException"),
    "s3": ("InvalidArgument", "MissingRequestBodyError"),
}

_NOT_NULL = "Member must not be null"

# Enums a service leaves open: SQS answers an unknown queue attribute name with
# InvalidAttributeName, and ReceiveMessage takes message attribute names (SentTimestamp …) in its
# AttributeNames, whose model enum lists only queue attributes.
_OPEN_ENUMS = frozenset({"QueueAttributeName"})


class Violation(NamedTuple):
    path: str
    value: Any
    constraint: str
    sensitive: bool = False


Check = Callable[[Any, str, list[Violation]], None]


def validate_params(operation: OperationModel, params: dict, protocol: str) -> None:
    """Raise the service's validation error if `params` break the operation's input shape."""
    shape = operation.input_shape
    if shape is None:
        return
    violations: list[Violation] = []
    _validator(shape)(params, "", violations)
    if violations:
        raise validation_error(operation, protocol, violations)


def validation_error(
    operation: OperationModel, protocol: str, violations: list[Violation]
) -> AwsError:
    """The AWS error for `violations`, in the code and wording the service uses."""
    # endpointPrefix names the service here (botocore's service_name recurses without one).
    service = operation.metadata.get("endpointPrefix", "")
    code, missing_code = _ERRORS.get(service) or _ERRORS.get(protocol) or _ERRORS["json"]
    if all(v.constraint == _NOT_NULL for v in violations):
        code = missing_code
        if code == "MissingRequestBodyError" and not _misses_payload(operation, violations):
            code = _ERRORS["rest-xml"][0]
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    details = "; ".join(_describe(v) for v in violations)
    return AwsError(f"{count} validation {noun} detected: {details}", code=code, status=400)


def member_path(name: str) -> str:
    """A member as AWS names it in validation messages: its first letter lower-cased."""
    return name[:1].lower() + name[1:]


def _misses_payload(operation: OperationModel, violations: list[Violation]) -> bool:
    payload = operation.input_shape.serialization.get("payload")
    return payload is not None and any(v.path == member_path(payload) for v in violations)


def _describe(v: Violation) -> str:
    if v.value is None:
        shown = "Value null"
    elif v.sensitive:
        shown = "Value"  # AWS leaves sensitive values out of the message
    else:
        shown = f"Value '{_render(v.value)}'"
    return f"{shown} at '{v.path}' failed to satisfy constraint: {v.constraint}"


def _render(value: Any) -> str:
    """Values as AWS (Java) prints them: true, [a, b], {k=v}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(x) for x in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_render(k)}={_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return str(value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_cache: WeakKeyDictionary[Shape, Check] = WeakKeyDictionary()


def _validator(shape: Shape) -> Check:
    check = _cache.get(shape)
    if check is None:
        check = _cache[shape] = _compile(shape)
    return check


def _compile(shape: Shape) -> Check:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape)
    if kind == "list":
        return _list(shape)
    if kind == "map":
        return _map(shape)
    return _scalar(shape)


def _lazy(shape: Shape) -> Check:
    """Defer compiling a child until it is first used, so recursive shapes compile finitely.
    A scalar cannot recur: it is compiled at once, and checked without the indirection."""
    if shape.type_name not in ("structure", "list", "map"):
        return _validator(shape)
    compiled: list[Check] = []

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not compiled:
            compiled.append(_validator(shape))
        compiled[0](value, path, out)

    return check


def _structure(shape: Shape) -> Check:
    if shape.metadata.get("document"):
        return _accept
    members = {name: (member_path(name), _lazy(m)) for name, m in shape.members.items()}
    required = [(name, member_path(name)) for name in shape.required_members if name in members]

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            out.append(Violation(path, value, "Member must be a structure"))
            return
        for name, wire in required:
            if value.get(name) is None:
                out.append(Violation(_join(path, wire), None, _NOT_NULL))
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None:
                member[1](item, _join(path, member[0]), out)

    return check


def _list(shape: Shape) -> Check:
    sized = _size_check(shape, "length")
    item_check = _lazy(shape.member)

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, list | tuple):
            out.append(Violation(path, value, "Member must be a list"))
            return
        sized(value, path, out)
        for i, item in enumerate(value, 1):
            if item is not None:
                item_check(item, f"{path}.{i}.member", out)

    return check


def _map(shape: Shape) -> Check:
    sized = _size_check(shape, "length")
    key_check, value_check = _lazy(shape.key), _lazy(shape.value)
    nested_values = shape.value.type_name in ("structure", "list", "map")

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            out.append(Violation(path, value, "Member must be a map"))
            return
        sized(value, path, out)
        keys: list[Violation] = []
        values: list[Violation] = []
        for k, v in value.items():
            key_check(k, path, keys)
            if v is not None:
                value_check(v, f"{path}.{k}", out if nested_values else values)
        for found, what in ((keys, "Map keys"), (values, "Map value")):
            if found:
                constraints = ", ".join(dict.fromkeys(v.constraint for v in found))
                constraint = f"{what} must satisfy constraint: [{constraints}]"
                out.append(Violation(path, value, constraint))

    return check


_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "Member must be a string"),
    "integer": ((int,), "Member must be an integer"),
    "long": ((int,), "Member must be an integer"),
    "float": ((int, float), "Member must be a number"),
    "double": ((int, float), "Member must be a number"),
    "boolean": ((bool,), "Member must be a boolean"),
    "blob": ((bytes, bytearray, str), "Member must be binary data"),
    "timestamp": ((datetime,), "Member must be a timestamp"),
}


def _scalar(shape: Shape) -> Check:
    kind = shape.type_name
    if kind == "blob" and shape.serialization.get("streaming"):
        return _accept  # a stream handed over by the gateway; its length is the handler's business
    types, type_message = _TYPES.get(kind, ((object,), ""))
    numeric = kind in ("integer", "long", "float", "double")
    # In the order AWS lists them (CloudFormation: the pattern, then the length).
    checks: list[Check] = []
    pattern = _pattern(shape.metadata.get("pattern")) if kind == "string" else None
    if pattern is not None:
        message = f"Member must satisfy regular expression pattern: {pattern.pattern}"
        checks.append(_when(lambda v: pattern.fullmatch(v) is not None, message))
    enum = shape.metadata.get("enum")
    if enum and kind == "string" and shape.name not in _OPEN_ENUMS:
        allowed = frozenset(enum)
        message = f"Member must satisfy enum value set: [{', '.join(enum)}]"
        checks.append(_when(lambda v: v in allowed, message))
    if numeric or kind in ("string", "blob"):
        sized = _size_check(shape, "value" if numeric else "length")
        if sized is not _accept:  # most members have no bounds: no call for them
            checks.append(sized)
    sensitive = bool(shape.metadata.get("sensitive"))

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, types) or (isinstance(value, bool) and kind != "boolean"):
            out.append(Violation(path, value, type_message, sensitive))
            return
        if checks:
            found: list[Violation] = []
            for c in checks:
                c(value, path, found)
            if found:
                out.extend(v._replace(sensitive=sensitive) for v in found)

    return check


def _size_check(shape: Shape, measure: str) -> Check:
    """min/max as AWS words them: a length for strings, blobs, lists and maps, else a value."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is None and high is None:
        return _accept
    size: Callable[[Any], Any] = len if measure == "length" else _same

    too_small = f"Member must have {measure} greater than or equal to {low}"
    too_large = f"Member must have {measure} less than or equal to {high}"

    def check(value: Any, path: str, out: list[Violation]) -> None:
        n = size(value)
        if low is not None and n < low:
            out.append(Violation(path, value, too_small))
        if high is not None and n > high:
            out.append(Violation(path, value, too_large))

    return check


def _when(ok: Callable[[Any], bool], message: str) -> Check:
    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not ok(value):
            out.append(Violation(path, value, message))

    return check


def _same(value: Any) -> Any:
    return value


def _accept(value: Any, path: str, out: list[Violation]) -> None:
    return None


# Java regex classes the models use, mapped to Python classes that contain them (\w holds every
# letter and number, \s every separator): a wider class never rejects what AWS accepts.
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\w", r"\p{Z}": r"\s"}
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT)


@cache
def _pattern(pattern: str | None) -> re.Pattern[str] | None:
    """The model's (Java) regex compiled for Python, or None when it is not safe to check.

    A pattern is skipped rather than guessed at when Python cannot read it, and when it nests
    repetitions (ECR's repositoryName, EventBridge's header values): Python's backtracking takes
    exponential time on those for a crafted value, on every request. Not checking a constraint
    the service re-checks where it matters beats rejecting valid requests or stalling.
    """
    if not pattern:
        return None
    for java, python in _JAVA_CLASSES.items():
        if java in pattern and "[^" not in pattern:  # negated, a wider class would be narrower
            pattern = pattern.replace(java, python)
    try:
        compiled = re.compile(pattern)
        if _nests_repeats(_sre_parse.parse(pattern).data):
            return None
    except (re.error, RecursionError, OverflowError):
        return None
    return compiled


def _nests_repeats(items: list, inside_repeat: bool = False) -> bool:
    """Whether a repetition (or an alternation) sits inside another repetition."""
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            repeats = high > 1
            if repeats and inside_repeat:
                return True
            if _nests_repeats(sub.data if hasattr(sub, "data") else sub, inside_repeat or repeats):
                return True
        elif op == _sre.BRANCH:
            if inside_repeat:
                return True
            if any(_nests_repeats(b.data, inside_repeat) for b in arg[1]):
                return True
        elif op in (_sre.SUBPATTERN, _sre.ATOMIC_GROUP, _sre.ASSERT, _sre.ASSERT_NOT):
            sub = arg[-1]
            if _nests_repeats(sub.data if hasattr(sub, "data") else sub, inside_repeat):
                return True
    return False
