"""ECS benchmark: placements per second through the RunTask handler, and RunTask's latency over
HTTP.

In process: a Runtime on a fresh data directory, a cluster of 1,000 container instances
registered through RegisterContainerInstance (the instance types and zones of
benchmarks/placement.py's workload; empty, so their whole capacity is free), their agents
marked connected as an agent's hello does, and 10,000 tasks placed by 1,000 calls of
`Ecs.run_task(ctx, request)` with count 10, `memberOf(attribute:ecs.instance-type =~ m5.*)`,
`binpack(memory)` and `spread(attribute:ecs.availability-zone)` — each call the whole handler:
the task definition resolved, the tasks placed, recorded and their "ECS Task State Change" and
"ECS Container Instance State Change" events published, in one transaction.

Over HTTP: a portside server, simulated hosts connected over the agent channel, and RunTask
calls of one task each from one boto3 client, timed one by one (p50, p99).

Usage: ``python benchmarks/ecs.py [--runs N] [--tasks N] [--http-calls N] [--no-write]``.
Prints the "ECS RunTask" section of benchmarks/RESULTS.md and replaces it there (unless
--no-write).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import (
    format_spread,
    machine_info,
    make_client,
    markdown_table,
    median,
    running,
    write_section,
)
from peers import PORTSIDE
from placement import INSTANCE_TYPES, TASK_SHAPES, ZONES, placement_workload

from portside.agent.channel import Identity
from portside.agent.simulated import HostSpec, SimulatedFleet
from portside.auth.identity import Principal
from portside.config import Settings
from portside.context import RequestContext
from portside.runtime import Runtime
from portside.services.ecs.state import cluster_scope

SECTION = "ECS RunTask"
GOAL_PER_SECOND = 10_000
ACCOUNT = "000000000000"
REGION = "us-east-1"
CLUSTER = "bench"
TASKS_PER_CALL = 10
FAMILIES = 10
PLACEMENT = {
    "placementConstraints": [{"type": "memberOf",
                              "expression": "attribute:ecs.instance-type =~ m5.*"}],
    "placementStrategy": [{"type": "binpack", "field": "memory"},
                          {"type": "spread", "field": "attribute:ecs.availability-zone"}],
}
HTTP_HOSTS = 20


def context() -> RequestContext:
    return RequestContext(ACCOUNT, REGION, Principal.root(ACCOUNT), None, "bench", "127.0.0.1")


def in_process_cluster(data_dir: Path) -> tuple[Runtime, list[str]]:
    """A runtime with the benchmark's cluster registered and connected, and the task
    definition of each call."""
    runtime = Runtime(Settings(data_dir=data_dir))
    ecs = runtime.services["ecs"]
    ctx = context()
    ecs.create_cluster(ctx, {"clusterName": CLUSTER})
    for view in placement_workload().instances:
        instance_type = view.attributes["ecs.instance-type"]
        cpu, memory = INSTANCE_TYPES[instance_type]
        ecs.register_container_instance(ctx, {
            "cluster": CLUSTER,
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET",
                 "stringSetValue": ["22", "2375", "2376", "51678", "51679"]}],
            "attributes": [{"name": k, "value": v} for k, v in view.attributes.items()]})
    with ecs.state.write(cluster_scope(ACCOUNT, REGION, CLUSTER)) as (conn, scope):
        for host in list(scope.hosts.values()):  # what each agent's hello does
            ecs.state.instance_changed(conn, scope, host, time.time(), agent_connected=True)
    definitions = []
    for index in range(FAMILIES * len(TASK_SHAPES)):
        cpu, memory = TASK_SHAPES[index % len(TASK_SHAPES)]
        found = ecs.register_task_definition(ctx, {
            "family": f"app-{index % FAMILIES}-{cpu}-{memory}",
            "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": cpu,
                                      "memory": memory}]})
        definitions.append(found["taskDefinition"]["taskDefinitionArn"])
    return runtime, definitions


def place_through_handler(runtime: Runtime, definitions: Sequence[str],
                          calls: int) -> tuple[int, float, float]:
    """`calls` RunTask calls of 10 tasks each; the tasks placed, the seconds taken and the
    CPU seconds this process used meanwhile (what one core spent, whatever else the machine
    was doing)."""
    ecs = runtime.services["ecs"]
    ctx = context()
    placed = 0
    started, cpu = time.perf_counter(), time.process_time()
    for index in range(calls):
        found = ecs.run_task(ctx, {"cluster": CLUSTER, "count": TASKS_PER_CALL,
                                   "taskDefinition": definitions[index % len(definitions)],
                                   **PLACEMENT})
        placed += len(found["tasks"])
    return placed, time.perf_counter() - started, time.process_time() - cpu


def measure_in_process(runs: int, tasks: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"rate": [], "cpu_rate": [], "placed": [], "setup": []}
    for run in range(runs + 1):  # the first run warms up, uncounted
        with tempfile.TemporaryDirectory(prefix="bench-ecs-") as directory:
            started = time.perf_counter()
            runtime, definitions = in_process_cluster(Path(directory) / "data")
            setup = time.perf_counter() - started
            placed, seconds, cpu = place_through_handler(runtime, definitions,
                                                         tasks // TASKS_PER_CALL)
            runtime.close()
        rate = placed / seconds
        print(f"run {run}: {placed} tasks placed in {seconds:.2f}s: {rate:,.0f}/s "
              f"({1e6 / rate:.0f} µs each, {1e6 * cpu / placed:.0f} µs of CPU)"
              f"{' (warm-up)' if run == 0 else ''}", flush=True)
        if run:
            figures["rate"].append(rate)
            figures["cpu_rate"].append(placed / cpu)
            figures["placed"].append(placed)
            figures["setup"].append(setup)
    return figures


def measure_http(calls: int) -> tuple[list[float], float]:
    """RunTask latencies (ms) over HTTP against simulated hosts, and the server's CPU ms per
    call (its whole work: the call, the push, the host's acknowledgment and reports, the
    events' delivery). The server runs no local Docker agent: only the simulated hosts."""
    os.environ["PORTSIDE_LOCAL_AGENTS"] = ""
    with running(PORTSIDE) as server:
        ecs = make_client("ecs", server.endpoint)
        ecs.create_cluster(clusterName=CLUSTER)
        fleet = SimulatedFleet(Identity(server.endpoint, REGION, "test", "test"))
        try:
            for index in range(HTTP_HOSTS):
                fleet.add(HostSpec(cluster=CLUSTER, zone=ZONES[index % len(ZONES)],
                                   cpu=1024 * 1024, memory=1024 * 1024, start_delay=0.01))
            definition = ecs.register_task_definition(
                family="latency", containerDefinitions=[
                    {"name": "app", "image": "busybox", "cpu": 64, "memory": 128}],
            )["taskDefinition"]["taskDefinitionArn"]
            request: dict[str, Any] = {"cluster": CLUSTER, "taskDefinition": definition,
                                       "placementStrategy": PLACEMENT["placementStrategy"]}
            for _ in range(20):
                ecs.run_task(**request)  # warm-up
            latencies = []
            cpu = server.cpu_seconds()
            for _ in range(calls):
                started = time.perf_counter()
                ecs.run_task(**request)
                latencies.append(1000 * (time.perf_counter() - started))
            time.sleep(1.0)  # the last tasks' reports
            server_ms = 1000 * (server.cpu_seconds() - cpu) / calls
        finally:
            fleet.close()
        return latencies, server_ms


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="in-process runs (after a warm-up)")
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks per in-process run")
    parser.add_argument("--http-calls", type=int, default=500, help="timed RunTask calls")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    machine = machine_info()
    figures = measure_in_process(args.runs, args.tasks)
    latencies, server_ms = measure_http(args.http_calls)
    rate = median(figures["rate"])
    cpu_rate = median(figures["cpu_rate"])
    rows = [[f"in process: `Ecs.run_task`, {args.tasks:,} tasks in calls of {TASKS_PER_CALL}",
             format_spread(figures["rate"], 0), f"{1e6 / rate:.0f}",
             f"{format_spread(figures['cpu_rate'], 0)} ({1e6 / cpu_rate:.0f} µs)", "—", "—"],
            [f"over HTTP: boto3 RunTask of 1 task, {args.http_calls} calls, one client",
             f"{1000 / statistics.mean(latencies):.0f}", "—",
             f"server: {server_ms:.1f} ms of CPU per call",
             f"{percentile(latencies, 0.5):.2f}", f"{percentile(latencies, 0.99):.2f}"]]
    table = markdown_table(["RunTask", "placements/s (min–max over runs)", "µs/placement",
                            "placements per CPU second (µs of CPU each)", "p50 ms", "p99 ms"],
                           rows)
    verdict = "met" if min(rate, cpu_rate) >= GOAL_PER_SECOND else "**not met**"
    body = "\n\n".join([
        machine,
        f"Command: `python benchmarks/ecs.py --runs {args.runs} --tasks {args.tasks} "
        f"--http-calls {args.http_calls}`",
        "In process: 1,000 container instances registered through the handler (the instance "
        "types and zones of the placement benchmark, starting empty), agents connected, "
        f"{args.tasks:,} tasks of {FAMILIES * len(TASK_SHAPES)} task definitions placed by "
        "`Ecs.run_task(ctx, request)` with memberOf(attribute:ecs.instance-type =~ m5.*), "
        "binpack(memory), spread(attribute:ecs.availability-zone): each call resolves the "
        "task definition, places, records the tasks and publishes their task and instance "
        "state change events in one SQLite transaction. Median over "
        f"{args.runs} runs after a warm-up; setting the cluster up took "
        f"{format_spread(figures['setup'], 1)} s.",
        f"Over HTTP: `portside up`, {HTTP_HOSTS} simulated hosts holding the agent channel, "
        "RunTask (count 1, spread + binpack) timed from a boto3 client; each task is pushed to "
        "its host, which acknowledges it and reports it RUNNING while the next calls run. The "
        "server's CPU per call (from /proc) counts all of that work, the events' delivery to "
        "their subscribers included.",
        table,
        "The CPU column divides the tasks by the CPU time the process used: on a machine that "
        "others load, it is what one core achieves, where the wall-clock rate also counts the "
        "time the process waited for a core or for the disk.",
        f"Goal: ≥ {GOAL_PER_SECOND:,} placements per second through the handler on one core "
        f"— {verdict}.",
    ])
    print(body)
    if not args.no_write:
        write_section(SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
