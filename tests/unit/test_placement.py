"""The placement engine, case by case, as the ECS developer guide states it.

Each row names its source in `source`, a page under
https://docs.aws.amazon.com/AmazonECS/latest/ (developerguide/ or APIReference/):

- PIPELINE: developerguide/task-placement.html ("Identify the instances that satisfy the CPU,
  memory, and port requirements … the task placement constraints … the task placement
  strategies … Select the instances"; "strategies are a best effort … constraints are binding")
- STRATEGIES: developerguide/task-placement-strategies.html (binpack, random, spread and the
  example strategies, "Standalone tasks are spread based on the tasks from the same task group")
- CONSTRAINTS: developerguide/task-placement-constraints.html (distinctInstance "Place each
  active task on a different container instance", memberOf)
- FAILURES: developerguide/api_failures_messages.html (RESOURCE:*, AGENT with the container
  instance's ARN)
- API: APIReference/API_RunTask.html, API_PlacementStrategy.html, API_PlacementConstraint.html

Rows marked PORTSIDE encode a choice portside made where the pages are silent.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from portside.services.ecs.placement import (
    AGENT,
    DISTINCT_INSTANCE_UNSATISFIED,
    MEMBER_OF_UNSATISFIED,
    MISSING,
    NO_CONTAINER_INSTANCES,
    RESOURCE_CPU,
    RESOURCE_MEMORY,
    RESOURCE_PORTS,
    RESOURCE_PORTS_UDP,
    ClusterQueryError,
    Failure,
    InstanceView,
    InvalidParameterException,
    PlacementConstraint,
    PlacementState,
    PlacementStrategy,
    TaskDemand,
    parse_constraints,
    parse_strategies,
    place,
    spread_across_zones,
)

PIPELINE = "task-placement.html"
STRATEGIES = "task-placement-strategies.html"
CONSTRAINTS = "task-placement-constraints.html"
FAILURES = "api_failures_messages.html"
API = "API_RunTask.html"
PORTSIDE = "portside (the pages are silent)"

ARN = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/"
GROUP = "family:web"


def inst(name: str, cpu: int = 4096, memory: int = 8192, **fields: Any) -> InstanceView:
    """An instance called ``name`` (its ARN ends with it); zone and type become attributes."""
    attributes = dict(fields.pop("attributes", {}))
    if "zone" in fields:
        attributes["ecs.availability-zone"] = fields.pop("zone")
    if "type" in fields:
        attributes["ecs.instance-type"] = fields.pop("type")
    return InstanceView(ARN + name, cpu, memory, attributes=attributes, **fields)


def task(cpu: int = 0, memory: int = 0, group: str = GROUP, **fields: Any) -> TaskDemand:
    return TaskDemand(group, cpu, memory, **fields)


def member_of(expression: str) -> PlacementConstraint:
    return PlacementConstraint("memberOf", expression)


DISTINCT = PlacementConstraint("distinctInstance")
BINPACK_MEMORY = PlacementStrategy("binpack", "memory")
BINPACK_CPU = PlacementStrategy("binpack", "cpu")
SPREAD_INSTANCE = PlacementStrategy("spread", "instanceId")
SPREAD_ZONE = PlacementStrategy("spread", "attribute:ecs.availability-zone")
RANDOM = PlacementStrategy("random")


@dataclass
class Case:
    name: str
    source: str
    instances: list[InstanceView]
    tasks: list[TaskDemand]
    expected: list[str | None]  # per task, the name of its instance
    constraints: list[PlacementConstraint] = field(default_factory=list)
    strategies: list[PlacementStrategy] = field(default_factory=lambda: [BINPACK_MEMORY])
    failures: list[tuple[str, str]] = field(default_factory=list)  # (instance name, reason)

    def __str__(self) -> str:
        return self.name


def short(arn: str | None) -> str | None:
    return None if arn is None else arn.removeprefix(ARN)


FIT = [
    Case("cpu: an instance without the CPU units is passed over", PIPELINE,
         [inst("a", cpu=512), inst("b", cpu=2048)], [task(cpu=1024)], ["b"],
         strategies=[BINPACK_CPU]),
    Case("memory: an instance without the MiB is passed over", PIPELINE,
         [inst("a", memory=256), inst("b", memory=8192)], [task(memory=512)], ["b"]),
    Case("memory: exactly what is left fits", PIPELINE,
         [inst("a", memory=512)], [task(memory=512)], ["a"]),
    Case("a task without CPU fits an instance with none left", PIPELINE,
         [inst("a", cpu=0)], [task(memory=128)], ["a"]),
    Case("tcp: an instance with the host port taken is passed over", PIPELINE,
         [inst("a", reserved_ports=frozenset({22, 80})), inst("b", memory=9000)],
         [task(ports=frozenset({80}))], ["b"]),
    Case("tcp and udp ports are separate resources: UDP 53 fits beside TCP 53", PIPELINE,
         [inst("a", reserved_ports=frozenset({53}))], [task(ports_udp=frozenset({53}))], ["a"]),
    Case("udp: an instance with the UDP port taken refuses with RESOURCE:PORTS_UDP", FAILURES,
         [inst("a", reserved_ports_udp=frozenset({53}))], [task(ports_udp=frozenset({53}))],
         [None], failures=[("a", RESOURCE_PORTS_UDP)]),
    Case("ports taken by an earlier task of the same call count", PIPELINE,
         [inst("a"), inst("b")], [task(memory=10, ports=frozenset({80}))] * 3, ["a", "b", None],
         failures=[("a", RESOURCE_PORTS), ("b", RESOURCE_PORTS)]),
    Case("memory taken by earlier tasks of the same call counts", PIPELINE,
         [inst("a", memory=1024)], [task(memory=512)] * 3, ["a", "a", None],
         failures=[("a", RESOURCE_MEMORY)]),
    Case("cpu taken by earlier tasks of the same call counts", PIPELINE,
         [inst("a", cpu=1024)], [task(cpu=512)] * 3, ["a", "a", None],
         failures=[("a", RESOURCE_CPU)]),
    Case("tasks of one call may differ: a small one fits where a big one did not", PIPELINE,
         [inst("a", memory=600)], [task(memory=1024), task(memory=512)], [None, "a"],
         failures=[("a", RESOURCE_MEMORY)]),
]

CONSTRAINT_CASES = [
    Case("memberOf keeps the instances the expression selects", CONSTRAINTS,
         [inst("a", type="c5.large", memory=1024), inst("b", type="m5.large")],
         [task(memory=512)], ["b"], [member_of("attribute:ecs.instance-type =~ m5.*")]),
    Case("memberOf is binding: no match, no placement", PIPELINE,
         [inst("a", type="c5.large")], [task()], [None],
         [member_of("attribute:ecs.instance-type =~ m5.*")],
         failures=[("a", MEMBER_OF_UNSATISFIED)]),
    Case("several memberOf constraints must all hold", CONSTRAINTS,
         [inst("a", type="m5.large", zone="us-east-1a", memory=1024),
          inst("b", type="m5.large", zone="us-east-1b"),
          inst("c", type="c5.large", zone="us-east-1b")],
         [task(memory=512)], ["b"],
         [member_of("attribute:ecs.instance-type =~ m5.*"),
          member_of("attribute:ecs.availability-zone == us-east-1b")]),
    Case("memberOf task:group: affinity with the databases group", CONSTRAINTS,
         [inst("a", memory=1024), inst("b", task_groups={"databases": 1})],
         [task(memory=512)], ["b"], [member_of("task:group == databases")]),
    Case("memberOf anti-affinity sees the tasks this call placed", CONSTRAINTS,
         [inst("a", memory=1024), inst("b")], [task(memory=512)] * 3, ["a", "b", None],
         [member_of(f"not(task:group == {GROUP})")],
         failures=[("a", MEMBER_OF_UNSATISFIED), ("b", MEMBER_OF_UNSATISFIED)]),
    Case("memberOf affinity to the call's own group fails without a first member", CONSTRAINTS,
         [inst("a"), inst("b")], [task()] * 2, [None, None], [member_of(f"task:group == {GROUP}")],
         failures=[("a", MEMBER_OF_UNSATISFIED), ("b", MEMBER_OF_UNSATISFIED)]),
    # Tasks a call places are not RUNNING yet, so runningTasksCount does not move within it.
    Case("runningTasksCount counts running tasks, not the ones this call places", PORTSIDE,
         [inst("a", memory=1024, running_tasks_count=1), inst("b", memory=2048)],
         [task(memory=512)] * 2, ["b", "b"], [member_of("runningTasksCount == 0")]),
    Case("distinctInstance: each task of the call on a different instance", CONSTRAINTS,
         [inst("a", memory=1024), inst("b")], [task(memory=512)] * 3, ["a", "b", None], [DISTINCT],
         failures=[("a", DISTINCT_INSTANCE_UNSATISFIED), ("b", DISTINCT_INSTANCE_UNSATISFIED)]),
    Case("distinctInstance counts the group's tasks already on an instance", CONSTRAINTS,
         [inst("a", memory=1024, task_groups={GROUP: 1}), inst("b")], [task(memory=512)], ["b"],
         [DISTINCT]),
    Case("distinctInstance ignores tasks of other groups", CONSTRAINTS,
         [inst("a", memory=1024, task_groups={"family:other": 3}), inst("b")],
         [task(memory=512)], ["a"], [DISTINCT]),
    Case("distinctInstance with memberOf: both bind", CONSTRAINTS,
         [inst("a", type="m5.large"), inst("b", type="c5.large"), inst("c", type="m5.large")],
         [task()] * 3, ["a", "c", None],
         [DISTINCT, member_of("attribute:ecs.instance-type =~ m5.*")],
         failures=[("a", DISTINCT_INSTANCE_UNSATISFIED), ("b", MEMBER_OF_UNSATISFIED),
                   ("c", DISTINCT_INSTANCE_UNSATISFIED)]),
]

STRATEGY_CASES = [
    Case("binpack memory: the least memory left that fits", STRATEGIES,
         [inst("a", memory=4096), inst("b", memory=1024), inst("c", memory=2048)],
         [task(memory=512)] * 4, ["b", "b", "c", "c"]),
    Case("binpack cpu: the least CPU left that fits", STRATEGIES,
         [inst("a", cpu=4096), inst("b", cpu=1024), inst("c", cpu=512)],
         [task(cpu=1024)] * 2, ["b", "a"], strategies=[BINPACK_CPU]),
    Case("binpack cpu ignores memory", STRATEGIES,
         [inst("a", cpu=1024, memory=1024), inst("b", cpu=2048, memory=512)],
         [task(cpu=256, memory=256)], ["a"], strategies=[BINPACK_CPU]),
    Case("spread instanceId: one task per instance", STRATEGIES,
         [inst("a"), inst("b"), inst("c")], [task()] * 4, ["a", "b", "c", "a"],
         strategies=[SPREAD_INSTANCE]),
    Case("spread instanceId counts the group's tasks already there", STRATEGIES,
         [inst("a", task_groups={GROUP: 2}), inst("b", task_groups={GROUP: 1}), inst("c")],
         [task()] * 3, ["c", "b", "c"], strategies=[SPREAD_INSTANCE]),
    Case("spread counts only the tasks of the same group", STRATEGIES,
         [inst("a", task_groups={"family:other": 5}), inst("b", task_groups={GROUP: 1})],
         [task()], ["a"], strategies=[SPREAD_INSTANCE]),
    Case("spread zone: one task per availability zone", STRATEGIES,
         [inst("a", zone="z1"), inst("b", zone="z1"), inst("c", zone="z2"), inst("d", zone="z3")],
         [task()] * 3, ["a", "c", "d"], strategies=[SPREAD_ZONE]),
    Case("spread zone counts the group's tasks in each zone", STRATEGIES,
         [inst("a", zone="z1", task_groups={GROUP: 1}), inst("b", zone="z1"),
          inst("c", zone="z2", task_groups={GROUP: 1}), inst("d", zone="z3")],
         [task()] * 2, ["d", "a"], strategies=[SPREAD_ZONE]),
    Case("spread zone counts tasks on instances that cannot take more", STRATEGIES,
         [inst("a", zone="z1", memory=0, task_groups={GROUP: 2}), inst("b", zone="z1"),
          inst("c", zone="z2", task_groups={GROUP: 1})],
         [task(memory=10)] * 2, ["c", "b"], strategies=[SPREAD_ZONE]),
    Case("spread zone skips a zone whose instances are full", STRATEGIES,
         [inst("a", zone="z1", memory=100), inst("b", zone="z2", task_groups={GROUP: 3})],
         [task(memory=512)], ["b"], strategies=[SPREAD_ZONE]),
    Case("spread over a custom attribute", STRATEGIES,
         [inst("a", attributes={"rack": "r1"}), inst("b", attributes={"rack": "r1"}),
          inst("c", attributes={"rack": "r2"})], [task()] * 2, ["a", "c"],
         strategies=[PlacementStrategy("spread", "attribute:rack")]),
    Case("spread over an attribute: instances without it are one more value", PORTSIDE,
         [inst("a", attributes={"rack": "r1"}), inst("b")], [task()] * 3, ["a", "b", "a"],
         strategies=[PlacementStrategy("spread", "attribute:rack")]),
    # "distributes tasks evenly across Availability Zones and then bin packs tasks based on
    # memory within each Availability Zone"
    Case("spread zone, then binpack memory within the zone", STRATEGIES,
         [inst("a", zone="z1", memory=4096), inst("b", zone="z1", memory=1024),
          inst("c", zone="z2", memory=2048), inst("d", zone="z2", memory=8192)],
         [task(memory=512)] * 4, ["b", "c", "b", "c"], strategies=[SPREAD_ZONE, BINPACK_MEMORY]),
    # "distributes tasks evenly across Availability Zones and then distributes tasks evenly
    # across the instances within each Availability Zone"
    Case("spread zone, then spread instanceId within the zone", STRATEGIES,
         [inst("a", zone="z1"), inst("b", zone="z1"), inst("c", zone="z2"), inst("d", zone="z2")],
         [task()] * 4, ["a", "c", "b", "d"], strategies=[SPREAD_ZONE, SPREAD_INSTANCE]),
    Case("spread zone then binpack: equal ties across zones go to the earliest registered",
         PORTSIDE, [inst("a", zone="z2", memory=1024), inst("b", zone="z1", memory=1024)],
         [task(memory=512)], ["a"], strategies=[SPREAD_ZONE, BINPACK_MEMORY]),
    Case("binpack first: spread only breaks binpack's ties", STRATEGIES,
         [inst("a", zone="z1", memory=1024), inst("b", zone="z2", memory=1024),
          inst("c", zone="z1", memory=100, task_groups={GROUP: 1})],
         [task(memory=512)], ["b"], strategies=[BINPACK_MEMORY, SPREAD_ZONE]),
    Case("binpack first: a lone best instance wins over a better spread", STRATEGIES,
         [inst("a", zone="z1", memory=1024, task_groups={GROUP: 4}), inst("b", zone="z2")],
         [task(memory=512)] * 3, ["a", "a", "b"], strategies=[BINPACK_MEMORY, SPREAD_ZONE]),
    Case("spread zone then binpack cpu, each breaking the previous one's ties", STRATEGIES,
         [inst("a", zone="z1", cpu=2048), inst("b", zone="z1", cpu=1024),
          inst("c", zone="z2", cpu=512)],
         [task(cpu=512)] * 3, ["c", "b", "b"], strategies=[SPREAD_ZONE, BINPACK_CPU]),
    Case("after every strategy, ties go to the earliest registered instance", PORTSIDE,
         [inst("a"), inst("b"), inst("c")], [task(memory=512)], ["a"]),
    Case("strategies are best effort: the only instance with room is used", PIPELINE,
         [inst("a", zone="z1", memory=8192, task_groups={GROUP: 9}),
          inst("b", zone="z2", memory=0)],
         [task(memory=512)], ["a"], strategies=[SPREAD_ZONE, SPREAD_INSTANCE]),
    Case("random only picks among instances that fit", STRATEGIES,
         [inst("a", memory=100), inst("b"), inst("c", memory=100)], [task(memory=512)] * 3,
         ["b", "b", "b"], strategies=[RANDOM]),
]

INSTANCE_STATE = [
    Case("DRAINING instances receive no new tasks, and are not failures", PIPELINE,
         [inst("a", status="DRAINING"), inst("b", memory=512)], [task(memory=512)] * 2,
         ["b", None], failures=[("b", RESOURCE_MEMORY)]),
    Case("an instance whose agent is disconnected gets nothing: AGENT", FAILURES,
         [inst("a", agent_connected=False), inst("b")], [task()], ["b"]),
    Case("AGENT is reported before any resource", FAILURES,
         [inst("a", memory=0, agent_connected=False)], [task(memory=512)], [None],
         failures=[("a", AGENT)]),
    Case("other statuses are not candidates either", PORTSIDE,
         [inst("a", status="REGISTERING"), inst("b", status="DEREGISTERING"), inst("c")],
         [task()], ["c"]),
]

FAILURE_CASES = [
    Case("each refusing instance is listed once with its ARN and first reason", FAILURES,
         [inst("a", cpu=100), inst("b", memory=100), inst("c", reserved_ports=frozenset({80})),
          inst("d", agent_connected=False), inst("e", type="c5.large")],
         [task(cpu=512, memory=512, ports=frozenset({80}))] * 3, [None, None, None],
         [member_of("attribute:ecs.instance-type =~ m5.*")],
         failures=[("a", RESOURCE_CPU), ("b", RESOURCE_MEMORY), ("c", RESOURCE_PORTS),
                   ("d", AGENT), ("e", MEMBER_OF_UNSATISFIED)]),
    Case("resources are checked before constraints", PIPELINE,
         [inst("a", memory=100, type="c5.large")], [task(memory=512)], [None],
         [member_of("attribute:ecs.instance-type =~ m5.*")], failures=[("a", RESOURCE_MEMORY)]),
    Case("CPU is reported before memory, memory before ports", PORTSIDE,
         [inst("a", cpu=0, memory=0, reserved_ports=frozenset({80})),
          inst("b", memory=0, reserved_ports=frozenset({80}))],
         [task(cpu=1, memory=1, ports=frozenset({80}))], [None],
         failures=[("a", RESOURCE_CPU), ("b", RESOURCE_MEMORY)]),
    Case("some tasks placed, the rest reported", API,
         [inst("a", memory=1024), inst("b", memory=512)], [task(memory=512)] * 4,
         ["b", "a", "a", None], failures=[("a", RESOURCE_MEMORY), ("b", RESOURCE_MEMORY)]),
    Case("a task refused for different reasons on different tasks lists each pair", FAILURES,
         [inst("a", memory=1024)],
         [task(memory=512, ports=frozenset({80}))] * 2 + [task(memory=600)],
         ["a", None, None], failures=[("a", RESOURCE_PORTS), ("a", RESOURCE_MEMORY)]),
]


@pytest.mark.parametrize(
    "case", FIT + CONSTRAINT_CASES + STRATEGY_CASES + INSTANCE_STATE + FAILURE_CASES, ids=str
)
def test_placement(case: Case) -> None:
    result = place(case.tasks, case.instances, case.constraints, case.strategies,
                   rng=random.Random(7))
    assert [short(arn) for arn in result.container_instance_arns] == case.expected, case.source
    assert [(short(f.arn), f.reason) for f in result.failures] == case.failures, case.source


def test_failure_entries_carry_the_container_instance_arn() -> None:
    result = place([task(memory=512)], [inst("a", memory=1)], rng=random.Random(0))
    assert result.failures == (Failure(ARN + "a", RESOURCE_MEMORY),)
    assert result.failures[0].to_api() == {"arn": ARN + "a", "reason": "RESOURCE:MEMORY"}


def test_the_same_call_with_the_same_seed_places_the_same_way() -> None:
    instances = [inst(name, zone=f"z{index % 3}") for index, name in enumerate("abcdefgh")]
    runs = [
        place([task(memory=512)] * 10, instances, strategies=[SPREAD_ZONE, RANDOM],
              rng=random.Random(11)).container_instance_arns
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_random_covers_every_fitting_instance() -> None:
    instances = [inst("a"), inst("b"), inst("c"), inst("full", memory=0)]
    chosen = Counter(
        short(place([task(memory=512)], instances, strategies=[RANDOM],
                    rng=random.Random(seed)).container_instance_arns[0])
        for seed in range(300)
    )
    assert set(chosen) == {"a", "b", "c"}
    assert min(chosen.values()) > 60  # about 100 each


def test_without_strategies_run_task_places_at_random() -> None:
    # The RunTask reference: with no placement strategy, "random placement".
    instances = [inst("a"), inst("b"), inst("c")]
    chosen = {
        short(place([task()], instances, rng=random.Random(seed)).container_instance_arns[0])
        for seed in range(50)
    }
    assert chosen == {"a", "b", "c"}


def test_random_then_strategies_ignore_later_ones() -> None:
    instances = [inst("a", memory=1024), inst("b", memory=8192)]
    chosen = {
        short(place([task(memory=512)], instances, strategies=[RANDOM, BINPACK_MEMORY],
                    rng=random.Random(seed)).container_instance_arns[0])
        for seed in range(50)
    }
    assert chosen == {"a", "b"}


@pytest.mark.parametrize(
    "instances", [[], [inst("a", status="DRAINING"), inst("b", status="INACTIVE")]]
)
def test_a_cluster_without_active_instances_is_invalid_parameter(
    instances: list[InstanceView],
) -> None:
    with pytest.raises(InvalidParameterException) as caught:
        place([task()], instances, rng=random.Random(0))
    assert caught.value.message == NO_CONTAINER_INSTANCES


# --- the long-lived state --------------------------------------------------------------------


def test_release_gives_back_resources_ports_and_group_place() -> None:
    state = PlacementState([inst("a", memory=1024)])
    web = task(memory=1024, ports=frozenset({80}))
    rng = random.Random(0)
    assert state.place([web], [DISTINCT], rng=rng).container_instance_arns == (ARN + "a",)
    assert state.place([web], [DISTINCT], rng=rng).container_instance_arns == (None,)
    state.release(ARN + "a", web)
    assert state.view(ARN + "a") == inst("a", memory=1024)
    assert state.place([web], [DISTINCT], rng=rng).container_instance_arns == (ARN + "a",)


def test_view_shows_what_placements_reserved() -> None:
    state = PlacementState([inst("a", cpu=1024, memory=2048, reserved_ports=frozenset({22}))])
    state.place([task(256, 512, ports=frozenset({80}), ports_udp=frozenset({53}))] * 2,
                rng=random.Random(0))
    view = state.view(ARN + "a")
    assert view is not None
    assert (view.remaining_cpu, view.remaining_memory) == (768, 1536)
    assert view.reserved_ports == {22, 80} and view.reserved_ports_udp == {53}
    assert view.task_groups == {GROUP: 1}  # the second task wanted the same ports
    assert state.view(ARN + "missing") is None


def test_put_instance_replaces_attributes_and_resources() -> None:
    state = PlacementState([inst("a", type="c5.large"), inst("b", type="m5.large", memory=100)])
    m5 = [member_of("attribute:ecs.instance-type =~ m5.*")]
    rng = random.Random(0)
    assert state.place([task(memory=512)], m5, rng=rng).container_instance_arns == (None,)
    state.put_instance(inst("a", type="m5.xlarge"))
    assert state.place([task(memory=512)], m5, rng=rng).container_instance_arns == (ARN + "a",)
    state.put_instance(inst("b", type="m5.large", memory=8192))
    placed = state.place([task(memory=512)], m5, [SPREAD_INSTANCE], rng=rng)
    assert placed.container_instance_arns == (ARN + "b",)


def test_put_instance_with_new_resources_is_seen_by_spread() -> None:
    state = PlacementState([inst("a", zone="z1", memory=100),
                            inst("b", zone="z2", task_groups={GROUP: 1})])
    rng = random.Random(0)
    first = state.place([task(memory=512)], strategies=[SPREAD_ZONE], rng=rng)
    assert first.container_instance_arns == (ARN + "b",)
    state.put_instance(inst("a", zone="z1", memory=8192))
    second = state.place([task(memory=512)], strategies=[SPREAD_ZONE], rng=rng)
    assert second.container_instance_arns == (ARN + "a",)


def test_put_instance_status_and_agent_changes_take_effect() -> None:
    state = PlacementState([inst("a"), inst("b", memory=1024)])
    rng = random.Random(0)
    state.put_instance(inst("b", memory=1024, status="DRAINING"))
    assert state.place([task(memory=512)], rng=rng).container_instance_arns == (ARN + "a",)
    state.put_instance(inst("a", agent_connected=False))
    result = state.place([task(memory=512)], rng=rng)
    assert result.container_instance_arns == (None,)
    assert result.failures == (Failure(ARN + "a", AGENT),)


def test_remove_instance_takes_it_out_of_placement() -> None:
    state = PlacementState([inst("a", memory=1024), inst("b")])
    state.remove_instance(ARN + "a")
    state.remove_instance(ARN + "never-registered")
    result = state.place([task(memory=512)] * 2, rng=random.Random(0))
    assert result.container_instance_arns == (ARN + "b", ARN + "b")
    state.remove_instance(ARN + "b")
    with pytest.raises(InvalidParameterException):
        state.place([task()], rng=random.Random(0))


def test_place_on_a_named_instance_reserves_or_says_why_not() -> None:
    state = PlacementState([inst("a", memory=1024), inst("b", agent_connected=False)])
    assert state.place_on(ARN + "a", task(memory=1024)) is None
    assert state.place_on(ARN + "a", task(memory=1)) == Failure(ARN + "a", RESOURCE_MEMORY)
    assert state.place_on(ARN + "b", task()) == Failure(ARN + "b", AGENT)
    assert state.place_on(ARN + "c", task()) == Failure(ARN + "c", MISSING)


def test_a_state_answers_like_one_shot_placement_call_after_call() -> None:
    instances = [inst(f"i{n}", cpu=2048, memory=4096 + 512 * (n % 4), zone=f"z{n % 3}",
                      type=("m5.large", "c5.large")[n % 2]) for n in range(12)]
    calls = [([task(128, 512 + 128 * (n % 3), group=f"family:f{n % 2}")] * 3,
              [member_of("attribute:ecs.instance-type =~ m5.*")], [BINPACK_MEMORY, SPREAD_ZONE])
             for n in range(6)]
    state = PlacementState(instances)
    current = list(instances)
    for tasks, constraints, strategies in calls:
        expected = place(tasks, current, constraints, strategies, rng=random.Random(1))
        got = state.place(tasks, constraints, strategies, rng=random.Random(1))
        assert got == expected
        current = [state.view(view.container_instance_arn) or view for view in current]


# --- request parsing -------------------------------------------------------------------------


def test_parse_constraints_reads_the_request_shapes() -> None:
    parsed = parse_constraints([
        {"type": "distinctInstance"},
        {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t2.*"},
    ])
    assert parsed == (
        PlacementConstraint("distinctInstance"),
        PlacementConstraint("memberOf", "attribute:ecs.instance-type =~ t2.*"),
    )


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ([{"type": "distinctInstance", "expression": "attribute:a == b"}], "distinctInstance"),
        ([{"type": "memberOf"}], "expression is required"),
        ([{"type": "memberOf", "expression": ""}], "expression is required"),
        ([{"type": "sameInstance"}], "Invalid placement constraint type"),
        ([{}], "Invalid placement constraint type"),
        ([{"type": "distinctInstance"}] * 11, "maximum of 10"),
    ],
)
def test_parse_constraints_refuses_what_ecs_refuses(
    entries: list[dict[str, str]], fragment: str
) -> None:
    with pytest.raises(InvalidParameterException) as caught:
        parse_constraints(entries)
    assert fragment in caught.value.message


def test_parse_constraints_reports_a_bad_expression() -> None:
    with pytest.raises(ClusterQueryError):
        parse_constraints([{"type": "memberOf", "expression": "attribute:a =="}])


def test_parse_strategies_reads_the_request_shapes() -> None:
    parsed = parse_strategies([
        {"type": "binpack", "field": "memory"},
        {"type": "binpack", "field": "CPU"},
        {"type": "spread", "field": "host"},
        {"type": "spread", "field": "instanceId"},
        {"type": "spread", "field": "attribute:ecs.availability-zone"},
    ])
    assert parsed == (BINPACK_MEMORY, BINPACK_CPU, SPREAD_INSTANCE, SPREAD_INSTANCE, SPREAD_ZONE)
    assert parse_strategies([{"type": "random", "field": "anything"}]) == (RANDOM,)


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ([{"type": "binpack"}], "binpack"),
        ([{"type": "binpack", "field": "disk"}], "binpack"),
        ([{"type": "spread"}], "spread"),
        ([{"type": "spread", "field": "zone"}], "spread"),
        ([{"type": "spread", "field": "attribute:"}], "spread"),
        ([{"type": "pack"}], "Invalid placement strategy type"),
        ([{"type": "random"}] * 6, "maximum of 5"),
    ],
)
def test_parse_strategies_refuses_what_ecs_refuses(
    entries: list[dict[str, str]], fragment: str
) -> None:
    with pytest.raises(InvalidParameterException) as caught:
        parse_strategies(entries)
    assert fragment in caught.value.message


# --- Fargate ---------------------------------------------------------------------------------


def test_fargate_tasks_spread_evenly_across_zones() -> None:
    zones = spread_across_zones(6, ["us-east-1a", "us-east-1b", "us-east-1c"], {},
                                random.Random(3))
    assert Counter(zones) == {"us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 2}


def test_fargate_spread_counts_the_groups_tasks_already_running() -> None:
    zones = spread_across_zones(3, ["a", "b", "c"], {"a": 2, "b": 1}, random.Random(3))
    assert sorted(zones) == ["b", "c", "c"]


def test_fargate_spread_treats_subnets_of_one_zone_as_one_zone() -> None:
    zones = spread_across_zones(4, ["a", "a", "a", "b"], {}, random.Random(3))
    assert Counter(zones) == {"a": 2, "b": 2}


def test_fargate_spread_breaks_ties_at_random() -> None:
    firsts = {spread_across_zones(1, ["a", "b"], {}, random.Random(seed))[0] for seed in range(30)}
    assert firsts == {"a", "b"}


def test_fargate_spread_needs_a_zone() -> None:
    with pytest.raises(ValueError):
        spread_across_zones(1, [], {}, random.Random(0))
