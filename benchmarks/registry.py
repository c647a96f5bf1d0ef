"""Registry benchmark: portside's ECR registry beside Debian's docker-registry (Docker
Distribution 2.8, filesystem storage), in the same run, servers taking turns round by round.

Each round starts every server fresh (new port, new data directory) and, against it:

1. `docker push` of the benchmark image (portside-test/python-boto3:latest, re-imported with
   one extra file so that its layer belongs to this benchmark alone and can be removed);
2. `docker pull` of it after removing the image and its layer locally (a fresh pull); also
   reported: the seconds until docker's last "Download complete", the registry's part of it
   (dockerd then extracts the layer from its own temporary file);
3. `skopeo copy` from the registry to a new OCI layout directory (pull);
4. `skopeo copy` of an OCI layout made once at the start to a new repository (push: the
   layout's blobs are compressed by skopeo, not docker, so nothing is there yet);
5. a 1 GiB layer of random bytes pushed with one streamed PATCH and a PUT (`requests`).

For each: wall time, the server's CPU time (user + system of its processes, from /proc) and
its RSS growth (VmRSS of the process and its descendants, peak sampled every 50 ms, minus the
RSS before). Reported are medians with (min–max), ratios portside / distribution (of the
medians, and the median of the per-round ratios, since a round's two servers share the load of
the moment), and the goals: ≤ 1.05× distribution's time in each, RSS growth ≤ 64 MB during the
1 GiB push.

Usage: ``python benchmarks/registry.py [--rounds 3] [--layer-mib 1024] [--steps …]``. Needs
docker (an engine that answers), skopeo and /usr/bin/docker-registry (installed with apt when
missing). Replaces the "Registry" section of benchmarks/RESULTS.md; `--steps` runs some of the
steps only (e.g. `--steps "1 GiB layer push"`), for looking at one of them, and never writes
RESULTS.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from common import (
    Server,
    format_ratio,
    format_spread,
    free_port,
    machine_info,
    make_client,
    markdown_table,
    median,
    ratio,
    running,
    write_section,
)
from peers import HOST, PEERS, Peer, ensure_installed

SECTION = "Registry"
SOURCE_IMAGE = "portside-test/python-boto3:latest"
DISTRIBUTION_BINARY = Path("/usr/bin/docker-registry")
RSS_SAMPLE_SECONDS = 0.05
GOAL_TIME_RATIO = 1.05
GOAL_RSS_GROWTH_MB = 64.0
MiB = 1 << 20
OPERATIONS = ("docker push", "docker pull", "skopeo pull", "skopeo push", "1 GiB layer push")
# The steps that pull pull what the docker push pushed: choosing them runs it too.
NEEDS_PUSH = ("docker pull", "skopeo pull")

DISTRIBUTION = Peer(
    name="distribution",
    distribution="docker-registry",
    venv=DISTRIBUTION_BINARY.parent.parent,  # /usr: the executable is /usr/bin/docker-registry
    argv=("docker-registry", "serve", "{data_dir}/config.yml"),
)


@dataclass
class Target:
    """A running registry: where docker and skopeo reach it, and how they log in."""

    server: Server
    host: str  # localhost:<port>
    version: str
    password: str | None = None  # portside's ECR password; distribution runs without auth

    @property
    def skopeo_creds(self) -> str | None:
        return f"AWS:{self.password}" if self.password else None


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float
    rss_growth_mb: float
    download_seconds: float | None = None  # docker pull: until its last "Download complete"


# --- the servers -------------------------------------------------------------------------


def ensure_distribution() -> str:
    if not DISTRIBUTION_BINARY.exists():
        print("installing docker-registry with apt", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "docker-registry"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    answer = subprocess.run([str(DISTRIBUTION_BINARY), "--version"], capture_output=True,
                            text=True, check=True)
    return answer.stdout.split()[-1] if answer.stdout.split() else "unknown"


@contextmanager
def distribution(version: str) -> Iterator[Target]:
    """docker-registry on a free 127.0.0.1 port with a temporary config and storage directory,
    stopped through its process group afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-distribution-"))
    port = free_port()
    data_dir = workdir / "data"
    data_dir.mkdir()
    (data_dir / "config.yml").write_text(json.dumps({  # JSON is YAML
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(data_dir / "storage")}},
        "http": {"addr": f"{HOST}:{port}"}}))
    log = (workdir / "server.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(DISTRIBUTION.command(port, data_dir), stdin=subprocess.DEVNULL,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=workdir)
    server = Server(DISTRIBUTION, f"http://{HOST}:{port}", process, workdir, 0.0, {})
    try:
        _wait_http(f"http://{HOST}:{port}/v2/", process)
        server.ready_seconds = time.perf_counter() - started
        yield Target(server, f"localhost:{port}", version)
    finally:
        server.stop()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def portside(version: str) -> Iterator[Target]:
    with running(PEERS["portside"]) as server:
        ecr = make_client("ecr", server.endpoint)
        for name in ("bench/push", "bench/skopeo", "bench/large"):
            ecr.create_repository(repositoryName=name)
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        password = base64.b64decode(token).decode().partition(":")[2]
        yield Target(server, f"localhost:{server.endpoint.rsplit(':', 1)[1]}", version, password)


def _wait_http(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # answering
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(url)


# --- measuring ---------------------------------------------------------------------------


@contextmanager
def measured(server: Server, into: dict[str, Measured], name: str) -> Iterator[None]:
    """Time the block and record the server's CPU time and peak RSS growth while it ran.
    Every earlier write is flushed to disk first: a step must not pay for an earlier step's
    dirty pages (distribution and dockerd write without fsync; the next step, often the other
    server's, met the kernel writing back their gigabyte)."""
    os.sync()
    before_rss = peak = server.rss_bytes()
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.wait(RSS_SAMPLE_SECONDS):
            peak = max(peak, server.rss_bytes())

    watcher = threading.Thread(target=watch)
    watcher.start()
    cpu = server.cpu_seconds()
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        watcher.join()
    into[name] = Measured(elapsed, server.cpu_seconds() - cpu, (peak - before_rss) / 1e6)


def pull_download_seconds(tag: str, env: dict[str, str]) -> float:
    """`docker pull`, reading its progress lines as they come; returns the seconds until the
    last layer's "Download complete": what the registry serves. After it, dockerd extracts the
    layer from its own temporary file, which no registry takes part in."""
    started = time.perf_counter()
    downloaded = None
    with subprocess.Popen(["docker", "pull", tag], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stderr is not None
        for line in process.stdout:
            if line.rstrip().endswith(": Download complete"):
                downloaded = time.perf_counter() - started
        error = process.stderr.read()
    if process.returncode != 0:
        raise RuntimeError(f"docker pull {tag} failed: {error.strip()[-2000:]}")
    if downloaded is None:
        raise RuntimeError(f"docker pull {tag} downloaded no layer: the pull was not fresh")
    return downloaded


def run(*args: str, env: dict[str, str] | None = None, input_text: str | None = None) -> str:
    answer = subprocess.run(args, env=env, input=input_text, capture_output=True, text=True)
    if answer.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {answer.stderr.strip()[-2000:]}")
    return answer.stdout


class Bench:
    """The benchmark's image, its OCI layout and its 1 GiB layer, shared by every round; each
    made only when a chosen step needs it."""

    def __init__(self, work: Path, layer_bytes: int, steps: tuple[str, ...]) -> None:
        self.work = work
        self.steps = steps
        self.env = {**os.environ, "DOCKER_CONFIG": str(work / "docker")}
        self.nonce = f"{time.time_ns()}"
        self.image: str | None = None
        if "docker push" in steps or "skopeo push" in steps:
            self.image = self._make_image()
        self.current = f"portside-bench/registry:{self.nonce}"  # the tag that holds it now
        self.layout = work / "layout"
        if "skopeo push" in steps:
            run("skopeo", "copy", f"docker-daemon:{self.current}", f"oci:{self.layout}:v1")
        if "1 GiB layer push" in steps:
            self.layer_path, self.layer_digest = self._make_layer(layer_bytes)

    def _make_image(self) -> str:
        """The source image's filesystem plus one file: a layer of this benchmark's own,
        which `docker rmi` really removes (the source image stays untouched)."""
        container = run("docker", "create", SOURCE_IMAGE, "/bin/true").strip()
        rootfs = self.work / "rootfs.tar"
        try:
            run("docker", "export", "-o", str(rootfs), container)
        finally:
            run("docker", "rm", container)
        marker = self.work / "portside-bench-nonce"
        marker.write_text(self.nonce + "\n")
        run("tar", "--append", "-f", str(rootfs), "-C", str(self.work), marker.name)
        image = run("docker", "import", str(rootfs), f"portside-bench/registry:{self.nonce}")
        rootfs.unlink()
        return image.strip()

    def _make_layer(self, size: int) -> tuple[Path, str]:
        path, hasher, rng = self.work / "layer.bin", hashlib.sha256(), random.Random(7)
        with path.open("wb") as f:
            for _ in range(size // MiB):
                chunk = rng.randbytes(MiB)
                hasher.update(chunk)
                f.write(chunk)
        return path, "sha256:" + hasher.hexdigest()

    def login(self, target: Target) -> None:
        if target.password:
            run("docker", "login", "--username", "AWS", "--password-stdin", target.host,
                env=self.env, input_text=target.password)

    def round(self, target: Target) -> dict[str, Measured]:
        results: dict[str, Measured] = {}
        server, tag = target.server, f"{target.host}/bench/push:v1"
        self.login(target)
        if "docker push" in self.steps:
            run("docker", "tag", self.current, tag)
            with measured(server, results, "docker push"):
                run("docker", "push", tag, env=self.env)
        if "docker pull" in self.steps:
            assert self.image is not None
            run("docker", "rmi", "-f", self.image)  # every tag, and so the layer, goes
            with measured(server, results, "docker pull"):
                downloaded = pull_download_seconds(tag, self.env)
            results["docker pull"].download_seconds = downloaded
            self.current = tag
        if "skopeo pull" in self.steps:
            pulled = self.work / f"pulled-{time.time_ns()}"
            creds = ["--src-creds", target.skopeo_creds] if target.skopeo_creds else []
            with measured(server, results, "skopeo pull"):
                run("skopeo", "copy", "--src-tls-verify=false", *creds, f"docker://{tag}",
                    f"oci:{pulled}:v1")
            shutil.rmtree(pulled)
        if "skopeo push" in self.steps:
            creds = ["--dest-creds", target.skopeo_creds] if target.skopeo_creds else []
            with measured(server, results, "skopeo push"):
                run("skopeo", "copy", "--dest-tls-verify=false", *creds,
                    f"oci:{self.layout}:v1", f"docker://{target.host}/bench/skopeo:v1")
        if "1 GiB layer push" in self.steps:
            with measured(server, results, "1 GiB layer push"):
                self._push_layer(target)
        return results

    def _push_layer(self, target: Target) -> None:
        session = requests.Session()
        if target.password:
            auth = base64.b64encode(f"AWS:{target.password}".encode()).decode()
            session.headers["Authorization"] = f"Basic {auth}"
        base = f"http://{target.host}"
        started = session.post(f"{base}/v2/bench/large/blobs/uploads/")
        started.raise_for_status()

        def body() -> Iterator[bytes]:
            with self.layer_path.open("rb") as f:
                while chunk := f.read(MiB):
                    yield chunk

        location = started.headers["Location"]
        patched = session.patch(location if location.startswith("http") else base + location,
                                data=body(), headers={"Content-Type": "application/octet-stream"})
        patched.raise_for_status()
        location = patched.headers["Location"]
        done = session.put(location if location.startswith("http") else base + location,
                           params={"digest": self.layer_digest})
        if done.status_code != 201:
            raise RuntimeError(f"the 1 GiB layer push ended with {done.status_code}: {done.text}")

    def close(self) -> None:
        if self.image is not None:
            subprocess.run(["docker", "rmi", "-f", self.image], capture_output=True)


# --- the report --------------------------------------------------------------------------


def report(results: dict[str, list[dict[str, Measured]]], versions: dict[str, str],
           loads: list[float], rounds: int, layer_mib: int, info: str, command: str) -> str:
    names = list(results)
    operations = [op for op in OPERATIONS if op in results[names[0]][0]]
    headers = ["server", "version", *(f"{op} (s)" for op in operations)]
    rows = [[name, versions[name], *(format_spread([r[op].seconds for r in results[name]], 2)
                                     for op in operations)] for name in names]
    steps = "all five steps" if len(operations) == len(OPERATIONS) else ", ".join(operations)
    lines = [info, "", f"Command: `{command}`", "",
             f"{rounds} rounds; in each, every server is started fresh and runs {steps}, "
             "servers taking turns (the order alternates round by round). Load average (1 min) "
             "at the start of each round: " + ", ".join(f"{load:.2f}" for load in loads) + ".",
             "", "Wall time, medians with (min–max):", "", markdown_table(headers, rows), ""]
    if "docker pull" in operations:
        download = {name: [seconds for r in results[name]
                           if (seconds := r["docker pull"].download_seconds) is not None]
                    for name in names}
        lines += ["Of the docker pull, the seconds until its last \"Download complete\" (what "
                  "the registry serves; the rest is dockerd extracting the layer from its "
                  "temporary file): " + ", ".join(f"{name} {format_spread(download[name], 2)}"
                                                  for name in names) + ".", ""]
    cpu_rows = [[name, *(format_spread([r[op].cpu_seconds for r in results[name]], 2)
                         for op in operations)] for name in names]
    lines += ["Server CPU seconds (user + system of its processes):", "",
              markdown_table(["server", *operations], cpu_rows), ""]
    rss_rows = [[name, *(format_spread([r[op].rss_growth_mb for r in results[name]], 1)
                         for op in operations)] for name in names]
    lines += ["Server RSS growth (MB, 10⁶ bytes; peak during the step minus RSS before it):",
              "", markdown_table(["server", *operations], rss_rows), ""]
    if "portside" in results and "distribution" in results:
        ours, theirs = results["portside"], results["distribution"]
        ratio_rows, goal_rows = [], []
        for op in operations:
            of_medians = ratio(median([r[op].seconds for r in ours]),
                               median([r[op].seconds for r in theirs]))
            per_round = [a[op].seconds / b[op].seconds for a, b in zip(ours, theirs, strict=True)]
            cpu = ratio(median([r[op].cpu_seconds for r in ours]),
                        median([r[op].cpu_seconds for r in theirs]))
            ratio_rows.append([op, format_ratio(of_medians),
                               f"{format_spread(per_round, 2)}×", format_ratio(cpu)])
            met = of_medians is not None and of_medians <= GOAL_TIME_RATIO
            goal_rows.append([f"{op} time ≤ {GOAL_TIME_RATIO}× distribution",
                              format_ratio(of_medians), "met" if met else "not met"])
        if "1 GiB layer push" in operations:
            worst = max(r["1 GiB layer push"].rss_growth_mb for r in ours)
            goal_rows.append([f"portside RSS growth during the {layer_mib} MiB layer push ≤ "
                              f"{GOAL_RSS_GROWTH_MB:.0f} MB (worst round)", f"{worst:.1f} MB",
                              "met" if worst <= GOAL_RSS_GROWTH_MB else "not met"])
        lines += ["| ratio portside / distribution | of the medians | per round, median "
                  "(min–max) | server CPU, of the medians |",
                  "| --- | --- | --- | --- |",
                  *("| " + " | ".join(row) + " |" for row in ratio_rows), "",
                  markdown_table(["goal", "measured", "verdict"], goal_rows), ""]
    busy = max(loads, default=0.0) > (os.cpu_count() or 1)
    lines += [
        "Notes:", "",
        *([f"- The machine was busy (load average up to {max(loads):.0f} on {os.cpu_count()} "
           "cores, other work running): wall times spread widely from round to round; the "
           "per-round ratios and the server CPU are the steadier comparison."] if busy else []),
        "- Where portside's server CPU goes on a push: SHA-256 (the blob's digest, S3's own "
        "checksum of the object, ~0.65 s per GiB), written through the S3 layer's blob store. "
        "The object's ETag (an MD5, ~1.4 s per GiB) is computed after the 201, by a thread at "
        "the lowest CPU priority (or at once by a request that asks for it first): the "
        "server CPU columns end at the answer and leave it out.",
        "- Every timed step starts with `sync`: no step pays for the writeback of an earlier "
        "one's unsynced writes.",
        f"- The image is {SOURCE_IMAGE} (Debian minbase, python3, boto3; one layer, about "
        "280 MB uncompressed, about 100 MB gzipped) re-imported with one extra file, so that "
        "the fresh pull really downloads and extracts its layer while the test image stays. "
        "`docker push` compresses the layer on the client (dockerd), which both servers wait "
        "for alike.",
        "- portside is durable: a blob is fsynced and renamed into place, and its row "
        "committed to SQLite, before the registry answers 201. Docker Distribution's "
        "filesystem driver writes and renames without fsync.",
        "- skopeo push sends an OCI layout made once by `skopeo copy docker-daemon:…`; skopeo "
        "pull writes a new OCI layout each time. The 1 GiB layer is random bytes read from a "
        "file, sent as one chunked PATCH, then an empty PUT with the digest.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--layer-mib", type=int, default=1024)
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    parser.add_argument("--steps", type=_steps, default=OPERATIONS,
                        help="the steps to run, comma-separated (default: all): "
                             + ", ".join(OPERATIONS) + "; a pull step runs the docker push too. "
                             "Implies --no-write")
    args = parser.parse_args()
    command = "python benchmarks/registry.py " + " ".join(sys.argv[1:])
    versions = {"distribution": ensure_distribution(),
                "portside": ensure_installed(PEERS["portside"])}
    starters = {"distribution": distribution, "portside": portside}
    info = machine_info()
    work = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    bench = Bench(work, args.layer_mib * MiB, args.steps)
    results: dict[str, list[dict[str, Measured]]] = {name: [] for name in starters}
    loads = []
    try:
        for number in range(args.rounds):
            loads.append(os.getloadavg()[0])
            order = list(starters) if number % 2 == 0 else list(reversed(starters))
            for name in order:
                with starters[name](versions[name]) as target:
                    measured_round = bench.round(target)
                results[name].append(measured_round)
                print(f"round {number + 1} {name}: " + ", ".join(
                    f"{op} {m.seconds:.2f} s" for op, m in measured_round.items()), flush=True)
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    body = report(results, versions, loads, args.rounds, args.layer_mib, info, command.strip())
    print(body)
    if not args.no_write and args.steps == OPERATIONS:
        write_section(SECTION, body)


def _steps(text: str) -> tuple[str, ...]:
    """The chosen steps in the benchmark's order, with the docker push a pull needs."""
    chosen = {step.strip() for step in text.split(",") if step.strip()}
    unknown = chosen - set(OPERATIONS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown steps: {', '.join(sorted(unknown))}")
    if chosen & set(NEEDS_PUSH):
        chosen.add("docker push")
    return tuple(op for op in OPERATIONS if op in chosen)


if __name__ == "__main__":
    main()
