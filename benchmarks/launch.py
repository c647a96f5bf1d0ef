"""Launch benchmark: how long from the RunTask call until the task's container does its first
thing, against bare Docker starting the same container.

The container is the busybox test image on the host network fetching a URL of this benchmark
(`wget http://127.0.0.1:<port>/<token>`); the clock stops when the request arrives. portside
runs as `portside up` (its in-process agent on the local Docker Engine); bare Docker is
docker-py's `containers.create` + `start` of the same image, command and network. Runs are
interleaved so both see the same machine. Then 100 launches: 10 RunTask calls of count 10 from
10 threads, against 10 threads each creating and starting 10 bare containers, until all 100
requests arrived. Last, the resident memory of an idle `portside agent` process.

Usage: ``python benchmarks/launch.py [--runs N]``. Needs a Docker Engine and
`portside-test/busybox:latest` (scripts/setup.sh). Replaces the "Launch" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import docker
from common import format_ratio, free_port, machine_info, markdown_table, median, write_section

IMAGE = "portside-test/busybox:latest"
LABEL = {"portside.benchmark": "launch"}


class Arrivals:
    """Records when each token's request arrives; waits for tokens."""

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

    def wait(self, tokens: list[str], timeout: float = 60.0) -> float:
        """The arrival time of the last of `tokens`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(t in self.times for t in tokens):
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"{sum(t not in self.times for t in tokens)} never came")
            return max(self.times[t] for t in tokens)

    def command(self, token: str) -> list[str]:
        return ["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{self.port}/{token}"]


def start_portside(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "portside", "up", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    ecs = client(endpoint)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            arns = ecs.list_container_instances()["containerInstanceArns"]
            if arns and ecs.describe_container_instances(containerInstances=arns)[
                    "containerInstances"][0]["agentConnected"]:
                return process, endpoint
        except Exception:  # not up yet, or the agent is still creating the cluster
            pass
        time.sleep(0.1)
    raise TimeoutError("portside's agent did not connect")


def client(endpoint: str) -> Any:
    return boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def launch_portside(ecs: Any, arrivals: Arrivals, definition: str) -> str:
    token = uuid.uuid4().hex
    ecs.run_task(taskDefinition=definition, overrides={
        "containerOverrides": [{"name": "fetch", "command": arrivals.command(token)}]})
    return token


def launch_bare(engine: Any, arrivals: Arrivals, token: str) -> None:
    container = engine.containers.create(IMAGE, command=arrivals.command(token), detach=True,
                                         network_mode="host", labels=LABEL)
    container.start()


def single(runs: int, ecs: Any, engine: Any, arrivals: Arrivals,
           definition: str) -> tuple[list[float], list[float]]:
    ours, bare = [], []
    for _ in range(runs):
        start = time.perf_counter()
        token = launch_portside(ecs, arrivals, definition)
        ours.append(arrivals.wait([token]) - start)
        token = uuid.uuid4().hex
        start = time.perf_counter()
        launch_bare(engine, arrivals, token)
        bare.append(arrivals.wait([token]) - start)
    return ours, bare


def hundred(ecs: Any, engine: Any, arrivals: Arrivals, definition: str) -> tuple[float, float]:
    tokens = [uuid.uuid4().hex for _ in range(100)]
    start = time.perf_counter()
    with ThreadPoolExecutor(10) as pool:
        for batch in range(10):
            pool.submit(_bare_batch, engine, arrivals, tokens[batch * 10:batch * 10 + 10])
    bare = arrivals.wait(tokens, timeout=120) - start

    def run_batch(index: int) -> None:
        # The tasks of one call share its overrides: each names itself by a random uuid.
        command = ["sh", "-c", "exec wget -q -O /dev/null http://127.0.0.1:"
                   f"{arrivals.port}/{prefix}-$(cat /proc/sys/kernel/random/uuid)"]
        ecs.run_task(taskDefinition=definition, count=10, overrides={
            "containerOverrides": [{"name": "fetch", "command": command}]})

    prefix = uuid.uuid4().hex
    start = time.perf_counter()
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(run_batch, range(10)))
    deadline = time.monotonic() + 120
    with arrivals.cond:
        while sum(k.startswith(prefix) for k in arrivals.times) < 100:
            if not arrivals.cond.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("not all 100 tasks started")
        ours = max(v for k, v in arrivals.times.items() if k.startswith(prefix)) - start
    return ours, bare


def _bare_batch(engine: Any, arrivals: Arrivals, tokens: list[str]) -> None:
    for token in tokens:
        launch_bare(engine, arrivals, token)


def idle_agent_rss(endpoint: str, data: Path) -> int:
    ecs = client(endpoint)
    ecs.create_cluster(clusterName="bench-idle")
    agent = subprocess.Popen(
        [sys.executable, "-m", "portside", "agent", "--endpoint", endpoint, "--cluster",
         "bench-idle", "--state-dir", str(data / "idle-agent"), "--cpu", "1024",
         "--memory", "1024"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    engine = docker.DockerClient.from_env(version="auto")
    arrivals = Arrivals()
    with tempfile.TemporaryDirectory(prefix="portside-launch-") as tmp:
        process, endpoint = start_portside(Path(tmp) / "data")
        try:
            ecs = client(endpoint)
            definition = ecs.register_task_definition(
                family="launch", networkMode="host", containerDefinitions=[{
                    "name": "fetch", "image": IMAGE, "memory": 16,
                    "command": arrivals.command("warm")}])["taskDefinition"]["taskDefinitionArn"]
            single(2, ecs, engine, arrivals, definition)  # warm both paths
            ours, bare = single(args.runs, ecs, engine, arrivals, definition)
            ours_100, bare_100 = hundred(ecs, engine, arrivals, definition)
            rss = idle_agent_rss(endpoint, Path(tmp))
        finally:
            process.terminate()
            process.wait(20)
            for container in engine.containers.list(all=True, filters={"label": [
                    "portside.benchmark=launch"]}):
                container.remove(force=True)
            _remove_agent_containers(engine, Path(tmp))
    rows = [[f"RunTask → first request (median of {args.runs})",
             f"{median(ours) * 1000:.0f} ms", f"{median(bare) * 1000:.0f} ms",
             format_ratio(median(ours) / median(bare))],
            ["100 tasks (10 × RunTask count 10) → all started", f"{ours_100:.2f} s",
             f"{bare_100:.2f} s", format_ratio(ours_100 / bare_100)]]
    body = (f"{machine_info()}\n\nBusybox on the host network fetching a URL of the benchmark; "
            "portside = `portside up` with its in-process Docker agent, bare = docker-py "
            "create+start of the same container.\n\n"
            + markdown_table(["launch", "portside", "bare Docker", "ratio"], rows)
            + f"\n\nIdle `portside agent` process RSS: {rss / 2**20:.1f} MiB (goal ≤ 40 MiB).\n")
    print(body)
    write_section("Launch", body)


def _remove_agent_containers(engine: Any, tmp: Path) -> None:
    """The agents remove their tasks' containers; whatever a killed run left is removed here by
    the agents' labels."""
    from portside.agent.docker_agent import agent_key

    for state in (tmp / "data" / "agent", tmp / "idle-agent"):
        for container in engine.containers.list(all=True, filters={
                "label": f"portside.agent={agent_key(state)}"}):
            container.remove(force=True)


if __name__ == "__main__":
    main()
