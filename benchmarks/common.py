"""Shared machinery for the benchmarks: start a server, time it, load it, record the results.

Every benchmark starts its servers with :func:`running`, drives them with boto3 clients made
by :func:`make_client` (or many client processes with :func:`run_load`) and records its
figures with :func:`write_section`, which owns one ``## <title>`` section of RESULTS.md.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from peers import BENCH_DIR, HOST, Peer

ACCESS_KEY = "test"
SECRET_KEY = "test"
REGION = "us-east-1"
RESULTS_PATH = BENCH_DIR / "RESULTS.md"
RESULTS_HEADER = (
    "# Benchmark results\n\n"
    "Each section is written by one benchmark in this folder and replaced when that benchmark\n"
    "runs again (see README.md). Ratios are portside / peer, measured in the same run.\n"
)
READY_TIMEOUT = 60.0
READY_POLL = 0.01
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 20

# A function that, in a client process, builds its client(s) and returns the call to repeat.
CallFactory = Callable[[str], Callable[[], object]]


class ServerError(RuntimeError):
    """A server failed to start: the message says how, ``log_tail`` holds its last log lines."""

    def __init__(self, what: str, log: Path) -> None:
        lines = log.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:]
        last = f"; last log line: {lines[-1].strip()}" if lines else "; its log is empty"
        super().__init__(what + last)
        self.log_tail = "\n".join(lines)


def make_client(
    service: str,
    endpoint: str,
    *,
    secret: str = SECRET_KEY,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
) -> BaseClient:
    """A boto3 client of its own session, with the benchmark credentials and no retries."""
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret, region_name=REGION
    )
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1},
    )
    return session.client(service, endpoint_url=endpoint, config=config)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server: its process (the leader of its own process group) and timings."""

    peer: Peer
    endpoint: str
    process: subprocess.Popen[bytes]
    workdir: Path  # holds data/ and server.log; removed once the server stops
    ready_seconds: float
    identity: dict[str, str]

    def rss_bytes(self) -> int:
        """Resident memory of the server process and all its descendants."""
        return sum(_rss_bytes(pid) for pid in process_tree(self.process.pid))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its live descendants."""
        return sum(_cpu_seconds(pid) for pid in process_tree(self.process.pid))

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        _signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
        _signal_group(self.process.pid, signal.SIGKILL)  # children left behind, if any


@contextmanager
def running(peer: Peer) -> Iterator[Server]:
    """Start ``peer`` on a free port with a fresh data directory; stop and clean up after."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{peer.name}-"))
    try:
        server = _start(peer, workdir)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _start(peer: Peer, workdir: Path) -> Server:
    port = free_port()
    endpoint = f"http://{HOST}:{port}"
    data_dir = workdir / "data"
    data_dir.mkdir()
    probe = make_client("sts", endpoint, connect_timeout=0.25, read_timeout=2.0)
    log_path = workdir / "server.log"
    env = {**server_base_env(), **peer.environment(port, data_dir)}
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            peer.command(port, data_dir),
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        identity = _wait_ready(process, probe, log_path)
    except BaseException:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        raise
    ready = time.perf_counter() - started
    return Server(peer, endpoint, process, workdir, ready, identity)


def server_base_env() -> dict[str, str]:
    """Our environment less PYTHON* settings, so every server runs with Python's defaults
    (e.g. a session's PYTHONDONTWRITEBYTECODE would make an editable install recompile its
    source on every start, while the peers' wheels were compiled at install)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}


def _wait_ready(process: subprocess.Popen[bytes], probe: BaseClient, log: Path) -> dict[str, str]:
    """Poll GetCallerIdentity until one call succeeds; return the identity it reported."""
    deadline = time.perf_counter() + READY_TIMEOUT
    while time.perf_counter() < deadline:
        try:
            response = probe.get_caller_identity()
        except (BotoCoreError, ClientError):
            if process.poll() is not None:
                raise ServerError(f"exited with code {process.returncode}", log) from None
            time.sleep(READY_POLL)
            continue
        return {key: response[key] for key in ("Account", "Arn")}
    raise ServerError(f"not ready after {READY_TIMEOUT:.0f} s", log)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def rejects_bad_signature(endpoint: str) -> bool:
    """Whether the server refuses a GetCallerIdentity signed with the wrong secret key."""
    client = make_client("sts", endpoint, secret="not-the-secret")
    try:
        client.get_caller_identity()
    except ClientError:
        return True
    return False


# --- /proc -------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and every process descending from it."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parent_pids():
        children.setdefault(ppid, []).append(pid)
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _parent_pids() -> Iterator[tuple[int, int]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # Fields after the parenthesised command name: state, ppid, ...
        yield int(entry.name), int(stat.rsplit(")", 1)[1].split()[1])


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name start at field 3 (state); utime and stime are 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


# --- load from many client processes ---------------------------------------------------


@dataclass
class LoadResult:
    ok: int
    failed: int
    seconds: float
    server_cpu_seconds: float
    first_error: str
    client_cpu_seconds: float = 0.0  # all client processes, over the counted window

    @property
    def client_cpu_ms_per_call(self) -> float | None:
        return 1000 * self.client_cpu_seconds / self.ok if self.ok else None

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    @property
    def cpu_ms_per_call(self) -> float | None:
        return 1000 * self.server_cpu_seconds / self.ok if self.ok else None


def run_load(
    server: Server, make_call: CallFactory, *, clients: int, duration: float, warmup: float
) -> LoadResult:
    """Run ``clients`` processes, each calling in a loop; count the calls done in the window.

    Every process builds its own client(s) with ``make_call(endpoint)`` (a module-level
    function, so that it can be sent to a fresh interpreter), waits for the others, calls for
    ``warmup`` seconds uncounted, then for ``duration`` seconds counted.  A call counts if it
    succeeded and returned inside the window.  The server's CPU time over the same window is
    measured too: unlike the rate, it hardly depends on what else the machine is doing.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(clients + 1)  # the clients and this process, which keeps time
    results = ctx.Queue()
    args = (make_call, server.endpoint, warmup, duration, barrier, results)
    workers = [ctx.Process(target=_load_worker, args=args) for _ in range(clients)]
    for worker in workers:
        worker.start()
    try:
        cpu = _server_cpu_in_window(server, barrier, warmup, duration)
        outcomes = [results.get(timeout=READY_TIMEOUT + warmup + duration) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=STOP_TIMEOUT)
            if worker.is_alive():
                worker.kill()
    errors = [error for _, _, error, _ in outcomes if error]
    return LoadResult(
        ok=sum(ok for ok, _, _, _ in outcomes),
        failed=sum(failed for _, failed, _, _ in outcomes),
        seconds=duration,
        server_cpu_seconds=cpu,
        first_error=errors[0] if errors else "",
        client_cpu_seconds=sum(client_cpu for _, _, _, client_cpu in outcomes),
    )


def _server_cpu_in_window(server: Server, barrier: Any, warmup: float, duration: float) -> float:
    try:
        barrier.wait(timeout=READY_TIMEOUT)
    except threading.BrokenBarrierError:
        return 0.0  # a client failed to set up; its result says why
    time.sleep(warmup)
    before = server.cpu_seconds()
    time.sleep(duration)
    return server.cpu_seconds() - before


def _load_worker(
    make_call: CallFactory,
    endpoint: str,
    warmup: float,
    duration: float,
    barrier: Any,
    results: Any,
) -> None:
    try:
        call = make_call(endpoint)
        barrier.wait(timeout=READY_TIMEOUT)
    except Exception as error:  # any setup failure: release the others and report it
        barrier.abort()
        results.put((0, 0, f"client setup failed: {type(error).__name__}: {error}", 0.0))
        return
    results.put(_call_loop(call, warmup, duration))


def _call_loop(call: Callable[[], object], warmup: float,
               duration: float) -> tuple[int, int, str, float]:
    """Calls counted in the window, failures, the first error, and this process's CPU seconds
    over the counted calls."""
    start = time.monotonic() + warmup
    end = start + duration
    ok = failed = 0
    first_error = ""
    cpu_start: float | None = None
    cpu = time.process_time()
    while True:
        try:
            call()
            succeeded = True
        except (BotoCoreError, ClientError) as error:
            succeeded = False
            first_error = first_error or f"{type(error).__name__}: {error}"
        now, previous_cpu, cpu = time.monotonic(), cpu, time.process_time()
        if now >= end:
            # The last call ended past the window and is not counted: neither is its CPU.
            return ok, failed, first_error, previous_cpu - (cpu_start or previous_cpu)
        if now >= start:
            if cpu_start is None:
                cpu_start = previous_cpu  # the CPU of the first counted call counts
            ok += succeeded
            failed += not succeeded


# --- statistics and formatting -----------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs else None


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def format_spread(values: Sequence[float], digits: int) -> str:
    """Median with the range of the runs, e.g. ``0.812 (0.790–0.850)``."""
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [headers, ["---"] * len(headers), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


# --- results -----------------------------------------------------------------------------


def machine_info() -> str:
    """One line naming the date and the machine; call it before loading the machine."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{date} · {platform.machine()} · {_cpu_model()} · {os.cpu_count()} cores · "
        f"{_memory_gib():.1f} GiB RAM · Linux {platform.release()} · "
        f"Python {platform.python_version()} · load average {os.getloadavg()[0]:.2f} before the run"
    )


def _cpu_model() -> str:
    match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    return match.group(1).strip() if match else "unknown CPU"


def _memory_gib() -> float:
    match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return int(match.group(1)) / 2**20 if match else 0.0


def write_section(title: str, body: str, path: Path = RESULTS_PATH) -> None:
    """Replace the ``## <title>`` section of RESULTS.md with ``body``, keeping the others."""
    text = path.read_text() if path.exists() else RESULTS_HEADER
    section = f"## {title}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = f"{text.rstrip()}\n\n{section}"
    path.write_text(text.rstrip() + "\n")
