"""Properties of the placement engine under any sequence of RunTask, StopTask and instance
changes, checked against an independent model of the cluster.

The model keeps, per instance, what the store would: its registered resources less the live
tasks on it, its status, agent connection and attributes. After every operation:

- no instance is over-committed: CPU and memory never go below zero, no host port (TCP or UDP)
  is held twice, and the engine's own view of each instance equals the model's;
- distinctInstance is never violated, and every placed task's instance meets its memberOf
  expressions and is ACTIVE with its agent connected;
- every task is placed or reported: a task is refused exactly when no instance fits it, and then
  the failures name each ACTIVE instance with the first reason it refuses;
- the choice is the one the strategies define: the fitting instance with the lexicographically
  least (strategy scores…, registration order), computed by brute force over every instance.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.services.ecs.placement import (
    AGENT,
    DISTINCT_INSTANCE_UNSATISFIED,
    MEMBER_OF_UNSATISFIED,
    RESOURCE_CPU,
    RESOURCE_MEMORY,
    RESOURCE_PORTS,
    RESOURCE_PORTS_UDP,
    InstanceView,
    InvalidParameterException,
    PlacementConstraint,
    PlacementState,
    PlacementStrategy,
    TaskDemand,
    compile_query,
)

ARN = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i"
ZONES = ("z1", "z2", "z3")
TYPES = ("m5.large", "c5.large")
GROUPS = ("family:a", "family:b")
EXPRESSIONS = (
    "attribute:ecs.instance-type =~ m5.*",
    "attribute:ecs.availability-zone != z3",
    "not(task:group == family:a)",
    "task:group != family:b or runningTasksCount == 0",
)
ORDERING = (
    PlacementStrategy("binpack", "memory"),
    PlacementStrategy("binpack", "cpu"),
    PlacementStrategy("spread", "instanceId"),
    PlacementStrategy("spread", "attribute:ecs.availability-zone"),
    PlacementStrategy("spread", "attribute:rack"),
)
RANDOM = PlacementStrategy("random")


# --- generated operations --------------------------------------------------------------------

ports = st.frozensets(st.sampled_from((80, 443, 8080)), max_size=2)
udp_ports = st.frozensets(st.sampled_from((53, 80)), max_size=1)


@st.composite
def instance_views(draw: st.DrawFn, index: int) -> InstanceView:
    attributes: dict[str, str | None] = {"ecs.instance-type": draw(st.sampled_from(TYPES))}
    if draw(st.integers(0, 9)) or index == 0:  # mostly in a zone
        attributes["ecs.availability-zone"] = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        attributes["rack"] = draw(st.sampled_from(("r1", "r2")))
    return InstanceView(
        container_instance_arn=f"{ARN}{index}",
        remaining_cpu=draw(st.sampled_from((0, 512, 1024, 1024, 2048, 4096))),
        remaining_memory=draw(st.sampled_from((0, 512, 1024, 1024, 2048, 4096))),
        reserved_ports=draw(ports),
        reserved_ports_udp=draw(udp_ports),
        status=draw(st.sampled_from(("ACTIVE", "ACTIVE", "ACTIVE", "DRAINING"))),
        agent_connected=draw(st.sampled_from((True, True, True, False))),
        attributes=attributes,
        running_tasks_count=draw(st.integers(0, 2)),
        task_groups=draw(st.dictionaries(st.sampled_from(GROUPS), st.integers(0, 2), max_size=2)),
    )


@st.composite
def clusters(draw: st.DrawFn) -> list[InstanceView]:
    return [draw(instance_views(index)) for index in range(draw(st.integers(1, 7)))]


demands = st.builds(
    TaskDemand,
    group=st.sampled_from(GROUPS),
    cpu=st.sampled_from((0, 128, 256, 512)),
    memory=st.sampled_from((128, 256, 512)),
    ports=st.frozensets(st.sampled_from((80, 443, 8080)), max_size=1),
    ports_udp=st.frozensets(st.sampled_from((53, 80)), max_size=1),
)


@dataclass(frozen=True)
class RunTask:
    tasks: tuple[TaskDemand, ...]
    constraints: tuple[PlacementConstraint, ...]
    strategies: tuple[PlacementStrategy, ...]


@dataclass(frozen=True)
class StopTask:
    pick: int  # which live task, modulo their number


@dataclass(frozen=True)
class UpdateInstance:
    pick: int  # which instance, modulo their number
    status: str
    agent_connected: bool
    zone: str | None


@st.composite
def run_tasks(draw: st.DrawFn) -> RunTask:
    demand = draw(demands)
    tasks = (demand,) * draw(st.integers(1, 4)) if draw(st.booleans()) else tuple(
        draw(st.lists(demands, min_size=1, max_size=4))
    )
    constraints = []
    if not draw(st.integers(0, 3)):
        constraints.append(PlacementConstraint("distinctInstance"))
    if not draw(st.integers(0, 2)):
        for expression in draw(st.lists(st.sampled_from(EXPRESSIONS), max_size=2, unique=True)):
            constraints.append(PlacementConstraint("memberOf", expression))
    if draw(st.integers(0, 9)):
        strategies = draw(st.lists(st.sampled_from(ORDERING), min_size=1, max_size=3))
    else:  # random, alone, first or last; or RunTask's default
        strategies = draw(st.sampled_from(((), (RANDOM,), (RANDOM, *ORDERING[:1]),
                                            (*ORDERING[3:4], RANDOM))))
    return RunTask(tasks, tuple(constraints), tuple(strategies))


operations = st.lists(
    st.one_of(
        run_tasks(),
        st.builds(StopTask, st.integers(0, 100)),
        st.builds(
            UpdateInstance, st.integers(0, 100), st.sampled_from(("ACTIVE", "DRAINING")),
            st.booleans(), st.sampled_from((None, *ZONES)),
        ),
    ),
    min_size=1,
    max_size=12,
)


# --- the model -------------------------------------------------------------------------------


@dataclass
class Instance:
    """What the store knows of one instance: registration, and the live tasks on it."""

    view: InstanceView  # as registered (resources before any task placed in the test)
    order: int
    live: list[TaskDemand] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return self.view.container_instance_arn

    def current(self) -> InstanceView:
        """The instance with its live tasks' reservations, as the engine should see it."""
        groups = Counter({g: n for g, n in self.view.task_groups.items() if n > 0})
        groups.update(task.group for task in self.live)
        return replace(
            self.view,
            remaining_cpu=self.view.remaining_cpu - sum(t.cpu for t in self.live),
            remaining_memory=self.view.remaining_memory - sum(t.memory for t in self.live),
            reserved_ports=self.view.reserved_ports.union(*(t.ports for t in self.live)),
            reserved_ports_udp=self.view.reserved_ports_udp.union(
                *(t.ports_udp for t in self.live)
            ),
            attributes=dict(self.view.attributes),
            task_groups=dict(groups),
        )


def refusal(view: InstanceView, task: TaskDemand, constraints: tuple[PlacementConstraint, ...]
            ) -> str | None:
    """Why the instance cannot take the task, checked one rule at a time; None if it can."""
    if not view.agent_connected:
        return AGENT
    if view.remaining_cpu < task.cpu:
        return RESOURCE_CPU
    if view.remaining_memory < task.memory:
        return RESOURCE_MEMORY
    if task.ports & view.reserved_ports:
        return RESOURCE_PORTS
    if task.ports_udp & view.reserved_ports_udp:
        return RESOURCE_PORTS_UDP
    for constraint in constraints:
        if constraint.expression and not compile_query(constraint.expression).matches(view):
            return MEMBER_OF_UNSATISFIED
    for constraint in constraints:
        if constraint.type == "distinctInstance" and view.task_groups.get(task.group, 0) > 0:
            return DISTINCT_INSTANCE_UNSATISFIED
    return None


def score(strategy: PlacementStrategy, view: InstanceView, task: TaskDemand,
          everyone: list[InstanceView]) -> int:
    """The strategy's score of one instance (lower is better), by brute force."""
    if strategy.type == "binpack":
        return view.remaining_cpu if strategy.field == "cpu" else view.remaining_memory
    if strategy.field == "instanceId":
        return view.task_groups.get(task.group, 0)
    name = (strategy.field or "").removeprefix("attribute:")
    value = view.attributes.get(name)
    return sum(other.task_groups.get(task.group, 0) for other in everyone
               if other.attributes.get(name) == value)


# --- the property ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=clusters(), ops=operations, seed=st.integers(0, 2**16))
def test_any_sequence_of_operations_keeps_every_guarantee(
    cluster: list[InstanceView], ops: list[RunTask | StopTask | UpdateInstance], seed: int
) -> None:
    model = [Instance(view, order) for order, view in enumerate(cluster)]
    state = PlacementState(cluster)
    rng = random.Random(seed)
    for op in ops:
        if isinstance(op, RunTask):
            run(state, model, op, rng)
        elif isinstance(op, StopTask):
            stop(state, model, op)
        else:
            update(state, model, op)
        check_not_over_committed(state, model)


def run(state: PlacementState, model: list[Instance], op: RunTask, rng: random.Random) -> None:
    if not any(instance.view.status == "ACTIVE" for instance in model):
        try:
            state.place(op.tasks, op.constraints, op.strategies, rng=rng)
        except InvalidParameterException:
            return
        raise AssertionError("a cluster without ACTIVE instances must be refused")
    result = state.place(op.tasks, op.constraints, op.strategies, rng=rng)
    assert len(result.container_instance_arns) == len(op.tasks)
    expected_failures: set[tuple[str, str]] = set()
    deterministic = bool(op.strategies) and all(s.type != "random" for s in op.strategies)
    for task, arn in zip(op.tasks, result.container_instance_arns, strict=True):
        views = [instance.current() for instance in model]
        usable = [view for view in views if view.status == "ACTIVE"]
        fitting = [(instance, view) for instance, view in zip(model, views, strict=True)
                   if view.status == "ACTIVE" and refusal(view, task, op.constraints) is None]
        if arn is None:
            assert not fitting, "a task was refused while an instance could take it"
            expected_failures |= {(view.container_instance_arn, reason) for view in usable
                                  if (reason := refusal(view, task, op.constraints))}
            continue
        chosen = next(instance for instance in model if instance.arn == arn)
        assert any(instance is chosen for instance, _ in fitting), "placed where it cannot fit"
        if deterministic:
            best = min(fitting, key=lambda pair: (
                *(score(s, pair[1], task, views) for s in op.strategies), pair[0].order))
            assert best[0] is chosen, (op.strategies, best[0].arn, arn)
        chosen.live.append(task)
    assert {(f.arn, f.reason) for f in result.failures} == expected_failures
    assert len(result.failures) == len(expected_failures)  # one entry per instance and reason


def stop(state: PlacementState, model: list[Instance], op: StopTask) -> None:
    live = [(instance, task) for instance in model for task in instance.live]
    if not live:
        return
    instance, task = live[op.pick % len(live)]
    instance.live.remove(task)
    state.release(instance.arn, task)


def update(state: PlacementState, model: list[Instance], op: UpdateInstance) -> None:
    """An instance drains or comes back, loses or regains its agent, or moves zone (a changed
    attribute): the store tells the engine with what it now knows of the instance."""
    instance = model[op.pick % len(model)]
    attributes = dict(instance.view.attributes)
    attributes.pop("ecs.availability-zone", None)
    if op.zone is not None:
        attributes["ecs.availability-zone"] = op.zone
    instance.view = replace(instance.view, status=op.status, agent_connected=op.agent_connected,
                            attributes=attributes)
    state.put_instance(instance.current())


def check_not_over_committed(state: PlacementState, model: list[Instance]) -> None:
    for instance in model:
        current = instance.current()
        assert current.remaining_cpu >= 0 and current.remaining_memory >= 0, "over-committed"
        for protocol in ("ports", "ports_udp"):
            held = [port for task in instance.live for port in getattr(task, protocol)]
            reserved = getattr(instance.view, f"reserved_{protocol}")
            assert len(held) == len(set(held)), f"a {protocol} port is held twice"
            assert not set(held) & reserved, f"a reserved {protocol} port was handed out"
        assert state.view(instance.arn) == current


@settings(max_examples=200, deadline=None)
@given(cluster=clusters(), calls=st.lists(run_tasks(), min_size=1, max_size=6),
       seed=st.integers(0, 2**16))
def test_distinct_instance_never_puts_two_tasks_of_a_group_on_one_instance(
    cluster: list[InstanceView], calls: list[RunTask], seed: int
) -> None:
    state = PlacementState(cluster)
    rng = random.Random(seed)
    if not any(view.status == "ACTIVE" for view in cluster):
        return
    for call in calls:
        distinct = (*call.constraints, PlacementConstraint("distinctInstance"))
        before = {view.container_instance_arn: state.view(view.container_instance_arn)
                  for view in cluster}
        result = state.place(call.tasks, distinct, call.strategies, rng=rng)
        placed = Counter(
            (arn, task.group)
            for arn, task in zip(result.container_instance_arns, call.tasks, strict=True)
            if arn is not None
        )
        for (arn, group), count in placed.items():
            earlier = before[arn]
            assert earlier is not None
            assert count == 1 and earlier.task_groups.get(group, 0) == 0
