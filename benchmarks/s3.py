"""S3 benchmark: small objects per second and large-object throughput with memory growth.

For portside (durable: a 64 KiB object is committed to SQLite's WAL, a large one fsynced to the
blob store, before the 200), MiniStack and moto (both in memory), side by side in one run,
servers taking turns run by run:

1. PUT/s and GET/s of a 64 KiB object from one boto3 client (one process calling in a loop);
2. a 256 MiB object uploaded from a file on disk and downloaded to one, with boto3's
   `upload_file` / `download_file` (s3transfer: 8 MiB parts, 10 threads), in MiB/s, and the
   server's RSS growth over each transfer (peak sampled every 50 ms, minus the RSS before it).

Usage: ``python benchmarks/s3.py [--runs N] [--duration S] [--only …]``. Prints a table and
replaces the "S3" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError
from common import (
    Server,
    ServerError,
    format_ratio,
    format_spread,
    machine_info,
    make_client,
    markdown_table,
    median,
    ratio,
    run_load,
    running,
    write_section,
)
from peers import PEERS, Peer, PeerUnavailable, ensure_installed

SECTION = "S3"
BUCKET = "bench"
SMALL = 64 * 1024
LARGE = 256 * 1024 * 1024
MiB = 1024 * 1024
RSS_SAMPLE_SECONDS = 0.05
GOAL_SMALL_VS_MINISTACK = 1.5
GOAL_LARGE_VS_MINISTACK = 1.0
GOAL_RSS_GROWTH_MB = 64.0
MEASURES = ("put", "get", "up", "down")
LABELS = {"put": "64 KiB PUT/s", "get": "64 KiB GET/s", "up": "256 MiB up (MiB/s)",
          "down": "256 MiB down (MiB/s)"}


def _client_with_bucket(endpoint: str):
    client = make_client("s3", endpoint, read_timeout=120)
    try:
        client.create_bucket(Bucket=BUCKET)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou",
                                                   "BucketAlreadyExists"):
            raise
    return client


def put_call(endpoint: str) -> Callable[[], object]:
    """In the client process: PUT a 64 KiB object, over and over (ten keys in turn)."""
    client = _client_with_bucket(endpoint)
    body = os.urandom(SMALL)
    counter = iter(range(1 << 62))
    return lambda: client.put_object(Bucket=BUCKET, Key=f"small-{next(counter) % 10}",
                                     Body=body)


def get_call(endpoint: str) -> Callable[[], object]:
    """In the client process: GET a 64 KiB object and read its body."""
    client = _client_with_bucket(endpoint)
    client.put_object(Bucket=BUCKET, Key="small-get", Body=os.urandom(SMALL))
    return lambda: client.get_object(Bucket=BUCKET, Key="small-get")["Body"].read()


@dataclass
class Figures:
    peer: Peer
    version: str = ""
    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MEASURES})
    rss_mb: dict[str, list[float]] = field(default_factory=lambda: {"up": [], "down": []})
    # server CPU: ms per call (put, get) or per MiB (up, down); hardly moved by other load
    cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MEASURES})
    # the client process's CPU ms per small-object call
    client_cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {"put": [], "get": []})
    failed_calls: int = 0
    first_error: str = ""
    problem: str = ""


class PeakRss:
    """Samples a server's RSS in a thread while a transfer runs."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.before = server.rss_bytes()
        self.peak = self.before
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.server.rss_bytes())
            time.sleep(RSS_SAMPLE_SECONDS)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.server.rss_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / 1e6


def large_transfers(server: Server, source: Path, entry: Figures) -> None:
    client = _client_with_bucket(server.endpoint)
    with PeakRss(server) as rss:
        started, cpu = time.perf_counter(), server.cpu_seconds()
        client.upload_file(str(source), BUCKET, "large")
        entry.values["up"].append(LARGE / MiB / (time.perf_counter() - started))
        entry.cpu_ms["up"].append(1000 * (server.cpu_seconds() - cpu) / (LARGE / MiB))
    entry.rss_mb["up"].append(rss.growth_mb)
    with tempfile.TemporaryDirectory() as folder, PeakRss(server) as rss:
        target = Path(folder) / "large"
        started, cpu = time.perf_counter(), server.cpu_seconds()
        client.download_file(BUCKET, "large", str(target))
        entry.values["down"].append(LARGE / MiB / (time.perf_counter() - started))
        entry.cpu_ms["down"].append(1000 * (server.cpu_seconds() - cpu) / (LARGE / MiB))
        if target.stat().st_size != LARGE:
            raise OSError(f"downloaded {target.stat().st_size} bytes, not {LARGE}")
    entry.rss_mb["down"].append(rss.growth_mb)


def measure_once(entry: Figures, source: Path, args: argparse.Namespace) -> None:
    with running(entry.peer) as server:
        for name, call in (("put", put_call), ("get", get_call)):
            load = run_load(server, call, clients=1, duration=args.duration, warmup=args.warmup)
            entry.values[name].append(load.rate)
            if load.cpu_ms_per_call is not None:
                entry.cpu_ms[name].append(load.cpu_ms_per_call)
            if load.client_cpu_ms_per_call is not None:
                entry.client_cpu_ms[name].append(load.client_cpu_ms_per_call)
            entry.failed_calls += load.failed
            entry.first_error = entry.first_error or load.first_error
        large_transfers(server, source, entry)
    last = {m: f"{entry.values[m][-1]:.0f}" for m in MEASURES}
    print(f"{entry.peer.name}: {last}, RSS growth up {entry.rss_mb['up'][-1]:.1f} MB, "
          f"down {entry.rss_mb['down'][-1]:.1f} MB", file=sys.stderr)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="starts per server")
    parser.add_argument("--duration", type=float, default=5.0, help="counted seconds of load")
    parser.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds first")
    parser.add_argument("--only", default=",".join(PEERS), help="comma-separated servers")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    machine = machine_info()
    figures = []
    for name in args.only:
        entry = Figures(PEERS[name])
        try:
            entry.version = ensure_installed(entry.peer)
        except PeerUnavailable as reason:
            entry.problem = f"skipped: {reason}"
        figures.append(entry)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "large.bin"
        with open(source, "wb") as f:
            for _ in range(LARGE // (8 * MiB)):
                f.write(os.urandom(8 * MiB))
        for run in range(args.runs):
            for entry in figures:
                if entry.problem:
                    continue
                try:
                    measure_once(entry, source, args)
                except (ServerError, OSError, ClientError) as error:
                    entry.problem = f"run {run + 1} failed: {error}"
                    print(f"{entry.peer.name}: {entry.problem}", file=sys.stderr)
    body = report(figures, args, machine)
    print(body)
    write_section(SECTION, body)


def report(figures: list[Figures], args: argparse.Namespace, machine: str) -> str:
    command = (f"Command: `python benchmarks/s3.py --runs {args.runs} --duration "
               f"{args.duration:g} --warmup {args.warmup:g} --only {','.join(args.only)}`")
    method = (f"Medians with (min–max) over {args.runs} starts per server, servers taking turns "
              "run by run; every start is a fresh process with a fresh data directory.")
    return "\n\n".join([machine, command, method, figures_table(figures),
                        goals_table(figures), notes(figures)])


def figures_table(figures: list[Figures]) -> str:
    headers = ["server", "version", *LABELS.values(), "RSS growth up (MB)",
               "RSS growth down (MB)", "failed calls"]
    rows = []
    for entry in figures:
        if not entry.values["put"]:
            rows.append([entry.peer.name, entry.version or "–", *["–"] * 7])
            continue
        rows.append([entry.peer.name, entry.version,
                     *(format_spread(entry.values[m], 0) for m in MEASURES),
                     format_spread(entry.rss_mb["up"], 1), format_spread(entry.rss_mb["down"], 1),
                     str(entry.failed_calls)])
    table = markdown_table(headers, rows)
    cpu_rows = [[entry.peer.name, *(format_spread(entry.cpu_ms[m], 2) if entry.cpu_ms[m]
                                    else "–" for m in MEASURES)] for entry in figures]
    table += "\n\nServer CPU (user + system, from /proc) per call or per MiB:\n\n" + \
        markdown_table(["server", "ms per 64 KiB PUT", "ms per 64 KiB GET", "ms per MiB up",
                        "ms per MiB down"], cpu_rows)
    ours = next((f for f in figures if f.peer.name == "portside" and f.values["put"]), None)
    ratio_rows = []
    for peer in figures:
        if ours is None or peer is ours or not peer.values["put"]:
            continue
        ratio_rows.append([f"portside / {peer.peer.name}", *(
            format_ratio(ratio(median(ours.values[m]), median(peer.values[m])))
            for m in MEASURES)])
    if ratio_rows:
        table += "\n\n" + markdown_table(["ratio", *LABELS.values()], ratio_rows)
    return table


def goals_table(figures: list[Figures]) -> str:
    ours = next((f for f in figures if f.peer.name == "portside" and f.values["put"]), None)
    peer = next((f for f in figures if f.peer.name == "ministack" and f.values["put"]), None)
    if ours is None or peer is None:
        return "Goals not assessed: portside or MiniStack was not measured (see notes)."
    rows = []
    for measure, goal in (("put", GOAL_SMALL_VS_MINISTACK), ("get", GOAL_SMALL_VS_MINISTACK),
                          ("up", GOAL_LARGE_VS_MINISTACK), ("down", GOAL_LARGE_VS_MINISTACK)):
        value = ratio(median(ours.values[measure]), median(peer.values[measure])) or 0.0
        rows.append([f"{LABELS[measure]} ≥ {goal:g}× MiniStack", format_ratio(value),
                     "met" if value >= goal else "not met"])
    for measure in ("up", "down"):
        growth = max(ours.rss_mb[measure])
        rows.append([f"portside RSS growth {measure} ≤ {GOAL_RSS_GROWTH_MB:g} MB (worst run)",
                     f"{growth:.1f} MB", "met" if growth <= GOAL_RSS_GROWTH_MB else "not met"])
    return markdown_table(["goal", "measured", "verdict"], rows)


def cpu_bound_notes(figures: list[Figures]) -> list[str]:
    """One client waits for each answer: a call takes at least the client's CPU plus the
    server's, so calls per second cannot exceed 1000 / (client + server CPU ms per call)."""
    ours = next((f for f in figures if f.peer.name == "portside" and f.client_cpu_ms["put"]), None)
    peer = next((f for f in figures if f.peer.name == "ministack" and f.client_cpu_ms["put"]),
                None)
    if ours is None or peer is None:
        return []
    lines = []
    for measure in ("put", "get"):
        c_ours, s_ours = median(ours.client_cpu_ms[measure]), median(ours.cpu_ms[measure])
        c_peer, s_peer = median(peer.client_cpu_ms[measure]), median(peer.cpu_ms[measure])
        lines.append(
            f"- CPU bound, {LABELS[measure]}: the boto3 client uses {c_ours:.2f} ms of CPU per "
            f"call with portside ({c_peer:.2f} with MiniStack), the servers {s_ours:.2f} and "
            f"{s_peer:.2f} ms: at most {1000 / (c_ours + s_ours):.0f} and "
            f"{1000 / (c_peer + s_peer):.0f} calls/s. A server using no CPU at all would reach "
            f"at most {(c_peer + s_peer) / c_ours:.2f}× MiniStack's rate (goal "
            f"{GOAL_SMALL_VS_MINISTACK:g}×).")
    return lines


def notes(figures: list[Figures]) -> str:
    lines = ["Notes:", ""]
    lines.append("- Small objects: one client process with one boto3 client, calling in a loop "
                 "(1 s uncounted, then the counted window); the rate is that of client and "
                 "server together on the same 2 cores. boto3 sends a CRC32 checksum with each "
                 "PUT and asks for checksum validation on each GET.")
    lines.append("- portside stores bodies up to 256 KiB in SQLite (WAL, committed before the "
                 "200, survives kill -9) and larger ones as fsynced blobs; MiniStack and moto "
                 "keep objects in memory.")
    lines.append("- Large object: written once to a temporary file of random bytes, uploaded "
                 "and downloaded with the default TransferConfig. RSS is the server process "
                 "and its descendants (VmRSS), 1 MB = 10⁶ bytes.")
    lines += cpu_bound_notes(figures)
    lines.append(f"- Load average when the run ended: {os.getloadavg()[0]:.2f}.")
    for entry in figures:
        if entry.problem:
            lines.append(f"- {entry.peer.name}: {entry.problem}")
        if entry.first_error:
            lines.append(f"- {entry.peer.name} first error: {entry.first_error}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
