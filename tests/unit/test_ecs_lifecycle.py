"""The task lifecycle as a table (task-lifecycle-explanation.html): which states follow which,
the path a report implies, and what each state stamps; plus the pure rules around it —
overrides, network configuration and capacity provider strategies."""

from __future__ import annotations

import re
import time

import pytest

from portside.protocol.errors import AwsError
from portside.services.ecs import network, overrides
from portside.services.ecs.arns import new_id
from portside.services.ecs.capacity import check_strategy_items, split
from portside.services.ecs.launch import reservation
from portside.services.ecs.lifecycle import (
    ENI_STEPS,
    STAMPS,
    TASK_TRANSITIONS,
    ContainerStatus,
    TaskStatus,
    container_may_move,
    is_ahead,
    task_path,
)

S = TaskStatus


@pytest.mark.parametrize(("current", "target", "through", "path"), [
    # "Some tasks ... naturally progress through from PENDING to RUNNING to STOPPED."
    (S.PENDING, S.RUNNING, (), [S.RUNNING]),
    (S.RUNNING, S.STOPPED, (), [S.STOPPED]),
    # awsvpc: the ENI is provisioned before PENDING and deprovisioned before STOPPED.
    (S.PROVISIONING, S.RUNNING, ENI_STEPS, [S.PENDING, S.RUNNING]),
    (S.RUNNING, S.STOPPED, ENI_STEPS, [S.DEPROVISIONING, S.STOPPED]),
    (S.PROVISIONING, S.STOPPED, ENI_STEPS, [S.DEPROVISIONING, S.STOPPED]),
    (S.STOPPING, S.STOPPED, ENI_STEPS, [S.DEPROVISIONING, S.STOPPED]),
    (S.PENDING, S.STOPPED, (), [S.STOPPED]),
    # A report of a state already passed (late, or repeated) moves nothing.
    (S.RUNNING, S.PENDING, (), []),
    (S.STOPPED, S.RUNNING, (), []),
    (S.RUNNING, S.RUNNING, (), []),
])
def test_a_report_moves_the_task_along_allowed_transitions(current, target, through, path):
    assert task_path(current, target, through) == path
    for before, after in zip([current, *path], path, strict=False):
        assert after in TASK_TRANSITIONS[before]


def test_the_lifecycle_only_moves_forward_and_stopped_is_final():
    for state, following in TASK_TRANSITIONS.items():
        assert all(is_ahead(nxt, state) for nxt in following)
    assert TASK_TRANSITIONS[S.STOPPED] == frozenset()
    assert S.RUNNING not in TASK_TRANSITIONS[S.PROVISIONING]  # the ENI comes first


def test_each_state_stamps_its_timestamp():
    assert STAMPS == {S.RUNNING: "startedAt", S.DEACTIVATING: "stoppingAt",
                      S.STOPPING: "stoppingAt", S.DEPROVISIONING: "executionStoppedAt",
                      S.STOPPED: "stoppedAt"}


@pytest.mark.parametrize(("current", "target", "allowed"), [
    (ContainerStatus.PENDING, ContainerStatus.RUNNING, True),
    (ContainerStatus.PENDING, ContainerStatus.STOPPED, True),
    (ContainerStatus.RUNNING, ContainerStatus.STOPPED, True),
    (ContainerStatus.STOPPED, ContainerStatus.RUNNING, False),
    (ContainerStatus.RUNNING, ContainerStatus.PENDING, False),
])
def test_container_states(current, target, allowed):
    assert container_may_move(current, target) is allowed


# -- overrides ------------------------------------------------------------------------------

DEFINITION = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
    "family": "web", "cpu": "512", "memory": "1024", "networkMode": "awsvpc",
    "containerDefinitions": [
        {"name": "app", "image": "app", "memory": 512, "command": ["serve"],
         "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
         "environmentFiles": [{"type": "s3", "value": "arn:aws:s3:::b/old.env"}]},
        {"name": "log", "image": "log", "memoryReservation": 64}],
}


def test_command_replaces_environment_merges_by_name_and_files_replace():
    effective = overrides.apply(DEFINITION, {"containerOverrides": [{
        "name": "app", "command": ["work"],
        "environment": [{"name": "B", "value": "x"}, {"name": "C", "value": "3"}],
        "environmentFiles": [{"type": "s3", "value": "arn:aws:s3:::b/new.env"}]}]},
        fargate=False)
    app = effective["containerDefinitions"][0]
    assert app["command"] == ["work"]
    assert app["environment"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "x"},
                                  {"name": "C", "value": "3"}]
    assert app["environmentFiles"] == [{"type": "s3", "value": "arn:aws:s3:::b/new.env"}]
    assert DEFINITION["containerDefinitions"][0]["command"] == ["serve"]  # not changed
    assert DEFINITION["containerDefinitions"][0]["environment"] == [
        {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert [c["name"] for c in effective["containerDefinitions"]] == ["app", "log"]


def test_task_level_overrides_replace_sizes_and_roles():
    effective = overrides.apply(DEFINITION, {
        "cpu": "1 vCPU", "memory": "2GB",
        "taskRoleArn": "arn:aws:iam::000000000000:role/other"}, fargate=True)
    assert (effective["cpu"], effective["memory"]) == ("1024", "2048")
    assert effective["taskRoleArn"] == "arn:aws:iam::000000000000:role/other"


@pytest.mark.parametrize("given", [
    {"containerOverrides": [{"name": "nope"}]},
    {"containerOverrides": [{"name": "app", "memory": 100, "memoryReservation": 200}]},
    {"cpu": "256", "memory": "4096"},  # no such Fargate size
    {"cpu": "lots"},
])
def test_overrides_that_break_the_rules(given):
    with pytest.raises(AwsError) as exc:
        overrides.apply(DEFINITION, given, fargate=True)
    assert exc.value.code == "InvalidParameterException"


def test_overrides_are_at_most_8192_characters():
    overrides.check_size({"containerOverrides": [{"name": "app", "command": ["x" * 8000]}]})
    with pytest.raises(AwsError):
        overrides.check_size({"containerOverrides": [{"name": "app", "command": ["x" * 8200]}]})


def test_described_overrides_list_every_container():
    shown = overrides.described(DEFINITION, {"containerOverrides": [
        {"name": "log", "command": ["x"]}], "cpu": "1024"})
    assert shown["containerOverrides"] == [{"name": "app"}, {"name": "log", "command": ["x"]}]
    assert shown["cpu"] == "1024"


# -- what a task reserves ------------------------------------------------------------------------


def test_a_task_reserves_task_sizes_else_its_containers_and_its_static_host_ports():
    bridge = {"networkMode": "bridge", "containerDefinitions": [
        {"name": "a", "cpu": 100, "memory": 300, "memoryReservation": 200,
         "portMappings": [{"containerPort": 80, "hostPort": 8080},
                          {"containerPort": 81, "hostPort": 0},
                          {"containerPort": 53, "hostPort": 53, "protocol": "udp"}]},
        {"name": "b", "cpu": 50, "memory": 100}]}
    found = reservation(bridge)
    assert (found.cpu, found.memory, found.ports, found.ports_udp) == (150, 300, (8080,), (53,))
    host_mode = {"networkMode": "host", "containerDefinitions": [
        {"name": "a", "memory": 10, "portMappings": [{"containerPort": 9000}]}]}
    assert reservation(host_mode).ports == (9000,)
    assert reservation({**DEFINITION}).memory == 1024  # task level wins
    assert reservation(DEFINITION).ports == ()  # awsvpc: no host ports


# -- network configuration --------------------------------------------------------------------

SUBNET = "subnet-0123456789abcdef0"


@pytest.mark.parametrize(("mode", "given", "fargate", "problem"), [
    ("awsvpc", None, False, "must be provided"),
    ("bridge", {"awsvpcConfiguration": {"subnets": [SUBNET]}}, False, "not valid"),
    ("awsvpc", {"awsvpcConfiguration": {"subnets": []}}, False, "at least 1"),
    ("awsvpc", {"awsvpcConfiguration": {"subnets": [SUBNET] * 17}}, False, "at most 16"),
    ("awsvpc", {"awsvpcConfiguration": {"subnets": ["subnet-x"]}}, False, "malformed"),
    ("awsvpc", {"awsvpcConfiguration": {"subnets": [SUBNET],
                                        "securityGroups": ["sg-0123456789abcdef0"] * 6}},
     False, "at most 5"),
    ("awsvpc", {"awsvpcConfiguration": {"subnets": [SUBNET], "assignPublicIp": "ENABLED"}},
     False, "Assign public IP is not supported"),
])
def test_network_configuration_rules(mode, given, fargate, problem):
    with pytest.raises(AwsError) as exc:
        network.check(mode, given, fargate)
    assert problem in exc.value.message


def test_any_well_formed_subnet_and_security_group_is_accepted():
    found = network.check("awsvpc", {"awsvpcConfiguration": {
        "subnets": [SUBNET, "subnet-01234567"], "securityGroups": ["sg-01234567"],
        "assignPublicIp": "ENABLED"}}, fargate=True)
    assert found["assignPublicIp"] == "ENABLED"
    assert network.check("bridge", None, fargate=False) is None


# -- capacity provider strategies ---------------------------------------------------------------


@pytest.mark.parametrize(("strategy", "count", "expected"), [
    ([{"capacityProvider": "A", "base": 2, "weight": 1},
      {"capacityProvider": "B", "weight": 3}], 6, {"A": 3, "B": 3}),
    ([{"capacityProvider": "A", "weight": 1}, {"capacityProvider": "B", "weight": 1}], 4,
     {"A": 2, "B": 2}),
    ([{"capacityProvider": "A", "base": 10, "weight": 1}], 3, {"A": 3}),
    ([{"capacityProvider": "A", "weight": 0}, {"capacityProvider": "B", "weight": 5}], 2,
     {"B": 2}),
])
def test_a_strategy_splits_tasks_by_base_then_weight(strategy, count, expected):
    found = split(strategy, count)
    assert len(found) == count
    assert {name: found.count(name) for name in set(found)} == expected


@pytest.mark.parametrize("strategy", [
    [{"capacityProvider": "A", "base": 1, "weight": 1}, {"capacityProvider": "B", "base": 1,
                                                          "weight": 1}],
    [{"capacityProvider": "A", "weight": 0}],
    [{"capacityProvider": "A", "weight": 1}, {"capacityProvider": "A", "weight": 1}],
    [{"capacityProvider": "FARGATE", "weight": 1}, {"capacityProvider": "mine", "weight": 1}],
    [{"capacityProvider": f"p{i}", "weight": 1} for i in range(7)],
    [{"capacityProvider": "A", "weight": 1001}],
])
def test_strategy_rules(strategy):
    with pytest.raises(AwsError):
        check_strategy_items(strategy)


def test_task_ids_are_32_hex_digits_that_sort_in_creation_order():
    """Ids made later sort later (their id indexes grow at the end); the rest is random."""
    made = []
    for _ in range(3):
        made.append(new_id())
        time.sleep(0.002)
    assert all(re.fullmatch(r"[0-9a-f]{32}", ident) for ident in made)
    assert made == sorted(made)
    assert len({new_id() for _ in range(1000)}) == 1000
