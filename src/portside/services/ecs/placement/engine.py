"""Task placement for the EC2 launch type: which container instance runs each task of a call.

ECS's pipeline (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement.html):
keep the instances with enough CPU, memory and ports; keep those that satisfy the constraints
(binding); order them by the strategies (best effort: the first strategy decides, each later one
breaks the ties the earlier ones leave); take the first. Tasks of one call are placed one after
the other, each seeing the resources, ports and group members of the ones before it.

:class:`PlacementState` holds a cluster's instances between calls and keeps what makes a
placement cheap up to date as tasks are placed and released: each instance's answer to each
constant ``memberOf`` expression; sorted indexes of the instances meeting a call's constant
expressions, by remaining CPU or memory (binpack), by tasks of a group (spread on instanceId) and
by registration (the final tie-break), also per attribute value (a spread class); and each
group's task count per attribute value (spread on an attribute). A call narrows the instances
strategy by strategy, walking up those indexes from the best entry, without looking at most
instances; only a task that cannot be placed makes it look at every instance, to report why
each one refused. :func:`place` is the one-shot form over a list of instance views.

What counts for spread and distinctInstance: tasks of the same task group (a service's tasks
are in group ``service:<name>``) whose desired status is RUNNING — "Amazon ECS looks at the
desired status of the tasks". The caller passes them per instance in
``InstanceView.task_groups``; tasks placed here are added, released ones removed.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement-constraints.html
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

from portside.services.ecs.placement.errors import InvalidParameterException
from portside.services.ecs.placement.query import ATTRIBUTE_PREFIX, ClusterQuery, compile_query

ACTIVE = "ACTIVE"

# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PlacementStrategy.html
BINPACK = "binpack"
SPREAD = "spread"
RANDOM = "random"
CPU = "cpu"
MEMORY = "memory"
INSTANCE_ID = "instanceId"
HOST = "host"  # "instanceId (or host, which has the same effect)"
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_PlacementConstraint.html
DISTINCT_INSTANCE = "distinctInstance"
MEMBER_OF = "memberOf"
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
MAX_CONSTRAINTS = 10  # task definition's and the call's together
MAX_STRATEGIES = 5

# Failure reasons, each with the container instance's ARN. RESOURCE:*, AGENT, MISSING:
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html
# The constraint reasons are the strings ECS reports for them in RunTask failures and service
# events (aws/amazon-ecs-agent#3044, aws/containers-roadmap#1201).
RESOURCE_CPU = "RESOURCE:CPU"
RESOURCE_MEMORY = "RESOURCE:MEMORY"
RESOURCE_PORTS = "RESOURCE:PORTS"
RESOURCE_PORTS_UDP = "RESOURCE:PORTS_UDP"  # RESOURCE:<name> of the PORTS_UDP resource
AGENT = "AGENT"
MISSING = "MISSING"
MEMBER_OF_UNSATISFIED = "MemberOf placement constraint unsatisfied."
DISTINCT_INSTANCE_UNSATISFIED = "DistinctInstance placement constraint unsatisfied."
# RunTask on a cluster without instances raises this (reference/aws-semantics.md §2, observed).
NO_CONTAINER_INSTANCES = "No Container Instances were found in your cluster."

# A random pick tries this many instances at random before listing the ones that fit.
RANDOM_TRIES = 32
# Sorted indexes kept for the constant expressions and spread values calls used last.
RANKINGS_KEPT = 64


# --- what the caller passes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskDemand:
    """What one task reserves on its instance: CPU units, memory MiB (the task's memory, else its
    containers' reservations), and the static host ports it binds (none for awsvpc tasks or
    dynamic host ports)."""

    group: str  # e.g. "family:web" (RunTask's default) or "service:api"
    cpu: int = 0
    memory: int = 0
    ports: frozenset[int] = frozenset()
    ports_udp: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class InstanceView:
    """A container instance as placement needs it. The resources are ``remainingResources``:
    CPU and MEMORY left, PORTS and PORTS_UDP the host ports already taken (the reserved ones
    included)."""

    container_instance_arn: str
    remaining_cpu: int
    remaining_memory: int
    reserved_ports: frozenset[int] = frozenset()
    reserved_ports_udp: frozenset[int] = frozenset()
    status: str = ACTIVE
    agent_connected: bool = True
    attributes: Mapping[str, str | None] = field(default_factory=dict)
    ec2_instance_id: str | None = None
    agent_version: str | None = None
    registered_at: datetime | None = None
    running_tasks_count: int = 0
    task_groups: Mapping[str, int] = field(default_factory=dict)  # desired-RUNNING tasks by group


@dataclass(frozen=True, slots=True)
class PlacementConstraint:
    type: str  # distinctInstance | memberOf
    expression: str | None = None


@dataclass(frozen=True, slots=True)
class PlacementStrategy:
    type: str  # binpack | spread | random
    field: str | None = None  # cpu|memory; instanceId|host|attribute:<name>; unused for random


# With no strategy, RunTask places at random (the RunTask API reference: "random placement").
DEFAULT_STRATEGIES = (PlacementStrategy(RANDOM),)


@dataclass(frozen=True, slots=True)
class Failure:
    """One entry of the response's ``failures``."""

    arn: str
    reason: str
    detail: str | None = None

    def to_api(self) -> dict[str, str]:
        entry = {"arn": self.arn, "reason": self.reason}
        if self.detail is not None:
            entry["detail"] = self.detail
        return entry


@dataclass(frozen=True, slots=True)
class Placement:
    """Per task, in the order given, the container instance it was placed on (None: not
    placed); and why instances refused the tasks that were not placed, one entry per instance
    and reason."""

    container_instance_arns: tuple[str | None, ...]
    failures: tuple[Failure, ...]


def parse_constraints(entries: Sequence[Mapping[str, Any]]) -> tuple[PlacementConstraint, ...]:
    """``placementConstraints`` from a request (with the task definition's), checked."""
    if len(entries) > MAX_CONSTRAINTS:
        raise InvalidParameterException(
            f"You can specify a maximum of {MAX_CONSTRAINTS} placement constraints per task."
        )
    return tuple(_constraint(entry) for entry in entries)


def _constraint(entry: Mapping[str, Any]) -> PlacementConstraint:
    kind, expression = entry.get("type"), entry.get("expression")
    if kind == DISTINCT_INSTANCE:
        if expression:
            raise InvalidParameterException(
                "An expression can't be specified for the distinctInstance constraint type."
            )
        return PlacementConstraint(DISTINCT_INSTANCE)
    if kind == MEMBER_OF:
        if not expression:
            raise InvalidParameterException(
                "An expression is required for the memberOf constraint type."
            )
        compile_query(expression)  # raises InvalidParameterException with the parse error
        return PlacementConstraint(MEMBER_OF, expression)
    raise InvalidParameterException(
        f"Invalid placement constraint type {kind!r}: must be distinctInstance or memberOf."
    )


def parse_strategies(entries: Sequence[Mapping[str, Any]]) -> tuple[PlacementStrategy, ...]:
    """``placementStrategy`` from a request, checked."""
    if len(entries) > MAX_STRATEGIES:
        raise InvalidParameterException(
            f"You can specify a maximum of {MAX_STRATEGIES} placement strategies per task."
        )
    return tuple(_strategy(entry) for entry in entries)


def _strategy(entry: Mapping[str, Any]) -> PlacementStrategy:
    kind, value = entry.get("type"), entry.get("field")
    if kind == RANDOM:
        # "For the random placement strategy, this field is not used."
        return PlacementStrategy(RANDOM)
    if kind == BINPACK:
        if not isinstance(value, str) or value.lower() not in (CPU, MEMORY):
            raise InvalidParameterException(
                f"Invalid field {value!r} for the binpack strategy: must be cpu or memory."
            )
        return PlacementStrategy(BINPACK, value.lower())
    if kind == SPREAD:
        if not isinstance(value, str) or not (
            value in (INSTANCE_ID, HOST)
            or (value.startswith(ATTRIBUTE_PREFIX) and len(value) > len(ATTRIBUTE_PREFIX))
        ):
            raise InvalidParameterException(
                f"Invalid field {value!r} for the spread strategy: must be instanceId, host or "
                "attribute:<name>."
            )
        return PlacementStrategy(SPREAD, INSTANCE_ID if value == HOST else value)
    raise InvalidParameterException(
        f"Invalid placement strategy type {kind!r}: must be binpack, spread or random."
    )


# --- the engine ------------------------------------------------------------------------------


class _Slot:
    """One container instance inside a :class:`PlacementState`: the view it was given, less what
    has been placed on it since, plus its cached answers to constant ``memberOf`` expressions."""

    __slots__ = (
        "container_instance_arn", "order", "status", "agent_connected", "usable", "attributes",
        "ec2_instance_id", "agent_version", "registered_at", "running_tasks_count",
        "remaining_cpu", "remaining_memory", "reserved_ports", "reserved_ports_udp",
        "task_groups", "matches",
    )

    def __init__(self, view: InstanceView, order: int) -> None:
        self.order = order  # registration order: the last tie-breaker
        self.matches: dict[ClusterQuery, bool] = {}
        self.load(view)

    def load(self, view: InstanceView) -> None:
        """Take what the view says. The object stays the same, so every index holding it sees
        the new values."""
        self.container_instance_arn = view.container_instance_arn
        self.status = view.status
        self.agent_connected = view.agent_connected
        self.usable = view.status == ACTIVE and view.agent_connected
        self.attributes = dict(view.attributes)
        self.ec2_instance_id = view.ec2_instance_id
        self.agent_version = view.agent_version
        self.registered_at = view.registered_at
        self.running_tasks_count = view.running_tasks_count
        self.remaining_cpu = view.remaining_cpu
        self.remaining_memory = view.remaining_memory
        self.reserved_ports = set(view.reserved_ports)
        self.reserved_ports_udp = set(view.reserved_ports_udp)
        self.task_groups = {group: count for group, count in view.task_groups.items() if count > 0}

    def view(self) -> InstanceView:
        return InstanceView(
            self.container_instance_arn, self.remaining_cpu, self.remaining_memory,
            frozenset(self.reserved_ports), frozenset(self.reserved_ports_udp), self.status,
            self.agent_connected, dict(self.attributes), self.ec2_instance_id,
            self.agent_version, self.registered_at, self.running_tasks_count,
            dict(self.task_groups),
        )

    def same_identity(self, view: InstanceView) -> bool:
        """Whether nothing a constant expression reads has changed."""
        return (
            self.status == view.status and self.agent_connected == view.agent_connected
            and self.attributes == dict(view.attributes)
            and self.ec2_instance_id == view.ec2_instance_id
            and self.agent_version == view.agent_version
            and self.registered_at == view.registered_at
        )


@dataclass(frozen=True, slots=True)
class _Rules:
    """A call's constraints, compiled: expressions that read tasks are evaluated every time,
    the others once per instance (and cached on it)."""

    distinct: bool
    constant: tuple[ClusterQuery, ...]
    dynamic: tuple[ClusterQuery, ...]

    @classmethod
    def of(cls, constraints: Sequence[PlacementConstraint]) -> _Rules:
        queries = [compile_query(c.expression) for c in constraints if c.expression]
        return cls(
            distinct=any(c.type == DISTINCT_INSTANCE for c in constraints),
            constant=tuple(sorted((q for q in queries if not q.dynamic), key=_expression)),
            dynamic=tuple(q for q in queries if q.dynamic),
        )


def _matches(slot: _Slot, query: ClusterQuery) -> bool:
    """A constant expression's answer for the instance, cached on it."""
    known = slot.matches.get(query)
    if known is None:
        known = slot.matches[query] = query.matches(slot)
    return known


def _expression(query: ClusterQuery) -> str:
    return query.expression


# What a ranking sorts by: CPU or MEMORY left (binpack), REGISTRATION order (the final
# tie-breaker), or (TASKS_OF, group): the group's tasks on the instance (spread on instanceId).
REGISTRATION = "registration"
TASKS_OF = "tasks of"
Measure = str | tuple[str, str]
# (measure, the call's constant expressions, (attribute, value) of a spread class or None)
RankingKey = tuple[Measure, tuple[ClusterQuery, ...], tuple[str, str | None] | None]


class _Ranking:
    """The usable instances that meet some constant expressions (and, for a spread class, carry
    one attribute value), sorted by one measure, then registration. Kept in step as tasks come
    and go, so that a strategy finds its best fitting instance by walking up from the start,
    never over the instances the constraints exclude."""

    __slots__ = ("measure", "constant", "partition", "entries", "members")

    def __init__(self, key: RankingKey, slots: Iterable[_Slot]) -> None:
        self.measure, self.constant, self.partition = key
        self.entries = sorted((self.left(slot), slot.order) for slot in slots if self.accepts(slot))
        self.members = {order for _, order in self.entries}

    def left(self, slot: _Slot) -> int:
        measure = self.measure
        if measure == MEMORY:
            return slot.remaining_memory
        if measure == CPU:
            return slot.remaining_cpu
        if measure == REGISTRATION:
            return slot.order
        return slot.task_groups.get(measure[1], 0)

    def accepts(self, slot: _Slot) -> bool:
        if not slot.usable:
            return False
        if self.partition is not None:
            name, value = self.partition
            if slot.attributes.get(name) != value:
                return False
        return all(_matches(slot, query) for query in self.constant)

    def add(self, slot: _Slot) -> None:
        if self.accepts(slot):
            insort(self.entries, (self.left(slot), slot.order))
            self.members.add(slot.order)

    def reinsert(self, slot: _Slot) -> None:
        """Put back a member taken out while its measure changed (what makes it a member, its
        usability, attributes and constant expressions, did not)."""
        insort(self.entries, (self.left(slot), slot.order))
        self.members.add(slot.order)

    def discard(self, slot: _Slot) -> None:
        if slot.order in self.members:
            del self.entries[bisect_left(self.entries, (self.left(slot), slot.order))]
            self.members.discard(slot.order)

    def first_from(self, need: int) -> int:
        """The index of the first entry measuring at least ``need``."""
        return bisect_left(self.entries, (need, -1))


Fits = Callable[[_Slot], bool]


class PlacementState:
    """A cluster's container instances and the indexes placement reads, kept between calls.

    The caller keeps it in step with the store: :meth:`put_instance` when an instance registers
    or changes (status, agent connection, attributes, resources it recomputed),
    :meth:`remove_instance` when it deregisters, :meth:`release` when a placed task stops.
    :meth:`place` reserves what it places.
    """

    def __init__(self, instances: Iterable[InstanceView] = ()) -> None:
        self._slots: dict[str, _Slot] = {}
        self._ordered: list[_Slot] = []
        self._by_order: dict[int, _Slot] = {}
        self._next_order = 0
        self._active = 0
        self._rankings: OrderedDict[RankingKey, _Ranking] = OrderedDict()  # least recent first
        self._by_measure: dict[Measure, list[_Ranking]] = {}
        self._hosts: dict[str, set[_Slot]] = {}  # group → instances with tasks of it
        # Built on first use: attribute → its values; group → attribute → value → tasks.
        self._values: dict[str, set[str | None]] = {}
        self._value_counts: dict[str, dict[str, dict[str | None, int]]] = {}
        for view in instances:
            self.put_instance(view)

    # --- keeping in step ---------------------------------------------------------------------

    def put_instance(self, view: InstanceView) -> None:
        """Add an instance, or replace what is known of one (its place in the order stays)."""
        slot = self._slots.get(view.container_instance_arn)
        if slot is None:
            slot = _Slot(view, self._next_order)
            self._next_order += 1
            self._slots[slot.container_instance_arn] = slot
            self._ordered.append(slot)
            self._by_order[slot.order] = slot
            self._values.clear()
        else:
            self._unindex(slot)
            self._forget_counts(slot.task_groups)
            if not slot.same_identity(view):
                slot.matches = {}
            if slot.attributes != view.attributes:
                self._values.clear()
                self._value_counts.clear()
            slot.load(view)
        self._forget_counts(slot.task_groups)
        self._index(slot)

    def remove_instance(self, container_instance_arn: str) -> None:
        slot = self._slots.pop(container_instance_arn, None)
        if slot is None:
            return
        self._unindex(slot)
        self._ordered.remove(slot)
        del self._by_order[slot.order]
        self._values.clear()
        self._forget_counts(slot.task_groups)

    def release(self, container_instance_arn: str, task: TaskDemand) -> None:
        """Give back what a placed task reserved (it reached STOPPED)."""
        slot = self._slots.get(container_instance_arn)
        if slot is not None:
            self._adjust(slot, task, -1)

    def view(self, container_instance_arn: str) -> InstanceView | None:
        """The instance as it stands now, placements included."""
        slot = self._slots.get(container_instance_arn)
        return None if slot is None else slot.view()

    # --- placing -----------------------------------------------------------------------------

    def place(
        self,
        tasks: Sequence[TaskDemand],
        constraints: Sequence[PlacementConstraint] = (),
        strategies: Sequence[PlacementStrategy] = (),
        *,
        rng: random.Random,
    ) -> Placement:
        """Place each task in turn and reserve what it needs (RunTask).

        Raises InvalidParameterException when the cluster has no ACTIVE instance.
        """
        if not self._active:
            raise InvalidParameterException(NO_CONTAINER_INSTANCES)
        rules = _Rules.of(constraints)
        order = tuple(strategies) or DEFAULT_STRATEGIES
        arns: list[str | None] = []
        failures: dict[tuple[str, str], Failure] = {}
        refused: TaskDemand | None = None  # the last task refused, if nothing was placed since
        for task in tasks:
            if task == refused:  # nothing changed: it is refused again, for the same reasons
                arns.append(None)
                continue
            chosen = _Selection(self, task, rules, self._fits(task, rules), rng).choose(order)
            if chosen is None:
                for failure in self._diagnose(task, rules):
                    failures.setdefault((failure.arn, failure.reason), failure)
                refused = task
                arns.append(None)
                continue
            self._adjust(chosen, task, +1)
            refused = None
            arns.append(chosen.container_instance_arn)
        return Placement(tuple(arns), tuple(failures.values()))

    def place_on(self, container_instance_arn: str, task: TaskDemand) -> Failure | None:
        """Place one task on a named instance, if it has room (StartTask): no constraints, no
        strategies; None when placed."""
        slot = self._slots.get(container_instance_arn)
        if slot is None:
            return Failure(container_instance_arn, MISSING)
        reason = _refusal(slot, task, _Rules(False, (), ()))
        if reason is not None:
            return Failure(container_instance_arn, reason)
        self._adjust(slot, task, +1)
        return None

    def _fits(self, task: TaskDemand, rules: _Rules) -> Fits:
        """The test a candidate passes: usable, room for the task, every constraint met."""
        cpu, memory, ports, ports_udp, group = (
            task.cpu, task.memory, task.ports, task.ports_udp, task.group
        )
        distinct, constant, dynamic = rules.distinct, rules.constant, rules.dynamic

        def fits(slot: _Slot) -> bool:
            if not slot.usable or slot.remaining_memory < memory or slot.remaining_cpu < cpu:
                return False
            if ports and not ports.isdisjoint(slot.reserved_ports):
                return False
            if ports_udp and not ports_udp.isdisjoint(slot.reserved_ports_udp):
                return False
            if distinct and group in slot.task_groups:
                return False
            for query in constant:
                known = slot.matches.get(query)
                if known is None:
                    known = _matches(slot, query)
                if not known:
                    return False
            return all(query.matches(slot) for query in dynamic)

        return fits

    def _diagnose(self, task: TaskDemand, rules: _Rules) -> list[Failure]:
        """Why each ACTIVE instance refuses the task (DRAINING ones are not candidates at all)."""
        failures = []
        for slot in self._ordered:
            if slot.status == ACTIVE:
                reason = _refusal(slot, task, rules)
                if reason is not None:
                    failures.append(Failure(slot.container_instance_arn, reason))
        return failures

    # --- indexes -----------------------------------------------------------------------------

    def _index(self, slot: _Slot) -> None:
        for ranking in self._rankings.values():
            ranking.add(slot)
        for group in slot.task_groups:
            self._hosts.setdefault(group, set()).add(slot)
        self._active += slot.status == ACTIVE

    def _unindex(self, slot: _Slot) -> None:
        for ranking in self._rankings.values():
            ranking.discard(slot)
        for group in slot.task_groups:
            self._leave_group(slot, group)
        self._active -= slot.status == ACTIVE

    def _adjust(self, slot: _Slot, task: TaskDemand, sign: int) -> None:
        """Reserve (sign +1) or give back (-1) one task's resources, ports and group place."""
        group = task.group
        before = slot.task_groups.get(group, 0)
        after = max(before + sign, 0)  # a release the instance does not count changes nothing
        measures = [CPU] * bool(task.cpu) + [MEMORY] * bool(task.memory)
        if after != before:
            measures.append((TASKS_OF, group))
        moved = [
            ranking for measure in measures for ranking in self._by_measure.get(measure, ())
            if slot.order in ranking.members
        ]
        for ranking in moved:
            ranking.discard(slot)
        slot.remaining_cpu -= sign * task.cpu
        slot.remaining_memory -= sign * task.memory
        if sign > 0:
            slot.reserved_ports |= task.ports
            slot.reserved_ports_udp |= task.ports_udp
        else:
            slot.reserved_ports -= task.ports
            slot.reserved_ports_udp -= task.ports_udp
        if after:
            slot.task_groups[group] = after
            self._hosts.setdefault(group, set()).add(slot)
        elif before:
            del slot.task_groups[group]
            self._leave_group(slot, group)
        for name, counts in self._value_counts.get(group, {}).items():
            value = slot.attributes.get(name)
            counts[value] = counts.get(value, 0) + after - before
        for ranking in moved:
            ranking.reinsert(slot)

    def _leave_group(self, slot: _Slot, group: str) -> None:
        hosts = self._hosts.get(group)
        if hosts is not None:
            hosts.discard(slot)
            if not hosts:
                del self._hosts[group]
                self._value_counts.pop(group, None)

    def _forget_counts(self, groups: Iterable[str]) -> None:
        for group in groups:
            self._value_counts.pop(group, None)

    def _values_of(self, name: str) -> set[str | None]:
        """The values instances have for attribute ``name`` (None: an instance without it)."""
        values = self._values.get(name)
        if values is None:
            values = self._values[name] = {slot.attributes.get(name) for slot in self._ordered}
        return values

    def _value_counts_of(self, group: str, name: str) -> dict[str | None, int]:
        """Tasks of ``group`` per value of attribute ``name``, over every instance."""
        by_name = self._value_counts.setdefault(group, {})
        counts = by_name.get(name)
        if counts is None:
            counts = {}
            for slot in self._hosts.get(group, ()):
                value = slot.attributes.get(name)
                counts[value] = counts.get(value, 0) + slot.task_groups[group]
            by_name[name] = counts
        return counts

    def _ranking(self, key: RankingKey) -> _Ranking:
        """The sorted index for ``key``, built on first use and kept up to date after."""
        ranking = self._rankings.get(key)
        if ranking is None:
            ranking = self._rankings[key] = _Ranking(key, self._ordered)
            self._by_measure.setdefault(ranking.measure, []).append(ranking)
            if len(self._rankings) > RANKINGS_KEPT:
                _, evicted = self._rankings.popitem(last=False)
                self._by_measure[evicted.measure].remove(evicted)
        else:
            self._rankings.move_to_end(key)
        return ranking

    def _slot(self, order: int) -> _Slot:
        return self._by_order[order]


def place(
    tasks: Sequence[TaskDemand],
    instances: Iterable[InstanceView],
    constraints: Sequence[PlacementConstraint] = (),
    strategies: Sequence[PlacementStrategy] = (),
    *,
    rng: random.Random,
) -> Placement:
    """Place ``tasks`` on ``instances`` in one go; a long-lived :class:`PlacementState` does
    the same without indexing the instances on every call."""
    return PlacementState(instances).place(tasks, constraints, strategies, rng=rng)


def _refusal(slot: _Slot, task: TaskDemand, rules: _Rules) -> str | None:
    """The first reason, in the pipeline's order (agent, resources, constraints), that the
    instance cannot take the task; None when it can."""
    if not slot.agent_connected:
        return AGENT
    if slot.remaining_cpu < task.cpu:
        return RESOURCE_CPU
    if slot.remaining_memory < task.memory:
        return RESOURCE_MEMORY
    if not task.ports.isdisjoint(slot.reserved_ports):
        return RESOURCE_PORTS
    if not task.ports_udp.isdisjoint(slot.reserved_ports_udp):
        return RESOURCE_PORTS_UDP
    if not all(query.matches(slot) for query in chain(rules.constant, rules.dynamic)):
        return MEMBER_OF_UNSATISFIED
    if rules.distinct and task.group in slot.task_groups:
        return DISTINCT_INSTANCE_UNSATISFIED
    return None


# --- choosing one instance -------------------------------------------------------------------


Partition = tuple[str, frozenset[str | None]]  # an attribute and the values of a spread class


@dataclass(frozen=True, slots=True)
class _Scope:
    """Instances not yet looked at one by one: the usable ones meeting the constant expressions
    that pass every test. A spread over an attribute records its class in ``partition``, so
    that the sorted indexes of those values can be walked instead of all instances."""

    tests: tuple[Callable[[_Slot], bool], ...] = ()
    partition: Partition | None = None


class _Selection:
    """One task's choice. Each strategy narrows the candidates to those it ranks best among the
    ones that fit; the next strategy breaks their tie. Narrowing starts lazily (a scope, walked
    through the state's indexes) and becomes a list of fitting instances once it is small."""

    def __init__(
        self,
        state: PlacementState,
        task: TaskDemand,
        rules: _Rules,
        fits: Fits,
        rng: random.Random,
    ) -> None:
        self.state = state
        self.task = task
        self.constant = rules.constant
        self.fits = fits
        self.rng = rng

    def choose(self, strategies: Sequence[PlacementStrategy]) -> _Slot | None:
        scope: _Scope | list[_Slot] | None = _Scope()
        for index, strategy in enumerate(strategies):
            last = index == len(strategies) - 1
            if isinstance(scope, _Scope):
                scope = self._narrow_scope(scope, strategy, last)
            else:
                scope = self._narrow_list(scope, strategy)
            if not scope:
                return None
            if isinstance(scope, list) and len(scope) == 1:
                return scope[0]
        if isinstance(scope, list):
            return scope[0]
        earliest = self._least(scope, REGISTRATION, 0, last=True)
        return earliest[0] if earliest else None

    def _admits(self, scope: _Scope) -> Fits:
        """The scope's tests, then the fit, as one chain of calls."""
        admits = self.fits
        for test in reversed(scope.tests):
            admits = _both(test, admits)
        return admits

    def _rankings(self, scope: _Scope, measure: Measure) -> list[_Ranking]:
        """The sorted indexes that hold every usable instance of the scope meeting the constant
        expressions: one, or one per value of the scope's spread class."""
        if scope.partition is None:
            return [self.state._ranking((measure, self.constant, None))]
        name, values = scope.partition
        return [self.state._ranking((measure, self.constant, (name, value))) for value in values]

    # --- over a scope: find the best class without listing the scope ---------------------------

    def _narrow_scope(
        self, scope: _Scope, strategy: PlacementStrategy, last: bool
    ) -> _Scope | list[_Slot] | None:
        if strategy.type == BINPACK:
            if strategy.field == CPU:
                return self._least(scope, CPU, self.task.cpu, last)
            return self._least(scope, MEMORY, self.task.memory, last)
        if strategy.type == SPREAD and strategy.field == INSTANCE_ID:
            return self._least(scope, (TASKS_OF, self.task.group), 0, last)
        if strategy.type == SPREAD:
            return self._spread_attribute_scope(scope, _attribute_name(strategy))
        return self._random_scope(scope)

    def _least(
        self, scope: _Scope, measure: Measure, start: int, last: bool
    ) -> list[_Slot] | None:
        """Walk the scope's instances up ``measure`` from ``start``: the first that fits measures
        least, and comes first in registration order among those that measure as much. Unless
        this is the last strategy, the others that measure as much follow it: its ties."""
        admits, slot_of = self._admits(scope), self.state._slot
        firsts = []
        for ranking in self._rankings(scope, measure):
            entries = ranking.entries
            index, end = ranking.first_from(start), len(entries)
            while index < end and not admits(slot_of(entries[index][1])):
                index += 1
            if index < end:
                firsts.append((entries[index], entries, index))
        if not firsts:
            return None
        if last:
            return [slot_of(min(first[0] for first in firsts)[1])]
        least = min(first[0][0] for first in firsts)
        ties = []
        for _, entries, index in firsts:
            end = len(entries)
            while index < end and entries[index][0] == least:
                slot = slot_of(entries[index][1])
                if admits(slot):
                    ties.append(slot)
                index += 1
        if len(firsts) > 1:  # one index lists its ties in registration order already
            ties.sort(key=_registration)
        return ties

    def _spread_attribute_scope(self, scope: _Scope, name: str) -> _Scope | None:
        """Values by their count of the group's tasks, fewest first; values with equal counts
        tie. The first class with a fitting instance wins."""
        counts = self.state._value_counts_of(self.task.group, name)
        ranked = sorted(self.state._values_of(name),
                        key=lambda value: (counts.get(value, 0), value or ""))
        start = 0
        while start < len(ranked):
            count = counts.get(ranked[start], 0)
            end = start + 1
            while end < len(ranked) and counts.get(ranked[end], 0) == count:
                end += 1
            values = frozenset(ranked[start:end])
            narrowed = _Scope((*scope.tests, _has_value_in(name, values)), (name, values))
            if self._has_room(narrowed):
                return narrowed
            start = end
        return None

    def _has_room(self, scope: _Scope) -> bool:
        """Whether some instance of the scope fits: a walk up the memory indexes from the
        task's need, which passes over the instances without memory for it."""
        admits, slot_of = self._admits(scope), self.state._slot
        for ranking in self._rankings(scope, MEMORY):
            entries = ranking.entries
            for index in range(ranking.first_from(self.task.memory), len(entries)):
                if admits(slot_of(entries[index][1])):
                    return True
        return False

    def _random_scope(self, scope: _Scope) -> list[_Slot] | None:
        """Uniform over the fitting instances: a few random draws, then the full list."""
        admits, slot_of, rng = self._admits(scope), self.state._slot, self.rng
        entries = self.state._ranking((REGISTRATION, self.constant, None)).entries
        for _ in range(min(len(entries), RANDOM_TRIES)):
            slot = slot_of(entries[rng.randrange(len(entries))][1])
            if admits(slot):
                return [slot]
        fitting = [slot for _, order in entries if admits(slot := slot_of(order))]
        return [rng.choice(fitting)] if fitting else None

    # --- over a list of fitting instances --------------------------------------------------------

    def _narrow_list(self, slots: list[_Slot], strategy: PlacementStrategy) -> list[_Slot]:
        if strategy.type == RANDOM:
            return [self.rng.choice(slots)]
        scores = list(map(self._rank(strategy), slots))
        best = min(scores)
        return [slot for slot, score in zip(slots, scores, strict=True) if score == best]

    def _rank(self, strategy: PlacementStrategy) -> Callable[[_Slot], int]:
        """The strategy's score of an instance: lower is better."""
        if strategy.type == BINPACK:
            if strategy.field == CPU:
                return lambda slot: slot.remaining_cpu
            return lambda slot: slot.remaining_memory
        group = self.task.group
        if strategy.field == INSTANCE_ID:
            return lambda slot: slot.task_groups.get(group, 0)
        name = _attribute_name(strategy)
        counts = self.state._value_counts_of(group, name)
        return lambda slot: counts.get(slot.attributes.get(name), 0)


def _attribute_name(strategy: PlacementStrategy) -> str:
    return (strategy.field or "")[len(ATTRIBUTE_PREFIX) :]


def _both(first: Fits, then: Fits) -> Fits:
    return lambda slot: first(slot) and then(slot)


def _has_value_in(name: str, values: frozenset[str | None]) -> Callable[[_Slot], bool]:
    return lambda slot: slot.attributes.get(name) in values


def _registration(slot: _Slot) -> int:
    return slot.order
