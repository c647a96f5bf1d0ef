"""The ECS cluster query language, example by example, as the ECS developer guide states it.

Each row quotes its expression from the page named in `source`:

- CQL: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cluster-query-language.html
  (every example on it, its operator table, its date formats, its compound-expression form)
- CONSTRAINTS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-placement-constraints.html
  (the memberOf examples and the list-container-instances --filter examples)

Rows marked PORTSIDE encode a choice portside made where the pages are silent (see the module
docstring of portside.services.ecs.placement.query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from portside.services.ecs.placement.errors import InvalidParameterException
from portside.services.ecs.placement.query import ClusterQueryError, compile_query

CQL = "cluster-query-language.html"
CONSTRAINTS = "task-placement-constraints.html"
PORTSIDE = "portside (the page is silent)"


@dataclass(frozen=True)
class Instance:
    """A container instance as an expression sees it (the QueryTarget protocol)."""

    attributes: dict[str, str | None] = field(default_factory=dict)
    ec2_instance_id: str | None = "i-0000000000000000a"
    agent_connected: bool = True
    agent_version: str | None = "1.80.0"
    registered_at: datetime | None = datetime(2024, 1, 1, tzinfo=UTC)
    running_tasks_count: int = 0
    task_groups: dict[str, int] = field(default_factory=dict)


def instance(**fields: Any) -> Instance:
    return Instance(**fields)


def attrs(attributes: dict[str, str | None]) -> Instance:
    return instance(attributes=attributes)


def running(count: int) -> Instance:
    return instance(running_tasks_count=count)


def az(zone: str, **fields: Any) -> Instance:
    return instance(attributes={"ecs.availability-zone": zone}, **fields)


def typed(instance_type: str, zone: str = "us-east-1a") -> Instance:
    return instance(
        attributes={"ecs.instance-type": instance_type, "ecs.availability-zone": zone}
    )


@dataclass(frozen=True)
class Case:
    source: str
    expression: str
    matching: list[Instance] = field(default_factory=list)
    not_matching: list[Instance] = field(default_factory=list)

    def __str__(self) -> str:
        return self.expression


EXAMPLES = [
    # "Example: String Equality — selects instances with the specified instance type."
    Case(CQL, "attribute:ecs.instance-type == t2.small",
         [typed("t2.small")], [typed("t2.medium"), instance()]),
    # "Example: Argument List — selects instances in the us-east-1a or us-east-1b Availability
    # Zone."
    Case(CQL, "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
         [az("us-east-1a"), az("us-east-1b")], [az("us-east-1c"), instance()]),
    # "Example: Compound Expression — selects G2 instances that are not in the us-east-1d
    # Availability Zone."
    Case(CQL, "attribute:ecs.instance-type =~ g2.* and "
              "attribute:ecs.availability-zone != us-east-1d",
         [typed("g2.2xlarge", "us-east-1a"), typed("g2.8xlarge", "us-east-1c")],
         [typed("g2.2xlarge", "us-east-1d"), typed("t2.small", "us-east-1a"),
          attrs({"ecs.instance-type": "g2.2xlarge"})]),
    # "Example: Task Affinity — selects instances that are hosting tasks in the
    # service:production group."
    Case(CQL, "task:group == service:production",
         [instance(task_groups={"service:production": 2}),
          instance(task_groups={"service:production": 1, "database": 1})],
         [instance(task_groups={"service:staging": 1}), instance()]),
    # "Example: Task Anti-Affinity — selects instances that are not hosting tasks in the
    # database group."
    Case(CQL, "not(task:group == database)",
         [instance(), instance(task_groups={"service:production": 1})],
         [instance(task_groups={"database": 1}),
          instance(task_groups={"database": 1, "service:production": 3})]),
    # "Example: Running task count — selects instances that are only running one task."
    Case(CQL, "runningTasksCount == 1",
         [running(1)],
         [running(0), running(2)]),
    # "Example: Amazon ECS container agent version — selects instances that are running a
    # container agent version below 1.14.5."
    Case(CQL, "agentVersion < 1.14.5",
         [instance(agent_version="1.14.4"), instance(agent_version="1.9.0"),
          instance(agent_version="0.99.99")],
         [instance(agent_version="1.14.5"), instance(agent_version="1.15.0"),
          instance(agent_version="1.100.0"), instance(agent_version=None)]),
    # "Example: Instance registration time — selects instances that were registered before
    # February 13, 2018."
    Case(CQL, "registeredAt < 2018-02-13",
         [instance(registered_at=datetime(2018, 2, 12, 23, 59, 59, tzinfo=UTC))],
         [instance(registered_at=datetime(2018, 2, 13, tzinfo=UTC)),
          instance(registered_at=datetime(2019, 1, 1, tzinfo=UTC))]),
    # "Example: Amazon EC2 instance ID — selects instances with the following Amazon EC2
    # instance IDs."
    Case(CQL, "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
         [instance(ec2_instance_id="i-abcd1234"), instance(ec2_instance_id="i-wxyx7890")],
         [instance(ec2_instance_id="i-abcd12345"), instance(ec2_instance_id=None)]),
    # memberOf example: "place tasks on T2 instances".
    Case(CONSTRAINTS, "attribute:ecs.instance-type =~ t2.*",
         [typed("t2.small"), typed("t2.2xlarge")], [typed("m5.large"), typed("at2.small")]),
    # memberOf example: "place tasks on instances with other tasks in the databases task group".
    Case(CONSTRAINTS, "task:group == databases",
         [instance(task_groups={"databases": 1})], [instance(task_groups={"web": 1})]),
    # --filter example: "Built-in attribute — list the g2.2xlarge instances".
    Case(CONSTRAINTS, "attribute:ecs.instance-type == g2.2xlarge",
         [typed("g2.2xlarge")], [typed("g2.8xlarge")]),
    # --filter example: "Custom attribute — lists the instances with the custom attribute
    # stack=prod".
    Case(CONSTRAINTS, "attribute:stack == prod",
         [attrs({"stack": "prod"})],
         [attrs({"stack": "dev"}), instance()]),
    # --filter example: "Exclude an attribute value — lists the instances with the custom
    # attribute stack unless the attribute value is prod": instances without it are not listed.
    Case(CONSTRAINTS, "attribute:stack != prod",
         [attrs({"stack": "dev"})],
         [attrs({"stack": "prod"}), instance()]),
    # --filter example: "Multiple attribute values — list the instances of type t2.small or
    # t2.medium".
    Case(CONSTRAINTS, "attribute:ecs.instance-type in [t2.small, t2.medium]",
         [typed("t2.small"), typed("t2.medium")], [typed("t2.large")]),
    # --filter example: "Multiple attributes — list the T2 instances in the us-east-1a
    # Availability Zone".
    Case(CONSTRAINTS,
         "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a",
         [typed("t2.micro", "us-east-1a")],
         [typed("t2.micro", "us-east-1b"), typed("m5.large", "us-east-1a")]),
]

# "You can specify precedence using parentheses: (expression1 or expression2) and expression3"
PRECEDENCE = [
    Case(CQL, "(attribute:a == 1 or attribute:b == 1) and attribute:c == 1",
         [attrs({"a": "1", "c": "1"}), attrs({"b": "1", "c": "1"})],
         [attrs({"a": "1"}), attrs({"c": "1"})]),
    Case(PORTSIDE, "attribute:a == 1 or attribute:b == 1 and attribute:c == 1",
         [attrs({"a": "1"}), attrs({"b": "1", "c": "1"})],
         [attrs({"b": "1"})]),
    Case(PORTSIDE, "not attribute:a == 1 and attribute:b == 1",
         [attrs({"b": "1"})],
         [attrs({"a": "1", "b": "1"}), instance()]),
    Case(PORTSIDE, "!(attribute:a == 1 || attribute:b == 1) && attribute:c exists",
         [attrs({"c": "x"})],
         [attrs({"a": "1", "c": "x"}), attrs({"a": "2"})]),
    Case(PORTSIDE, "((attribute:a == 1))", [attrs({"a": "1"})], [instance()]),
    Case(PORTSIDE, "not not attribute:a == 1", [attrs({"a": "1"})], [instance()]),
]

# The page's operator table: each symbol and each word form.
OPERATORS = [
    Case(CQL, "attribute:a == x", [attrs({"a": "x"})], [attrs({"a": "X"})]),
    Case(CQL, "attribute:a equals x", [attrs({"a": "x"})], [attrs({"a": "y"})]),
    Case(CQL, "attribute:a != x", [attrs({"a": "y"})], [attrs({"a": "x"})]),
    Case(CQL, "attribute:a not_equals x", [attrs({"a": "y"})], [attrs({"a": "x"})]),
    Case(CQL, "runningTasksCount > 2", [running(3)], [running(2)]),
    Case(CQL, "runningTasksCount greater_than 2", [running(3)], [running(2)]),
    Case(CQL, "runningTasksCount >= 2", [running(2)], [running(1)]),
    Case(CQL, "runningTasksCount greater_than_equal 2", [running(2)], [running(1)]),
    Case(CQL, "runningTasksCount < 2", [running(1)], [running(2)]),
    Case(CQL, "runningTasksCount less_than 2", [running(1)], [running(2)]),
    Case(CQL, "runningTasksCount <= 2", [running(2)], [running(3)]),
    Case(CQL, "runningTasksCount less_than_equal 2", [running(2)], [running(3)]),
    Case(CQL, "attribute:gpu exists", [attrs({"gpu": "1"}), attrs({"gpu": None})],
         [instance()]),
    Case(CQL, "attribute:gpu !exists", [instance()], [attrs({"gpu": "1"})]),
    Case(CQL, "attribute:gpu not_exists", [instance()], [attrs({"gpu": None})]),
    Case(CQL, "attribute:a in [x, y]", [attrs({"a": "y"})], [attrs({"a": "z"})]),
    Case(CQL, "attribute:a !in [x, y]", [attrs({"a": "z"})], [attrs({"a": "x"}), instance()]),
    Case(CQL, "attribute:a not_in [x, y]", [attrs({"a": "z"})], [attrs({"a": "x"})]),
    Case(CQL, "attribute:a =~ x.*", [attrs({"a": "xyz"})], [attrs({"a": "axyz"})]),
    Case(CQL, "attribute:a matches x.*", [attrs({"a": "x"})], [attrs({"a": "yx"})]),
    Case(CQL, "attribute:a !~ x.*", [attrs({"a": "yx"})], [attrs({"a": "xy"}), instance()]),
    Case(CQL, "attribute:a not_matches x.*", [attrs({"a": "yx"})], [attrs({"a": "x"})]),
]

# Subjects and their types, beyond the page's examples.
SUBJECTS = [
    Case(CQL, "agentConnected == false", [instance(agent_connected=False)], [instance()]),
    Case(CQL, "agentConnected != false", [instance()], [instance(agent_connected=False)]),
    Case(CQL, "agentConnected in [true]", [instance()], [instance(agent_connected=False)]),
    Case(CQL, "agentConnected =~ f.*", [instance(agent_connected=False)], [instance()]),
    Case(CQL, "agentVersion == 1.14.5", [instance(agent_version="1.14.5")],
         [instance(agent_version="1.14.50")]),
    Case(CQL, "agentVersion >= 1.14.5", [instance(agent_version="1.15.0")],
         [instance(agent_version="1.2.30")]),
    Case(CQL, "ec2InstanceId == i-abcd1234", [instance(ec2_instance_id="i-abcd1234")],
         [instance(ec2_instance_id="i-wxyx7890"), instance(ec2_instance_id=None)]),
    Case(CQL, "ec2InstanceId != i-abcd1234", [instance(ec2_instance_id="i-wxyx7890")],
         [instance(ec2_instance_id=None)]),
    Case(CQL, "ec2InstanceId =~ i-abcd.*", [instance(ec2_instance_id="i-abcd1234")],
         [instance(ec2_instance_id="i-wxyx7890")]),
    Case(CQL, "ec2InstanceId not_in [i-abcd1234]", [instance(ec2_instance_id="i-wxyx7890")],
         [instance(ec2_instance_id="i-abcd1234")]),
    Case(CQL, "task:group in [database, cache]", [instance(task_groups={"cache": 1})],
         [instance(task_groups={"web": 1})]),
    Case(CQL, "task:group =~ service:.*", [instance(task_groups={"service:web": 1})],
         [instance(task_groups={"family:web": 1}), instance(task_groups={"service:web": 0})]),
    # task:group != x holds for an instance with a task of some other group (compare with the
    # page's anti-affinity example, written not(task:group == x)).
    Case(PORTSIDE, "task:group != database",
         [instance(task_groups={"web": 1}), instance(task_groups={"web": 1, "database": 1})],
         [instance(task_groups={"database": 2}), instance()]),
    Case(CQL, "attribute:ecs.os-type == linux", [attrs({"ecs.os-type": "linux"})],
         [attrs({"ecs.os-type": "windows"})]),
    Case(CQL, "attribute:team/stack\\name == a", [attrs({"team/stack\\name": "a"})],
         [instance()]),
    # An attribute set without a value compares as the empty string.
    Case(PORTSIDE, "attribute:ecs.capability.task-eni != x",
         [attrs({"ecs.capability.task-eni": None})], [instance()]),
    # Ordering on attributes: numbers as numbers, else strings.
    Case(PORTSIDE, "attribute:size > 9", [attrs({"size": "10"})],
         [attrs({"size": "9"}), attrs({"size": "1.5"}), instance()]),
    Case(PORTSIDE, "attribute:tier < m", [attrs({"tier": "gold"})],
         [attrs({"tier": "silver"})]),
]

# "Valid date formats: 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28,
# 2018-06-18"
MOMENT = datetime(2018, 6, 18, 22, 28, 28, tzinfo=UTC)
DATES = [
    Case(CQL, "registeredAt == 2018-06-18T22:28:28+00:00", [instance(registered_at=MOMENT)],
         [instance(registered_at=MOMENT + timedelta(seconds=1))]),
    Case(CQL, "registeredAt == 2018-06-18T22:28:28Z", [instance(registered_at=MOMENT)],
         [instance(registered_at=MOMENT - timedelta(seconds=1))]),
    Case(CQL, "registeredAt == 2018-06-18T22:28:28", [instance(registered_at=MOMENT)],
         [instance(registered_at=MOMENT.replace(tzinfo=timezone(timedelta(hours=2))))]),
    Case(CQL, "registeredAt >= 2018-06-18", [instance(registered_at=MOMENT)],
         [instance(registered_at=datetime(2018, 6, 17, 23, 59, tzinfo=UTC))]),
    Case(CQL, "registeredAt > 2018-06-18T22:28:28-01:00",
         [instance(registered_at=MOMENT + timedelta(hours=1, seconds=1))],
         [instance(registered_at=MOMENT)]),
]

# Values: quoted with either quote, bare regular expressions with groups and classes.
VALUES = [
    Case(CQL, "attribute:name == 'two words'", [attrs({"name": "two words"})],
         [attrs({"name": "two"})]),
    Case(CQL, 'attribute:name in ["a b", c]', [attrs({"name": "a b"})],
         [attrs({"name": "a"})]),
    Case(PORTSIDE, "(attribute:ecs.instance-type =~ (m5|c5)\\.[a-z]+)",
         [typed("m5.large"), typed("c5.xlarge")], [typed("m5.2xlarge"), typed("r5.large")]),
    Case(PORTSIDE, "attribute:ecs.instance-type =~ [mc]5.* and "
                   "attribute:ecs.availability-zone == us-east-1a",
         [typed("c5.large")], [typed("r5.large"), typed("c5.large", "us-east-1b")]),
    Case(PORTSIDE, "attribute:ecs.instance-type =~ 'm5 .*'", [typed("m5 large")],
         [typed("m5.large")]),
    Case(PORTSIDE, "attribute:ecs.instance-type==m5.large", [typed("m5.large")],
         [typed("m5.xlarge")]),
    Case(PORTSIDE, "runningTasksCount<=1&&agentConnected==true", [instance()],
         [running(2)]),
    Case(PORTSIDE, "attribute:a=~x|y||attribute:b==z", [attrs({"a": "y"}),
         attrs({"b": "z"})], [attrs({"a": "x|y"})]),
    Case(PORTSIDE, "attribute:a EQUALS x AND NOT attribute:b exists", [attrs({"a": "x"})],
         [attrs({"a": "x", "b": "y"})]),
]


@pytest.mark.parametrize(
    "case", EXAMPLES + PRECEDENCE + OPERATORS + SUBJECTS + DATES + VALUES, ids=str
)
def test_expression_selects_the_instances_the_documentation_says(case: Case) -> None:
    query = compile_query(case.expression)
    assert case.matching or case.not_matching
    for target in case.matching:
        assert query.matches(target), (case.source, target)
    for target in case.not_matching:
        assert not query.matches(target), (case.source, target)


@pytest.mark.parametrize(
    ("expression", "dynamic"),
    [
        ("attribute:ecs.instance-type =~ m5.*", False),
        ("agentConnected == true and ec2InstanceId != i-1", False),
        ("task:group == database", True),
        ("not(task:group == database)", True),
        ("runningTasksCount == 0 or attribute:a exists", True),
    ],
)
def test_expressions_that_read_tasks_are_marked_dynamic(expression: str, dynamic: bool) -> None:
    assert compile_query(expression).dynamic is dynamic


def test_a_compiled_expression_is_reused() -> None:
    assert compile_query("attribute:x == y") is compile_query("attribute:x == y")


BAD = [
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("attribute:", "missing attribute name"),
    ("instanceType == t2.small", "unknown subject 'instanceType'"),
    ("attribute:a", "missing operator"),
    ("attribute:a === b", "unexpected 'b'"),
    ("attribute:a ~= b", "missing operator"),
    ("attribute:a !inx [b]", "missing operator"),
    ("attribute:a ==", "missing value"),
    ("attribute:a == b c", "unexpected 'c'"),
    ("attribute:a == 'b", "unterminated quoted value"),
    ("attribute:a in b", "expected an argument list"),
    ("attribute:a in [b", "expected ',' or ']'"),
    ("attribute:a in []", "missing value"),
    ("attribute:a in [b,]", "missing value"),
    ("attribute:a =~ [b", "invalid regular expression"),
    ("attribute:a =~ (b", "invalid regular expression"),
    ("(attribute:a == b", "missing ')'"),
    ("attribute:a == b)", "unexpected ')'"),
    ("attribute:a == b and", "missing subject"),
    ("and attribute:a == b", "unknown subject 'and'"),
    ("attribute:a == b or or attribute:b == c", "unknown subject 'or'"),
    ("not", "missing subject"),
    ("runningTasksCount == one", "'one' is not an integer"),
    ("runningTasksCount in [1, 2]", "operator in is not valid for runningTasksCount"),
    ("runningTasksCount exists", "operator exists is not valid for runningTasksCount"),
    ("agentVersion == latest", "'latest' is not a version"),
    ("agentVersion =~ 1.*", "operator matches is not valid for agentVersion"),
    ("agentConnected > true", "operator greater_than is not valid for agentConnected"),
    ("ec2InstanceId exists", "operator exists is not valid for ec2InstanceId"),
    ("registeredAt < yesterday", "'yesterday' is not a valid date"),
    ("registeredAt < 2018-02-30", "'2018-02-30' is not a valid date"),
    ("registeredAt < 2018-02-13T10:00", "'2018-02-13T10:00' is not a valid date"),
    ("registeredAt in [2018-02-13]", "operator in is not valid for registeredAt"),
    ("task:group > a", "operator greater_than is not valid for task:group"),
    ("attribute:a == b " + "x" * 2000, "longer than 2000 characters"),
]


@pytest.mark.parametrize(("expression", "problem"), BAD, ids=[bad for bad, _ in BAD])
def test_malformed_expression_is_invalid_parameter(expression: str, problem: str) -> None:
    with pytest.raises(ClusterQueryError) as caught:
        compile_query(expression)
    error = caught.value
    assert isinstance(error, InvalidParameterException)
    assert error.code == "InvalidParameterException" and error.status == 400
    assert problem in error.problem
    assert error.message.startswith("Invalid cluster query expression: ")


def test_error_names_the_position_of_the_fault() -> None:
    with pytest.raises(ClusterQueryError) as caught:
        compile_query("attribute:a == b and foo == c")
    assert caught.value.position == len("attribute:a == b and ")
    assert "at position 22" in caught.value.message
