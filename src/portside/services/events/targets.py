"""Targets of rules: what each target kind needs, checked when it is put, and stored as given.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html

portside delivers to SQS queues, ECS clusters (RunTask), event buses and CloudWatch Logs log
groups (once the Logs service exists). A target of another kind is refused in FailedEntries
rather than accepted and never delivered.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from portside.context import RequestContext
from portside.protocol.errors import error
from portside.services.base import Service
from portside.services.events import transform
from portside.services.events.common import Request, Response, page, validation
from portside.services.events.model import targets_table
from portside.services.events.names import RuleRef, TargetArn, parse_target_arn
from portside.services.events.routes import Routes
from portside.services.events.rules import existing_rule, own_bus

MAX_TARGETS = 5  # targets per rule


def target_kind(arn: TargetArn) -> str | None:
    """sqs, ecs, events or logs for a resource portside delivers to; None otherwise."""
    resource = arn.resource
    if arn.service == "sqs" and "/" not in resource and ":" not in resource:
        return "sqs"
    if arn.service == "ecs" and resource.startswith("cluster/"):
        return "ecs"
    if arn.service == "events" and resource.startswith("event-bus/"):
        return "events"
    if arn.service == "logs" and resource.startswith("log-group:"):
        return "logs"
    return None


def check_target(target: dict[str, Any]) -> str | None:
    """Raise ValidationException for a target AWS refuses; return why portside cannot
    deliver to it (for FailedEntries), or None."""
    target_id = target["Id"]
    arn = parse_target_arn(target["Arn"])
    if arn is None:
        raise validation(f"Parameter {target['Arn']} is not valid. Reason: Provided Arn is not "
                         "in correct format.")
    _check_input(target)
    kind = target_kind(arn)
    if kind is None:
        return f"portside does not deliver events to {arn.service} targets."
    if kind == "ecs":
        if not target.get("EcsParameters"):
            raise validation(f"Parameter(s) EcsParameters must be specified for target: "
                             f"{target_id}.")
        if not target.get("RoleArn"):
            raise validation(f"Parameter(s) RoleArn must be specified for target: {target_id}.")
    if kind == "sqs" and arn.resource.endswith(".fifo") and not (
            target.get("SqsParameters") or {}).get("MessageGroupId"):
        raise validation(f"Parameter(s) SqsParameters must be specified for target: "
                         f"{target_id}.")
    _check_dead_letter(target)
    return None


def _check_input(target: dict[str, Any]) -> None:
    target_id = target["Id"]
    given = [m for m in ("Input", "InputPath", "InputTransformer") if m in target]
    if len(given) > 1:
        raise validation(f"Only one of Input, InputPath, or InputTransformer must be provided "
                         f"for target {target_id}.")
    if "Input" in target:
        try:
            json.loads(target["Input"])
        except ValueError as exc:
            raise validation(f"JSON syntax error in input for target {target_id}: {exc}") \
                from None
    if "InputPath" in target and not transform.is_path(target["InputPath"]):
        raise validation(f"Invalid InputPath for target {target_id}: "
                         f"{target['InputPath']}.")
    if "InputTransformer" in target:
        _check_transformer(target_id, target["InputTransformer"])


def _check_transformer(target_id: str, transformer: dict[str, Any]) -> None:
    """InputPathsMap: at most 100 keys of `[A-Za-z0-9_-]`, none a reserved variable, each a
    JSON path. InputTemplate: at most 8192 characters; a JSON template must stay JSON once
    filled (so no placeholder as an object key)."""
    paths = transformer.get("InputPathsMap") or {}
    if len(paths) > transform.MAX_PATHS:
        raise validation(f"InputPathsMap for target {target_id} has more than "
                         f"{transform.MAX_PATHS} entries.")
    for key, path in paths.items():
        if not transform.is_path_key(key) or key in transform.RESERVED:
            raise validation(f"Invalid InputPathsMap key for target {target_id}: {key}.")
        if not transform.is_path(path):
            raise validation(f"Invalid InputPathsMap value for target {target_id}: {path}.")
    template = transformer["InputTemplate"]
    if transform.is_json_template(template):
        names = set(paths) | set(transform.RESERVED)
        try:
            json.loads(transform.placeholder_check_text(template, names))
        except ValueError:
            raise validation(f"InputTemplate for target {target_id} contains invalid "
                             "JSON.") from None


def _check_dead_letter(target: dict[str, Any]) -> None:
    """Dead-letter queues are standard SQS queues (eb-rule-dlq.html)."""
    arn_text = (target.get("DeadLetterConfig") or {}).get("Arn")
    if arn_text is None:
        return
    arn = parse_target_arn(arn_text)
    if arn is None or target_kind(arn) != "sqs" or arn.resource.endswith(".fifo"):
        raise validation(f"Parameter {arn_text} is not valid. Reason: the dead-letter queue "
                         f"of target {target['Id']} must be a standard SQS queue.")


class TargetsApi(Service):
    """The target operations of the EventBridge service."""

    routes: Routes

    def put_targets(self, ctx: RequestContext, request: Request) -> Response:
        rule = RuleRef(own_bus(ctx, request.get("EventBusName")), request["Rule"])
        failed: list[dict[str, str]] = []
        accepted: list[dict[str, Any]] = []
        for target in request["Targets"]:
            reason = check_target(target)
            if reason is None:
                accepted.append(target)
            else:
                failed.append({"TargetId": target["Id"], "ErrorCode": "NotImplemented",
                               "ErrorMessage": reason})
        with self.runtime.store.begin() as conn:
            existing_rule(conn, rule)
            current = {r.target_id: r.position for r in conn.execute(
                select(targets_table.c.target_id, targets_table.c.position)
                .where(*_targets_of(rule)))}
            if len(set(current) | {t["Id"] for t in accepted}) > MAX_TARGETS:
                raise error("LimitExceededException",
                            "The requested resource exceeds the maximum number allowed.")
            self._store_targets(conn, rule, accepted, current)
        self.routes.forget(rule.bus)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def _store_targets(self, conn: Connection, rule: RuleRef, targets: list[dict[str, Any]],
                       current: dict[str, int]) -> None:
        """Replace targets of the same Id in place; add the others after the existing."""
        position = conn.execute(select(func.max(targets_table.c.position))
                                .where(*_targets_of(rule))).scalar() or 0
        for target in targets:
            if target["Id"] in current:
                conn.execute(delete(targets_table).where(
                    *_targets_of(rule), targets_table.c.target_id == target["Id"]))
                slot = current[target["Id"]]
            else:
                position += 1
                slot = position
            conn.execute(insert(targets_table).values(
                account_id=rule.bus.account_id, region=rule.bus.region, bus=rule.bus.name,
                rule=rule.name, target_id=target["Id"], position=slot,
                target=json.dumps(target, default=str)))

    def remove_targets(self, ctx: RequestContext, request: Request) -> Response:
        rule = RuleRef(own_bus(ctx, request.get("EventBusName")), request["Rule"])
        with self.runtime.store.begin() as conn:
            existing_rule(conn, rule)
            conn.execute(delete(targets_table).where(
                *_targets_of(rule), targets_table.c.target_id.in_(request["Ids"])))
        self.routes.forget(rule.bus)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def list_targets_by_rule(self, ctx: RequestContext, request: Request) -> Response:
        rule = RuleRef(own_bus(ctx, request.get("EventBusName")), request["Rule"])
        with self.runtime.store.begin() as conn:
            existing_rule(conn, rule)
            rows = conn.execute(select(targets_table).where(*_targets_of(rule))
                                .order_by(targets_table.c.position)).all()
        keyed = [(f"{r.position:08d}", json.loads(r.target)) for r in rows]
        chosen, token = page(keyed, lambda item: item[0], request,
                             f"ListTargetsByRule:{rule.arn}")
        response: Response = {"Targets": [t for _, t in chosen]}
        if token:
            response["NextToken"] = token
        return response


def _targets_of(rule: RuleRef) -> tuple[Any, ...]:
    return (targets_table.c.account_id == rule.bus.account_id,
            targets_table.c.region == rule.bus.region, targets_table.c.bus == rule.bus.name,
            targets_table.c.rule == rule.name)
