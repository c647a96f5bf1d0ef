"""Whatever the sequence of RunTask, StopTask and agent reports, no container instance is ever
over-committed, and the scheduler's in-memory accounting equals what a fresh read of the store
gives (the copy another control-plane process would build)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.runtime import Runtime
from portside.services.ecs.state import _load_hosts, cluster_scope

ACCOUNT, REGION = "000000000000", "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, Principal.root(ACCOUNT), None, "req", "127.0.0.1")
SCOPE = cluster_scope(ACCOUNT, REGION, "c")

shapes = st.tuples(st.sampled_from([0, 128, 512]), st.sampled_from([64, 256, 700]),
                   st.sampled_from([None, 8080, 9090]))
steps = st.lists(st.one_of(
    st.tuples(st.just("run"), shapes, st.integers(1, 4)),
    st.tuples(st.just("stop"), st.integers(0, 50)),
    st.tuples(st.just("report"), st.integers(0, 50), st.sampled_from(["RUNNING", "STOPPED"])),
), min_size=1, max_size=25)


def cluster(tmp_path_factory) -> Runtime:
    runtime = Runtime(Settings(data_dir=tmp_path_factory.mktemp("ecs") / "data"))
    ecs = runtime.services["ecs"]
    ecs.create_cluster(CTX, {"clusterName": "c"})
    for _ in range(3):
        ecs.register_container_instance(CTX, {"cluster": "c", "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 1024},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]}]})
    with ecs.state.write(SCOPE) as (conn, view):
        for host in view.hosts.values():
            ecs.state.instance_changed(conn, view, host, time.time(), agent_connected=True)
    return runtime


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_no_instance_is_ever_overcommitted(tmp_path_factory, steps):
    runtime = cluster(tmp_path_factory)
    ecs = runtime.services["ecs"]
    arns: list[str] = []
    definitions: dict[tuple, str] = {}
    try:
        for step in steps:
            if step[0] == "run":
                (cpu, memory, port), count = step[1], step[2]
                key = (cpu, memory, port)
                if key not in definitions:
                    container = {"name": "app", "image": "x", "cpu": cpu, "memory": memory}
                    if port:
                        container["portMappings"] = [{"containerPort": 80, "hostPort": port}]
                    definitions[key] = ecs.register_task_definition(CTX, {
                        "family": f"f{len(definitions)}", "containerDefinitions": [container]})[
                        "taskDefinition"]["taskDefinitionArn"]
                found = ecs.run_task(CTX, {"cluster": "c", "taskDefinition": definitions[key],
                                           "count": count})
                arns += [t["taskArn"] for t in found["tasks"]]
            elif arns and step[0] == "stop":
                ecs.stop_task(CTX, {"cluster": "c", "task": arns[step[1] % len(arns)]})
            elif arns:
                ecs.submit_task_state_change(CTX, {"cluster": "c", "status": step[2],
                                                   "task": arns[step[1] % len(arns)]})
            check(runtime)
    finally:
        runtime.close()


def check(runtime: Runtime) -> None:
    ecs = runtime.services["ecs"]
    with runtime.store.begin() as conn:
        view = ecs.state.view(conn, SCOPE)
        fresh = _load_hosts(conn, SCOPE)
    for host in view.hosts.values():
        assert host.remaining_cpu >= 0 and host.remaining_memory >= 0
        assert all(n <= 1 for n in host.used_ports.values())  # a host port held once
        again = fresh[host.id]
        assert (host.remaining_cpu, host.remaining_memory, host.ports_in_use()) == (
            again.remaining_cpu, again.remaining_memory, again.ports_in_use())
        assert set(host.held) == set(again.held)
        index = view.placement.view(host.arn)
        assert (index.remaining_cpu, index.remaining_memory) == (
            host.remaining_cpu, host.remaining_memory)
        assert index.reserved_ports == host.ports_in_use()
        # spread and distinctInstance count the tasks whose desired status is RUNNING
        assert dict(index.task_groups) == {g: n for g, n in host.groups.items() if n > 0}
        assert {g: n for g, n in host.groups.items() if n > 0} == {
            g: n for g, n in again.groups.items() if n > 0}
