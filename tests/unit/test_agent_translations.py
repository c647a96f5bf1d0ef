"""The agent's pure translations for awslogs, images, volumes and limits: no engine, no server."""

from __future__ import annotations

import pytest

from portside.agent.awslogs import (
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    batches,
    log_target,
    parse_line,
)
from portside.agent.cgroups import TaskCgroups
from portside.agent.channel import Identity
from portside.agent.images import ecr_region, registry_host
from portside.agent.specs import binds, create_args, log_config, start_order, volumes_from

TASK = "arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef"
IDENTITY = Identity("http://127.0.0.1:4566", "us-east-1", "test", "test")


# -- awslogs -------------------------------------------------------------------------------------


def test_the_stream_is_prefix_container_task_id_and_options_default_as_the_driver_does():
    container = {"name": "web", "logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "app",
        "awslogs-create-group": "TRUE"}}}
    target = log_target(container, TASK, "eu-west-1")
    assert target is not None
    assert (target.group, target.stream, target.region, target.create_group) == (
        "/ecs/web", "app/web/0123456789abcdef", "eu-west-1", True)
    no_prefix = log_target({**container, "logConfiguration": {
        "logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "us-west-2"}}},
        TASK, "eu-west-1")
    assert no_prefix is not None and no_prefix.stream is None and no_prefix.region == "us-west-2"
    assert log_target({"name": "x"}, TASK, "us-east-1") is None


def test_docker_timestamps_become_milliseconds():
    assert parse_line(b"2026-11-26T09:40:00.123456789Z hello world") == (
        1795686000123, "hello world")
    assert parse_line(b"2026-11-26T09:40:00Z x")[0] == 1795686000000
    stamp, message = parse_line(b"not-a-timestamp line")
    assert message == "not-a-timestamp line" and stamp > 0


def test_batches_are_chronological_and_within_put_log_events_limits():
    events = [(3, "c"), (1, "a"), (2, "b")]
    assert batches(events) == [[{"timestamp": 1, "message": "a"}, {"timestamp": 2, "message": "b"},
                                {"timestamp": 3, "message": "c"}]]
    many = batches([(i, "x") for i in range(MAX_BATCH_EVENTS + 5)])
    assert [len(b) for b in many] == [MAX_BATCH_EVENTS, 5]
    long = batches([(1, "y" * (MAX_EVENT_BYTES + 10))])
    assert [len(e["message"]) for e in long[0]] == [MAX_EVENT_BYTES, 10]
    big = batches([(i, "z" * 200_000) for i in range(10)])
    assert all(sum(len(e["message"]) + 26 for e in b) <= 1_048_576 for b in big)


# -- images --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "host", "region"), [
    ("localhost:4566/team/app:v1", "localhost:4566", "us-east-1"),
    ("127.0.0.1:4566/app@sha256:" + "0" * 64, "127.0.0.1:4566", "us-east-1"),
    ("localhost:5000/app", "localhost:5000", None),  # another registry on this host
    ("000000000000.dkr.ecr.eu-west-1.portside.test:4566/app:1", None, "eu-west-1"),
    ("busybox", None, None),
    ("library/alpine:3", None, None),
    ("docker.io/library/alpine", "docker.io", None),
])
def test_images_of_portsides_ecr_are_known_by_their_registry_host(image, host, region):
    if host is not None:
        assert registry_host(image) == host
    assert ecr_region(image, IDENTITY) == region


# -- containers ----------------------------------------------------------------------------------


def test_mount_points_and_volumes_from_become_docker_binds():
    container = {"name": "a", "mountPoints": [
        {"sourceVolume": "data", "containerPath": "/data", "readOnly": True},
        {"sourceVolume": "scratch", "containerPath": "/tmp/s"}],
        "volumesFrom": [{"sourceContainer": "b", "readOnly": False}]}
    assert binds(container, {"data": "/srv/data", "scratch": "portside-x-scratch"}) == [
        "/srv/data:/data:ro", "portside-x-scratch:/tmp/s:rw"]
    assert volumes_from(container, {"b": "abc123"}) == ["abc123:rw"]


def test_volumes_from_orders_a_container_after_its_source():
    ordered = start_order([{"name": "reader", "volumesFrom": [{"sourceContainer": "writer"}]},
                           {"name": "writer"}])
    assert [c["name"] for c in ordered] == ["writer", "reader"]


def test_awslogs_is_shipped_from_json_file_and_other_drivers_are_dockers():
    assert log_config({"logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "g"}}}) == {"type": "json-file", "config": {}}
    assert log_config({"logConfiguration": {"logDriver": "syslog", "options": {"tag": "x"}}},
                      {"syslog-address": "udp://127.0.0.1:514"}) == {
        "type": "syslog", "config": {"tag": "x", "syslog-address": "udp://127.0.0.1:514"}}
    assert log_config({}) is None


def test_linux_parameters_and_process_settings_map_to_docker():
    args = create_args({
        "name": "a", "image": "i", "memory": 128, "privileged": True,
        "readonlyRootFilesystem": True, "dnsServers": ["10.0.0.2"],
        "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.9"}],
        "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
        "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                            "initProcessEnabled": True, "sharedMemorySize": 64,
                            "tmpfs": [{"containerPath": "/run", "size": 16,
                                       "mountOptions": ["noexec"]}],
                            "devices": [{"hostPath": "/dev/fuse", "permissions": ["read"]}],
                            "maxSwap": 0, "swappiness": 10}},
        network_mode="bridge", name="n", labels={}, env={},
        volume_binds=["/h:/c:rw"], shared_volumes=["x:ro"])
    assert args["privileged"] and args["read_only"] and args["init"]
    assert args["dns"] == ["10.0.0.2"] and args["extra_hosts"] == {"db": "10.0.0.9"}
    assert args["sysctls"] == {"net.core.somaxconn": "1024"}
    assert (args["cap_add"], args["cap_drop"]) == (["NET_ADMIN"], ["MKNOD"])
    assert args["shm_size"] == "64m" and args["tmpfs"] == {"/run": "size=16m,noexec"}
    assert args["devices"] == ["/dev/fuse:/dev/fuse:r"]
    assert args["memswap_limit"] == "128m" and args["mem_swappiness"] == 10
    assert args["volumes"] == ["/h:/c:rw"] and args["volumes_from"] == ["x:ro"]
    host = create_args({"name": "a", "image": "i", "dnsServers": ["1.1.1.1"]},
                       network_mode="host", name="n", labels={}, env={})
    assert "dns" not in host


# -- task size -----------------------------------------------------------------------------------


def test_task_cgroups_on_cgroup_v1(tmp_path):
    for controller in ("memory", "cpu"):
        (tmp_path / controller).mkdir()
    cgroups = TaskCgroups(tmp_path, scope="agent1")
    assert cgroups.version == 1 and cgroups.usable
    assert cgroups.create("t1", 512, 96) == "/portside/agent1/t1"
    assert (tmp_path / "memory/portside/agent1/t1/memory.limit_in_bytes").read_text() == \
        str(96 << 20)
    assert (tmp_path / "cpu/portside/agent1/t1/cpu.cfs_quota_us").read_text() == "50000"
    assert cgroups.create("t2", None, None) is None
    for limit in tmp_path.glob("*/portside/agent1/t1/*"):  # a real cgroup's go with rmdir
        limit.unlink()
    cgroups.remove("t1")
    assert not (tmp_path / "memory/portside/agent1/t1").exists()
    assert not (tmp_path / "cpu/portside/agent1/t1").exists()


def test_an_agent_prunes_only_its_own_empty_task_cgroups(tmp_path):
    for controller in ("memory", "cpu"):
        (tmp_path / controller).mkdir()
    mine, other = TaskCgroups(tmp_path, scope="a"), TaskCgroups(tmp_path, scope="b")
    mine.create("left", None, 64)
    other.create("theirs", None, 64)
    (tmp_path / "memory/portside/a/left/memory.limit_in_bytes").unlink()
    (tmp_path / "memory/portside/a/busy").mkdir()
    (tmp_path / "memory/portside/a/busy/container").mkdir()  # a container still in it
    mine.prune()
    assert not (tmp_path / "memory/portside/a/left").exists()
    assert (tmp_path / "memory/portside/a/busy").exists()
    assert (tmp_path / "memory/portside/b/theirs").exists()


def test_task_cgroups_on_cgroup_v2(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory")
    cgroups = TaskCgroups(tmp_path, scope="a")
    assert cgroups.version == 2
    assert cgroups.create("t1", 2048, None) == "/portside/a/t1"
    assert (tmp_path / "portside/a/t1/cpu.max").read_text() == "200000 100000"
    assert not (tmp_path / "portside/a/t1/memory.max").exists()


def test_no_task_cgroups_with_the_systemd_driver(tmp_path):
    assert TaskCgroups(tmp_path, driver="systemd").create("t", 1024, 512) is None


def test_environment_files_are_name_value_lines_and_the_first_wins():
    from portside.agent.envfiles import parse

    assert parse("# c\nA=1\n\nB = x=y\nA=2\nnot a variable\n=nameless\n") == {
        "A": "1", "B": " x=y"}
