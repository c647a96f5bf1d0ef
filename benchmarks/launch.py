"""Launch benchmark: how long from the RunTask call until the task's container does its first
thing, against bare Docker starting the same container and MiniStack's RunTask.

The container is the busybox test image on the host network fetching a URL of this benchmark
(`wget http://127.0.0.1:<port>/<token>`); the clock stops when the request arrives. portside
runs as `portside up` (its in-process agent on the local Docker Engine); MiniStack as its pinned
version with the docker SDK beside it (peers.MINISTACK_DOCKER), which runs RunTask's containers
with docker-py's `containers.run` on the same engine; bare Docker is docker-py's
`containers.create` + `start` of the same image, command and network. The three take turns
launch by launch (the first of each turn rotates), so all see the same machine. Then 100
launches each: 10 RunTask calls of count 10 from 10 threads, against 10 threads each creating
and starting 10 bare containers, until all 100 requests arrived. Each round starts both servers
afresh. Last, the resident memory of an idle `portside agent` process.

Usage: ``python benchmarks/launch.py [--rounds N] [--runs N] [--only portside,ministack]``.
Needs a Docker Engine and `portside-test/busybox:latest` (scripts/setup.sh). Replaces the
"Launch" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker
import docker.errors
from common import (
    Server,
    format_ratio,
    format_spread,
    machine_info,
    make_client,
    markdown_table,
    median,
    running,
    write_section,
)
from peers import MINISTACK_DOCKER, PORTSIDE, PeerUnavailable, ensure_installed

IMAGE = "portside-test/busybox:latest"
LABEL = {"portside.benchmark": "launch"}
FAMILY = "launch"
CONTAINER = "fetch"
LAUNCH_TIMEOUT = 60.0
HUNDRED_TIMEOUT = 300.0
SETTLE_TIMEOUT = 60.0
SETTLE_PAUSE = 0.2
THREADS = 10  # of the 100-task load, each launching 10


class Arrivals:
    """Records when each request arrives, by its path; waits for them."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.cond = threading.Condition()
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                now = time.perf_counter()
                with arrivals.cond:
                    arrivals.times[self.path.strip("/")] = now
                    arrivals.cond.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, prefix: str, count: int, timeout: float) -> float:
        """The arrival time of the last of the first ``count`` paths starting with ``prefix``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(arrived := self._arrived(prefix)) < count:
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"{count - len(arrived)} of {count} never came")
            return max(arrived)

    def _arrived(self, prefix: str) -> list[float]:
        return [t for path, t in self.times.items() if path.startswith(prefix)]

    def command(self, token: str) -> list[str]:
        """One fetch of ``/token``."""
        return ["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{self.port}/{token}"]

    def numbered_command(self, prefix: str) -> list[str]:
        """One fetch of ``/prefix-<random uuid>``: the containers of one RunTask share their
        overrides, so each names itself."""
        url = f"http://127.0.0.1:{self.port}/{prefix}-$(cat /proc/sys/kernel/random/uuid)"
        return ["sh", "-c", f"exec wget -q -O /dev/null {url}"]


@dataclass
class Target:
    """One way of launching the container: RunTask of a server, or bare docker-py."""

    name: str
    # (command, count): returns once launched, with the task ARNs or container ids
    start: Callable[[list[str], int], list[str]]
    # What became of launched tasks: e.g. a task's lastStatus and stoppedReason
    explain: Callable[[list[str]], str]
    # Its containers: those matching any one of these Docker label filters (a filter's labels
    # must all match).
    label_filters: list[list[str]]
    server: Server | None = None
    removes: bool = False  # the server removes its stopped tasks' containers itself


def bare_target(engine: Any) -> Target:
    def start(command: list[str], count: int) -> list[str]:
        ids = []
        for _ in range(count):
            container = engine.containers.create(IMAGE, command=command, detach=True,
                                                 network_mode="host", labels=LABEL)
            container.start()
            ids.append(container.id)
        return ids

    def explain(ids: list[str]) -> str:
        states = [engine.api.inspect_container(i)["State"] for i in ids[:3]]
        return "; ".join(f"{s['Status']} exit {s['ExitCode']} {s.get('Error', '')}"
                         for s in states)

    return Target("bare Docker", start, explain, [[f"{k}={v}" for k, v in LABEL.items()]])


def ecs_target(name: str, server: Server, label_filters: list[list[str]]) -> Target:
    ecs = make_client("ecs", server.endpoint)
    definition = ecs.register_task_definition(
        family=FAMILY, networkMode="host", containerDefinitions=[{
            "name": CONTAINER, "image": IMAGE, "memory": 16, "essential": True,
            "command": ["true"]}])["taskDefinition"]["taskDefinitionArn"]
    # A boto3 client for each of the 100-task load's threads, built before any clock starts,
    # as bare Docker's docker-py client is (building one, its session loading the ECS model,
    # takes ~0.1 s of CPU: ten of them weighed on the 100 launches they were timed with).
    clients: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for _ in range(THREADS):
        clients.put(make_client("ecs", server.endpoint))

    def start(command: list[str], count: int) -> list[str]:
        client = clients.get()
        try:
            response = client.run_task(taskDefinition=definition, count=count, overrides={
                "containerOverrides": [{"name": CONTAINER, "command": command}]})
        finally:
            clients.put(client)
        if response.get("failures") or len(response["tasks"]) != count:
            raise RuntimeError(f"{name} RunTask: {response.get('failures')}")
        return [task["taskArn"] for task in response["tasks"]]

    def explain(arns: list[str]) -> str:
        tasks = ecs.describe_tasks(tasks=arns[:100])["tasks"]
        states = Counter(f"{t['lastStatus']} {t.get('stoppedReason', '')}".strip()
                         for t in tasks)
        return "; ".join(f"{n} × {state}" for state, n in states.most_common(3))

    return Target(name, start, explain, label_filters, server)


@contextmanager
def portside_target() -> Iterator[Target]:
    with running(PORTSIDE) as server:
        _wait_agents(server.endpoint)
        data = server.workdir / "data"
        from portside.agent.docker_agent import agent_key

        # Each of `portside up`'s agents (EC2 and Fargate) labels its containers with its key.
        filters = [[f"portside.agent={agent_key(data / kind)}"] for kind in ("agent", "fargate")]
        yield replace(ecs_target("portside", server, filters), removes=True)


def _wait_agents(endpoint: str) -> None:
    """Until `portside up`'s local agents have registered and hold their channels."""
    ecs = make_client("ecs", endpoint)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            arns = ecs.list_container_instances()["containerInstanceArns"]
        except ecs.exceptions.ClusterNotFoundException:
            arns = []  # the first agent creates the default cluster
        if arns and all(instance["agentConnected"] for instance in ecs.describe_container_instances(
                containerInstances=arns)["containerInstances"]):
            return
        time.sleep(0.1)
    raise TimeoutError("portside's agent did not connect")


@contextmanager
def ministack_target() -> Iterator[Target]:
    with running(MINISTACK_DOCKER) as server:
        # MiniStack labels its containers `ministack=ecs` and `ministack.instance=<host>:<port>`
        # (core/container_reaper.py); the port tells this instance's from any other's.
        port = server.endpoint.rsplit(":", 1)[1]
        instance = f"{os.environ.get('MINISTACK_HOSTNAME') or socket.gethostname()}:{port}"
        yield ecs_target("MiniStack", server,
                         [["ministack=ecs", f"ministack.instance={instance}"]])


# --- measurements ------------------------------------------------------------------------


def single(target: Target, arrivals: Arrivals, failures: list[str] | None = None) -> float:
    """Seconds from the launch call to the container's request. When none came, or the launch
    failed: with ``failures``, infinite and the failure noted there; without, the error."""
    token = uuid.uuid4().hex
    started = time.perf_counter()
    try:
        launched = target.start(arrivals.command(token), 1)
    except Exception as error:  # boto3's, docker-py's or requests' own: noted, run goes on
        if failures is None:
            raise
        return failed(failures, f"{target.name}: launch failed: {error}")
    try:
        return arrivals.wait(token, 1, LAUNCH_TIMEOUT) - started
    except TimeoutError:
        if failures is None:
            raise
        return failed(failures, f"{target.name}: no request {LAUNCH_TIMEOUT:.0f} s after a "
                      f"launch ({target.explain(launched)})")


def hundred(target: Target, arrivals: Arrivals, failures: list[str]) -> float:
    """Seconds from the first of 10 concurrent launches of 10 to the 100th request; infinite,
    with the failure noted, when not all came."""
    prefix = uuid.uuid4().hex
    command = arrivals.numbered_command(prefix)
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            launched = [i for ids in pool.map(lambda _: target.start(command, 10),
                                              range(THREADS)) for i in ids]
    except Exception as error:  # as in single()
        return failed(failures, f"{target.name}, 100 tasks: a launch failed: {error}")
    try:
        return arrivals.wait(prefix, 100, HUNDRED_TIMEOUT) - started
    except TimeoutError as missing:
        return failed(failures, f"{target.name}, 100 tasks: {missing} within "
                      f"{HUNDRED_TIMEOUT:.0f} s ({target.explain(launched)})")


def failed(failures: list[str], what: str) -> float:
    failures.append(what)
    print(what, file=sys.stderr, flush=True)
    return math.inf


def containers(engine: Any, target: Target, **filters: Any) -> list[Any]:
    """The target's containers. Sparse: a container removed between the listing and an inspect
    of it (a task's clean-up) must not end the run."""
    found = {}
    for labels in target.label_filters:
        for container in engine.containers.list(all=True, sparse=True,
                                                filters={"label": labels, **filters}):
            found[container.id] = container
    return list(found.values())


def settle(engine: Any, targets: list[Target]) -> None:
    """Until none of the targets' containers is running, nor left for a server that removes
    them (portside removes a stopped task's once no task is starting); the others' exited
    containers removed here, so that every launcher starts from an engine holding none of its
    own; then a pause for the servers' clean-up, so that it does not land on the next launch."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    for target in targets:
        left = {} if target.removes else {"status": "running"}
        while containers(engine, target, **left) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not target.removes:
            remove_containers(engine, target)
    time.sleep(SETTLE_PAUSE)


def remove_containers(engine: Any, target: Target) -> None:
    for container in containers(engine, target):
        with suppress(docker.errors.NotFound):  # its own clean-up was quicker
            container.remove(force=True)


def idle_agent_rss(endpoint: str, state_dir: Path) -> int:
    """VmRSS of a separate `portside agent` process, registered and idle for 3 s."""
    ecs = make_client("ecs", endpoint)
    ecs.create_cluster(clusterName="bench-idle")
    agent = subprocess.Popen(
        [str(PORTSIDE.executable), "agent", "--endpoint", endpoint, "--cluster", "bench-idle",
         "--state-dir", str(state_dir), "--cpu", "1024", "--memory", "1024"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    try:
        deadline = time.monotonic() + 30
        while not ecs.list_container_instances(cluster="bench-idle")["containerInstanceArns"]:
            if time.monotonic() > deadline:
                raise TimeoutError("the idle agent did not register")
            time.sleep(0.1)
        time.sleep(3)
        status = Path(f"/proc/{agent.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("VmRSS:"))) * 1024
    finally:
        agent.kill()
        agent.wait(10)


@dataclass
class Round:
    singles: dict[str, list[float]] = field(default_factory=dict)
    hundreds: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # launches whose request never came
    load: float = 0.0  # 1-minute load average at the start of the round
    load_after: float = 0.0  # and at its end
    rss: int | None = None


def one_round(index: int, runs: int, only: set[str], engine: Any, arrivals: Arrivals) -> Round:
    result = Round(load=os.getloadavg()[0])
    targets = [bare_target(engine)]
    try:
        with ExitStack() as stack:
            if "portside" in only:
                targets.append(stack.enter_context(portside_target()))
            if "ministack" in only:
                targets.append(stack.enter_context(ministack_target()))
            for target in targets:  # warm each path: clients, first-call imports
                single(target, arrivals, [])
                settle(engine, targets)
            for run in range(runs):
                for target in rotated(targets, run + index):
                    result.singles.setdefault(target.name, []).append(
                        single(target, arrivals, result.failures))
                    settle(engine, targets)
            for target in rotated(targets, index):
                result.hundreds[target.name] = hundred(target, arrivals, result.failures)
                settle(engine, targets)
            if "portside" in only:
                server = targets[1].server
                assert server is not None
                result.rss = idle_agent_rss(server.endpoint, server.workdir / "idle-agent")
    finally:  # what the servers left behind, and the bare containers
        for target in targets:
            remove_containers(engine, target)
    result.load_after = os.getloadavg()[0]
    return result


def rotated(targets: list[Target], shift: int) -> list[Target]:
    shift %= len(targets)
    return targets[shift:] + targets[:shift]


# --- report ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if math.isfinite(seconds) else "never"


def secs(seconds: float) -> str:
    return f"{seconds:.2f}" if math.isfinite(seconds) else f"> {HUNDRED_TIMEOUT:.0f}"


def turn_ratios(rounds: list[Round], ours: str, theirs: str) -> list[float]:
    """``ours`` / ``theirs`` of each turn: two launches made one right after the other, so
    that the machine's load of the moment weighs on both."""
    return [a / b for r in rounds for a, b in zip(r.singles[ours], r.singles[theirs], strict=True)]


def verdict(values: list[float], goal: float) -> str:
    met = [value <= goal for value in values]
    return "met" if all(met) else "not met" if not any(met) else "met by one measure only"


def report(rounds: list[Round], runs: int, names: list[str], command: str, machine: str,
           versions: dict[str, str]) -> str:
    bare = "bare Docker"
    pairs = [(a, b) for a in names for b in names
             if a != b and (b == bare or (a, b) == ("portside", "MiniStack"))]
    lines = [machine, "", f"`{command}` · " + " · ".join(f"{k} {v}" for k, v in versions.items()),
             "", "Busybox on the host network fetching a URL of the benchmark; portside = "
             "`portside up` with its in-process Docker agent, MiniStack = its RunTask with the "
             "docker SDK installed beside it (`containers.run` on the same engine), bare = "
             "docker-py create+start of the same container. Times are from the call to the "
             "request's arrival. The launchers take turns launch by launch (who goes first "
             "rotates); a turn's ratio compares launches made one right after the other. Each "
             "round starts the servers afresh.", ""]
    headers = ["round", "load avg (start → end)", *[f"{n} ms" for n in names],
               *[f"{a} / {b}" for a, b in pairs]]
    rows = [[str(i), f"{r.load:.1f} → {r.load_after:.1f}",
             *[ms(median(r.singles[n])) for n in names],
             *[format_ratio(median(turn_ratios([r], a, b))) for a, b in pairs]]
            for i, r in enumerate(rounds, 1)]
    lines += [f"RunTask → first request, medians of {runs} launches per round "
              "(ratios: median of the turns' ratios):", "", markdown_table(headers, rows), ""]
    pooled = {n: [t for r in rounds for t in r.singles[n]] for n in names}
    summary = [[n, ms(median(pooled[n])),
                format_spread([median(r.singles[n]) * 1000 for r in rounds], 0),
                format_ratio(median(pooled[n]) / median(pooled[bare])),
                format_ratio(median(turn_ratios(rounds, n, bare))) if n != bare else "1.00×"]
               for n in names]
    lines += [f"All {len(rounds)} rounds, {len(rounds) * runs} launches each:", "",
              markdown_table(["launch", "median ms", "round medians ms (range)",
                              "/ bare Docker (of medians)", "/ bare Docker (median of turns)"],
                             summary), ""]
    h_pairs = [(a, b) for a, b in pairs if b == bare]
    h_rows = [[str(i), *[secs(r.hundreds[n]) for n in names],
               *[format_ratio(r.hundreds[a] / r.hundreds[b]) for a, b in h_pairs]]
              for i, r in enumerate(rounds, 1)]
    h_rows.append(["median", *[secs(median([r.hundreds[n] for r in rounds])) for n in names],
                   *[format_ratio(median([r.hundreds[a] / r.hundreds[b] for r in rounds]))
                     for a, b in h_pairs]])
    lines += ["100 tasks (10 RunTask calls of count 10 from 10 threads; bare: 10 threads × 10 "
              "create+start) → all 100 requests arrived, one per launcher per round:", "",
              markdown_table(["round", *[f"{n} s" for n in names],
                              *[f"{a} / {b}" for a, b in h_pairs]], h_rows), ""]
    if "portside" in names:
        single = [median(turn_ratios(rounds, "portside", bare)),
                  median(pooled["portside"]) / median(pooled[bare])]
        hundred = median([r.hundreds["portside"] / r.hundreds[bare] for r in rounds])
        goals = [["RunTask → first request / bare Docker",
                  f"{format_ratio(single[0])} (median of turns), {format_ratio(single[1])} "
                  "(of pooled medians)", "≤ 1.10×", verdict(single, 1.10)],
                 ["100 tasks / bare Docker (median of rounds)", format_ratio(hundred), "≤ 1.20×",
                  verdict([hundred], 1.20)]]
        rss = [r.rss for r in rounds if r.rss is not None]
        if rss:
            goals.append(["idle `portside agent` RSS (median of rounds)",
                          f"{median(rss) / 1e6:.1f} MB ({median(rss) / 2**20:.1f} MiB)",
                          "≤ 40 MB", verdict([median(rss) / 1e6], 40)])
        lines += ["Goals:", "", markdown_table(["figure", "measured", "goal", ""], goals), ""]
    failures = [f"round {i}: {failure}" for i, r in enumerate(rounds, 1) for failure in r.failures]
    lines += ["Launches whose request never came (counted as infinitely slow): "
              + ("; ".join(failures) if failures else "none") + ".", ""]
    return "\n".join([*lines, MINISTACK_NOTES])


MINISTACK_NOTES = """\
How MiniStack runs the task (its `services/ecs.py`, 1.5.33): RunTask answers at once
(PROVISIONING) and a thread per task, on one docker-py client (`docker.from_env()`: `DOCKER_HOST`
or /var/run/docker.sock, 10 s per call, `MINISTACK_DOCKER_TIMEOUT`), looks its own container up by
`$HOSTNAME` to find a network, then `containers.run`s the image with the container override's
command and, for `networkMode` `host`, `network_mode="host"`; a plain RunTask uses the local
image without a pull (it pulls only for a service deployment). It does not apply the container's
`memory` (portside does). After the start, one more thread per task inspects the container every
100 ms until it exits. All this only when the `docker` package is importable: `pip install
ministack` does not bring it (only the `full` extra does), and without it RunTask reports the
task RUNNING and starts nothing — so the benchmark installs ministack==1.5.33 with docker==7.2.0
in a virtualenv of its own (peers.MINISTACK_DOCKER). Issue 6 quotes, for a quiet machine of
this kind, bare Docker 99 ms and MiniStack 133 ms (1.34×).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20, help="single launches per round")
    parser.add_argument("--only", default="portside,ministack", help="servers besides bare")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()
    only = set(args.only.split(","))
    versions = {}
    if "portside" in only:
        versions["portside"] = ensure_installed(PORTSIDE)
    if "ministack" in only:
        try:
            versions["MiniStack"] = ensure_installed(MINISTACK_DOCKER)
        except PeerUnavailable as reason:
            print(f"MiniStack skipped: {reason}")
            only.discard("ministack")
    engine = docker.DockerClient.from_env(version="auto")
    versions["docker-py"] = docker.__version__
    versions["Docker Engine"] = engine.version()["Version"]
    machine = machine_info()
    arrivals = Arrivals()
    rounds = []
    for index in range(args.rounds):
        rounds.append(one_round(index, args.runs, only, engine, arrivals))
        r = rounds[-1]
        print(f"round {index + 1}: load {r.load:.1f} → {r.load_after:.1f} · "
              + " · ".join(f"{n} {ms(median(t))} ms" for n, t in r.singles.items())
              + " · 100: " + " · ".join(f"{n} {s:.2f} s" for n, s in r.hundreds.items())
              + (f" · agent RSS {r.rss / 1e6:.1f} MB" if r.rss else ""), flush=True)
    names = [n for n in ("portside", "MiniStack", "bare Docker") if n in rounds[0].singles]
    command = "python benchmarks/launch.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (("rounds", args.rounds), ("runs", args.runs),
                                                   ("only", args.only)))
    body = report(rounds, args.runs, names, command, machine, versions)
    print(body)
    if not args.no_write:
        write_section("Launch", body)


if __name__ == "__main__":
    main()
