"""The policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy).

The decision comes from the same engine, with the same policy set, that enforcement uses, so
a simulation answers what a real request would get. One EvaluationResult per action; its
decision is the most restrictive over the resources, each of which has its own entry in
ResourceSpecificResults.
https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.utils import parse_timestamp

from portside.auth.policy import (
    Decision,
    MatchedStatement,
    Policy,
    PolicyKind,
    PolicySet,
    Request,
    evaluate,
)
from portside.protocol.errors import error
from portside.services.iam import documents, paging
from portside.services.iam.access import PolicySource, SimulationSubject

# The most restrictive decision wins when one action is simulated on several resources.
_SEVERITY = {Decision.ALLOW: 0, Decision.IMPLICIT_DENY: 1, Decision.EXPLICIT_DENY: 2}
_ACCOUNT = re.compile(r"(?:arn:aws:iam::)?(\d{12})(?::root)?")


def run(simulation: SimulationSubject, request: dict[str, Any]) -> dict[str, Any]:
    """The simulator's response for `simulation`, extended by the request's own inputs."""
    sources = list(simulation.identity) + [
        PolicySource(f"PolicyInputList.{i}", f"PolicyInputList.{i}", "none", text)
        for i, text in enumerate(request.get("PolicyInputList") or (), 1)]
    boundaries = request.get("PermissionsBoundaryPolicyInputList") or ()
    boundary = simulation.boundary
    if boundaries:
        boundary = PolicySource("PermissionsBoundaryPolicyInputList.1",
                                "PermissionsBoundaryPolicyInputList.1", "none", boundaries[0])
    resource = None
    if request.get("ResourcePolicy"):
        resource = PolicySource("ResourcePolicy", "ResourcePolicy", "resource",
                                request["ResourcePolicy"])
    by_id = {s.source_id: s for s in [*sources, boundary, resource] if s is not None}
    policy_set = PolicySet(
        identity=[_parsed(s, PolicyKind.IDENTITY) for s in sources],
        resource=_parsed(resource, PolicyKind.RESOURCE) if resource else None,
        boundary=_parsed(boundary, PolicyKind.BOUNDARY) if boundary else None,
    )
    context = {"aws:CurrentTime": datetime.now(UTC),
               "aws:EpochTime": int(datetime.now(UTC).timestamp()),
               **context_entries(request.get("ContextEntries") or ())}
    owner = _resource_owner(request.get("ResourceOwner"))

    def decide(action: str, resource_arn: str) -> tuple[Decision, tuple, bool | None]:
        req = Request(simulation.caller, action, resource_arn, owner, context)
        result = evaluate(req, policy_set)
        in_boundary = None
        if policy_set.boundary is not None:
            in_boundary = evaluate(req, PolicySet(identity=[policy_set.boundary])).allowed
        return result.decision, result.matched, in_boundary

    results = [_action_result(action, request.get("ResourceArns"), decide, by_id)
               for action in request["ActionNames"]]
    keyed = list(enumerate(results))
    chunk, more = paging.page(keyed, request, key=lambda r: f"{r[0]:06d}")
    return {"EvaluationResults": [r for _, r in chunk], **more}


def _action_result(action: str, resources: list[str] | None,
                   decide: Callable[[str, str], tuple[Decision, tuple, bool | None]],
                   by_id: dict[str, PolicySource]) -> dict[str, Any]:
    per_resource = []
    for arn in resources or ["*"]:
        decision, matched, in_boundary = decide(action, arn)
        per_resource.append((arn, decision, matched, in_boundary))
    worst = max(per_resource, key=lambda r: _SEVERITY[r[1]])
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": per_resource[0][0] if len(per_resource) == 1 else "*",
        "EvalDecision": str(worst[1]),
        "MatchedStatements": _statements(
            [m for r in per_resource for m in r[2]], by_id),
        "MissingContextValues": [],
    }
    if worst[3] is not None:
        out["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": worst[3]}
    if resources:
        out["ResourceSpecificResults"] = [
            {"EvalResourceName": arn, "EvalResourceDecision": str(decision),
             "MatchedStatements": _statements(matched, by_id), "MissingContextValues": [],
             **({"PermissionsBoundaryDecisionDetail": {
                 "AllowedByPermissionsBoundary": in_boundary}} if in_boundary is not None
                else {})}
            for arn, decision, matched, in_boundary in per_resource]
    return out


def _parsed(source: PolicySource, kind: PolicyKind) -> Policy:
    """A policy under simulation; a malformed one is the caller's input error."""
    return documents.validated(source.document, kind, malformed="InvalidInput").with_source(
        source.source_id)


def _statements(matched: Sequence[MatchedStatement],
                by_id: dict[str, PolicySource]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for m in matched:
        if (m.source_id, m.index) in seen:
            continue
        seen.add((m.source_id, m.index))
        source = by_id[m.source_id]
        spans = statement_spans(source.document)
        entry: dict[str, Any] = {"SourcePolicyId": source.name,
                                 "SourcePolicyType": source.policy_type}
        if m.index < len(spans):
            start, end = spans[m.index]
            entry["StartPosition"] = position(source.document, start)
            entry["EndPosition"] = position(source.document, end)
        out.append(entry)
    return out


def _resource_owner(owner: str | None) -> str | None:
    if not owner:
        return None
    match = _ACCOUNT.fullmatch(owner)
    if match is None:
        raise error("InvalidInput", f"Invalid ResourceOwner {owner}.")
    return match[1]


# -- context entries ------------------------------------------------------------------------

def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower() == "true"


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _date(text: str) -> datetime:
    try:
        return parse_timestamp(text).astimezone(UTC)
    except (RuntimeError, OverflowError, OSError) as exc:  # botocore's out-of-range epochs
        raise ValueError(text) from exc


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "string": str, "ip": str, "binary": str, "numeric": _number, "boolean": _boolean,
    "date": _date,
}


def context_entries(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """ContextEntries as engine context values, typed by their ContextKeyType."""
    context: dict[str, Any] = {}
    for entry in entries:
        name = entry.get("ContextKeyName")
        kind = entry.get("ContextKeyType") or "string"
        values = entry.get("ContextKeyValues") or []
        if not name:
            raise error("InvalidInput", "Context entries must name a context key.")
        try:
            converted = [_CONVERTERS[kind.removesuffix("List")](v) for v in values]
        except (ValueError, TypeError, OverflowError):
            raise error("InvalidInput", f"Invalid value for context key {name} of type "
                        f"{kind}.") from None
        if kind.endswith("List"):
            context[name] = tuple(converted)
        elif len(converted) == 1:
            context[name] = converted[0]
        elif converted:
            raise error("InvalidInput", f"Context key {name} of type {kind} takes one value.")
    return context


# -- where each statement sits in its document ----------------------------------------------

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def statement_spans(document: str) -> list[tuple[int, int]]:
    """The [start, end) offsets of each statement of a (valid) policy document, in order;
    `Statement` may be a list or a single object. Empty when the text is not such a document."""
    try:
        return _spans(document)
    except (ValueError, IndexError):
        return []


def _spans(text: str) -> list[tuple[int, int]]:
    i = _SPACE.match(text, 0).end()
    if text[i] != "{":
        return []
    i = _SPACE.match(text, i + 1).end()
    spans: list[tuple[int, int]] = []
    while text[i] != "}":
        key, i = _DECODER.raw_decode(text, i)
        i = _SPACE.match(text, i).end()
        if text[i] != ":":
            raise ValueError("expected ':'")
        i = _SPACE.match(text, i + 1).end()
        start = i
        value, i = _DECODER.raw_decode(text, i)
        if key == "Statement":  # the last one wins, as in json.loads
            spans = [(start, i)] if isinstance(value, dict) else _items(text, start)
        i = _SPACE.match(text, i).end()
        if text[i] == ",":
            i = _SPACE.match(text, i + 1).end()
    return spans


def _items(text: str, i: int) -> list[tuple[int, int]]:
    """The spans of the elements of the JSON array that starts at `i`."""
    spans = []
    i = _SPACE.match(text, i + 1).end()
    while text[i] != "]":
        start = i
        _, i = _DECODER.raw_decode(text, i)
        spans.append((start, i))
        i = _SPACE.match(text, i).end()
        if text[i] == ",":
            i = _SPACE.match(text, i + 1).end()
    return spans


def position(text: str, offset: int) -> dict[str, int]:
    """An offset as the simulator's 1-based Line and Column."""
    line_start = text.rfind("\n", 0, offset) + 1
    return {"Line": text.count("\n", 0, offset) + 1, "Column": offset - line_start + 1}
